"""Small stores the bot keeps between requests, each behind a Protocol so a shared store (Redis)
can serve several instances later. The in-memory versions are bounded in size and in time."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
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


class _BoundedTTL:
    def __init__(self, max_items: int, ttl: float, clock: Clock) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self.clock = clock
        self.items: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self.items:
            key, (expires, _) = next(iter(self.items.items()))
            if expires > now and len(self.items) <= self.max_items:
                break
            del self.items[key]

    def get(self, key: str) -> str | None:
        now = self.clock()
        self._expire(now)
        item = self.items.get(key)
        return None if item is None or item[0] <= now else item[1]

    def put(self, key: str, value: str, ttl: float | None = None) -> None:
        now = self.clock()
        self.items.pop(key, None)
        self.items[key] = (now + (ttl if ttl is not None else self.ttl), value)
        # Entries are kept in insertion order and dropped from the old end when expired or over the
        # size bound; an entry with a shorter per-key TTL behind a longer one is also treated as
        # absent by get() once expired, so it never outlives its TTL.
        self._expire(now)


class MemorySeenStore:
    """Deduplication keys (event ids, message timestamps, button clicks) kept in process memory.

    Each key keeps only its expiry time: at two keys per event, a (time, value) pair per key was a
    third of what a busy hour's keys cost."""

    def __init__(self, max_items: int = 50_000, ttl: float = 3600.0, clock: Clock = time.monotonic) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self.clock = clock
        self.expiries: OrderedDict[str, float] = OrderedDict()

    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        now = self.clock()
        expiries = self.expiries
        # Oldest first: drop what has expired, and the oldest beyond the bound.
        while expiries:
            oldest, expires = next(iter(expiries.items()))
            if expires > now and len(expiries) <= self.max_items:
                break
            del expiries[oldest]
        current = expiries.get(key)
        if current is not None and current > now:
            return False
        expiries.pop(key, None)
        expiries[key] = now + (ttl if ttl is not None else self.ttl)
        if len(expiries) > self.max_items:
            expiries.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self.expiries)


class MemoryThreadMemory:
    """The last topic answered in each thread (or DM), so short follow-ups keep their context."""

    def __init__(self, max_items: int = 20_000, ttl: float = 7 * 24 * 3600.0, clock: Clock = time.monotonic) -> None:
        self._data = _BoundedTTL(max_items, ttl, clock)

    async def get(self, channel: str, thread: str) -> str | None:
        return self._data.get(f"{channel}:{thread}")

    async def set(self, channel: str, thread: str, intent_id: str) -> None:
        self._data.put(f"{channel}:{thread}", intent_id)


Verdict = Literal["ok", "warn", "drop"]


class RateLimiter:
    """Per-user sliding window. The first question over the limit gets one polite note ("warn");
    the rest in that window get nothing ("drop"), so one account cannot flood a channel."""

    def __init__(self, count: int, seconds: float, clock: Clock = time.monotonic, max_users: int = 50_000) -> None:
        self.count = count
        self.seconds = seconds
        self.clock = clock
        self.max_users = max_users
        self.windows: OrderedDict[str, deque[float]] = OrderedDict()
        self.warned_until: dict[str, float] = {}

    def check(self, user: str) -> Verdict:
        now = self.clock()
        window = self.windows.pop(user, None) or deque()
        self.windows[user] = window
        while window and window[0] <= now - self.seconds:
            window.popleft()
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
