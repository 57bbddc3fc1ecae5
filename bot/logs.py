"""Logging set-up: one line per record, secrets redacted from every line whatever logged it, and
every line a library logs bounded: one line, a few hundred characters, no traceback, repeats thinned."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Loggers whose lines can carry what a stranger or a signed payload sent (Bolt's "Unhandled request"
# prints payload fields; aiohttp logs a traceback per malformed request; asyncio one per failed
# accept()), and Bolt's and Socket Mode's loggers as bot/app.py and bot/server.py name them.
LIBRARY_LOGGERS = ("aiohttp", "asyncio", "slack_bolt", "slack_sdk", "bot.bolt", "bot.socket")
MAX_LIBRARY_LINE = 300
MAX_LIBRARY_DEBUG_LINE = 2000  # LOG_LEVEL=DEBUG: slack_sdk's request and response lines, still bounded
# The same library line (by its first words) at most once in this many seconds; the next one that
# passes says how many were left out.
REPEAT_WINDOW_SECONDS = 10.0


class RedactSecrets(logging.Filter):
    """Replaces any secret value in a formatted record with [redacted]: a safety net under
    slack_sdk's own header redaction, for anything that might echo a token by accident."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        return True


class ThinLibraryRepeats(logging.Filter):
    """A WARNING-or-worse line from LIBRARY_LOGGERS that repeats (same logger, same first words of its
    message template) passes once per REPEAT_WINDOW_SECONDS; the next that passes carries how many were
    left out. A flood (a garbage request per millisecond; CPython's accept() retries at the
    file-descriptor limit, thousands a second) then costs a line every few seconds. First on the handler
    and decided on the template alone, so a dropped record costs no formatting."""

    def __init__(self) -> None:
        super().__init__()
        # (logger, the template's first words) -> (when one last passed, how many left out since)
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not _under(record.name):
            return True
        key = (record.name, str(record.msg).split("\n", 1)[0][:40])
        now = time.monotonic()
        passed, left_out = self._last.get(key, (float("-inf"), 0))
        if now - passed < REPEAT_WINDOW_SECONDS:
            self._last[key] = (passed, left_out + 1)
            return False
        if len(self._last) > 1000:  # a key per distinct template: never let it grow without bound
            self._last.clear()
        self._last[key] = (now, 0)
        if left_out:
            record.__dict__["left_out"] = f"{left_out} like it in {now - passed:.0f}s not logged"
        return True


class BoundLibraryLines(logging.Filter):
    """Every record from LIBRARY_LOGGERS becomes one line of at most MAX_LIBRARY_LINE characters: the
    message's first line, clipped, then the exception's type and first line instead of its traceback.
    Bolt's "Unhandled request (...)" loses its parenthesis, which holds payload fields (a member's
    text, in dialog submissions and block suggestions). On the handler, not the loggers: a logger's
    filters never see its children's records. Our own loggers keep their tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _under(record.name):
            return True
        try:
            text = record.getMessage()
        except Exception:  # a library's bad format string: still one bounded line, never an exception here
            text = str(record.msg)
        line = text.split("\n", 1)[0].strip()
        if line.startswith("Unhandled request") and record.levelno > logging.DEBUG:
            line = "Unhandled request (payload not logged)"
        tail = ""
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            detail = str(exc).split("\n", 1)[0]
            tail = _clip(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__, 100)
        elif record.exc_text:
            tail = _clip(record.exc_text.rstrip().splitlines()[-1], 100)
        tail = f" [{tail}]" if tail else ""
        if record.__dict__.get("left_out"):
            tail += f" ({record.__dict__['left_out']})"
        limit = MAX_LIBRARY_LINE if record.levelno > logging.DEBUG else MAX_LIBRARY_DEBUG_LINE
        record.msg, record.args = _clip(line, limit - len(tail)) + tail, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 12] + " [clipped]"


def _under(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in LIBRARY_LOGGERS)


def configure(level: str, secrets: Iterable[str], stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(ThinLibraryRepeats())
    # Redact before clipping, on the whole message, so clipping can never leave half a secret behind.
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(BoundLibraryLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # aiohttp's access log repeats what our request line says; keep it for warnings only.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # slack_sdk says "A retry handler found" at INFO for every retry; the outcome is what we log.
    if level != "DEBUG":
        logging.getLogger("slack_sdk").setLevel(logging.WARNING)
    return handler


request_log = logging.getLogger("bot.requests")


@dataclass
class RequestRecord:
    """One structured INFO line per handled request. Never the member's text: that is DEBUG only."""

    kind: str
    event_id: str | None = None
    intent: str | None = None
    confidence: float | None = None
    outcome: str = "ok"
    started: float = field(default_factory=time.perf_counter)
    extra: dict[str, Any] = field(default_factory=dict)

    def finish(self, outcome: str) -> None:
        self.outcome = outcome
        self.emit()

    def emit(self) -> None:
        if not request_log.isEnabledFor(logging.INFO):
            return  # LOG_LEVEL=WARNING: no line, so no JSON to build on every request
        fields = {
            "event_id": self.event_id,
            "kind": self.kind,
            "intent": self.intent,
            "confidence": self.confidence,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 1),
            "outcome": self.outcome,
            **self.extra,
        }
        request_log.info(json.dumps(fields, separators=(",", ":")))
