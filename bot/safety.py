"""Outgoing text safety: nothing we post may ping a channel, a group or a person from member input."""

from __future__ import annotations

import re
from typing import Any

# <!here>, <!channel>, <!everyone>, <!subteam^S123|@team>, <@U123>, <@W123|name>
_SPECIAL = re.compile(r"<[!@][^<>]{0,200}>")
# Plain-text broadcasts that Slack may still expand when link_names is on.
_PLAIN = re.compile(r"(?<![\w@])@(here|channel|everyone)\b", re.IGNORECASE)
_TEXT_KEYS = frozenset({"text", "alt_text", "fallback", "pretext", "title"})


def clean(text: str) -> str:
    text = _SPECIAL.sub("", text)
    return _PLAIN.sub(lambda m: m.group(1), text)


def clean_payload(value: Any) -> Any:
    """Walk a Block Kit payload and clean every string. Applied once, at the boundary, to all replies."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_payload(v) for v in value]
    if isinstance(value, dict):
        return {k: clean_payload(v) if k in _TEXT_KEYS or not isinstance(v, str) else v for k, v in value.items()}
    return value


def has_broadcast(text: str) -> bool:
    return bool(_SPECIAL.search(text) or _PLAIN.search(text))
