"""The matching engine: loads the content catalogue and maps a question to an answer.

Nothing in this package knows about Slack.
"""

from intents.engine import Engine
from intents.loader import ContentError, Problem, load_catalogue
from intents.model import Answer, Catalogue, ContentSettings, Intent, Link, Match

__all__ = [
    "Answer",
    "Catalogue",
    "ContentError",
    "ContentSettings",
    "Engine",
    "Intent",
    "Link",
    "Match",
    "Problem",
    "load_catalogue",
]
