"""The question log on SQLite (the default: one file, nothing to set up): the database and one part per
concern (questions, feedback, hand-offs, labels, limits), each a small interface of bot/question_log.py."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import sqlite3
import threading
from collections.abc import (
    Callable,
    Iterator,
    Sequence,
)
from concurrent.futures import (
    ThreadPoolExecutor,
)
from pathlib import (
    Path,
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
    _SQLITE_PARAMS,
    _SQLITE_REDACT,
    _SQLITE_WRITES,
    _TAKE,
    ERASED,
    SQLITE_BUSY_SECONDS,
    SQLITE_CALL_SECONDS,
    SQLITE_STEPS,
    TABLES,
    FeedbackWrites,
    HandoffWrites,
    Part,
    QuestionWrites,
    T,
    _counts,
    _handoff_times,
    _label,
    _label_texts,
    _now,
    _owners,
    _redaction,
    _row,
    _set_wal,
    _sqlite_value,
    _stored,
    _taught,
    _utc,
    member_hash,
)
from bot.timeouts import (
    bounded,
)


class SQLiteStore:
    """The stdlib sqlite3 module, one connection, each call in the store's own worker thread so the
    event loop never waits on the disk, and never longer than call_timeout. WAL lets
    `python -m bot report` read while the bot writes."""

    def __init__(
        self,
        path: Path,
        secret: str,
        *,
        busy_timeout: float = SQLITE_BUSY_SECONDS,
        call_timeout: float = SQLITE_CALL_SECONDS,
    ) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.call_timeout = call_timeout
        self._secret = secret
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        # One thread of its own: a call stuck on the disk or a lock holds this store's queue only, never
        # the loop's default executor (DNS lookups, other stores).
        self._executor: ThreadPoolExecutor | None = None
        # Each concern's statements, on this connection: callers hold the one they need.
        self.questions = SQLiteQuestions(self)
        self.feedback = SQLiteFeedback(self)
        self.handoffs = SQLiteHandoffs(self)
        self.labels = SQLiteLabels(self)
        self.limits = SQLiteLimits(self)

    def member_hash(self, member: str) -> str:
        return member_hash(self._secret, member)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, check_same_thread=False, isolation_level=None)
            _set_wal(conn, self.busy_timeout)
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
                return work(self._connection())

        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="question-log")
        future = asyncio.get_running_loop().run_in_executor(self._executor, locked)
        return await bounded(future, self.call_timeout)

    @staticmethod
    @contextlib.contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        # IMMEDIATE takes the write lock at once: two processes migrating wait in turn, not deadlock.
        conn.execute("begin immediate")
        try:
            yield
            conn.execute("commit")
        except BaseException:
            if conn.in_transaction:  # a failed commit leaves the transaction open
                conn.execute("rollback")
            raise

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

        await self._run(work)

    async def write(self, rows: Sequence[Write]) -> None:
        statements = [(_SQLITE_WRITES[type(r)], tuple(map(_sqlite_value, _row(self._secret, r)))) for r in rows]

        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                for statement, row in statements:
                    conn.execute(statement, row)

        if statements:
            await self._run(work)

    async def ping(self) -> None:
        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):  # takes the write lock: waits out (or fails on) another's
                pass

        await self._run(work)

    async def forget(self, member: str) -> int:
        hashed = member_hash(self._secret, member)
        token, erased, raw, raw_erased = _redaction(self._secret, member)

        def work(conn: sqlite3.Connection) -> int:
            with self._transaction(conn):
                asked = conn.execute("select text from questions where member_hash = ?", (hashed,)).fetchall()
                n = sum(conn.execute("delete from labels where text = ?", (t,)).rowcount for t in _taught(asked))
                n += sum(conn.execute(f"delete from {t} where member_hash = ?", (hashed,)).rowcount for t in TABLES)
                # instr, not like: an id's letters are matched exactly, case and all.
                conn.execute(_SQLITE_REDACT, (token, erased, raw, raw_erased))
                conn.execute(_SQLITE_REDACT.replace("questions", "labels"), (token, erased, raw, raw_erased))
                # A label stays (it is training data); who made it goes.
                conn.execute("update labels set made_by = '' where made_by = ?", (hashed,))
                # A staff member's id on the hand-offs they took or closed.
                for column in ("taken_by", "done_by"):
                    conn.execute(f"update handoffs set {column} = ? where {column} = ?", (ERASED, member))
                return n

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

    async def close(self) -> None:
        def work(conn: sqlite3.Connection) -> None:
            # Fold the WAL back into the file, so the file alone holds everything kept.
            conn.execute("pragma wal_checkpoint(truncate)")

        executor = self._executor
        try:
            if self._conn is not None:
                await self._run(work)
        finally:
            if self._conn is not None and self._lock.acquire(timeout=0.1):  # not while a stuck call holds it
                try:
                    self._conn.close()
                    self._conn = None
                finally:
                    self._lock.release()
            self._executor = None
            if executor is not None:
                executor.shutdown(wait=False)


class SQLiteQuestions(QuestionWrites["SQLiteStore"]):
    """The questions members asked: each kept once, read back by id or by time."""

    async def get(self, question_id: str) -> StoredQuestion | None:
        rows = await self._db._run(
            lambda conn: conn.execute(f"select {_COLUMNS} from questions q where id = ?", (question_id,)).fetchall()
        )
        return _stored(rows[0]) if rows else None

    async def since(self, since: datetime.datetime) -> list[StoredQuestion]:
        start = _utc(since).isoformat(timespec="microseconds")
        rows = await self._db._run(
            lambda conn: conn.execute(
                f"select {_COLUMNS} from questions q where at >= ? order by at, id", (start,)
            ).fetchall()
        )
        return [_stored(row) for row in rows]


class SQLiteFeedback(FeedbackWrites["SQLiteStore"]):
    """Members' votes on answers, and the counts the report and the staff Home show."""

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

        return await self._db._run(work)


class SQLiteHandoffs(HandoffWrites["SQLiteStore"]):
    """Questions passed to a person, and who on the staff took and closed each."""

    async def _handoff_update(self, statement: str, staff: str, question_id: str) -> HandoffOwners | None:
        at = _sqlite_value(_now())

        def work(conn: sqlite3.Connection) -> HandoffOwners | None:
            with self._db._transaction(conn):
                conn.execute(statement.format(**_SQLITE_PARAMS), (staff, at, question_id))
                return _owners(conn.execute(_OWNERS.format(**_SQLITE_PARAMS), (question_id,)).fetchone())

        return await self._db._run(work)

    async def take(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_TAKE, staff, question_id)

    async def finish(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_DONE, staff, question_id)

    async def since(self, since: datetime.datetime) -> list[HandoffTimes]:
        start = _sqlite_value(_utc(since))
        rows = await self._db._run(
            lambda conn: conn.execute(_HANDOFF_TIMES.format(**_SQLITE_PARAMS), (start,)).fetchall()
        )
        return _handoff_times(rows)


class SQLiteLabels(Part["SQLiteStore"]):
    """What staff taught the bot (Teach): added, read, undone, marked exported, and a version to poll."""

    async def add(self, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
        rows = _label_texts(self._db._secret, texts)
        made_by, at = member_hash(self._db._secret, staff), _sqlite_value(_now())

        def work(conn: sqlite3.Connection) -> list[int]:
            with self._db._transaction(conn):
                return [
                    int(
                        conn.execute(
                            "insert into labels (text, intent, made_by, made_at) values (?, ?, ?, ?) returning id",
                            (text, intent, made_by, at),
                        ).fetchone()[0]
                    )
                    for text in rows
                ]

        return await self._db._run(work)

    async def read(self, include_undone: bool = False) -> list[StoredLabel]:
        where = "" if include_undone else " where undone_at is null"
        rows = await self._db._run(
            lambda conn: conn.execute(f"select {_LABEL_COLUMNS} from labels{where} order by id").fetchall()
        )
        return [_label(row) for row in rows]

    async def undo(self, label_id: int) -> bool:
        at = _sqlite_value(_now())

        def work(conn: sqlite3.Connection) -> bool:
            with self._db._transaction(conn):
                sql = "update labels set undone_at = ? where id = ? and undone_at is null"
                return conn.execute(sql, (at, label_id)).rowcount == 1

        return await self._db._run(work)

    async def mark_exported(self, label_ids: Sequence[int]) -> None:
        at = _sqlite_value(_now())
        rows = [(at, int(i)) for i in label_ids]

        def work(conn: sqlite3.Connection) -> None:
            with self._db._transaction(conn):
                conn.executemany("update labels set exported_at = ? where id = ? and exported_at is null", rows)

        await self._db._run(work)

    async def version(self) -> str:
        row = await self._db._run(lambda conn: conn.execute(_LABELS_VERSION).fetchone())
        return ":".join(str(v) for v in row)


class SQLiteLimits(Part["SQLiteStore"]):
    """Rate limits every instance shares: hits per keyed hash in fixed windows."""

    async def hit(self, key: str, window_start: int) -> int:
        hashed = member_hash(self._db._secret, key)

        def work(conn: sqlite3.Connection) -> int:
            with self._db._transaction(conn):
                conn.execute(_HIT_TIDY.format(p1="?", p2="?"), (hashed, window_start))
                return int(conn.execute(_HIT.format(p1="?", p2="?"), (hashed, window_start)).fetchone()[0])

        return await self._db._run(work)
