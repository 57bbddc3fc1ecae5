"""The staff views' last figures, kept for a short while on this instance.

Building the staff Home reads four weeks of the question log and groups what went unanswered: bounded
work, done off the event loop, but not free. Within FRESH_SECONDS, another Home open, a Teach click or a
Save on this instance uses the figures just built, unless this instance wrote a question since; a Save
clears them, so the next Home shows its effect.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

FRESH_SECONDS = 30.0


class Keyed(Protocol):
    def has_key(self, key: str) -> bool: ...


class StaffViewCache:
    def __init__(self, fresh: float = FRESH_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.fresh = fresh
        self.clock = clock
        self._at = 0.0
        self._stamp: object = None
        self._dashboard: Any = None

    def keep(self, dashboard: Any, stamp: object) -> None:
        """Keep a dashboard built when the question log's writes stood at `stamp`."""
        self._at, self._stamp, self._dashboard = self.clock(), stamp, dashboard

    def _fresh(self) -> Any:
        if self._dashboard is None or self.clock() - self._at > self.fresh:
            return None
        return self._dashboard

    def dashboard(self, stamp: object) -> Any:
        """The last dashboard built, while it is fresh and nothing was written since; else None."""
        return self._fresh() if stamp == self._stamp else None

    def fresh_group(self, key: str) -> Any:
        """A group of the last dashboard, while it is fresh (a group stays right as new questions come)."""
        dashboard = self._fresh()
        groups: Sequence[Keyed] = dashboard.groups if dashboard is not None else ()
        return next((g for g in groups if g.has_key(key)), None)

    def clear(self) -> None:
        self._dashboard = None
