"""Small stores the bot keeps between requests, each behind a Protocol so a shared store (Redis)
can serve several instances later. The in-memory versions are bounded in size and in time."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, Protocol

Clock = Callable[[], float]


class SeenStore(Protocol):
    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        """Atomically record `key`; True only for the first caller within the time to live."""
        ...


class ThreadMemory(Protocol):
    async def get(self, channel: str, thread: str) -> str | None: ...

    async def set(self, channel: str, thread: str, intent_id: str) -> None: ...


class MemorySeenStore:
    """Deduplication keys (event ids, message timestamps, button clicks) kept in process memory.

    Keys living up to `ttl` (every event and message key) keep only their expiry, in two generations
    of plain dicts: every `ttl` (or when the newer holds half of `max_items`) the newer becomes the
    older and the older is dropped, so such a key is kept until it expires, at one dict slot and one
    float, unless a flood of keys forces it out early, as any bound must. The rare key asked to live
    longer (a hand-off, refused again for a day) waits in its own ordered store, by its own expiry,
    so no flood of event keys can push it out."""

    def __init__(
        self, max_items: int = 50_000, ttl: float = 3600.0, clock: Clock = time.monotonic, max_lasting: int = 5_000
    ) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self.clock = clock
        self.newer: dict[str, float] = {}
        self.older: dict[str, float] = {}
        self.rotated_at = clock()
        self.max_lasting = max_lasting
        self.lasting: OrderedDict[str, float] = OrderedDict()

    def _rotate(self, now: float) -> None:
        if now - self.rotated_at >= 2 * self.ttl:
            self.newer, self.older, self.rotated_at = {}, {}, now
        elif now - self.rotated_at >= self.ttl:
            # On the boundary, not `now`: a key set just before it still gets its full ttl.
            self.newer, self.older, self.rotated_at = {}, self.newer, self.rotated_at + self.ttl
        elif len(self.newer) >= self.max_items // 2:
            self.newer, self.older, self.rotated_at = {}, self.newer, now

    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        now = self.clock()
        ttl = self.ttl if ttl is None else ttl
        if ttl > self.ttl:
            return self._first_lasting(key, now, ttl)
        self._rotate(now)
        expires = self.newer.get(key) or self.older.get(key)
        if expires is not None and expires > now:
            return False
        self.older.pop(key, None)
        self.newer[key] = now + ttl
        return True

    def _first_lasting(self, key: str, now: float, ttl: float) -> bool:
        lasting = self.lasting
        while lasting:
            oldest, expires = next(iter(lasting.items()))
            if expires > now and len(lasting) <= self.max_lasting:
                break
            del lasting[oldest]
        current = lasting.get(key)
        if current is not None and current > now:
            return False
        lasting.pop(key, None)
        lasting[key] = now + ttl
        return True

    def __len__(self) -> int:
        return len(self.newer) + len(self.older) + len(self.lasting)


class MemoryThreadMemory:
    """The last topic answered in each thread (or DM), so short follow-ups keep their context.

    Two generations of plain dicts rather than a time per entry: every ttl/2 (or when the newer one is
    half full) the newer becomes the older and the older is dropped, so a topic is kept for at least
    ttl/2 and at most ttl after it was last set. Per thread that is one dict slot, where an ordered
    dict with a (time, topic) pair cost three times as much."""

    def __init__(self, max_items: int = 20_000, ttl: float = 14 * 24 * 3600.0, clock: Clock = time.monotonic) -> None:
        self.max_items = max_items
        self.half_life = ttl / 2
        self.clock = clock
        self.newer: dict[str, str] = {}
        self.older: dict[str, str] = {}
        self.rotated_at = clock()

    def _rotate(self) -> None:
        now = self.clock()
        if now - self.rotated_at >= 2 * self.half_life:
            self.newer, self.older, self.rotated_at = {}, {}, now
        elif now - self.rotated_at >= self.half_life:
            # On the boundary, not `now`: however late the call, nothing outlives ttl.
            self.newer, self.older, self.rotated_at = {}, self.newer, self.rotated_at + self.half_life
        elif len(self.newer) >= self.max_items // 2:
            self.newer, self.older, self.rotated_at = {}, self.newer, now

    async def get(self, channel: str, thread: str) -> str | None:
        self._rotate()
        key = f"{channel}:{thread}"
        return self.newer.get(key) or self.older.get(key)

    async def set(self, channel: str, thread: str, intent_id: str) -> None:
        self._rotate()
        key = f"{channel}:{thread}"
        self.older.pop(key, None)
        self.newer[key] = intent_id

    def __len__(self) -> int:
        return len(self.newer) + len(self.older)


Verdict = Literal["ok", "warn", "drop"]


class RateLimiter:
    """Per-user sliding window. The first question over the limit gets one polite note ("warn");
    the rest in that window get nothing ("drop"), so one account cannot flood a channel."""

    def __init__(self, count: int, seconds: float, clock: Clock = time.monotonic, max_users: int = 50_000) -> None:
        self.count = count
        self.seconds = seconds
        self.clock = clock
        self.max_users = max_users
        # A short list per member, not a deque: a deque's first block alone is about 600 bytes.
        self.windows: OrderedDict[str, list[float]] = OrderedDict()
        self.warned_until: dict[str, float] = {}

    def check(self, user: str) -> Verdict:
        now = self.clock()
        window = [t for t in self.windows.pop(user, ()) if t > now - self.seconds]
        self.windows[user] = window
        while len(self.windows) > self.max_users:
            old, _ = self.windows.popitem(last=False)
            self.warned_until.pop(old, None)
        if len(window) < self.count:
            window.append(now)
            return "ok"
        if self.warned_until.get(user, 0.0) > now:
            return "drop"
        self.warned_until[user] = now + self.seconds
        return "warn"
