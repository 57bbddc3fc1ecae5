"""Redis-backed stores, for running several instances (or surviving a restart) without double posts.

Selected by setting REDIS_URL. Three rules:

- Redis never holds a member or channel id: every key is an HMAC-SHA256 of the whole logical key (the
  member-hash secret, as question_log_sql.member_hash uses), under the prefix and kind, e.g.
  `confedbot:seen:<hex>`. Thread values are intent ids (content, not personal).
- Every key is also kept in process memory (the bounded in-memory stores), and memory is asked first,
  so deduplication survives a Redis outage: a key seen while Redis was away is still seen once after it
  returns, and the keys recorded during the outage are written back to Redis when it does.
- A Redis call gets OP_TIMEOUT seconds at most, with no retries. After a failure, a circuit breaker
  keeps to memory for BACKOFF seconds, then lets one call try Redis again: a frozen Redis costs one
  time-out per back-off period, not one per call. One log line when falling back, one when Redis is
  back; never a key, an id or a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.state import Clock, MemorySeenStore, MemoryThreadMemory, utc_iso

log = logging.getLogger("bot.redis")
DEFAULT_PREFIX = "confedbot:"
# Slack wants an acknowledgement within 3 s and a request makes up to two store calls before it: a
# quarter second each leaves most of the budget, and is still a hundred times a healthy round trip.
OP_TIMEOUT = 0.25
# How long to keep to memory after a failure before one call tries Redis again.
BACKOFF = 5.0
# Keys recorded in memory only (while Redis was away), written back when it returns; the oldest go first.
MAX_PENDING = 10_000
FLUSH_BATCH = 500
T = TypeVar("T")
P = TypeVar("P")  # what a Redis store keeps to write back after an outage


class Failed:
    """What RedisBreaker.run returns instead of a result when Redis was not used or did not answer."""


FAILED = Failed()


def hashed_key(secret: str, key: str) -> str:
    """The HMAC-SHA256 of a logical key, as question_log_sql.member_hash hashes a member id."""
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


class RedisBreaker:
    """Shared by both stores over one client: whether Redis is in use, and when to try it again."""

    def __init__(
        self,
        timeout: float = OP_TIMEOUT,
        backoff: float = BACKOFF,
        clock: Clock = time.monotonic,
        wall: Clock = time.time,
    ) -> None:
        self.timeout = timeout
        self.backoff = backoff
        self.clock = clock
        self.wall = wall
        self.backend = "redis"
        self.since = wall()
        self.retry_at = 0.0
        self.fallbacks = 0
        self.last_error: str | None = None
        self.on_recover: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def up(self) -> bool:
        return self.backend == "redis"

    def _admit(self) -> bool | None:
        """None: keep to memory. False: an ordinary call. True: the one probe after a back-off."""
        if self.up:
            return False
        now = self.clock()
        if now < self.retry_at:
            return None
        self.retry_at = now + self.backoff  # this call probes; the others keep to memory meanwhile
        return True

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T | Failed:
        """`operation`'s result, or FAILED when Redis is not to be used now or did not answer in time."""
        probe = self._admit()
        if probe is None:
            return FAILED
        try:
            async with asyncio.timeout(self.timeout):
                result = await operation()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return FAILED
        if probe:
            self._recovered()
        return result

    def _failed(self, exc: BaseException) -> None:
        self.retry_at = self.clock() + self.backoff
        self.last_error = type(exc).__name__
        if self.up:
            self.backend, self.since = "memory", self.wall()
            self.fallbacks += 1
            log.warning(
                "redis unavailable (%s): deduplication and thread topics in process memory, retrying every %g s",
                self.last_error,
                self.backoff,
            )

    def _recovered(self) -> None:
        self.backend, self.since = "redis", self.wall()
        log.warning("redis is back: deduplication and thread topics shared again")
        for write_back in self.on_recover:
            task = asyncio.get_running_loop().create_task(write_back())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def health(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "configured": "redis",
            "since": utc_iso(self.since),
            "fallbacks": self.fallbacks,
            "last_error": self.last_error,
        }


class _RedisState(Generic[P]):
    """What both Redis stores share: the client, hashed keys under a prefix, the circuit breaker, and the
    writes made while Redis was away (name -> what to write), bounded, for the write-back on recovery."""

    def __init__(self, client: Redis, secret: str, ttl: float, prefix: str, breaker: RedisBreaker | None) -> None:
        if not secret:
            raise ValueError("the Redis stores need a secret to hash their keys")
        self.client = client
        self.secret = secret
        self.ttl = ttl
        self.prefix = prefix
        self.breaker = breaker or RedisBreaker()
        self.pending: dict[str, P] = {}
        self.breaker.on_recover.append(self.write_back)

    def _remember(self, name: str, value: P) -> None:
        self.pending.pop(name, None)
        self.pending[name] = value
        while len(self.pending) > MAX_PENDING:
            del self.pending[next(iter(self.pending))]

    async def write_back(self) -> None:
        raise NotImplementedError

    def health(self) -> dict[str, Any]:
        return self.breaker.health()


class RedisSeenStore(_RedisState[float]):
    def __init__(
        self,
        client: Redis,
        secret: str,
        ttl: float = 3600.0,
        prefix: str = DEFAULT_PREFIX,
        breaker: RedisBreaker | None = None,
        local: MemorySeenStore | None = None,
    ) -> None:
        # Pending: hashed keys recorded while Redis was away, with their monotonic expiry.
        super().__init__(client, secret, ttl, prefix + "seen:", breaker)
        self.local = local or MemorySeenStore(ttl=ttl)

    def redis_key(self, key: str) -> str:
        return self.prefix + hashed_key(self.secret, key)

    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        seconds = self.ttl if ttl is None else ttl
        # Memory first, always: a key this process has seen (even while Redis was away) is never new.
        if not await self.local.first_time(key, seconds):
            return False
        name = self.redis_key(key)
        # SET NX is atomic across every instance sharing this Redis.
        first = await self.breaker.run(lambda: self.client.set(name, "1", nx=True, px=max(1, int(seconds * 1000))))
        if isinstance(first, Failed):
            self._remember(name, self.breaker.clock() + seconds)
            return True
        return bool(first)

    async def write_back(self) -> None:
        """Tell Redis the keys seen while it was away, so another instance will not answer them again."""
        while self.pending and self.breaker.up:
            batch = list(self.pending.items())[:FLUSH_BATCH]
            now = self.breaker.clock()
            pipe = self.client.pipeline(transaction=False)
            for name, expires in batch:
                if expires > now:
                    pipe.set(name, "1", nx=True, px=max(1, int((expires - now) * 1000)))
            if isinstance(await self.breaker.run(pipe.execute), Failed):
                return  # kept for the next recovery
            for name, _ in batch:
                self.pending.pop(name, None)


class RedisThreadMemory(_RedisState[str]):
    def __init__(
        self,
        client: Redis,
        secret: str,
        ttl: float = 7 * 24 * 3600.0,
        prefix: str = DEFAULT_PREFIX,
        breaker: RedisBreaker | None = None,
        local: MemoryThreadMemory | None = None,
    ) -> None:
        # Pending: topics set while Redis was away.
        super().__init__(client, secret, ttl, prefix + "thread:", breaker)
        self.local = local or MemoryThreadMemory(ttl=ttl)

    def redis_key(self, channel: str, thread: str) -> str:
        return self.prefix + hashed_key(self.secret, f"{channel}:{thread}")

    async def get(self, channel: str, thread: str) -> str | None:
        name = self.redis_key(channel, thread)
        value = await self.breaker.run(lambda: self.client.get(name))
        if isinstance(value, Failed) or value is None:
            # Redis away, or it never heard of this thread (set here while it was away): memory's topic.
            return await self.local.get(channel, thread)
        return value.decode() if isinstance(value, bytes) else str(value)

    async def set(self, channel: str, thread: str, intent_id: str) -> None:
        await self.local.set(channel, thread, intent_id)
        name = self.redis_key(channel, thread)
        stored = await self.breaker.run(lambda: self.client.set(name, intent_id, ex=int(self.ttl)))
        if isinstance(stored, Failed):
            self._remember(name, intent_id)

    async def write_back(self) -> None:
        """Topics set while Redis was away replace what Redis held from before the outage."""
        while self.pending and self.breaker.up:
            batch = list(self.pending.items())[:FLUSH_BATCH]
            pipe = self.client.pipeline(transaction=False)
            for name, intent_id in batch:
                pipe.set(name, intent_id, ex=int(self.ttl))
            if isinstance(await self.breaker.run(pipe.execute), Failed):
                return
            for name, _ in batch:
                self.pending.pop(name, None)


def redis_client(url: str, timeout: float = OP_TIMEOUT) -> Redis:
    """No retries (redis-py's default is ten, with back-off) and short socket time-outs: the breaker
    decides when to try again, and each call is also bounded as a whole by OP_TIMEOUT."""
    return Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))


def redis_state(
    url: str, prefix: str = DEFAULT_PREFIX, *, secret: str, breaker: RedisBreaker | None = None
) -> tuple[RedisSeenStore, RedisThreadMemory]:
    """Both stores over one client and one breaker, so one outage is noticed, logged and shown once."""
    client = redis_client(url)
    breaker = breaker or RedisBreaker()
    return (
        RedisSeenStore(client, secret, prefix=prefix, breaker=breaker),
        RedisThreadMemory(client, secret, prefix=prefix, breaker=breaker),
    )
