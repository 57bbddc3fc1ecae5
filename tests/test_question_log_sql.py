"""The question log (bot/question_log_sql.py) on both backends, SQLite in a temporary file and PostgreSQL in a
schema of its own per test: migrations, records, votes, hand-offs, erasure, retention, the report, and
proof that a member's raw Slack id is never stored."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.command_names import Commands
from bot.content import build_content
from bot.question_log import FeedbackRecord, QuestionRecord, QuestionStore
from bot.question_log_postgres import PostgresStore
from bot.question_log_sql import (
    POSTGRES_STEPS,
    SQLITE_STEPS,
    StoreUnavailable,
    describe_store,
    id_token,
    member_hash,
)
from bot.question_log_sql import (
    open_store as open_target,
)
from bot.question_log_sqlite import SQLiteStore
from bot.report import build_report, format_report, learn_command, report_json
from bot.safety import taught_text
from bot.services import LOCAL_SECRET, derive_secret
from bot.settings import DEFAULT_SQLITE_PATH, PROJECT_DIR, SettingsError, question_log_target, sqlite_path
from intents import Engine
from intents.text import MAX_CHARS
from tests.conftest import RESPONSES, TOKEN
from tests.test_cli import free_port


def open_store(database_url: str, secret: str) -> QuestionStore:
    """The store a DATABASE_URL names, as the bot opens it."""
    return open_target(question_log_target(database_url), secret)


SECRET = "test-member-hash-secret"
RAW = "U0RAWMEMBER1"  # the member whose id must never be stored
OTHER = "U0OTHERMEM2"
NOW = datetime.datetime.now(datetime.UTC)


@dataclass
class Backend:
    kind: str
    url: str
    sqlite_file: Path | None = None
    schema: str | None = None
    server: str = ""  # PostgreSQL: the server's own URL (postgres_url), to look at the schema from outside

    def store(self, secret: str = SECRET) -> QuestionStore:
        return open_store(self.url, secret)

    async def dump(self) -> tuple[str, bytes]:
        """Every row of every table as text; for SQLite also every byte of the database files."""
        if self.sqlite_file is not None:
            import sqlite3

            conn = sqlite3.connect(self.sqlite_file)
            tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
            rows = [repr(row) for t in tables for row in conn.execute(f"select * from {t}")]
            conn.close()
            files = [Path(f"{self.sqlite_file}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")]
            return "\n".join(rows), b"".join(f.read_bytes() for f in files if f.exists())
        import asyncpg

        conn = await asyncpg.connect(self.server)
        try:
            tables = await conn.fetch(
                "select table_name from information_schema.tables where table_schema = $1", self.schema
            )
            rows = [repr(tuple(r)) for t in tables for r in await conn.fetch(f'select * from "{self.schema}"."{t[0]}"')]
        finally:
            await conn.close()
        return "\n".join(rows), b""


@contextlib.asynccontextmanager
async def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """For request.param "sqlite", a SQLite file in tmp_path; for "postgres", a PostgreSQL schema of its own
    (dropped afterwards) on the shared test server, which is started only when a test asks for it."""
    if request.param == "sqlite":
        path = tmp_path / "questions.sqlite3"
        yield Backend("sqlite", f"sqlite:///{path}", sqlite_file=path)
        return
    server: str = request.getfixturevalue("postgres_url")
    import asyncpg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(server)
    await conn.execute(f'create schema "{schema}"')
    separator = "&" if "?" in server else "?"
    try:
        yield Backend("postgres", f"{server}{separator}search_path={schema}", schema=schema, server=server)
    finally:
        await conn.execute(f'drop schema "{schema}" cascade')
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request, tmp_path) as b:
        yield b


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[QuestionStore]:
    s = backend.store()
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return build_content(RESPONSES, Commands()).engine


def record(
    id: str,
    member: str = RAW,
    *,
    ago: datetime.timedelta = datetime.timedelta(hours=1),
    intent: str | None = "review_overview",
    confidence: float | None = 0.8,
    outcome: str = "answered",
    text: str | None = "what is the messenger review",
) -> QuestionRecord:
    return QuestionRecord(
        id, NOW - ago, "dm", member, intent, confidence, outcome, text, "D0CHANNEL", "1700000000.000100"
    )


async def _versions(backend: Backend) -> list[int]:
    if backend.sqlite_file is not None:
        import sqlite3

        conn = sqlite3.connect(backend.sqlite_file)
        try:
            return [r[0] for r in conn.execute("select version from schema_version order by version")]
        finally:
            conn.close()
    import asyncpg

    conn = await asyncpg.connect(backend.server)
    try:
        return [r[0] for r in await conn.fetch(f'select version from "{backend.schema}".schema_version order by 1')]
    finally:
        await conn.close()


# --- choosing the backend and the secret ---


def test_open_store_chooses_the_backend(tmp_path: Path) -> None:
    assert sqlite_path(None) == DEFAULT_SQLITE_PATH == PROJECT_DIR / ".data" / "questions.sqlite3"
    assert sqlite_path("sqlite:///data/q.db") == PROJECT_DIR / "data" / "q.db"
    assert sqlite_path(f"sqlite:///{tmp_path}/q.db") == tmp_path / "q.db"
    nested = open_store(f"sqlite:///{tmp_path}/new/dir/q.db", SECRET)
    assert isinstance(nested, SQLiteStore) and (tmp_path / "new" / "dir").is_dir()
    assert isinstance(open_store("postgresql://u@h/db", SECRET), PostgresStore)
    assert isinstance(open_store("postgres://u@h/db", SECRET), PostgresStore)
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        open_store("mysql://u@h/db", SECRET)


def test_sqlite_never_imports_the_postgres_driver(tmp_path: Path) -> None:
    code = (
        "import asyncio, sys, pathlib; from bot.question_log_sql import open_store\n"
        f"s = open_store(pathlib.Path('{tmp_path}/q.db'), 'k')\n"
        "asyncio.run(s.migrate()); asyncio.run(s.close())\n"
        "assert 'asyncpg' not in sys.modules, 'asyncpg was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_derive_secret() -> None:
    from dataclasses import replace

    from bot.settings import Settings

    settings = Settings(bot_token=TOKEN, signing_secret="abcdef0123456789abcdef")
    derived = derive_secret(settings)
    assert derived and "abcdef0123456789abcdef" not in derived
    assert derive_secret(settings) == derived  # stable from one start to the next
    assert derive_secret(replace(settings, signing_secret=None, app_token="xapp-1-A")) not in (
        derived,
        LOCAL_SECRET,
    )
    assert derive_secret(replace(settings, member_hash_secret="chosen")) == "chosen"
    assert derive_secret(None) == LOCAL_SECRET and derive_secret(None, "chosen") == "chosen"
    assert member_hash("k", RAW) != member_hash("other key", RAW) and len(member_hash("k", RAW)) == 64


# --- the store, on both backends ---


async def test_migrations_are_idempotent(backend: Backend) -> None:
    store = backend.store()
    await store.migrate()
    await store.migrate()
    steps = SQLITE_STEPS if backend.kind == "sqlite" else POSTGRES_STEPS
    assert await _versions(backend) == [version for version, _ in steps]
    await store.questions.record(record("q1"))
    await store.close()
    again = backend.store()  # a restart: nothing to do, nothing lost
    await again.migrate()
    assert await again.questions.get("q1") is not None
    await again.close()


async def test_instances_migrating_at_once(backend: Backend) -> None:
    stores = [backend.store() for _ in range(4)]
    await asyncio.gather(*(s.migrate() for s in stores))
    steps = SQLITE_STEPS if backend.kind == "sqlite" else POSTGRES_STEPS
    assert await _versions(backend) == [version for version, _ in steps]
    await asyncio.gather(*(s.questions.record(record(f"q{i}")) for i, s in enumerate(stores)))
    assert len(await stores[0].questions.since(NOW - datetime.timedelta(days=1))) == 4
    await asyncio.gather(*(s.close() for s in stores))


async def test_record_and_get(store: QuestionStore) -> None:
    at = datetime.datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=datetime.UTC)
    rec = QuestionRecord("q1", at, "mention", RAW, "key_points", 0.6789, "answered", "key points?", "C1", "17.1")
    await store.questions.record(rec)
    got = await store.questions.get("q1")
    assert got is not None
    assert (got.id, got.at, got.surface, got.intent, got.confidence, got.outcome) == (
        "q1", at, "mention", "key_points", 0.6789, "answered")  # fmt: skip
    assert (got.text, got.channel, got.message_ts) == ("key points?", "C1", "17.1")
    assert await store.questions.get("nope") is None
    # No text kept (QUESTION_LOG=off), no intent: still a question counted.
    await store.questions.record(record("q2", intent=None, confidence=None, outcome="fallback", text=None))
    q2 = await store.questions.get("q2")
    assert q2 is not None and (q2.text, q2.intent, q2.confidence) == (None, None, None)
    # The same id twice (a retried event) keeps the first.
    await store.questions.record(record("q1", text="something else"))
    assert (await store.questions.get("q1")).text == "key points?"  # type: ignore[union-attr]
    # A naive time is taken as UTC.
    naive = datetime.datetime(2026, 1, 2, 3, 4, 5)
    await store.questions.record(QuestionRecord("q3", naive, "dm", RAW, None, None, "fallback", "x"))
    q3 = await store.questions.get("q3")
    assert q3 is not None and q3.at == naive.replace(tzinfo=datetime.UTC)


async def test_feedback_later_vote_replaces_earlier(store: QuestionStore) -> None:
    await store.questions.record(record("q1"))
    since = NOW - datetime.timedelta(days=1)
    await store.feedback.record("q1", OTHER, True)
    assert await store.feedback.counts_since(since) == {
        "handoffs": 0,
        "helpful": 1,
        "not_helpful": 0,
        "helpful:review_overview": 1,
    }
    await store.feedback.record("q1", OTHER, False)  # changed their mind
    assert await store.feedback.counts_since(since) == {
        "handoffs": 0,
        "helpful": 0,
        "not_helpful": 1,
        "not_helpful:review_overview": 1,
    }
    await store.feedback.record("q1", RAW, True)  # another member's vote is their own
    counts = await store.feedback.counts_since(since)
    assert (counts["helpful"], counts["not_helpful"]) == (1, 1)


async def test_handoffs_are_counted(store: QuestionStore) -> None:
    await store.questions.record(record("q1", outcome="fallback", intent=None))
    await store.handoffs.record("q1", RAW)
    await store.handoffs.record("q1", OTHER)
    assert (await store.feedback.counts_since(NOW - datetime.timedelta(days=1)))["handoffs"] == 2
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
    assert (await store.feedback.counts_since(later))["handoffs"] == 0


async def test_forget_removes_every_row_of_one_member_only(backend: Backend, store: QuestionStore) -> None:
    await store.questions.record(record("q1", RAW))
    await store.questions.record(record("q2", RAW, text="who led the review"))
    await store.questions.record(record("q3", OTHER, text="key points"))
    await store.feedback.record("q1", RAW, True)
    await store.feedback.record("q3", RAW, False)
    await store.feedback.record("q1", OTHER, True)
    await store.handoffs.record("q2", RAW)
    await store.handoffs.record("q3", OTHER)
    assert await store.forget(RAW) == 5  # 2 questions, 2 votes, 1 hand-off
    assert await store.forget(RAW) == 0
    since = NOW - datetime.timedelta(days=1)
    assert [q.id for q in await store.questions.since(since)] == ["q3"]
    # The other member's vote on a forgotten question is theirs and stays, no longer tied to a topic.
    assert await store.feedback.counts_since(since) == {"handoffs": 1, "helpful": 1, "not_helpful": 0}
    await store.close()
    rows, raw_bytes = await backend.dump()
    assert member_hash(SECRET, OTHER) in rows
    assert member_hash(SECRET, RAW) not in rows
    # SQLite's secure_delete: not even the deleted rows' hash is left in free pages.
    assert member_hash(SECRET, RAW).encode() not in raw_bytes


async def test_purge_deletes_by_age(store: QuestionStore) -> None:
    await store.questions.record(record("old", ago=datetime.timedelta(days=40)))
    await store.questions.record(record("new", ago=datetime.timedelta(days=1)))
    await store.feedback.record("old", OTHER, True)  # a vote today on an old answer goes with the answer
    await store.feedback.record("new", OTHER, True)
    await store.handoffs.record("old", RAW)
    assert await store.purge(datetime.timedelta(days=30)) == 3
    assert await store.questions.get("old") is None and await store.questions.get("new") is not None
    counts = await store.feedback.counts_since(NOW - datetime.timedelta(days=400))
    assert (counts["helpful"], counts["handoffs"]) == (1, 0)
    assert await store.purge(datetime.timedelta(days=30)) == 0


async def test_raw_user_id_is_never_stored(backend: Backend, store: QuestionStore) -> None:
    # Even a member who pastes their own id into the question.
    await store.questions.record(record("q1", RAW, text=f"is <@{RAW}> me? I am {RAW}"))
    await store.questions.record(record("q2", RAW, outcome="fallback", intent=None, confidence=0.1))
    await store.feedback.record("q1", RAW, False)
    await store.feedback.record("q1", RAW, True)
    await store.handoffs.record("q2", RAW)
    await store.purge(datetime.timedelta(days=30))
    await store.close()
    rows, raw_bytes = await backend.dump()
    assert member_hash(SECRET, RAW) in rows  # the dump does see the member's rows...
    assert RAW not in rows  # ...but never the raw id
    assert RAW.encode() not in raw_bytes and RAW.encode("utf-16-le") not in raw_bytes
    if backend.sqlite_file is not None:
        assert member_hash(SECRET, RAW).encode() in raw_bytes  # the bytes read are the real data


# --- the report ---


async def _scripted(store: QuestionStore) -> None:
    hour = datetime.timedelta(hours=1)
    rows = [
        record("q1", RAW, text="what is the messenger review"),
        record("q2", OTHER, text="tell me about the messenger review", confidence=0.7),
        record("q3", RAW, intent="key_points", confidence=0.9, text="key points"),
        record("q4", OTHER, intent="review_people", confidence=0.3, text="who wrote it"),  # answered, but weakly
        record(
            "q5",
            RAW,
            intent=None,
            confidence=0.11,
            outcome="fallback",
            text="how do I claim expenses for the conference",
        ),
        record(
            "q6", OTHER, intent=None, confidence=0.11, outcome="fallback", text="how can I claim conference expenses"
        ),
        record("q7", RAW, intent=None, confidence=0.11, outcome="fallback", text="conference expenses claim?"),
        record(
            "q8",
            OTHER,
            intent=None,
            confidence=0.2,
            outcome="fallback",
            text="when was the messenger report published exactly",
        ),
        record("q9", RAW, intent=None, confidence=None, outcome="rate_limited", text="again"),
        record("q10", RAW, intent=None, confidence=0.1, outcome="fallback", text=None),  # QUESTION_LOG=off
        record("q11", RAW, ago=datetime.timedelta(days=10), text="key points"),  # outside the window
        record("q12", RAW, ago=-hour, text="key points"),  # after `now`
    ]
    for row in rows:
        await store.questions.record(row)
    await store.feedback.record("q1", OTHER, True)
    await store.feedback.record("q1", RAW, False)
    await store.feedback.record("q1", RAW, True)  # changed: q1 has two helpful votes
    await store.feedback.record("q3", RAW, False)
    await store.handoffs.record("q5", RAW)
    await store.handoffs.record("q6", OTHER)


async def test_report_counts(store: QuestionStore, engine: Engine) -> None:
    await _scripted(store)
    report = await build_report(store, engine, days=7, now=NOW)
    assert (report.days, report.questions, report.answered, report.fallback) == (7, 10, 4, 5)
    assert (report.handoffs, report.helpful, report.not_helpful) == (2, 2, 1)
    assert report.by_intent == {"review_overview": 2, "key_points": 1, "review_people": 1}
    assert report.helpful_by_intent == {"review_overview": 2}
    assert report.not_helpful_by_intent == {"key_points": 1}
    groups = [(g.text, g.count, g.suggested) for g in report.unanswered]
    # Three messages from two members, two of them from one: counted as members, and said.
    assert groups[0] == ("how do I claim expenses for the conference", 2, None)
    assert (report.unanswered[0].messages, report.unanswered[0].mostly_one) == (3, True)
    assert sorted(groups[1:]) == [
        ("when was the messenger report published exactly", 1, "review_people"),
        ("who wrote it", 1, "review_people"),
    ]
    text = format_report(report)
    assert "questions:   10" in text
    assert "2 members, 3 messages (mostly one member)  how do I claim expenses" in text
    # The model's guess is named, never put in a command ready to paste: staff choose the intent.
    assert "closest intent (the model's guess, often wrong here): review_people" in text
    assert '.venv/bin/python -m bot learn "who wrote it" INTENT_ID' in text
    assert learn_command("when was the messenger report published exactly", "INTENT_ID") in text
    assert 'learn "who wrote it" review_people' not in text


async def test_report_json_has_exactly_the_documented_keys(store: QuestionStore, engine: Engine) -> None:
    await _scripted(store)
    data = report_json(await build_report(store, engine, days=7, now=NOW))
    assert set(data) == {"questions", "answered", "fallback", "handoffs", "handoffs_taken", "handoffs_done",
                         "minutes_to_take", "feedback", "by_intent", "unanswered"}  # fmt: skip
    assert data["feedback"] == {"helpful": 2, "not_helpful": 1}
    assert data["by_intent"] == {"review_overview": 2, "key_points": 1, "review_people": 1}
    assert all(set(g) == {"text", "members", "messages", "mostly_one_member", "suggested"} for g in data["unanswered"])
    assert data["unanswered"][0] == {
        "text": "how do I claim expenses for the conference",
        "members": 2,
        "messages": 3,
        "mostly_one_member": True,
        "suggested": None,
    }
    json.dumps(data)  # plain JSON all the way down


async def test_empty_log_reports_zeroes(store: QuestionStore, engine: Engine) -> None:
    data = report_json(await build_report(store, engine, days=1))
    assert data == {"questions": 0, "answered": 0, "fallback": 0, "handoffs": 0, "handoffs_taken": 0,
                    "handoffs_done": 0, "minutes_to_take": None, "feedback": {"helpful": 0, "not_helpful": 0},
                    "by_intent": {}, "unanswered": []}  # fmt: skip


# --- the command line ---


def _cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_") and k != "MEMBER_HASH_SECRET"}
    env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60
    )


async def test_cli_report_and_forget(backend: Backend) -> None:
    # Without Slack credentials the CLI hashes with local mode's key, and says so.
    store = backend.store(LOCAL_SECRET)
    await store.migrate()
    await _scripted(store)
    await store.close()
    result = await asyncio.to_thread(_cli, "report", "--json", "--days", "7", database_url=backend.url)
    assert result.returncode == 0, result.stderr
    assert "local mode" in result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert (data["questions"], data["answered"], data["handoffs"]) == (10, 4, 2)
    human = await asyncio.to_thread(_cli, "report", database_url=backend.url)
    assert human.returncode == 0 and "Last 7 days" in human.stdout
    result = await asyncio.to_thread(_cli, "forget", "--user", RAW, database_url=backend.url)
    assert result.returncode == 0, result.stderr
    assert "deleted 11 rows" in result.stdout  # 8 questions, 2 votes (one replaced), 1 hand-off
    again = backend.store(LOCAL_SECRET)
    remaining = await again.questions.since(NOW - datetime.timedelta(days=30))
    assert sorted(q.id for q in remaining) == ["q2", "q4", "q6", "q8"]
    await again.close()


async def test_cli_migrate_brings_the_schema_up_to_date_in_one_line(backend: Backend) -> None:
    """The Procfile's release step: idempotent, one line, and no note about hashing (it hashes no one)."""
    steps = SQLITE_STEPS if backend.kind == "sqlite" else POSTGRES_STEPS
    for _ in range(2):  # a second release finds nothing to do
        result = await asyncio.to_thread(_cli, "migrate", database_url=backend.url)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        [line] = result.stdout.splitlines()
        kind = "SQLite" if backend.kind == "sqlite" else "PostgreSQL"
        assert line.startswith(f"question log schema up to date: {kind} ")
        assert line.endswith(f", schema version {steps[-1][0]}")
    assert await _versions(backend) == [version for version, _ in steps]


def test_cli_migrate_failures_are_one_line_and_never_show_a_password() -> None:
    down = _cli("migrate", database_url=f"postgresql://bot:s3cret-pw@127.0.0.1:{free_port()}/confed")
    assert down.returncode == 1
    assert down.stdout == "" and len(down.stderr.splitlines()) == 1
    assert down.stderr.startswith("error: cannot reach the question log: ") and "s3cret" not in down.stderr
    wrong = _cli("migrate", database_url="mysql://bot@db/confed")
    assert wrong.returncode == 2 and len(wrong.stderr.splitlines()) == 1


def test_describe_store_names_the_database_but_not_the_password(tmp_path: Path) -> None:
    store = open_store("postgresql://bot:s3cret-pw@db.example.org:5433/confed?sslmode=require", SECRET)
    assert describe_store(store) == f"PostgreSQL db.example.org:5433/confed, schema version {POSTGRES_STEPS[-1][0]}"
    path = tmp_path / "q.sqlite3"
    assert (
        describe_store(open_store(f"sqlite:///{path}", SECRET))
        == f"SQLite {path}, schema version {SQLITE_STEPS[-1][0]}"
    )


def test_an_unusable_sqlite_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="cannot create the folder"):
        open_store(f"sqlite:///{blocker}/sub/q.sqlite3", SECRET)
    # The command line says so in one line, no traceback.
    down = _cli("forget", "--user", RAW, database_url=f"sqlite:///{blocker}/sub/q.sqlite3")
    assert down.returncode == 1 and down.stdout == ""
    [line] = down.stderr.splitlines()
    assert line.startswith("error: cannot reach the question log: cannot create the folder")


async def test_postgres_creates_the_schema_a_url_names(postgres_url: str) -> None:
    import asyncpg

    schema = f"test_{uuid.uuid4().hex[:16]}"
    separator = "&" if "?" in postgres_url else "?"
    store = open_store(f"{postgres_url}{separator}options=-csearch_path%3D{schema}", SECRET)
    try:
        await store.migrate()
        await store.questions.record(record("q1"))
        assert await store.questions.get("q1") is not None
    finally:
        await store.close()
        conn = await asyncpg.connect(postgres_url)
        tables = await conn.fetch("select table_name from information_schema.tables where table_schema = $1", schema)
        await conn.execute(f'drop schema if exists "{schema}" cascade')
        await conn.close()
    assert {t[0] for t in tables} == {"schema_version", "questions", "feedback", "handoffs", "labels", "limits"}


# --- ids in the text, DM channels, and what forget reaches ---

MENTIONED = "U0MENTIONED9"  # a member who never asks anything, only named in others' questions


async def test_slack_ids_in_the_text_and_dm_channels_are_stored_as_tokens(
    backend: Backend, store: QuestionStore
) -> None:
    text = (f"can <@{MENTIONED}> or <@W0123ABCD|pat.smith> see <#C0123ABCD|general> and <#G0PRIVATE1>? "
            f"ask {MENTIONED} or <!subteam^S0TEAM123|@content> in D0DMCHAN77")  # fmt: skip
    at = NOW - datetime.timedelta(hours=1)
    await store.questions.record(QuestionRecord("q1", at, "dm", RAW, None, None, "fallback", text, "D0DMCHAN77", "1.2"))
    await store.questions.record(
        QuestionRecord("q2", at, "mention", RAW, None, None, "fallback", "x", "C0PUBLIC1", "1.3")
    )
    q1, q2 = await store.questions.get("q1"), await store.questions.get("q2")
    assert q1 is not None and q2 is not None
    token = id_token(SECRET, MENTIONED)
    assert q1.text == (
        f"can <@u:{token}> or <@u:{id_token(SECRET, 'W0123ABCD')}> see <#c:{id_token(SECRET, 'C0123ABCD')}> and "
        f"<#c:{id_token(SECRET, 'G0PRIVATE1')}>? ask @u:{token} or <!subteam^s:{id_token(SECRET, 'S0TEAM123')}> "
        f"in #c:{id_token(SECRET, 'D0DMCHAN77')}"
    )
    # A DM's id is one member's: kept as a token. A channel's stays, for the hand-off's permalink.
    assert q1.channel == f"d:{id_token(SECRET, 'D0DMCHAN77')}" and q2.channel == "C0PUBLIC1"
    await store.close()
    rows, raw_bytes = await backend.dump()
    for raw in (MENTIONED, "W0123ABCD", "pat.smith", "C0123ABCD", "general", "G0PRIVATE1", "S0TEAM123", "D0DMCHAN77"):
        assert raw not in rows and raw.encode() not in raw_bytes


async def test_forget_erases_a_member_from_other_members_questions(backend: Backend, store: QuestionStore) -> None:
    await store.questions.record(record("q1", RAW, text=f"did <@{MENTIONED}> answer? cc {MENTIONED}"))
    await store.questions.record(record("q2", OTHER, text=f"<@{OTHER}> here, same as <@{RAW}>"))
    assert await store.forget(MENTIONED) == 0  # no rows of their own...
    q1 = await store.questions.get("q1")
    assert q1 is not None and q1.text == "did <@u:erased> answer? cc @u:erased"  # ...but named in one
    # Forgetting RAW deletes their rows and erases them from OTHER's question, which stays.
    assert await store.forget(RAW) == 1
    q2 = await store.questions.get("q2")
    assert q2 is not None and q2.text == f"<@u:{id_token(SECRET, OTHER)}> here, same as <@u:erased>"
    await store.close()
    rows, raw_bytes = await backend.dump()
    for gone in (MENTIONED, RAW, id_token(SECRET, MENTIONED), id_token(SECRET, RAW)):
        assert gone not in rows and gone.encode() not in raw_bytes


async def test_forget_reaches_raw_ids_in_rows_written_before_ids_were_tokenised(
    backend: Backend, store: QuestionStore
) -> None:
    await store.questions.record(record("q1", OTHER, text="placeholder"))
    await store.close()
    # A row as an older version wrote it: the other member's raw id in the text.
    if backend.sqlite_file is not None:
        import sqlite3

        conn = sqlite3.connect(backend.sqlite_file)
        conn.execute("update questions set text = ?", (f"ask <@{MENTIONED}>",))
        conn.commit()
        conn.close()
    else:
        import asyncpg

        pg = await asyncpg.connect(backend.server)
        await pg.execute(f'update "{backend.schema}".questions set text = $1', f"ask <@{MENTIONED}>")
        await pg.close()
    again = backend.store()
    await again.forget(MENTIONED)
    q1 = await again.questions.get("q1")
    await again.close()
    assert q1 is not None and q1.text == "ask <@u:erased>"


async def test_a_stored_question_says_whose_it_is_and_whether_it_was_handed_off(store: QuestionStore) -> None:
    await store.questions.record(record("q1", RAW))
    q1 = await store.questions.get("q1")
    assert q1 is not None and q1.member_hash == store.member_hash(RAW) == member_hash(SECRET, RAW)
    assert q1.member_hash != store.member_hash(OTHER) and not q1.handed_off
    await store.handoffs.record("q1", RAW)
    await store.handoffs.record("q1", RAW)  # retried: still one hand-off
    handed = await store.questions.get("q1")
    assert handed is not None and handed.handed_off
    assert (await store.feedback.counts_since(NOW - datetime.timedelta(days=1)))["handoffs"] == 1
    [listed] = await store.questions.since(NOW - datetime.timedelta(days=1))
    assert listed.handed_off and listed.member_hash == q1.member_hash


async def test_a_vote_written_late_never_replaces_a_newer_one(store: QuestionStore) -> None:
    await store.questions.record(record("q1"))
    clicked = datetime.datetime.now(datetime.UTC)
    newer = FeedbackRecord("q1", OTHER, False, clicked)
    older = FeedbackRecord("q1", OTHER, True, clicked - datetime.timedelta(seconds=5))
    since = NOW - datetime.timedelta(days=1)
    await store.write([newer])
    await store.write([older])  # an earlier click whose write was retried after the later one
    assert (
        (await store.feedback.counts_since(since))["helpful"],
        (await store.feedback.counts_since(since))["not_helpful"],
    ) == (0, 1)
    await store.write([newer])  # and a retried batch that had in fact committed
    assert (
        (await store.feedback.counts_since(since))["helpful"],
        (await store.feedback.counts_since(since))["not_helpful"],
    ) == (0, 1)


# --- labels (Teach) ---


async def test_labels_are_stored_listed_undone_and_exported(store: QuestionStore) -> None:
    version = await store.labels.version()
    ids = await store.labels.add(
        ["  is there a  peer group\nfor PC leaders ", "ask <@U0123ABCD> about it", ""], "als", RAW
    )
    assert len(ids) == 2  # the empty one is dropped
    labels = await store.labels.read()
    assert [(lb.text, lb.intent) for lb in labels][0] == ("is there a peer group for PC leaders", "als")
    assert RAW not in labels[0].made_by and labels[0].made_by == store.member_hash(RAW)
    assert "U0123ABCD" not in labels[1].text  # a Slack id typed into it is a token, as in a question
    assert labels[0].active and labels[0].exported_at is None
    assert await store.labels.version() != version
    (off_topic,) = await store.labels.add(["will it rain"], None, RAW)
    assert (await store.labels.read())[-1].intent is None
    before_undo = await store.labels.version()
    assert await store.labels.undo(off_topic) is True
    assert await store.labels.undo(off_topic) is False  # once
    assert await store.labels.undo(999_999) is False
    assert await store.labels.version() != before_undo
    assert [lb.id for lb in await store.labels.read()] == ids
    assert [lb.id for lb in await store.labels.read(include_undone=True)] == [*ids, off_topic]
    before_export = await store.labels.version()
    await store.labels.mark_exported(ids[:1])
    exported = await store.labels.read()
    assert exported[0].exported_at is not None and exported[1].exported_at is None
    assert await store.labels.version() != before_export


async def test_forget_keeps_a_label_but_not_who_made_it(store: QuestionStore) -> None:
    await store.labels.add(["what is the EDI programme"], "edi", RAW)
    await store.labels.add(["ask <@OTHERUSER1> please", "key points"], "key_points", OTHER)
    await store.forget(RAW)
    labels = await store.labels.read()
    assert len(labels) == 3 and labels[0].made_by == "" and labels[1].made_by == store.member_hash(OTHER)


STAFF_ID = "U0STAFF001"


async def test_forget_deletes_the_labels_taught_from_the_members_own_words(store: QuestionStore) -> None:
    long = "how do I join the edi programme " + "and more words " * 20
    await store.questions.record(record("q1", RAW, outcome="fallback", text="where can I park my bike"))
    await store.questions.record(record("q2", RAW, outcome="fallback", text=long))
    await store.questions.record(record("q3", OTHER, outcome="fallback", text="who chairs the network"))
    # Staff taught all three, as Teach stores them (what staff were shown).
    await store.labels.add([taught_text("where can I park my bike"), taught_text(long)], None, STAFF_ID)
    await store.labels.add([taught_text("who chairs the network")], "offer_ned_network", STAFF_ID)
    assert await store.forget(RAW) == 4  # two questions, two labels
    assert [label.text for label in await store.labels.read(include_undone=True)] == ["who chairs the network"]


async def test_stored_text_is_bounded_and_keeps_no_contact_details(store: QuestionStore) -> None:
    text = (
        "ask S0TEAM1234 or mail pat.smith@nhs.example.org or call +44 (0)20 7946 0958 / 07700 900123 "
        "about recommendation 5 of 2022, page 12" + " padding" * 1000
    )
    await store.questions.record(record("q1", RAW, text=text))
    q1 = await store.questions.get("q1")
    assert q1 is not None and q1.text is not None and len(q1.text) <= MAX_CHARS
    assert "S0TEAM1234" not in q1.text and "^s:" in q1.text
    assert "pat.smith" not in q1.text and "[email]" in q1.text
    assert "7946" not in q1.text and "900123" not in q1.text and q1.text.count("[phone]") == 2
    assert "recommendation 5 of 2022, page 12" in q1.text  # numbers that are not phone numbers stay


# --- hand-off owners (Take it / Done) ---


async def test_of_two_takes_at_once_one_wins_and_done_closes(store: QuestionStore, backend: Backend) -> None:
    await store.questions.record(record("q1", outcome="fallback", intent=None))
    await store.handoffs.record("q1", RAW)
    assert await store.handoffs.take("nope", "U0STAFF001") is None  # no such hand-off
    others = [backend.store() for _ in range(3)]
    results = await asyncio.gather(*(s.handoffs.take("q1", f"U0STAFF00{n}") for n, s in enumerate([store, *others])))
    owners = {r.taken_by for r in results if r is not None}
    assert len(owners) == 1  # every caller sees the same single owner
    (owner,) = owners
    await asyncio.gather(*(s.close() for s in others))
    done = await store.handoffs.finish("q1", "U0STAFF009")
    assert done is not None and (done.taken_by, done.done_by) == (owner, "U0STAFF009")
    again = await store.handoffs.finish("q1", "U0STAFF008")  # closed once
    assert again is not None and again.done_by == "U0STAFF009"
    [times] = await store.handoffs.since(NOW - datetime.timedelta(days=1))
    assert times.taken_at is not None and times.done_at is not None and times.at <= times.taken_at


async def test_forget_erases_a_staff_members_id_from_the_hand_offs(store: QuestionStore) -> None:
    await store.questions.record(record("q1", outcome="fallback", intent=None))
    await store.handoffs.record("q1", OTHER)
    await store.handoffs.take("q1", RAW)
    await store.handoffs.finish("q1", RAW)
    await store.forget(RAW)
    owners = await store.handoffs.take("q1", "U0SOMEONE1")
    assert owners is not None and (owners.taken_by, owners.done_by) == ("erased", "erased")
