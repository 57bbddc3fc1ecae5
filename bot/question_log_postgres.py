"""The question log on PostgreSQL (DATABASE_URL=postgresql://...; several instances share it): the database
and one part per concern, each a small interface of bot/question_log.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import (
    AsyncIterator,
    Sequence,
)
from typing import (
    Any,
)

from bot.question_log import (
    HandoffOwners,
    HandoffTimes,
    StoredLabel,
    StoredQuestion,
    Write,
)
from bot.question_log_sql import (
    _COLUMNS,
    _DONE,
    _HANDOFF_TIMES,
    _HIT,
    _HIT_TIDY,
    _LABEL_COLUMNS,
    _LABELS_VERSION,
    _OWNERS,
    _POSTGRES_PARAMS,
    _POSTGRES_REDACT,
    _POSTGRES_WRITES,
    _TAKE,
    ERASED,
    MIGRATION_LOCK,
    PG_ACQUIRE_SECONDS,
    PG_CLOSE_SECONDS,
    PG_COMMAND_SECONDS,
    PG_CONNECT_SECONDS,
    POSTGRES_STEPS,
    TABLES,
    FeedbackWrites,
    HandoffWrites,
    Part,
    QuestionWrites,
    _counts,
    _handoff_times,
    _label,
    _label_texts,
    _now,
    _owners,
    _redaction,
    _row,
    _rowcount,
    _stored,
    _taught,
    _utc,
    member_hash,
)
from bot.timeouts import (
    bounded,
)


class PostgresStore:
    """asyncpg with its own connection pool, opened on first use. The driver is imported only here, so
    a bot on SQLite never loads it. Connecting, every statement, taking a pooled connection and closing
    are all bounded (PG_*_SECONDS): a frozen server costs a timeout, never a hang."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        max_size: int = 5,
        connect_timeout: float = PG_CONNECT_SECONDS,
        command_timeout: float = PG_COMMAND_SECONDS,
        acquire_timeout: float = PG_ACQUIRE_SECONDS,
        close_timeout: float = PG_CLOSE_SECONDS,
    ) -> None:
        self.url = url
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.acquire_timeout = acquire_timeout
        self.close_timeout = close_timeout
        self._secret = secret
        self._pool: Any = None
        self._opening = asyncio.Lock()
        # Each concern's statements, on this connection: callers hold the one they need.
        self.questions = PostgresQuestions(self)
        self.feedback = PostgresFeedback(self)
        self.handoffs = PostgresHandoffs(self)
        self.labels = PostgresLabels(self)
        self.limits = PostgresLimits(self)

    def member_hash(self, member: str) -> str:
        return member_hash(self._secret, member)

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with asyncio.timeout(self.connect_timeout + self.acquire_timeout):
                async with self._opening:
                    if self._pool is None:
                        import asyncpg

                        self._pool = await asyncpg.create_pool(
                            self.url,
                            min_size=0,  # connections open when needed, each bounded by `timeout`
                            max_size=self.max_size,
                            timeout=self.connect_timeout,
                            command_timeout=self.command_timeout,
                        )
        return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        pool = await self._get_pool()
        async with pool.acquire(timeout=self.acquire_timeout) as conn:
            yield conn

    async def migrate(self) -> None:
        async with self._connection() as conn:
            # Instances starting together: one migrates, the others wait here and then find nothing to do.
            # The wait is bounded by command_timeout; a migration that times out is retried by the recorder.
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

    async def write(self, rows: Sequence[Write]) -> None:
        # Runs of the same statement go in one executemany (pipelined), in order.
        runs: list[tuple[str, list[tuple[Any, ...]]]] = []
        for r in rows:
            statement = _POSTGRES_WRITES[type(r)]
            if runs and runs[-1][0] == statement:
                runs[-1][1].append(_row(self._secret, r))
            else:
                runs.append((statement, [_row(self._secret, r)]))
        if not runs:
            return
        if len(runs) == 1 and len(runs[0][1]) == 1:  # one row: one statement is its own transaction
            async with self._connection() as conn:
                await conn.execute(runs[0][0], *runs[0][1][0])
            return
        async with self._connection() as conn, conn.transaction():
            for statement, args in runs:
                await conn.executemany(statement, args)

    async def ping(self) -> None:
        # The lock an insert takes, then nothing: a table locked by someone else fails this (by
        # command_timeout) as it fails the writes, so it reads as an outage, not as rows that fail.
        async with self._connection() as conn, conn.transaction():
            await conn.execute("lock table questions, feedback, handoffs in row exclusive mode")

    async def forget(self, member: str) -> int:
        hashed = member_hash(self._secret, member)
        async with self._connection() as conn, conn.transaction():
            asked = await conn.fetch("select text from questions where member_hash = $1", hashed)
            taught = list(_taught([tuple(row) for row in asked]))
            statuses = [await conn.execute("delete from labels where text = any($1::text[])", taught)]
            statuses += [await conn.execute(f"delete from {t} where member_hash = $1", hashed) for t in TABLES]
            await conn.execute(_POSTGRES_REDACT, *_redaction(self._secret, member))
            await conn.execute(_POSTGRES_REDACT.replace("questions", "labels"), *_redaction(self._secret, member))
            await conn.execute("update labels set made_by = '' where made_by = $1", hashed)
            for column in ("taken_by", "done_by"):
                await conn.execute(f"update handoffs set {column} = $1 where {column} = $2", ERASED, member)
            return sum(_rowcount(s) for s in statuses)

    async def purge(self, older_than: datetime.timedelta) -> int:
        cutoff = _now() - older_than
        old = "at < $1 or question_id in (select id from questions where at < $1)"
        async with self._connection() as conn, conn.transaction():
            n = _rowcount(await conn.execute(f"delete from feedback where {old}", cutoff))
            n += _rowcount(await conn.execute(f"delete from handoffs where {old}", cutoff))
            return n + _rowcount(await conn.execute("delete from questions where at < $1", cutoff))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await bounded(pool.close(), self.close_timeout)
        except (TimeoutError, Exception):
            pool.terminate()  # a frozen server: drop the sockets rather than wait for it


class PostgresQuestions(QuestionWrites["PostgresStore"]):
    """The questions members asked: each kept once, read back by id or by time."""

    async def get(self, question_id: str) -> StoredQuestion | None:
        async with self._db._connection() as conn:
            row = await conn.fetchrow(f"select {_COLUMNS} from questions q where id = $1", question_id)
        return None if row is None else _stored(tuple(row))

    async def since(self, since: datetime.datetime) -> list[StoredQuestion]:
        async with self._db._connection() as conn:
            rows = await conn.fetch(f"select {_COLUMNS} from questions q where at >= $1 order by at, id", _utc(since))
        return [_stored(tuple(row)) for row in rows]


class PostgresFeedback(FeedbackWrites["PostgresStore"]):
    """Members' votes on answers, and the counts the report and the staff Home show."""

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        start = _utc(since)
        async with self._db._connection() as conn:
            handoffs = await conn.fetchval("select count(*) from handoffs where at >= $1", start)
            votes = await conn.fetch(
                "select f.helpful, q.intent, count(*) from feedback f left join questions q on q.id = f.question_id "
                "where f.at >= $1 group by f.helpful, q.intent",
                start,
            )
        return _counts(handoffs, [(v[0], v[1], v[2]) for v in votes])


class PostgresHandoffs(HandoffWrites["PostgresStore"]):
    """Questions passed to a person, and who on the staff took and closed each."""

    async def _handoff_update(self, statement: str, staff: str, question_id: str) -> HandoffOwners | None:
        async with self._db._connection() as conn, conn.transaction():
            await conn.execute(statement.format(**_POSTGRES_PARAMS), staff, _now(), question_id)
            return _owners(await conn.fetchrow(_OWNERS.format(**_POSTGRES_PARAMS), question_id))

    async def take(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_TAKE, staff, question_id)

    async def finish(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_DONE, staff, question_id)

    async def since(self, since: datetime.datetime) -> list[HandoffTimes]:
        async with self._db._connection() as conn:
            rows = await conn.fetch(_HANDOFF_TIMES.format(**_POSTGRES_PARAMS), _utc(since))
        return _handoff_times([tuple(r) for r in rows])


class PostgresLabels(Part["PostgresStore"]):
    """What staff taught the bot (Teach): added, read, undone, marked exported, and a version to poll."""

    async def add(self, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
        rows = _label_texts(self._db._secret, texts)
        made_by, at = member_hash(self._db._secret, staff), _now()
        async with self._db._connection() as conn, conn.transaction():
            return [
                int(
                    await conn.fetchval(
                        "insert into labels (text, intent, made_by, made_at) values ($1, $2, $3, $4) returning id",
                        text,
                        intent,
                        made_by,
                        at,
                    )
                )
                for text in rows
            ]

    async def read(self, include_undone: bool = False) -> list[StoredLabel]:
        where = "" if include_undone else " where undone_at is null"
        async with self._db._connection() as conn:
            rows = await conn.fetch(f"select {_LABEL_COLUMNS} from labels{where} order by id")
        return [_label(tuple(row)) for row in rows]

    async def undo(self, label_id: int) -> bool:
        async with self._db._connection() as conn:
            status = await conn.execute(
                "update labels set undone_at = $1 where id = $2 and undone_at is null", _now(), label_id
            )
        return _rowcount(status) == 1

    async def mark_exported(self, label_ids: Sequence[int]) -> None:
        async with self._db._connection() as conn:
            await conn.execute(
                "update labels set exported_at = $1 where id = any($2::bigint[]) and exported_at is null",
                _now(),
                [int(i) for i in label_ids],
            )

    async def version(self) -> str:
        async with self._db._connection() as conn:
            row = await conn.fetchrow(_LABELS_VERSION)
        return ":".join(str(v) for v in row)


class PostgresLimits(Part["PostgresStore"]):
    """Rate limits every instance shares: hits per keyed hash in fixed windows."""

    async def hit(self, key: str, window_start: int) -> int:
        hashed = member_hash(self._db._secret, key)
        async with self._db._connection() as conn, conn.transaction():
            await conn.execute(_HIT_TIDY.format(p1="$1", p2="$2"), hashed, window_start)
            return int(await conn.fetchval(_HIT.format(p1="$1", p2="$2"), hashed, window_start))
