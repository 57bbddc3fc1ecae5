"""Shared fixtures: the real app served over HTTP, driven by signed requests, talking to the stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import aiohttp
import pytest
from aiohttp import web
from pytest_postgresql import factories as postgresql_factories
from pytest_redis import factories as redis_factories

from bot.app import build_bolt_app, close_client
from bot.server import EVENTS_PATH, SocketConnection, build_web_app
from bot.services import Services, assemble
from bot.settings import PROJECT_DIR, Settings
from devtools.signing import command_body, event_body, interaction_body, signed_headers
from devtools.standin import BOT_USER_ID, SlackStandIn

# Every process a test starts (app.py, python -m bot) keeps its question log here unless the test names
# another: never in the developer's .data/.
# The folder goes when the run ends (pytest_sessionfinish): a test run leaves nothing behind in /tmp.
_RUN_FOLDER: str | None = None
if "DATABASE_URL" not in os.environ:
    _RUN_FOLDER = tempfile.mkdtemp(prefix="confedbot-tests-")
    os.environ["DATABASE_URL"] = f"sqlite:///{_RUN_FOLDER}/questions.sqlite3"

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
# /healthz shows its details only with this token; the tests' processes inherit it from the environment.
HEALTH_TOKEN = "test-health-token"
HEALTH_HEADERS = {"Authorization": f"Bearer {HEALTH_TOKEN}"}
os.environ["HEALTH_TOKEN"] = HEALTH_TOKEN
TOKEN = "xoxb-1111-2222-testtokenvalue"
MEMBER_SECRET = "member-hash-secret-for-tests"
RESPONSES = PROJECT_DIR / "responses.yaml"
_ids = itertools.count(1)


# --- PostgreSQL and Redis: the server named in the environment, else a throwaway one of this run's own ---


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


_missing: dict[str, None] = {}  # what was missing, in order, each once (the session fixtures ask once)


def missing(what: str) -> NoReturn:
    """A server these tests need cannot be had: skip, in one line naming what is missing; under CI, fail."""
    _missing[what] = None
    if in_ci():
        pytest.fail(what, pytrace=False)  # CI must run every test
    pytest.skip(what)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _RUN_FOLDER is not None:
        shutil.rmtree(_RUN_FOLDER, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once why the tests that need a server were skipped (pytest -q shows only how many)."""
    for what in _missing:
        terminalreporter.write_line(f"tests {'failed' if in_ci() else 'skipped'}: {what}", yellow=True)


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.parts[-3].split(".") if part.isdigit())


def _find_pg_ctl() -> str | None:
    """pg_ctl on PATH, else the newest under Debian's /usr/lib/postgresql/<version>/bin (never on PATH there)."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return on_path
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=_version_key)
    return str(debian[-1]) if debian else None


PG_CTL = _find_pg_ctl()
REDIS_SERVER = shutil.which("redis-server")
TEST_DATABASE = "confedbot_test"

# Session-wide servers in pytest's temporary folder, on free ports, started only when a test asks for one
# (through postgres_url or redis_url below) and stopped at the end of the run.
throwaway_postgres = postgresql_factories.postgresql_proc(executable=PG_CTL or "pg_ctl", port=None)
throwaway_redis = redis_factories.redis_proc(executable=REDIS_SERVER or "redis-server", port=None)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@pytest.fixture(scope="session")
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The PostgreSQL the question-log tests use (each test in a schema of its own): TEST_DATABASE_URL when
    set (.ci/run sets it), else a throwaway server started by pytest-postgresql from the installed pg_ctl."""
    import psycopg

    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        try:
            psycopg.connect(configured, connect_timeout=5).close()
        except psycopg.Error as exc:
            missing(f"PostgreSQL at TEST_DATABASE_URL={configured} is unreachable: {_first_line(exc)}")
        return configured
    if PG_CTL is None:
        missing("PostgreSQL's pg_ctl is not installed (looked on PATH and in /usr/lib/postgresql/*/bin), and "
                "TEST_DATABASE_URL is not set")  # fmt: skip
    if os.geteuid() == 0:
        # initdb refuses to run as root, so no throwaway cluster can be made: .ci/run, run as root, points
        # TEST_DATABASE_URL at the system's PostgreSQL instead.
        missing("a throwaway PostgreSQL cannot start as root (initdb refuses), and TEST_DATABASE_URL is not set")
    server = request.getfixturevalue("throwaway_postgres")
    with psycopg.connect(host=server.host, port=server.port, user=server.user, dbname="postgres",
                         autocommit=True) as conn:  # fmt: skip
        conn.execute(f"create database {TEST_DATABASE}")
    return f"postgresql://{server.user}@{server.host}:{server.port}/{TEST_DATABASE}"


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The installed redis-server, for tests that start (and stop) one of their own."""
    if REDIS_SERVER is None:
        missing("redis-server is not installed (not on PATH)")
    return REDIS_SERVER


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis the shared-store tests use (each test under a key prefix of its own): TEST_REDIS_URL when set
    (.ci/run sets it), else a throwaway server started by pytest-redis from the installed redis-server."""
    from redis import Redis
    from redis.exceptions import RedisError

    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        client = Redis.from_url(configured, socket_connect_timeout=5)
        try:
            client.ping()
        except (RedisError, OSError) as exc:
            missing(f"Redis at TEST_REDIS_URL={configured} is unreachable: {_first_line(exc)}")
        finally:
            client.close()
        return configured
    if REDIS_SERVER is None:
        missing("redis-server is not installed (not on PATH), and TEST_REDIS_URL is not set")
    server = request.getfixturevalue("throwaway_redis")
    return f"redis://{server.host}:{server.port}/0"


# `python -m bot` commands a test may run in its own process, as a subprocess would, without paying for
# a new interpreter and its imports each time: the same argv, environment, working folder, stdin, output
# and exit code. Local mode and the sandbox (servers of their own) always get a real process.
IN_PROCESS_COMMANDS = frozenset({"ask", "check", "eval", "learn", "labels", "report", "forget", "migrate"})


def run_cli(
    args: list[str], *, cwd: Path, env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` with this environment in `cwd`: in this process for `-m bot <command>` (see
    IN_PROCESS_COMMANDS), otherwise as a subprocess."""
    if args[:2] != ["-m", "bot"] or len(args) < 3 or args[2] not in IN_PROCESS_COMMANDS:
        return subprocess.run([sys.executable, *args], cwd=cwd, input=stdin, capture_output=True, text=True,
                              timeout=timeout, env=env)  # fmt: skip
    from bot.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_stdin = dict(os.environ), os.getcwd(), sys.stdin
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdin = io.StringIO(stdin or "")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args[2:])
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = saved_stdin
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([sys.executable, *args], code, out.getvalue(), err.getvalue())


def next_ts() -> str:
    return f"1700000000.{next(_ids):06d}"


def dm_event(text: str = "key points", user: str = "U1", channel: str = "D1", **extra: Any) -> dict[str, Any]:
    """A direct-message event as Slack sends it."""
    return {
        "type": "message",
        "channel_type": "im",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": next_ts(),
        **extra,
    }


async def post_event_to(port: int, event: dict[str, Any], event_id: str) -> int:
    """Send one signed event to an app running in another process; returns the HTTP status."""
    body = event_body(event, event_id)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"http://127.0.0.1:{port}{EVENTS_PATH}", data=body.encode(), headers=signed_headers(SECRET, body)
        ) as resp:
            return resp.status


@dataclass
class Harness:
    url: str
    standin: SlackStandIn
    services: Services
    http: aiohttp.ClientSession
    content_path: Path
    sent: list[str] = field(default_factory=list)

    async def post_raw(self, body: str | bytes, headers: dict[str, str]) -> tuple[int, str]:
        data = body.encode() if isinstance(body, str) else body
        async with self.http.post(self.url + EVENTS_PATH, data=data, headers=headers) as resp:
            return resp.status, await resp.text()

    async def post_signed(self, body: str, content_type: str = "application/json", **extra: str) -> tuple[int, str]:
        headers = signed_headers(SECRET, body, content_type=content_type)
        headers.update(extra)
        return await self.post_raw(body, headers)

    async def event(self, event: dict[str, Any], event_id: str | None = None, **headers: str) -> tuple[int, str]:
        event_id = event_id or f"Ev{next(_ids):08d}"
        return await self.post_signed(event_body(event, event_id), **headers)

    async def mention(
        self, text: str, channel: str = "C0000001", user: str = "U0000001", **extra: Any
    ) -> tuple[int, str, dict[str, Any]]:
        event = {
            "type": "app_mention",
            "channel": channel,
            "user": user,
            "text": f"<@{BOT_USER_ID}> {text}",
            "ts": next_ts(),
            **extra,
        }
        status, body = await self.event(event)
        return status, body, event

    async def dm(self, text: str, user: str = "U0000001", **extra: Any) -> tuple[int, str, dict[str, Any]]:
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "D0000001",
            "user": user,
            "text": text,
            "ts": next_ts(),
            **extra,
        }
        status, body = await self.event(event)
        return status, body, event

    async def command(
        self, command: str, text: str, user: str = "U0000001", channel: str = "C0000001"
    ) -> tuple[int, dict[str, Any]]:
        body = command_body(command, text, user, channel, self.standin.response_url())
        status, raw = await self.post_signed(body, "application/x-www-form-urlencoded")
        return status, (json.loads(raw) if raw.startswith("{") else {"raw": raw})

    async def action(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.post_signed(interaction_body(payload), "application/x-www-form-urlencoded")

    async def settle(self, expected: int) -> None:
        """Give any unexpected reply time to arrive, then check exactly `expected` messages were posted."""
        await asyncio.sleep(0.3)
        assert len(self.standin.calls_to("chat.postMessage")) == expected

    async def posts(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        calls = await self.standin.wait_for("chat.postMessage", count, timeout)
        return [c.params for c in calls]


def make_settings(standin: SlackStandIn, content_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        bot_token=TOKEN,
        signing_secret=SECRET,
        api_url=standin.api_url,
        responses_path=content_path,
        host="127.0.0.1",
        port=0,
        reload_interval_seconds=0.2,
        shutdown_grace_seconds=5,
        # Each test keeps its question log beside its copy of the content, never in the project.
        database_url=f"sqlite:///{content_path.parent / 'questions.sqlite3'}",
        member_hash_secret=MEMBER_SECRET,
        health_token=HEALTH_TOKEN,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    server = await SlackStandIn().start()
    yield server
    await server.stop()


def copy_content(folder: Path) -> Path:
    """The shipped content file and its training/ folder, copied into `folder`: the model learns from both."""
    path = folder / "responses.yaml"
    shutil.copy(RESPONSES, path)
    shutil.copytree(RESPONSES.parent / "training", folder / "training", dirs_exist_ok=True)
    return path


@pytest.fixture
def content_path(tmp_path: Path) -> Path:
    return copy_content(tmp_path)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def harness(
    standin: SlackStandIn, content_path: Path, settings_overrides: dict[str, Any]
) -> AsyncIterator[Harness]:
    settings = make_settings(standin, content_path, **settings_overrides)
    services = assemble(settings)
    runner = web.AppRunner(build_web_app(build_bolt_app(services), services), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    # One connection per request: the server shares this event loop, so reusing a connection just as its
    # keep-alive timer fires (after a slow step) can reset it.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, headers=HEALTH_HEADERS) as http:
        yield Harness(f"http://127.0.0.1:{port}", standin, services, http, content_path)
    await runner.cleanup()


@pytest.fixture
async def socket_services(standin: SlackStandIn, content_path: Path) -> AsyncIterator[Services]:
    """The app in Socket Mode, connected to the stand-in's WebSocket."""
    settings = make_settings(standin, content_path, signing_secret=None, app_token="xapp-1-A0000001-test")
    services = assemble(settings)
    connection = SocketConnection(build_bolt_app(services), services, ping_interval=0.5)
    connection.start(on_fatal=lambda: None)
    await standin.wait_for("socket.connect", 1)
    yield services
    await connection.stop()
    await close_client(connection.bolt)
    await services.recorder.stop()
