"""Redis-backed stores, for running several instances (or surviving a restart) without double posts.

Selected by setting REDIS_URL. If Redis cannot be reached, the stores log a warning and fail open:
the member still gets an answer, at the small risk of a duplicate, rather than silence.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("bot.redis")
DEFAULT_PREFIX = "confedbot:"


class RedisSeenStore:
    def __init__(self, client: Redis, ttl: float = 3600.0, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.ttl = ttl
        self.prefix = prefix + "seen:"

    async def first_time(self, key: str, ttl: float | None = None) -> bool:
        milliseconds = max(1, int((ttl if ttl is not None else self.ttl) * 1000))
        try:
            # SET NX is atomic across every instance sharing this Redis.
            return bool(await self.client.set(self.prefix + key, "1", nx=True, px=milliseconds))
        except (RedisError, OSError) as exc:
            log.warning("dedupe store unavailable, answering anyway: %r", exc)
            return True


class RedisThreadMemory:
    def __init__(self, client: Redis, ttl: float = 7 * 24 * 3600.0, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.ttl = ttl
        self.prefix = prefix + "thread:"

    async def get(self, channel: str, thread: str) -> str | None:
        try:
            value = await self.client.get(f"{self.prefix}{channel}:{thread}")
        except (RedisError, OSError) as exc:
            log.warning("thread memory unavailable: %r", exc)
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def set(self, channel: str, thread: str, intent_id: str) -> None:
        try:
            await self.client.set(f"{self.prefix}{channel}:{thread}", intent_id, ex=int(self.ttl))
        except (RedisError, OSError) as exc:
            log.warning("thread memory unavailable: %r", exc)


def redis_stores(url: str, prefix: str = DEFAULT_PREFIX) -> tuple[RedisSeenStore, RedisThreadMemory]:
    client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return RedisSeenStore(client, prefix=prefix), RedisThreadMemory(client, prefix=prefix)
