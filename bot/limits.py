"""Rate limits that hold across instances and restarts: hand-offs per member, Teach's Saves per staff
member, staff Home opens per person.

Each hit is counted in the question log's database (a `limits` table, keyed by a keyed hash of what and
who), so every instance sharing that database, PostgreSQL or one SQLite file, sees the same count, and a
restart forgets nothing. The windows are fixed (the hour, the minute), not sliding: at a window's edge a
member may get up to twice the count, never more. When the database is off or out of reach, each
process keeps its own counts instead (RateLimiter), and /healthz says so under "limits".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from bot.recorder import Recorder
from bot.state import RateLimiter
from bot.timeouts import bounded

log = logging.getLogger("bot.limits")
# A limit is checked on the way to a reply: the database gets this long, then this process counts.
HIT_SECONDS = 0.5


class SharedLimits:
    def __init__(self, recorder: Callable[[], Recorder], clock: Callable[[], float] = time.time) -> None:
        self.recorder = recorder
        self.clock = clock
        self.backend = "memory"
        self._memory: dict[str, RateLimiter] = {}

    async def allow(self, kind: str, who: str, count: int, seconds: int) -> bool:
        """Whether `who` may do `kind` once more: at most `count` times in each window of `seconds`. This
        process always counts too, so the limit holds here even while the database comes and goes (a
        window split between the two never doubles it); the database adds every other instance's hits."""
        limiter = self._memory.setdefault(f"{kind}:{count}:{seconds}", RateLimiter(count, seconds))
        here = limiter.check(who) == "ok"
        recorder = self.recorder()
        if not recorder.migrated:
            return here
        now = int(self.clock())
        try:
            hits = await bounded(recorder.store.limits.hit(f"{kind}:{who}", now - now % seconds), HIT_SECONDS)
        except Exception as exc:
            if self.backend != "memory":
                why = type(exc).__name__
                log.warning("limits: the database is out of reach (%s); counting in this process", why)
            self.backend = "memory"
            return here
        self.backend = "database"
        return here and hits <= count

    def health(self) -> dict[str, Any]:
        """'database': shared by every instance on the question log's database, kept across restarts;
        'memory': this process only."""
        return {"backend": self.backend}
