"""Logging set-up: one line per record, secrets redacted from every line whatever logged it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable


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


def configure(level: str, secrets: Iterable[str], stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
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
