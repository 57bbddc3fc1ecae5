"""The question log in SQL: SQLite by default (one file, nothing to set up), PostgreSQL when
DATABASE_URL names one (several instances share it).

Both backends keep the same three tables and answer the same QuestionStore protocol (bot/storage.py).
Members are written only as HMAC-SHA256(secret, user id): the raw id never reaches a table, a log or
the file, so the log can be read for reports without identifying anyone, and `forget` can still find
one member's rows when that member asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from bot.settings import PROJECT_DIR, Settings, SettingsError, has_credentials, load_settings
from bot.storage import QuestionRecord, QuestionStore, StoredQuestion

DEFAULT_SQLITE_PATH = PROJECT_DIR / ".data" / "questions.sqlite3"
# Local mode talks to a stand-in with made-up members: nothing to protect, and a fixed secret keeps
# the same member's hash stable from one local run to the next.
LOCAL_SECRET = "confedbot-local-mode-member-hash"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_SCHEME = "sqlite:///"
# pg_advisory_lock key for migrations: any fixed bigint, the same in every instance ("confedbt").
MIGRATION_LOCK = 0x636F6E6665646274

T = TypeVar("T")
Step = tuple[int, tuple[str, ...]]

# Numbered schema steps, applied in order by migrate(). Append a new step to change the schema; never
# edit one that has shipped (databases that ran it would not run it again).
SQLITE_STEPS: tuple[Step, ...] = (
    (
        1,
        (
            """create table questions (
                id text primary key,
                at text not null,  -- ISO 8601 UTC with microseconds: sorts as text
                surface text not null,
                member_hash text not null,
                intent text,
                confidence real,
                outcome text not null,
                text text,
                channel text,
                message_ts text
            )""",
            "create index questions_at on questions (at)",
            "create index questions_member on questions (member_hash)",
            """create table feedback (
                question_id text not null,
                member_hash text not null,
                helpful integer not null,
                at text not null,
                primary key (question_id, member_hash)
            )""",
            "create index feedback_at on feedback (at)",
            "create index feedback_member on feedback (member_hash)",
            """create table handoffs (
                question_id text not null,
                member_hash text not null,
                at text not null
            )""",
            "create index handoffs_at on handoffs (at)",
            "create index handoffs_member on handoffs (member_hash)",
        ),
    ),
)

POSTGRES_STEPS: tuple[Step, ...] = (
    (
        1,
        (
            """create table questions (
                id text primary key,
                at timestamptz not null,
                surface text not null,
                member_hash text not null,
                intent text,
                confidence double precision,
                outcome text not null,
                text text,
                channel text,
                message_ts text
            )""",
            "create index questions_at on questions (at)",
            "create index questions_member on questions (member_hash)",
            """create table feedback (
                question_id text not null,
                member_hash text not null,
                helpful boolean not null,
                at timestamptz not null,
                primary key (question_id, member_hash)
            )""",
            "create index feedback_at on feedback (at)",
            "create index feedback_member on feedback (member_hash)",
            """create table handoffs (
                question_id text not null,
                member_hash text not null,
                at timestamptz not null
            )""",
            "create index handoffs_at on handoffs (at)",
            "create index handoffs_member on handoffs (member_hash)",
        ),
    ),
)

TABLES = ("questions", "feedback", "handoffs")


def member_hash(secret: str, member: str) -> str:
    """The only form in which a member is stored."""
    return hmac.new(secret.encode(), member.encode(), hashlib.sha256).hexdigest()


def derive_secret(settings: Settings | None, env: Mapping[str, str] | None = None) -> str:
    """The member-hash key: MEMBER_HASH_SECRET when set; otherwise derived from a Slack secret the bot
    already has, so nothing new must be configured; LOCAL_SECRET in local mode (settings None).
    Set MEMBER_HASH_SECRET before rotating the signing secret: a new key makes new hashes, and
    `forget` would no longer find a member's older rows."""
    env = os.environ if env is None else env
    explicit = (settings.member_hash_secret if settings is not None else None) or env.get("MEMBER_HASH_SECRET", "")
    if explicit.strip():
        return explicit.strip()
    base = None if settings is None else settings.signing_secret or settings.app_token
    if base is None:
        return LOCAL_SECRET
    # A one-way derivation under its own label: the hash key reveals nothing of the signing secret.
    return hashlib.sha256(b"member-hash:" + base.encode()).hexdigest()


def sqlite_path(database_url: str | None) -> Path:
    """The file a sqlite:/// address names; a relative path is read from the project folder, so the
    bot and `python -m bot report` find the same file wherever they are started."""
    if database_url is None or not database_url.strip():
        return DEFAULT_SQLITE_PATH
    if not database_url.startswith(SQLITE_SCHEME) or len(database_url) == len(SQLITE_SCHEME):
        raise SettingsError(
            f"DATABASE_URL must be sqlite:///PATH or postgresql://..., got {database_url.split('://')[0]}://..."
        )
    path = Path(database_url[len(SQLITE_SCHEME) :])
    return path if path.is_absolute() else PROJECT_DIR / path


def open_store(database_url: str | None, secret: str) -> QuestionStore:
    """The store DATABASE_URL asks for; nothing connects until the first call (call migrate() first)."""
    if not secret:
        raise ValueError("a member-hash secret is needed (see derive_secret)")
    if database_url is not None and database_url.startswith(POSTGRES_SCHEMES):
        return PostgresStore(database_url, secret)
    path = sqlite_path(database_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(path, secret)


def store_from_environment(env: Mapping[str, str] | None = None) -> tuple[QuestionStore, str | None]:
    """The store the bot itself would open with this environment, for the command line; and a note to
    show when no Slack secret is set, so the local-mode key is used (raises SettingsError)."""
    env = os.environ if env is None else env
    if has_credentials(env):
        settings = load_settings(env)
        return open_store(settings.database_url, derive_secret(settings, env)), None
    secret = derive_secret(None, env)
    note = None
    if secret == LOCAL_SECRET:
        note = (
            "note: no SLACK_* credentials or MEMBER_HASH_SECRET set, so members are hashed with local mode's "
            "key; set the deployed bot's secrets to reach the rows it wrote"
        )
    return open_store(env.get("DATABASE_URL", "").strip() or None, secret), note


def describe_store(store: QuestionStore) -> str:
    """Where the log is and its schema version, for a line of output: never a password."""
    if isinstance(store, SQLiteStore):
        return f"SQLite {store.path}, schema version {SQLITE_STEPS[-1][0]}"
    if isinstance(store, PostgresStore):
        url = urlparse(store.url)
        port = f":{url.port}" if url.port else ""
        return f"PostgreSQL {url.hostname}{port}{url.path}, schema version {POSTGRES_STEPS[-1][0]}"
    return type(store).__name__


def _utc(at: datetime.datetime) -> datetime.datetime:
    # A naive time is taken as UTC, the only zone the log uses.
    return at.replace(tzinfo=datetime.UTC) if at.tzinfo is None else at.astimezone(datetime.UTC)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _scrub(text: str | None, member: str) -> str | None:
    """A member who writes their own id (a pasted mention) must not put it in the log that way."""
    return text.replace(member, "@member") if text is not None and member else text


def _counts(handoffs: int, votes: Sequence[tuple[bool, str | None, int]]) -> dict[str, int]:
    out = {"handoffs": handoffs, "helpful": 0, "not_helpful": 0}
    for helpful, intent, n in votes:
        key = "helpful" if helpful else "not_helpful"
        out[key] += n
        if intent is not None:
            out[f"{key}:{intent}"] = out.get(f"{key}:{intent}", 0) + n
    return out


class SQLiteStore:
    """The stdlib sqlite3 module, one connection, each call in a worker thread so the event loop never
    waits on the disk. WAL lets `python -m bot report` read while the bot writes."""

    def __init__(self, path: Path, secret: str) -> None:
        self.path = path
        self._secret = secret
        self._conn: sqlite3.Connection | None = None
        # asyncio.to_thread may use any pool thread: one lock keeps the connection to one at a time.
        self._lock = threading.Lock()
        self._pending: list[tuple[str, tuple[Any, ...]]] = []

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
            conn.execute("pragma journal_mode = wal")
            # With WAL, NORMAL loses at most the last commits on power loss, never integrity; a full
            # fsync per question would cost more than the answer.
            conn.execute("pragma synchronous = normal")
            # Deleted rows are overwritten, not left in free pages: `forget` really forgets.
            conn.execute("pragma secure_delete = on")
            # A small page cache: the bot only appends; reports read in a thread of their own.
            conn.execute("pragma cache_size = -512")
            self._conn = conn
        return self._conn

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                conn = self._connection()
                self._commit_appends(conn)
                return work(conn)

        return await asyncio.to_thread(locked)

    def _commit_appends(self, conn: sqlite3.Connection) -> None:
        """Write the rows waiting in memory, in one transaction (called with the lock held)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self._transaction(conn):
            for statement, row in pending:
                conn.execute(statement, row)

    async def _append(self, statement: str, row: tuple[Any, ...]) -> None:
        """Queue a one-row insert in memory; the recorder commits the batch when its queue runs dry
        (commit()), so a burst of questions costs one transaction, not one each, and no lock is held
        between them."""
        with self._lock:
            self._pending.append((statement, row))

    async def commit(self) -> None:
        def work() -> None:
            with self._lock:
                self._commit_appends(self._connection())

        if self._pending:
            await asyncio.to_thread(work)

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A one-row write, done in place. With WAL and synchronous=NORMAL a commit appends to the log
        without waiting for the disk: tens of microseconds, less than handing it to a thread costs
        (measured with bench/load.py), and it runs after the reply has gone."""
        with self._lock:
            conn = self._connection()
            self._commit_appends(conn)
            return work(conn)

    @staticmethod
    @contextlib.contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once: two processes migrating wait in turn, not deadlock.
        conn.execute("begin immediate")
        try:
            yield
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")

    async def migrate(self) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                conn.execute("create table if not exists schema_version (version integer primary key, applied_at text)")
                current = conn.execute("select coalesce(max(version), 0) from schema_version").fetchone()[0]
                for version, statements in SQLITE_STEPS:
                    if version <= current:
                        continue
                    for statement in statements:
                        conn.execute(statement)
                    conn.execute("insert into schema_version values (?, ?)", (version, _now().isoformat()))

        await self._write(work)  # at start-up, before any request: no need for a thread

    async def record_question(self, record: QuestionRecord) -> None:
        row = (
            record.id,
            _utc(record.at).isoformat(timespec="microseconds"),
            record.surface,
            member_hash(self._secret, record.member),
            record.intent,
            record.confidence,
            record.outcome,
            _scrub(record.text, record.member),
            record.channel,
            record.message_ts,
        )
        await self._append(
            "insert into questions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (id) do nothing", row
        )

    async def record_feedback(self, question_id: str, member: str, helpful: bool) -> None:
        row = (question_id, member_hash(self._secret, member), int(helpful), _now().isoformat(timespec="microseconds"))
        await self._append(
            "insert into feedback values (?, ?, ?, ?) on conflict (question_id, member_hash) "
            "do update set helpful = excluded.helpful, at = excluded.at",
            row,
        )

    async def record_handoff(self, question_id: str, member: str) -> None:
        row = (question_id, member_hash(self._secret, member), _now().isoformat(timespec="microseconds"))
        await self._append("insert into handoffs values (?, ?, ?)", row)

    async def get_question(self, question_id: str) -> StoredQuestion | None:
        rows = await self._run(
            lambda conn: conn.execute(f"select {_COLUMNS} from questions where id = ?", (question_id,)).fetchall()
        )
        return _stored(rows[0]) if rows else None

    async def forget(self, member: str) -> int:
        hashed = member_hash(self._secret, member)

        def work(conn: sqlite3.Connection) -> int:
            with self._transaction(conn):
                return sum(conn.execute(f"delete from {t} where member_hash = ?", (hashed,)).rowcount for t in TABLES)

        return await self._run(work)

    async def purge(self, older_than: datetime.timedelta) -> int:
        cutoff = (_now() - older_than).isoformat(timespec="microseconds")

        def work(conn: sqlite3.Connection) -> int:
            with self._transaction(conn):
                old = "at < ? or question_id in (select id from questions where at < ?)"
                n = conn.execute(f"delete from feedback where {old}", (cutoff, cutoff)).rowcount
                n += conn.execute(f"delete from handoffs where {old}", (cutoff, cutoff)).rowcount
                return n + conn.execute("delete from questions where at < ?", (cutoff,)).rowcount

        return await self._run(work)

    async def questions_since(self, since: datetime.datetime) -> list[StoredQuestion]:
        start = _utc(since).isoformat(timespec="microseconds")
        rows = await self._run(
            lambda conn: conn.execute(
                f"select {_COLUMNS} from questions where at >= ? order by at, id", (start,)
            ).fetchall()
        )
        return [_stored(row) for row in rows]

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        start = _utc(since).isoformat(timespec="microseconds")

        def work(conn: sqlite3.Connection) -> dict[str, int]:
            handoffs = conn.execute("select count(*) from handoffs where at >= ?", (start,)).fetchone()[0]
            votes = conn.execute(
                "select f.helpful, q.intent, count(*) from feedback f left join questions q on q.id = f.question_id "
                "where f.at >= ? group by f.helpful, q.intent",
                (start,),
            ).fetchall()
            return _counts(handoffs, [(bool(h), i, n) for h, i, n in votes])

        return await self._run(work)

    async def close(self) -> None:
        def work() -> None:
            with self._lock:
                if self._conn is not None:
                    self._commit_appends(self._conn)
                    # Fold the WAL back into the file, so the file alone holds everything kept.
                    self._conn.execute("pragma wal_checkpoint(truncate)")
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(work)


_COLUMNS = "id, at, surface, intent, confidence, outcome, text, channel, message_ts"


def _stored(row: Sequence[Any]) -> StoredQuestion:
    at = row[1] if isinstance(row[1], datetime.datetime) else datetime.datetime.fromisoformat(row[1])
    return StoredQuestion(
        id=row[0],
        at=_utc(at),
        surface=row[2],
        intent=row[3],
        confidence=row[4],
        outcome=row[5],
        text=row[6],
        channel=row[7],
        message_ts=row[8],
    )


def _rowcount(status: str) -> int:
    """asyncpg returns a command's status ("DELETE 3"), not a row count."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore:
    """asyncpg with its own connection pool, opened on first use. The driver is imported only here, so
    a bot on SQLite never loads it."""

    def __init__(self, url: str, secret: str, *, max_size: int = 5) -> None:
        self.url = url
        self.max_size = max_size
        self._secret = secret
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.max_size)
        return self._pool

    async def migrate(self) -> None:
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            # Instances starting together: one migrates, the others wait here and then find nothing to do.
            await conn.execute("select pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await self._create_schema(conn)
                await conn.execute(
                    "create table if not exists schema_version "
                    "(version integer primary key, applied_at timestamptz not null default now())"
                )
                current = await conn.fetchval("select coalesce(max(version), 0) from schema_version")
                for version, statements in POSTGRES_STEPS:
                    if version <= current:
                        continue
                    async with conn.transaction():
                        for statement in statements:
                            await conn.execute(statement)
                        await conn.execute("insert into schema_version (version) values ($1)", version)
            finally:
                await conn.execute("select pg_advisory_unlock($1)", MIGRATION_LOCK)

    @staticmethod
    async def _create_schema(conn: Any) -> None:
        """A URL may name a schema of its own (?options=-csearch_path%3Dconfedbot, or ?search_path=...):
        create it when it does not exist yet, as the tables in it are."""
        if await conn.fetchval("select current_schema()") is not None:
            return
        first = (await conn.fetchval("select current_setting('search_path')")).split(",")[0].strip().strip('"')
        if first and first != "$user":
            await conn.execute(f"create schema if not exists {await conn.fetchval('select quote_ident($1)', first)}")

    async def record_question(self, record: QuestionRecord) -> None:
        pool = await self._get_pool()
        await pool.execute(
            "insert into questions values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict (id) do nothing",
            record.id,
            _utc(record.at),
            record.surface,
            member_hash(self._secret, record.member),
            record.intent,
            record.confidence,
            record.outcome,
            _scrub(record.text, record.member),
            record.channel,
            record.message_ts,
        )

    async def record_feedback(self, question_id: str, member: str, helpful: bool) -> None:
        pool = await self._get_pool()
        await pool.execute(
            "insert into feedback values ($1, $2, $3, $4) on conflict (question_id, member_hash) "
            "do update set helpful = excluded.helpful, at = excluded.at",
            question_id,
            member_hash(self._secret, member),
            helpful,
            _now(),
        )

    async def record_handoff(self, question_id: str, member: str) -> None:
        pool = await self._get_pool()
        await pool.execute(
            "insert into handoffs values ($1, $2, $3)", question_id, member_hash(self._secret, member), _now()
        )

    async def get_question(self, question_id: str) -> StoredQuestion | None:
        pool = await self._get_pool()
        row = await pool.fetchrow(f"select {_COLUMNS} from questions where id = $1", question_id)
        return None if row is None else _stored(tuple(row))

    async def forget(self, member: str) -> int:
        hashed = member_hash(self._secret, member)
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            statuses = [await conn.execute(f"delete from {t} where member_hash = $1", hashed) for t in TABLES]
            return sum(_rowcount(s) for s in statuses)

    async def purge(self, older_than: datetime.timedelta) -> int:
        cutoff = _now() - older_than
        pool = await self._get_pool()
        old = "at < $1 or question_id in (select id from questions where at < $1)"
        async with pool.acquire() as conn, conn.transaction():
            n = _rowcount(await conn.execute(f"delete from feedback where {old}", cutoff))
            n += _rowcount(await conn.execute(f"delete from handoffs where {old}", cutoff))
            return n + _rowcount(await conn.execute("delete from questions where at < $1", cutoff))

    async def questions_since(self, since: datetime.datetime) -> list[StoredQuestion]:
        pool = await self._get_pool()
        rows = await pool.fetch(f"select {_COLUMNS} from questions where at >= $1 order by at, id", _utc(since))
        return [_stored(tuple(row)) for row in rows]

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        pool = await self._get_pool()
        start = _utc(since)
        handoffs = await pool.fetchval("select count(*) from handoffs where at >= $1", start)
        votes = await pool.fetch(
            "select f.helpful, q.intent, count(*) from feedback f left join questions q on q.id = f.question_id "
            "where f.at >= $1 group by f.helpful, q.intent",
            start,
        )
        return _counts(handoffs, [(v[0], v[1], v[2]) for v in votes])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
