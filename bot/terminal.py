"""A Block Kit reply as plain text, for the terminal: `python -m bot ask` and local mode."""

from __future__ import annotations

from typing import Any


def to_plain_text(blocks: list[dict[str, Any]], *, values: bool = True) -> str:
    """Render blocks as readable text for the terminal (local mode, `python -m bot ask`). A button shows
    its label and, with `values` (for staff reading `ask`), the value it sends; a link shows its address."""
    lines: list[str] = []

    def text_of(obj: Any) -> str:
        return obj.get("text", "") if isinstance(obj, dict) else ""

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
