"""The Redis-backed stores against a real Redis (redis_url in conftest.py): atomic first-time checks shared by two app
instances, expiry, thread memory, and keys that name no member or channel. (Outages: test_redis_outage.py.)"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from redis.asyncio import Redis

from bot.app import build_bolt_app
from bot.command_names import Commands
from bot.content import ContentHolder
from bot.server import build_web_app
from bot.services import Services
from bot.state_redis import hashed_key, redis_state
from devtools.standin import SlackStandIn
from tests.conftest import MEMBER_SECRET, Harness, dm_event, make_settings

KEY_SECRET = "redis-store-test-secret"


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own on the test Redis (redis_url), its keys deleted afterwards."""
    value = f"test:{uuid.uuid4().hex}:"
    client = Redis.from_url(redis_url)
    yield value
    keys = [k async for k in client.scan_iter(f"{value}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_first_time_is_atomic_and_expires(prefix: str, redis_url: str) -> None:
    seen, _ = redis_state(redis_url, prefix, secret=KEY_SECRET)
    results = await asyncio.gather(*(seen.first_time("event:Ev1") for _ in range(20)))
    assert results.count(True) == 1
    assert await seen.first_time("click:short", ttl=0.2) is True
    assert await seen.first_time("click:short", ttl=0.2) is False
    await asyncio.sleep(0.3)
    assert await seen.first_time("click:short", ttl=0.2) is True


async def test_thread_memory_round_trip(prefix: str, redis_url: str) -> None:
    _, threads = redis_state(redis_url, prefix, secret=KEY_SECRET)
    assert await threads.get("C1", "1700000000.000001") is None
    await threads.set("C1", "1700000000.000001", "rec_appraisal")
    assert await threads.get("C1", "1700000000.000001") == "rec_appraisal"


async def test_keys_in_redis_are_hashes_that_name_no_member_or_channel(prefix: str, redis_url: str) -> None:
    seen, threads = redis_state(redis_url, prefix, secret=KEY_SECRET)
    logical = [
        "click:C0SECRET1:1700000000.000042:rec_edi:U0SECRET2",
        "handoff:q-1234:U0SECRET2",
        "msg:C0SECRET1:1700000000.000042",
        "event:Ev0SECRET3",
    ]
    for key in logical:
        assert await seen.first_time(key, 60) is True
        assert await seen.first_time(key, 60) is False
    await threads.set("C0SECRET1", "1700000000.000042", "rec_edi")
    assert await threads.get("C0SECRET1", "1700000000.000042") == "rec_edi"

    client = Redis.from_url(redis_url)
    names = sorted([k.decode() async for k in client.scan_iter(f"{prefix}*")])
    values = [await client.get(name) for name in names]
    await client.aclose()
    assert len(names) == 5
    for name in names:
        assert re.fullmatch(re.escape(prefix) + r"(seen|thread):[0-9a-f]{64}", name), name
        assert "SECRET" not in name and "1700000000" not in name
    assert set(names) == {prefix + "seen:" + hashed_key(KEY_SECRET, k) for k in logical} | {
        prefix + "thread:" + hashed_key(KEY_SECRET, "C0SECRET1:1700000000.000042")
    }
    assert sorted(values) == [b"1", b"1", b"1", b"1", b"rec_edi"]  # values: a flag, or an intent id


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, Any]:
    return {"redis_url": redis_url}  # the app's own stores (harness) in the test Redis


async def test_through_the_app_redis_holds_no_raw_event_member_or_channel_id(harness: Harness, redis_url: str) -> None:
    """assemble() hashes with the member-hash secret; the default prefix, so the keys are found by name."""
    tag = uuid.uuid4().hex[:10].upper()
    user, channel, event_id = f"U{tag}", f"D{tag}", f"Ev{tag}"
    event = dm_event("recommendation 4", user=user, channel=channel, thread_ts="1700000000.000888")
    await harness.event(event, event_id=event_id)
    await harness.posts(1)
    await harness.event(event, event_id, **{"X-Slack-Retry-Num": "1"})
    await harness.settle(1)

    client = Redis.from_url(redis_url)
    try:
        expected = [
            "confedbot:seen:" + hashed_key(MEMBER_SECRET, f"event:{event_id}"),
            "confedbot:seen:" + hashed_key(MEMBER_SECRET, f"msg:{channel}:{event['ts']}"),
            "confedbot:thread:" + hashed_key(MEMBER_SECRET, f"{channel}:1700000000.000888"),
        ]
        assert await client.exists(*expected) == 3
        assert await client.get(expected[2]) == b"rec_appraisal"
        # Nothing anywhere in this Redis database names this test's member, channel or event.
        assert [k async for k in client.scan_iter(f"*{tag}*")] == []
    finally:
        await client.delete(*expected)
        await client.aclose()


async def _instance(
    standin: SlackStandIn, content_path: Path, redis_url: str, prefix: str
) -> tuple[web.AppRunner, str, Services]:
    settings = make_settings(standin, content_path)
    bot = Services(settings, ContentHolder(content_path, Commands()))
    bot.seen, bot.threads = redis_state(redis_url, prefix, secret=KEY_SECRET)
    runner = web.AppRunner(build_web_app(build_bolt_app(bot), bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", bot  # type: ignore[union-attr]


async def test_two_instances_sharing_redis_reply_once_and_share_thread_topics(
    standin: SlackStandIn, content_path: Path, redis_url: str, prefix: str
) -> None:
    (runner_a, url_a, bot_a), (runner_b, url_b, bot_b) = [
        await _instance(standin, content_path, redis_url, prefix) for _ in range(2)
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
