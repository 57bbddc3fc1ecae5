"""YAML syntax errors in plain English, at the line where the mistake starts.

PyYAML reports where parsing finally failed, which is often lines after the mistake: a quote left
open swallows text until the next quote, and a line indented too little is only noticed on the line
after. Staff who have never edited YAML need to hear what is wrong, where, and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

# A field line: `  title: ...` or `  - id: ...` (its name starts where group 2 does).
_FIELD = re.compile(r"^(\s*)(?:-\s+)?([A-Za-z0-9_.-]+):(?:\s+(\S.*))?$")
# A value that starts with a quote: `title: "...`, `- "...`, `- key: '...`.
_QUOTED_START = re.compile(r"""^\s*(?:-\s+)?(?:[A-Za-z0-9_.-]+:\s+)?(["'])""")


@dataclass(frozen=True)
class Explained:
    line: int  # 1-based
    column: int  # 1-based
    message: str


def _closes(rest: str, quote: str) -> bool:
    """Whether a quoted text opened just before `rest` closes on the same line."""
    i = 0
    while i < len(rest):
        ch = rest[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and rest[i + 1 : i + 2] == "'":  # '' is a quote inside '...'
                i += 2
                continue
            return True
        i += 1
    return False


def _open_quote_before(lines: list[str], last: int) -> tuple[int, int, str] | None:
    """The last line up to `last` (0-based) whose value opens a quote it never closes."""
    found = None
    for n in range(min(last, len(lines) - 1) + 1):
        line = lines[n]
        if line.lstrip().startswith("#"):
            continue
        match = _QUOTED_START.match(line)
        if match and not _closes(line[match.end() :], match.group(1)):
            found = (n, match.start(1), match.group(1))
    return found


def _indented_under_a_value(lines: list[str], n: int, fields: frozenset[str]) -> int | None:
    """Where line `n` starts, when it is one of the file's field names (`fields`) indented deeper than
    the field above it, and that field already has a value: `title:` pushed in under `- id: x` reads as
    more of the text "x". A wrapped line of text such as "Deadline: 30 June" is a colon in text."""
    if not 0 < n < len(lines):
        return None
    here = _FIELD.match(lines[n])
    if here is None or here.group(2) not in fields:
        return None
    above = next(
        (lines[k] for k in range(n - 1, -1, -1) if lines[k].strip() and not lines[k].lstrip().startswith("#")), ""
    )
    field = _FIELD.match(above)
    if here is None or field is None or field.group(3) is None or field.group(3)[0] in "|>":
        return None
    indent = len(here.group(1))
    return indent if indent > field.start(2) else None


def explain_yaml_error(text: str, exc: yaml.MarkedYAMLError, fields: frozenset[str] = frozenset()) -> Explained:
    """`fields`: the field names the file may use, to tell a field out of line from text with a colon."""
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
    lines = text.split("\n")

    opened = _open_quote_before(lines, line)
    if opened is not None and ("quoted scalar" in context or "expected" in problem or "found" in problem):
        n, col, quote = opened
        kind = "double" if quote == '"' else "single"
        return Explained(
            n + 1,
            col + 1,
            f"the text that starts with a {kind} quote ({quote}) here is never closed, so everything after it "
            f"is read as part of it; add the closing {quote} at the end of the text",
        )
    if "flow sequence" in context or "flow mapping" in context:
        start = exc.context_mark or mark
        bracket = "[" if "sequence" in context else "{"
        closing = "]" if bracket == "[" else "}"
        return Explained(
            (start.line if start is not None else line) + 1,
            (start.column if start is not None else column) + 1,
            f"the list that starts with {bracket} here is never closed; end it with {closing}, or write its items "
            f"on lines starting with '- '",
        )
    if "mapping values are not allowed" in problem:
        over = _indented_under_a_value(lines, line, fields)
        if over is not None:
            return Explained(
                line + 1,
                over + 1,
                "this field is indented more than the field above it, so YAML reads it as part of that "
                "field's text; line it up exactly with the fields around it",
            )
        return Explained(
            line + 1,
            column + 1,
            "this text contains a colon followed by a space, which YAML reads as the start of a new field; "
            'put text that contains a colon in double quotes, like: title: "Note: the text"',
        )
    if "could not find expected ':'" in problem and exc.context_mark is not None:
        start = exc.context_mark
        return Explained(
            start.line + 1,
            start.column + 1,
            "this line is indented less than the text it continues, so YAML reads it as a new field; indent it "
            "to line up with the line above (or, if it is a new field, add ': ' after its name)",
        )
    if "\\t" in problem or "'\t'" in problem:
        return Explained(line + 1, column + 1, "a tab is used for indenting here; YAML needs spaces, so replace it")
    if "expected <block end>" in problem:
        what = "list item" if "sequence" in problem else "line"
        return Explained(
            line + 1,
            column + 1,
            f"this {what} is not lined up with the lines around it; indent it exactly like the other "
            f"{'items of its list' if what == 'list item' else 'fields of the same intent'}",
        )
    if "found undefined alias" in problem or "found unknown escape character" in problem:
        return Explained(
            line + 1, column + 1, f"{problem}; write the text out in full, and double any backslash (\\\\)"
        )
    detail = f"{problem} ({context})" if context else problem or "invalid YAML"
    return Explained(line + 1, column + 1, f"YAML syntax error: {detail}")
