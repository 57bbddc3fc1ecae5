"""What the bot remembers between requests (events seen, each thread's topic, rate limits), each behind a
Protocol so a shared store (bot/state_redis.py) can serve several instances. The in-memory versions
are bounded in size and in time."""

from __future__ import annotations

import datetime
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Generic, Literal, Protocol, TypeVar

Clock = Callable[[], float]
V = TypeVar("V")


class SeenStore(Protocol):
    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        """Atomically record `key`; True only for the first caller within the time to live."""
        ...

    def health(self) -> dict[str, Any]:
        """Which backend is answering and since when (see `memory_health`), for /healthz."""
        ...


class ThreadMemory(Protocol):
    async def get(self, channel: str, thread: str) -> str | None: ...

    async def set(self, channel: str, thread: str, intent_id: str) -> None: ...

    def health(self) -> dict[str, Any]: ...


async def recall(threads: ThreadMemory, channel: str, keys: tuple[str, ...]) -> str | None:
    """The topic remembered under the first of `keys` that has one (a route's `recall`), else None."""
    for key in keys:
        topic = await threads.get(channel, key)
        if topic is not None:
            return topic
    return None


def utc_iso(wall: float) -> str:
    return datetime.datetime.fromtimestamp(wall, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def memory_health(since: float) -> dict[str, Any]:
    """The shape every store's health() has: `backend` answering now ("redis" or "memory"), `configured`
    (what REDIS_URL asked for), `since` (UTC, when `backend` last changed), `fallbacks` (times Redis was
    given up for memory) and `last_error` (the last Redis error's type name, never its text)."""
    return {"backend": "memory", "configured": "memory", "since": utc_iso(since), "fallbacks": 0, "last_error": None}


class _Generations(Generic[V]):
    """Values in two generations of plain dicts, rather than a time per entry: every `span` seconds (or
    when the newer holds half of `max_items`) the newer becomes the older and the older is dropped. A
    value is kept from `span` to twice `span` after it was last put, at one dict slot, where an ordered
    dict with a (time, value) pair per entry cost about three times as much."""

    def __init__(self, span: float, max_items: int, clock: Clock) -> None:
        self.span = span
        self.max_items = max_items
        self.clock = clock
        self.newer: dict[str, V] = {}
        self.older: dict[str, V] = {}
        self.rotated_at = clock()

    def _rotate(self) -> None:
        now = self.clock()
        if now - self.rotated_at >= 2 * self.span:
            self.newer, self.older, self.rotated_at = {}, {}, now
        elif now - self.rotated_at >= self.span:
            # On the boundary, not `now`: however late the call, nothing outlives twice the span.
            self.newer, self.older, self.rotated_at = {}, self.newer, self.rotated_at + self.span
        elif len(self.newer) >= self.max_items // 2:
            self.newer, self.older, self.rotated_at = {}, self.newer, now

    def get(self, key: str) -> V | None:
        self._rotate()
        found = self.newer.get(key)
        return found if found is not None else self.older.get(key)

    def put(self, key: str, value: V) -> None:
        self._rotate()
        self.older.pop(key, None)
        self.newer[key] = value

    def __len__(self) -> int:
        return len(self.newer) + len(self.older)


class MemorySeenStore:
    """Deduplication keys (event ids, message timestamps, button clicks) kept in process memory.

    Keys living up to `ttl` (every event and message key) keep only their expiry, in generations a
    `ttl` long, so such a key is kept until it expires, unless a flood of keys forces it out early, as
    any bound must. The rare key asked to live longer (a hand-off, refused again for a day) waits in
    its own ordered store, by its own expiry, so no flood of event keys can push it out."""

    def __init__(
        self, max_items: int = 50_000, ttl: float = 3600.0, clock: Clock = time.monotonic, max_lasting: int = 5_000
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.expiries: _Generations[float] = _Generations(ttl, max_items, clock)
        self.max_lasting = max_lasting
        self.lasting: OrderedDict[str, float] = OrderedDict()
        self.started = time.time()

    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        now = self.clock()
        ttl = self.ttl if ttl is None else ttl
        if ttl > self.ttl:
            return self._first_lasting(key, now, ttl)
        expires = self.expiries.get(key)
        if expires is not None and expires > now:
            return False
        self.expiries.put(key, now + ttl)
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

    def health(self) -> dict[str, Any]:
        return memory_health(self.started)

    def __len__(self) -> int:
        return len(self.expiries) + len(self.lasting)


class MemoryThreadMemory:
    """The last topic answered in each thread (or DM), so short follow-ups keep their context: in
    generations half a `ttl` long, so a topic is kept from ttl/2 to ttl after it was last set."""

    def __init__(self, max_items: int = 20_000, ttl: float = 14 * 24 * 3600.0, clock: Clock = time.monotonic) -> None:
        self.topics: _Generations[str] = _Generations(ttl / 2, max_items, clock)
        self.started = time.time()

    async def get(self, channel: str, thread: str) -> str | None:
        return self.topics.get(f"{channel}:{thread}")

    async def set(self, channel: str, thread: str, intent_id: str) -> None:
        self.topics.put(f"{channel}:{thread}", intent_id)

    def health(self) -> dict[str, Any]:
        return memory_health(self.started)

    def __len__(self) -> int:
        return len(self.topics)


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
