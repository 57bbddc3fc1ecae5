"""Outgoing text safety: nothing we post may ping a channel, a group or a person from member input.

Two tools for two kinds of text. `escape` is Slack's own escaping (`&amp;`, `&lt;`, `&gt;`) for text a
member wrote that we show as written (the hand-off to staff): nothing in it is parsed at all, so no
mention, link or channel reference can form. `clean` is for our own content, where links are wanted:
it removes any mention or broadcast, however it is nested or padded.
"""

from __future__ import annotations

import re
from typing import Any

from intents.text import PLAIN_BROADCAST, SPECIAL_MENTION

# What removing one leaves behind when it was nested (<<!channel>!channel>): a '<' before '!' or '@'.
# Dropping every such '<' run leaves no '<!' or '<@' in the text, so no special sequence can remain.
_OPENER = re.compile(r"<+(?=[!@])")
_TEXT_KEYS = frozenset({"text", "alt_text", "fallback", "pretext", "title"})


def escape(text: str) -> str:
    """Slack's escaping for text shown exactly as written: '&', '<' and '>' become entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Control characters (ESC starts a terminal's colour, cursor and OSC-52 clipboard sequences; BEL ends
# some), C1 controls, and the invisible marks that reorder or hide text on screen.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def one_line(text: str, limit: int | None = None) -> str:
    """Whitespace runs as one space, and cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def for_terminal(text: str, limit: int | None = None) -> str:
    """A member's text for a terminal: one line, every control character removed, so nothing in it
    moves the cursor, recolours the screen or writes to the clipboard."""
    return one_line(_CONTROL.sub(" ", text), limit)


# A member's question as staff see it on the Home and in Teach, and so as Teach learns it.
QUESTION_CHARS = 150


def taught_text(text: str) -> str:
    """What Teach learns from a member's question: exactly what staff were shown of it (on one line,
    without control characters, cut at QUESTION_CHARS), never a tail they could not see."""
    return for_terminal(text)[:QUESTION_CHARS].rstrip()


def for_code_block(text: str, limit: int | None = None) -> str:
    """A member's text inside our Slack code block: escaped as `escape` does (no link, mention or
    broadcast can form) and without backticks, so it cannot close the block and be read as mrkdwn."""
    return escape(for_terminal(text, limit).replace("`", "ˋ"))


def clean(text: str) -> str:
    text = _OPENER.sub("", SPECIAL_MENTION.sub("", text))
    return PLAIN_BROADCAST.sub(lambda m: m.group(1), text)


def clean_payload(value: Any) -> Any:
    """Walk a Block Kit payload and clean every string. Applied once, at the boundary, to all replies."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_payload(v) for v in value]
    if isinstance(value, dict):
        return {k: clean_payload(v) if k in _TEXT_KEYS or not isinstance(v, str) else v for k, v in value.items()}
    return value
