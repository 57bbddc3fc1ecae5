"""The question log under faults: a database locked by another process, a row the database refuses, a
steady trickle of questions, a folder that cannot be created, and a frozen PostgreSQL (a server that
accepts connections and never answers). Nothing it says it wrote is lost, nothing waits on it forever."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.question_log import QuestionRecord, QuestionStore
from bot.question_log_postgres import PostgresStore
from bot.question_log_sql import member_hash
from bot.question_log_sqlite import SQLiteStore
from bot.recorder import DiscardingStore, Recorder
from bot.settings import PROJECT_DIR
from devtools.standin import SlackStandIn
from tests.conftest import HEALTH_HEADERS, TOKEN, Harness
from tests.conftest import SECRET as SIGNING_SECRET
from tests.test_cli import free_port
from tests.test_events import _all_text
from tests.test_question_log import HANDOFF_CHANNEL, _button, _click
from tests.test_question_log_sql import NOW, RAW, SECRET, Backend, open_backend
from tests.test_shutdown import _wait_up

MEMBER = "U0FAULTS001"
FAST_RETRY = (0.05,)  # the recorder's back-off in these tests


def question(id: str, text: str = "what are the key points?") -> QuestionRecord:
    return QuestionRecord(id, NOW, "dm", MEMBER, "key_points", 0.9, "answered", text, "D0FAULTS1", "1700000000.1")


def fast_store(backend: Backend) -> QuestionStore:
    """The backend's store with short waits, so a lock fails a write in a fraction of a second."""
    if backend.sqlite_file is not None:
        return SQLiteStore(backend.sqlite_file, SECRET, busy_timeout=0.2, call_timeout=10)
    return PostgresStore(backend.url, SECRET, command_timeout=0.5, acquire_timeout=2, connect_timeout=2)


async def stored_ids(backend: Backend) -> list[str]:
    store = backend.store()
    try:
        return sorted(q.id for q in await store.questions.since(NOW - datetime.timedelta(days=1)))
    finally:
        await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request, tmp_path) as b:
        migrated = b.store()
        await migrated.migrate()
        await migrated.close()
        yield b


class Lock:
    """Another process's lock on the question log: SQLite `begin exclusive` from a second connection;
    PostgreSQL `lock table ... access exclusive` in a second session."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None

    async def __aenter__(self) -> Lock:
        if self.backend.sqlite_file is not None:
            self._sqlite = sqlite3.connect(self.backend.sqlite_file, isolation_level=None)
            self._sqlite.execute("begin exclusive")
        else:
            import asyncpg

            self._pg = await asyncpg.connect(self.backend.server)
            await self._pg.execute("begin")
            await self._pg.execute(f'lock table "{self.backend.schema}".questions in access exclusive mode')
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._sqlite is not None:
            self._sqlite.execute("rollback")
            self._sqlite.close()
        if self._pg is not None:
            await self._pg.execute("rollback")
            await self._pg.close()


async def refuse_row(backend: Backend, id: str, refuse: bool = True) -> None:
    """A trigger that makes the database refuse one question id, and only it (or drop it again)."""
    if backend.sqlite_file is not None:
        conn = sqlite3.connect(backend.sqlite_file, isolation_level=None)
        if refuse:
            conn.execute(
                f"create trigger refuse before insert on questions when new.id = '{id}' "
                "begin select raise(abort, 'refused'); end"
            )
        else:
            conn.execute("drop trigger refuse")
        conn.close()
        return
    import asyncpg

    schema = backend.schema
    conn = await asyncpg.connect(backend.server)
    try:
        if refuse:
            await conn.execute(
                f'create function "{schema}".refuse() returns trigger language plpgsql as $$ begin '
                f"if new.id = '{id}' then raise exception 'refused'; end if; return new; end $$"
            )
            await conn.execute(
                f'create trigger refuse before insert on "{schema}".questions '
                f'for each row execute function "{schema}".refuse()'
            )
        else:
            await conn.execute(f'drop trigger refuse on "{schema}".questions')
    finally:
        await conn.close()


# --- 1. nothing said to be written is lost ---


async def test_a_locked_database_keeps_every_row_and_counts_none_until_it_commits(backend: Backend) -> None:
    recorder = Recorder(fast_store(backend), retry_seconds=FAST_RETRY)
    await recorder.start()
    async with Lock(backend):
        for n in range(20):
            recorder.question(question(f"q{n:02d}"))
        assert await asyncio.wait_for(recorder.flush(timeout=30), 40) is False
        health = recorder.health()
        assert (health["written"], health["retrying"], health["dropped"]) == (0, 20, 0)
        assert health["state"] == "degraded" and health["reason"]
    assert await asyncio.wait_for(recorder.flush(timeout=30), 40) is True
    health = recorder.health()
    assert (health["written"], health["retrying"], health["dropped"], health["state"]) == (20, 0, 0, "ok")
    await recorder.stop()
    assert await stored_ids(backend) == [f"q{n:02d}" for n in range(20)]


async def test_a_row_the_database_refuses_is_kept_for_a_retry_and_the_rest_are_written(backend: Backend) -> None:
    await refuse_row(backend, "poison")
    recorder = Recorder(fast_store(backend), retry_seconds=FAST_RETRY)
    for id in ("a", "b", "poison", "c", "d"):
        recorder.question(question(id))
    assert await asyncio.wait_for(recorder.flush(timeout=30), 40) is False
    assert await stored_ids(backend) == ["a", "b", "c", "d"]  # the batch failed; row by row, four went in
    health = recorder.health()
    assert (health["written"], health["retrying"], health["dropped"]) == (4, 1, 0)
    await refuse_row(backend, "poison", refuse=False)  # whatever refused it is fixed: the retry writes it
    assert await asyncio.wait_for(recorder.flush(timeout=30), 40) is True
    assert (recorder.written, recorder.dropped) == (5, 0)
    await recorder.stop()
    assert await stored_ids(backend) == ["a", "b", "c", "d", "poison"]


async def test_a_row_refused_every_time_is_given_up_in_one_line(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    await refuse_row(backend, "poison")
    recorder = Recorder(fast_store(backend), retry_seconds=FAST_RETRY)
    recorder.question(question("poison", text="a question never to be logged"))
    recorder.question(question("fine"))
    with caplog.at_level(logging.WARNING, logger="bot.recorder"):
        for _ in range(3):
            await asyncio.wait_for(recorder.flush(timeout=30), 40)
    assert (recorder.written, recorder.dropped, recorder.health()["retrying"]) == (1, 1, 0)
    [given_up] = [r for r in caplog.records if "given up" in r.getMessage()]
    assert given_up.getMessage() == "question log: 1 write given up (failed 3 times on its own)"
    assert all("never to be logged" not in r.getMessage() and MEMBER not in r.getMessage() for r in caplog.records)
    assert all(r.exc_info is None for r in caplog.records)
    await recorder.stop()


async def test_a_steady_trickle_is_committed_while_it_lasts(backend: Backend) -> None:
    """Questions a tenth of a second apart (never a quiet quarter-second): each is committed while the
    trickle goes on, so a kill loses none of them. Read from another connection, without any flush."""
    recorder = Recorder(fast_store(backend))
    stop = asyncio.Event()

    async def trickle() -> None:
        for n in range(300):
            if stop.is_set():
                return
            recorder.question(question(f"t{n:03d}"))
            await asyncio.sleep(0.1)

    async def until_committed(count: int) -> None:
        while len(await stored_ids(backend)) < count:
            await asyncio.sleep(0.05)

    task = asyncio.create_task(trickle())
    try:
        await asyncio.wait_for(until_committed(10), 20)
        assert recorder.written >= 10 and not task.done()
    finally:
        stop.set()
        await task
        await recorder.stop()


async def test_stop_writes_everything_handed_over(backend: Backend) -> None:
    recorder = Recorder(backend.store())
    for n in range(50):
        recorder.question(question(f"s{n:02d}"))
    recorder.feedback("s00", RAW, True)
    recorder.handoff("s01", RAW)
    await asyncio.wait_for(recorder.stop(), 30)
    assert recorder.written == 52 and recorder.dropped == 0
    assert len(await stored_ids(backend)) == 50


async def test_stop_gives_up_what_a_locked_database_never_took_in_one_line(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(fast_store(backend), retry_seconds=(60,))
    await asyncio.wait_for(recorder.flush(), 30)  # migrated
    async with Lock(backend):
        for n in range(5):
            recorder.question(question(f"x{n}"))
        with caplog.at_level(logging.WARNING, logger="bot.recorder"):
            await asyncio.wait_for(recorder.stop(timeout=2), 30)
    assert (recorder.written, recorder.dropped) == (0, 5)
    [line] = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert line == "question log: 5 writes given up (not saved at shutdown)"


# --- 2. a folder that cannot be created: the bot answers, the log is off and says so ---


class TestUnusableDatabasePath:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        blocker = tmp_path / "a-file"
        blocker.write_text("a file where the folder should be")
        return {"database_url": f"sqlite:///{blocker}/data/questions.sqlite3"}

    async def test_the_bot_still_answers_and_healthz_says_the_log_is_off(self, harness: Harness) -> None:
        await harness.services.recorder.start()
        await harness.dm("what are the key points?", user=MEMBER)
        [post] = await harness.posts(1)
        assert "key points" in _all_text(post).lower()
        async with harness.http.get(harness.url + "/healthz", headers=HEALTH_HEADERS) as resp:
            health = await resp.json()
        assert resp.status == 200
        log_health = health["question_log"]
        assert log_health["state"] == "off"
        assert log_health["reason"].startswith("cannot create the folder ") and "a-file" in log_health["reason"]


# --- 3. a frozen PostgreSQL: accepts connections, never answers ---


@pytest.fixture
async def frozen_postgres() -> AsyncIterator[str]:
    """A TCP server that accepts every connection and never says a word: PostgreSQL SIGSTOPped."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing, close nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"postgresql://bot:s3cret-pw@127.0.0.1:{port}/confed"
    for writer in held:
        writer.close()
    server.close()


def frozen_store(url: str) -> PostgresStore:
    return PostgresStore(url, SECRET, connect_timeout=0.5, command_timeout=0.5, acquire_timeout=1)


async def test_frozen_postgres_never_blocks_start_reads_or_stop(frozen_postgres: str) -> None:
    recorder = Recorder(frozen_store(frozen_postgres), read_timeout=1, retry_seconds=FAST_RETRY)
    await asyncio.wait_for(recorder.start(), 5)
    recorder.question(question("q1"))
    # A question still waiting to be written is read from memory, at once; one the log would have to
    # look up gives up at read_timeout.
    held = await asyncio.wait_for(recorder.get_question("q1"), 10)
    assert held is not None and held.member_hash == recorder.member_hash(MEMBER) and not held.handed_off
    assert await asyncio.wait_for(recorder.get_question("q2"), 10) is None
    health = recorder.health()
    assert health["read_failures"] == 1 and health["state"] == "degraded"
    assert health["written"] == 0 and "s3cret" not in str(health)
    await asyncio.wait_for(recorder.stop(timeout=1), 15)
    assert recorder.dropped == 1  # handed over, never written, given up at shutdown


class TestFrozenPostgres:
    @pytest.fixture
    def settings_overrides(self, frozen_postgres: str) -> dict[str, Any]:
        return {"database_url": frozen_postgres, "handoff_channel": HANDOFF_CHANNEL, "staff_user_ids": ("USTAFF001",)}

    async def test_the_staff_report_says_the_log_is_out_of_reach(self, harness: Harness) -> None:
        """Staff asking for /messenger report while the database is frozen get a reply saying so, in
        seconds, not silence."""
        status, _ = await harness.command("/messenger", "report 28", user="USTAFF001")
        assert status == 200
        [call] = await harness.standin.wait_for("response_url", 1, timeout=20)
        assert "out of reach" in call.params["text"]

    async def test_ask_a_person_is_still_answered(self, harness: Harness) -> None:
        await harness.services.recorder.start()
        await harness.dm("can I get a parking permit for the hospital site?", user=MEMBER)
        [fallback] = await harness.posts(1)
        message = {"channel": fallback["channel"], "ts": "1780000000.000200", "text": fallback["text"]}
        status, _ = await harness.action(_click(harness, _button(fallback, "handoff"), message=message, user=MEMBER))
        assert status == 200
        [_, handoff] = await harness.posts(2, timeout=20)
        assert handoff["channel"] == HANDOFF_CHANNEL and f"<@{MEMBER}>" in handoff["text"]
        # The question waits in memory for the database, and is shown from there.
        assert "parking permit" in handoff["text"]
        [told] = await harness.standin.wait_for("response_url", 1, timeout=20)
        assert told.params["text"] == harness.services.content.current.catalogue.settings.handoff_text
        async with harness.http.get(harness.url + "/healthz", headers=HEALTH_HEADERS) as resp:
            health = (await resp.json())["question_log"]
        # Read from memory, not the log; the schema is still waiting for the database.
        assert health["read_failures"] == 0 and health["state"] in ("starting", "degraded")


async def test_sigterm_stops_the_bot_while_postgres_is_frozen_at_start(
    standin: SlackStandIn, frozen_postgres: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": standin.api_url,
                "PORT": str(port), "DATABASE_URL": frozen_postgres, "SHUTDOWN_GRACE_SECONDS": "2"})  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=PROJECT_DIR, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await _wait_up(port)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS) as resp,
        ):
            assert resp.status == 200
            health = (await resp.json())["question_log"]
        # serve() went on past the recorder's start: it hears the signal and stops.
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        assert health["state"] in ("starting", "degraded")
        stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        assert "stopped" in stderr and "Traceback" not in stderr and "s3cret" not in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# --- 5. what the hand-off fix needs ---


async def test_the_recorder_hashes_a_member_as_the_store_does(backend: Backend) -> None:
    recorder = Recorder(backend.store())
    recorder.question(question("q1"))
    stored = await asyncio.wait_for(recorder.get_question("q1"), 30)
    assert stored is not None and stored.member_hash == recorder.member_hash(MEMBER) == member_hash(SECRET, MEMBER)
    assert stored.member_hash != recorder.member_hash(RAW) and not stored.handed_off
    recorder.handoff("q1", MEMBER)
    handed = await asyncio.wait_for(recorder.get_question("q1"), 30)
    assert handed is not None and handed.handed_off
    await recorder.stop()
    nothing = Recorder(DiscardingStore())
    assert nothing.member_hash(MEMBER) != nothing.member_hash(MEMBER)  # matches nothing, not even itself
    assert len(nothing.member_hash(MEMBER)) != 64


async def test_flush_waits_for_every_batch_of_a_long_queue(backend: Backend) -> None:
    recorder = Recorder(backend.store())
    for n in range(1200):  # more than one transaction's worth (MAX_BATCH)
        recorder.question(question(f"b{n:04d}"))
    assert await asyncio.wait_for(recorder.flush(timeout=60), 90) is True
    assert recorder.written == 1200 and len(await stored_ids(backend)) == 1200
    await recorder.stop()


class _DeafToCancel(DiscardingStore):
    """A database call that does not end when cancelled: a driver stuck in a frozen server's time-out, or
    a cancel that lands as the call's own time-out fires and comes back as a TimeoutError (Python 3.11's
    wait_for can return the call's result, an exception included, and drop the cancel)."""

    deaf = True

    async def migrate(self) -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if not self.deaf:  # the test is over: let the event loop close
                    raise


async def test_stop_never_waits_past_its_bound_on_a_writer_that_will_not_end() -> None:
    """An attack saw SIGTERM with PostgreSQL frozen leave the bot running for minutes, the writer taking
    the cancel for one more failed migration. Stop gives up on the writer at its deadline."""
    store = _DeafToCancel()
    recorder = Recorder(store, retry_seconds=FAST_RETRY)
    await recorder.start()
    recorder.question(question("q1"))
    await asyncio.sleep(0.1)  # the writer is inside migrate()
    writer = recorder._task
    try:
        await asyncio.wait_for(recorder.stop(timeout=1), 10)
        assert recorder.dropped == 1
    finally:
        store.deaf = False
        if writer is not None:
            writer.cancel()
            await asyncio.wait({writer}, timeout=5)


async def test_the_retention_purge_waits_for_the_schema(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a fresh database the first purge used to run before the schema existed, fail, and wait a day."""
    from bot import server

    monkeypatch.setattr(server, "PURGE_WAIT_SECONDS", 0.05)
    caplog.set_level(logging.INFO, logger="bot.server")
    purger = asyncio.create_task(server.purge_daily(harness.services))
    try:
        await asyncio.sleep(0.2)  # the schema is not there yet: nothing is tried
        await harness.services.recorder.start()
        await asyncio.wait_for(_logged(caplog, "rows older than"), 10)
    finally:
        purger.cancel()
    assert "purge failed" not in caplog.text


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    while text not in caplog.text:
        await asyncio.sleep(0.05)
