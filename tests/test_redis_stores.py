"""The Redis-backed stores against the real local Redis: atomic first-time checks shared by two app
instances, expiry, thread memory, and failing open when Redis is unreachable."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.app import build_bolt_app
from bot.blocks import Commands
from bot.content import ContentHolder
from bot.redis_stores import RedisSeenStore, RedisThreadMemory, redis_stores
from bot.runtime import Services
from bot.server import build_web_app
from bot.standin import SlackStandIn
from tests.conftest import Harness, dm_event, make_settings

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    value = f"test:{uuid.uuid4().hex}:"
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        pytest.fail(f"these tests need Redis on 127.0.0.1:6379 (.ci/run starts it): {exc!r}")
    yield value
    keys = [k async for k in client.scan_iter(f"{value}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_first_time_is_atomic_and_expires(prefix: str) -> None:
    seen, _ = redis_stores(REDIS_URL, prefix)
    results = await asyncio.gather(*(seen.first_time("event:Ev1") for _ in range(20)))
    assert results.count(True) == 1
    assert await seen.first_time("click:short", ttl=0.2) is True
    assert await seen.first_time("click:short", ttl=0.2) is False
    await asyncio.sleep(0.3)
    assert await seen.first_time("click:short", ttl=0.2) is True


async def test_thread_memory_round_trip(prefix: str) -> None:
    _, threads = redis_stores(REDIS_URL, prefix)
    assert await threads.get("C1", "1700000000.000001") is None
    await threads.set("C1", "1700000000.000001", "rec_appraisal")
    assert await threads.get("C1", "1700000000.000001") == "rec_appraisal"


async def test_unreachable_redis_fails_open_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.5)
    seen, threads = RedisSeenStore(client), RedisThreadMemory(client)
    assert await seen.first_time("event:Ev2") is True
    assert await threads.get("C1", "1") is None
    await threads.set("C1", "1", "key_points")
    assert "unavailable" in caplog.text


async def _instance(standin: SlackStandIn, content_path: Path, prefix: str) -> tuple[web.AppRunner, str, Services]:
    settings = make_settings(standin, content_path)
    bot = Services(settings, ContentHolder(content_path, Commands()))
    bot.seen, bot.threads = redis_stores(REDIS_URL, prefix)
    runner = web.AppRunner(build_web_app(build_bolt_app(bot), bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", bot  # type: ignore[union-attr]


async def test_two_instances_sharing_redis_reply_once_and_share_thread_topics(
    standin: SlackStandIn, content_path: Path, prefix: str
) -> None:
    (runner_a, url_a, bot_a), (runner_b, url_b, bot_b) = [
        await _instance(standin, content_path, prefix) for _ in range(2)
    ]
    try:
        async with aiohttp.ClientSession() as http:
            a = Harness(url_a, standin, bot_a, http, content_path)
            b = Harness(url_b, standin, bot_b, http, content_path)
            event = dm_event("recommendation 4", thread_ts="1700000000.000777")
            # Slack retries on another instance behind the load balancer: still one reply.
            await a.event(event, event_id="EvSHARED01")
            await b.event(event, "EvSHARED01", **{"X-Slack-Retry-Num": "1"})
            await a.posts(1)
            await asyncio.sleep(0.3)
            assert len(standin.calls_to("chat.postMessage")) == 1
            # A follow-up in the same thread, landing on the other instance, keeps the topic.
            await b.event(dm_event("where can I read it?", thread_ts="1700000000.000777"))
            second = (await b.posts(2))[1]
            assert "parallelparliament" in str(second["blocks"])
    finally:
        await runner_a.cleanup()
        await runner_b.cleanup()
