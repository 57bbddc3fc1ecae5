"""The Redis stores when Redis is stopped (a closed port), frozen (a server that accepts and never
answers) or away and back (a redis-server of this test's own, stopped and started again): deduplication
falls back to process memory, a frozen Redis is tried once per back-off rather than once per call, one
log line per change of state, and keys seen during the outage stay seen once Redis is back."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.state_redis import RedisBreaker, hashed_key, redis_state
from tests.conftest import Harness, dm_event

SECRET = "redis-outage-test-secret"
# Generous bounds, so a regression fails the test instead of hanging it; never a timing assertion.
LIMIT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FrozenRedis:
    """A TCP server that accepts connections and reads every command, but never answers: Redis
    SIGSTOPped, or a network path that black-holes replies."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> FrozenRedis:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while data := await reader.read(4096):
                self.received += data
        except ConnectionError:
            pass

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()


class OwnRedis:
    """A redis-server of this test's own (never the shared one), to stop and start again on its port."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            for _ in range(400):
                try:
                    await client.ping()
                    return
                except (RedisError, OSError):  # refused while it starts
                    await asyncio.sleep(0.025)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


@pytest.fixture
async def frozen() -> AsyncIterator[FrozenRedis]:
    server = await FrozenRedis().start()
    yield server
    await server.stop()


@pytest.fixture
async def own_redis(redis_server: str) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(redis_server)
    await server.start()
    yield server
    await server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def redis_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "bot.redis"]


async def test_a_stopped_redis_still_deduplicates_in_memory_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "bot.redis")
    seen, threads = redis_state(f"redis://127.0.0.1:{free_port()}/0", "test:", secret=SECRET)
    assert await seen.first_time("event:EvDOWN1") is True
    for _ in range(3):  # Slack's three redeliveries
        assert await seen.first_time("event:EvDOWN1") is False
    await threads.set("C1", "1700000000.000001", "rec_edi")
    assert await threads.get("C1", "1700000000.000001") == "rec_edi"
    health = seen.health()
    assert health["backend"] == "memory" and health["configured"] == "redis" and health["fallbacks"] == 1
    assert health["last_error"] and health["since"].endswith("Z")
    assert threads.health() == health  # one breaker for both stores
    lines = redis_lines(caplog)
    assert len(lines) == 1 and "unavailable" in lines[0]
    assert "EvDOWN1" not in caplog.text and "C1" not in caplog.text and "Traceback" not in caplog.text


async def test_a_frozen_redis_is_tried_once_per_back_off_not_once_per_call(frozen: FrozenRedis) -> None:
    clock = Clock()
    breaker = RedisBreaker(backoff=30, clock=clock)
    seen, threads = redis_state(f"redis://127.0.0.1:{frozen.port}/0", "test:", secret=SECRET, breaker=breaker)

    async def calls() -> None:
        assert await seen.first_time("event:EvFROZEN1") is True
        for n in range(10):
            assert await seen.first_time(f"event:EvFROZEN{n + 2}") is True
            assert await seen.first_time("event:EvFROZEN1") is False
            await threads.set("C1", f"1700000000.00000{n}", "key_points")

    await asyncio.wait_for(calls(), LIMIT)
    # One connection, its first command never answered; every call after that kept to memory. (A timed
    # out connection is dropped, so each try at Redis is a new connection.)
    assert frozen.connections == 1
    assert seen.health()["backend"] == "memory" and seen.health()["last_error"] == "TimeoutError"
    clock.now += 31  # the back-off has passed: one call, and only one, tries Redis again
    await asyncio.wait_for(asyncio.gather(*(seen.first_time(f"event:EvAGAIN{n}") for n in range(5))), LIMIT)
    assert frozen.connections == 2


async def test_keys_seen_during_an_outage_stay_seen_when_redis_is_back(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.redis")
    clock = Clock()
    breaker = RedisBreaker(backoff=5, clock=clock)
    seen, threads = redis_state(own_redis.url, "test:", secret=SECRET, breaker=breaker)
    assert await seen.first_time("event:EvBEFORE") is True
    assert seen.health()["backend"] == "redis"

    await own_redis.stop()
    assert await seen.first_time("event:EvDURING") is True  # answered from memory
    assert await seen.first_time("event:EvDURING") is False
    await threads.set("D1", "dm", "rec_appraisal")
    assert await threads.get("D1", "dm") == "rec_appraisal"
    assert seen.health()["backend"] == "memory"

    await own_redis.start()  # a fresh, empty Redis on the same port
    clock.now += 6
    assert await seen.first_time("event:EvDURING") is False  # memory is asked first
    assert await seen.first_time("event:EvAFTER") is True  # the probe: Redis is back
    assert seen.health()["backend"] == "redis" and seen.health()["fallbacks"] == 1
    await asyncio.wait_for(asyncio.gather(*breaker._tasks), LIMIT)  # the write-back

    # Another instance (its own memory, the same Redis) sees the outage's key and topic.
    other_seen, other_threads = redis_state(own_redis.url, "test:", secret=SECRET)
    assert await other_seen.first_time("event:EvDURING") is False
    assert await other_threads.get("D1", "dm") == "rec_appraisal"
    client = Redis(port=own_redis.port)
    assert await client.exists("test:seen:" + hashed_key(SECRET, "event:EvDURING"))
    await client.aclose()

    lines = redis_lines(caplog)
    assert len(lines) == 2 and "unavailable" in lines[0] and "back" in lines[1]
    assert "EvDURING" not in caplog.text and "D1" not in caplog.text


# Through the real pipeline: the app over HTTP, signed requests, the Slack stand-in.


@pytest.fixture
def redis_mode() -> str:
    return "closed"


@pytest.fixture
def settings_overrides(redis_mode: str, frozen: FrozenRedis) -> dict[str, Any]:
    port = frozen.port if redis_mode == "frozen" else free_port()
    return {"redis_url": f"redis://127.0.0.1:{port}/15"}


@pytest.mark.parametrize("redis_mode", ["closed", "frozen"])
async def test_an_event_and_three_redeliveries_get_one_reply_with_redis_away(harness: Harness, redis_mode: str) -> None:
    async def deliver() -> None:
        event = dm_event("key points")
        assert (await harness.event(event, event_id="EvOUTAGE01"))[0] == 200
        for retry in "123":
            headers = {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
            assert (await harness.event(event, "EvOUTAGE01", **headers))[0] == 200
        await harness.posts(1)
        await harness.settle(1)

    await asyncio.wait_for(deliver(), LIMIT)
    assert harness.services.seen.health()["backend"] == "memory"
    async with harness.http.get(harness.url + "/healthz") as resp:
        health = await resp.json()
    # Still ready (one instance answers correctly from memory), and the outage shows.
    assert resp.status == 200 and health["ok"] is True
    assert (health["stores"]["backend"], health["stores"]["configured"]) == ("memory", "redis")
