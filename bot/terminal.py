"""A Block Kit reply as plain text, for the terminal: `python -m bot ask` and local mode."""

from __future__ import annotations

import re
from typing import Any

# Slack's mrkdwn, as a terminal should show it: a link as "label (address)", a mention as @name, bold,
# italics and code marks dropped, Slack's three escapes undone.
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")
_BARE = re.compile(r"<(https?://[^|>]+)>")
_SPECIAL = re.compile(r"<!(\w+)(?:\|[^>]*)?>")
_USER = re.compile(r"<@(\w+)(?:\|[^>]*)?>")
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
_CODE = re.compile(r"`{1,3}")


def plain(mrkdwn: str) -> str:
    """Slack mrkdwn as plain text."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = _BARE.sub(r"\1", text)
    text = _SPECIAL.sub(r"@\1", text)
    text = _USER.sub(r"@\1", text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    text = _CODE.sub("", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def to_plain_text(blocks: list[dict[str, Any]], *, values: bool = True) -> str:
    """Render blocks as readable text for the terminal (local mode, `python -m bot ask`). A button shows
    its label and, with `values` (for staff reading `ask`), the value it sends; a link shows its address."""
    lines: list[str] = []

    def text_of(obj: Any) -> str:
        return plain(obj.get("text", "")) if isinstance(obj, dict) else ""

    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(text_of(block.get("text")).upper())
        elif kind == "section":
            lines.append(text_of(block.get("text")))
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                lines.append(_button_line(accessory, values))
        elif kind == "actions":
            lines.extend(_button_line(e, values) for e in block.get("elements", []) if e.get("type") == "button")
        elif kind == "context":
            lines.append("  " + " ".join(text_of(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines)


def _button_line(button: dict[str, Any], values: bool) -> str:
    label = button.get("text", {}).get("text", "")
    if "url" in button:
        return f"  [{label}] -> {button['url']}"
    return f"  [{label}] (button: {button.get('value', '')})" if values else f"  [{label}]"
