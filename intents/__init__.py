"""The matching engine: loads the content catalogue and maps a question to an answer.

Nothing in this package knows about Slack. The engine (and scikit-learn with it) is imported on first
use, so what only reads and checks the content file (`python -m bot check`) starts in a moment.
"""

from typing import TYPE_CHECKING, Any

from intents.loader import ContentError, Problem, load_catalogue
from intents.model import Answer, Catalogue, ContentSettings, Intent, Link, Match

if TYPE_CHECKING:
    from intents.engine import Engine

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


def __getattr__(name: str) -> Any:
    if name == "Engine":
        from intents.engine import Engine

        return Engine
    raise AttributeError(f"module 'intents' has no attribute {name!r}")
