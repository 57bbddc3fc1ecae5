"""The question log in SQL: SQLite by default (one file, nothing to set up), PostgreSQL when
DATABASE_URL names one (several instances share it).

Both backends keep the same tables (questions, feedback, hand-offs, labels) and answer the same
QuestionStore protocol (bot/question_log.py).
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
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from bot.question_log import (
    FeedbackRecord,
    HandoffOwners,
    HandoffRecord,
    HandoffTimes,
    PickRecord,
    QuestionRecord,
    QuestionStore,
    StoredLabel,
    StoredQuestion,
    Write,
)
from bot.safety import taught_text
from bot.timeouts import bounded
from intents.text import MAX_CHARS

# pg_advisory_lock key for migrations: any fixed bigint, the same in every instance ("confedbt").
MIGRATION_LOCK = 0x636F6E6665646274

# Every database call is bounded, so a frozen database never holds a reply, a hand-off or shutdown.
# SQLite: how long a statement waits for another process's lock (sqlite3's busy timeout), and how long
# the event loop waits for the store's worker thread (longer: a busy wait ends first, with its error).
SQLITE_BUSY_SECONDS = 5.0
SQLITE_CALL_SECONDS = 15.0
# PostgreSQL: opening a connection, each statement (asyncpg cancels it on the server), a pooled
# connection, and closing the pool (then it is terminated).
PG_CONNECT_SECONDS = 5.0
PG_COMMAND_SECONDS = 10.0
PG_ACQUIRE_SECONDS = 5.0
PG_CLOSE_SECONDS = 3.0

T = TypeVar("T")
Step = tuple[int, tuple[str, ...]]

# Numbered schema steps, applied in order by migrate(), written once for both databases: {time}, {real},
# {bool} and {id} stand for the column types each spells its own way (_TYPES). Append a new step to change
# the schema; never edit one that has shipped (databases that ran it would not run it again).
STEPS: tuple[Step, ...] = (
    (
        1,
        (
            """create table questions (
                id text primary key,
                at {time} not null,{time_note}
                surface text not null,
                member_hash text not null,
                intent text,
                confidence {real},
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
                helpful {bool} not null,
                at {time} not null,
                primary key (question_id, member_hash)
            )""",
            "create index feedback_at on feedback (at)",
            "create index feedback_member on feedback (member_hash)",
            """create table handoffs (
                question_id text not null,
                member_hash text not null,
                at {time} not null
            )""",
            "create index handoffs_at on handoffs (at)",
            "create index handoffs_member on handoffs (member_hash)",
        ),
    ),
    (
        2,
        (
            # Questions staff taught the bot (Teach): intent null means off-topic. Kept apart from the
            # retention period's purge: they are training data, like the examples they become.
            """create table labels (
                id {id},
                text text not null,
                intent text,
                made_by text not null,
                made_at {time} not null,
                undone_at {time},
                exported_at {time}
            )""",
            "create index labels_made_by on labels (made_by)",
        ),
    ),
    (
        3,
        (
            # Who on the staff took a hand-off (Take it) and closed it (Done), and when: their Slack ids, as
            # the staff channel's message shows them.
            "alter table handoffs add column taken_by text",
            "alter table handoffs add column taken_at {time}",
            "alter table handoffs add column done_by text",
            "alter table handoffs add column done_at {time}",
            "create index handoffs_question on handoffs (question_id)",
        ),
    ),
    (
        4,
        (
            # Rate limits every instance shares, and a restart keeps: hits per keyed hash of (what, who)
            # in a fixed window of time (window_start in whole seconds since the epoch).
            """create table limits (
                key text not null,
                window_start bigint not null,
                hits integer not null,
                primary key (key, window_start)
            )""",
        ),
    ),
    (
        5,
        (
            # The asker's own pick among the choices a reply offered (PickRecord), shown to staff in Teach.
            "alter table questions add column picked text",
        ),
    ),
)
# One hit on a limit's window, and the hits so far (ON CONFLICT ... RETURNING: SQLite 3.35, PostgreSQL 9.5).
_HIT = (
    "insert into limits (key, window_start, hits) values ({p1}, {p2}, 1) on conflict (key, window_start) "
    "do update set hits = limits.hits + 1 returning hits"
)
_HIT_TIDY = "delete from limits where key = {p1} and window_start < {p2}"

_TYPES = {
    "sqlite": {"time": "text", "real": "real", "bool": "integer", "id": "integer primary key autoincrement",
               "time_note": "  -- ISO 8601 UTC with microseconds: sorts as text"},
    "postgres": {"time": "timestamptz", "real": "double precision", "bool": "boolean", "id": "bigserial primary key",
                 "time_note": ""},
}  # fmt: skip


def _dialect(kind: str) -> tuple[Step, ...]:
    return tuple((version, tuple(sql.format(**_TYPES[kind]) for sql in statements)) for version, statements in STEPS)


SQLITE_STEPS = _dialect("sqlite")
POSTGRES_STEPS = _dialect("postgres")

TABLES = ("questions", "feedback", "handoffs")


def member_hash(secret: str, member: str) -> str:
    """The only form in which a member is stored."""
    return hmac.new(secret.encode(), member.encode(), hashlib.sha256).hexdigest()


# Slack ids in stored text become tokens of the same keyed hash, cut to TOKEN_HEX hex digits (48 bits:
# enough to tell a workspace's members apart, too short to be a member_hash on its own):
#   <@U0123ABC> and <@W0123|name>  ->  <@u:3f2a9c1b7d4e>   (a user mention; the label goes too)
#   <#C0123|general>               ->  <#c:9b0e1f2a3c4d>   (a channel mention; C, G and D alike)
#   <!subteam^S0123|@team>         ->  <!subteam^s:0a1b2c3d4e5f>
#   a bare U0123ABCD or W0123ABCD  ->  @u:3f2a9c1b7d4e;  a bare C/G/D id  ->  #c:...
# A user's token is member_hash(secret, id)[:TOKEN_HEX], so `forget` finds every mention of a member
# ("@u:" + token) and replaces it with "@u:erased" (the other member's question stays, minus the id).
TOKEN_HEX = 12
ERASED = "erased"
_MENTION = re.compile(r"<([@#])([UWCGD][A-Z0-9]{2,})(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]{2,})(?:\|[^>]*)?>")
# Bare ids: a capital U/W/C/G/D then 6 or more capitals and digits, at least one a digit ("UNDERSTAND"
# is a word, "U0123ABCD" an id), standing alone (not inside a longer word).
_BARE = re.compile(r"(?<![A-Za-z0-9])(?=[UWCGDS][A-Z]*[0-9])[UWCGDS][A-Z0-9]{6,}(?![A-Za-z0-9])")
# Contact details a member may type about themselves or others: never kept as typed.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d ().-]{7,}\d(?!\w)")
PHONE_DIGITS = 10  # a UK number has 10 or 11 digits; a year, a count or a date has fewer
# The model reads a question's first MAX_CHARS characters: nothing past them is worth keeping.
MAX_STORED_CHARS = MAX_CHARS


def id_token(secret: str, slack_id: str) -> str:
    """The short keyed hash that stands for a Slack id in stored text and in the channel column."""
    return member_hash(secret, slack_id)[:TOKEN_HEX]


def redact(text: str, secret: str, member: str | None = None) -> str:
    """The text, cut to MAX_STORED_CHARS, with every Slack user, group and channel id replaced by its
    token (see TOKEN_HEX), the asker's own raw id (`member`, any length) too, wherever it is, and e-mail
    addresses and phone numbers replaced by [email] and [phone]."""

    def user_or_channel(slack_id: str) -> str:
        return ("u:" if slack_id[0] in "UW" else "c:") + id_token(secret, slack_id)

    def bare(slack_id: str) -> str:
        if slack_id[0] == "S":  # a user group
            return "^s:" + id_token(secret, slack_id)
        return ("@" if slack_id[0] in "UW" else "#") + user_or_channel(slack_id)

    def phone(match: re.Match[str]) -> str:
        digits = sum(ch.isdigit() for ch in match.group(0))
        return "[phone]" if digits >= PHONE_DIGITS else match.group(0)

    text = text[:MAX_STORED_CHARS]
    text = _MENTION.sub(lambda m: f"<{m.group(1)}{user_or_channel(m.group(2))}>", text)
    text = _SUBTEAM.sub(lambda m: f"<!subteam^s:{id_token(secret, m.group(1))}>", text)
    text = _BARE.sub(lambda m: bare(m.group(0)), text)
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub(phone, text)
    if member and member in text:
        text = text.replace(member, "@" + user_or_channel(member) if member[0] in "UW" else "@member")
    return text


def stored_channel(secret: str, channel: str | None) -> str | None:
    """The channel column: a DM (D...) as "d:<token>", since a DM id stands for one member; public (C...)
    and private (G...) channel ids as they are, because the hand-off asks Slack for a permalink to the
    member's message there (a DM's permalink would not open for staff anyway)."""
    if channel and channel.startswith("D"):
        return "d:" + id_token(secret, channel)
    return channel


class StoreUnavailable(Exception):
    """The question log cannot be used where DATABASE_URL puts it; the message is one short line."""


def open_store(target: str | Path, secret: str) -> QuestionStore:
    """The store for `target`: a postgresql:// address, or a SQLite file (bot.settings.question_log_target
    reads DATABASE_URL into one of them). Nothing connects until the first call (call migrate() first).
    Raises StoreUnavailable when the SQLite file's folder cannot be created or written."""
    if not secret:
        raise ValueError("a member-hash secret is needed (see bot.services.derive_secret)")
    if isinstance(target, str):
        if not target.startswith(("postgresql://", "postgres://")):
            raise ValueError("a question log is a postgresql:// address or a SQLite file's path")
        return PostgresStore(target, secret)
    path = target
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailable(
            f"cannot create the folder {path.parent} ({exc.strerror or type(exc).__name__})"
        ) from None
    if not os.access(path.parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.R_OK | os.W_OK)):
        raise StoreUnavailable(f"cannot write the SQLite file {path} (permission denied)")
    return SQLiteStore(path, secret)


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


def _question_row(secret: str, record: QuestionRecord) -> tuple[Any, ...]:
    """The questions row, in column order, with nothing that names a member or a DM in clear."""
    return (
        record.id,
        _utc(record.at),
        record.surface,
        member_hash(secret, record.member),
        record.intent,
        record.confidence,
        record.outcome,
        None if record.text is None else redact(record.text, secret, record.member),
        stored_channel(secret, record.channel),
        record.message_ts,
    )


def _feedback_row(secret: str, row: FeedbackRecord) -> tuple[Any, ...]:
    return (row.question_id, member_hash(secret, row.member), row.helpful, _utc(row.at))


def _handoff_row(secret: str, row: HandoffRecord) -> tuple[Any, ...]:
    return (row.question_id, member_hash(secret, row.member), _utc(row.at))


def _now_feedback(question_id: str, member: str, helpful: bool) -> FeedbackRecord:
    return FeedbackRecord(question_id, member, helpful, _now())


def _counts(handoffs: int, votes: Sequence[tuple[bool, str | None, int]]) -> dict[str, int]:
    out = {"handoffs": handoffs, "helpful": 0, "not_helpful": 0}
    for helpful, intent, n in votes:
        key = "helpful" if helpful else "not_helpful"
        out[key] += n
        if intent is not None:
            out[f"{key}:{intent}"] = out.get(f"{key}:{intent}", 0) + n
    return out


# The SQL each kind of write runs. Every one is idempotent, so a batch retried after a timeout that had in
# fact committed adds nothing twice: a question id is kept once; a vote replaces an older vote only (a
# retried vote never undoes a newer one); one hand-off per member per question.
_QUESTION_COLUMNS = "(id, at, surface, member_hash, intent, confidence, outcome, text, channel, message_ts)"
_SQLITE_WRITES = {
    QuestionRecord: f"insert into questions {_QUESTION_COLUMNS} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "on conflict (id) do nothing",
    PickRecord: "update questions set picked = ? where id = ? and member_hash = ?",
    FeedbackRecord: "insert into feedback values (?, ?, ?, ?) on conflict (question_id, member_hash) "
    "do update set helpful = excluded.helpful, at = excluded.at where excluded.at >= feedback.at",
    HandoffRecord: "insert into handoffs (question_id, member_hash, at) select ?1, ?2, ?3 where not exists "
    "(select 1 from handoffs where question_id = ?1 and member_hash = ?2)",
}
_POSTGRES_WRITES = {
    QuestionRecord: f"insert into questions {_QUESTION_COLUMNS} "
    "values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict (id) do nothing",
    PickRecord: "update questions set picked = $1 where id = $2 and member_hash = $3",
    FeedbackRecord: "insert into feedback values ($1, $2, $3, $4) on conflict (question_id, member_hash) "
    "do update set helpful = excluded.helpful, at = excluded.at where excluded.at >= feedback.at",
    HandoffRecord: "insert into handoffs (question_id, member_hash, at) select $1, $2, $3 where not exists "
    "(select 1 from handoffs where question_id = $1 and member_hash = $2)",
}


def _row(secret: str, write: Write) -> tuple[Any, ...]:
    if isinstance(write, QuestionRecord):
        return _question_row(secret, write)
    if isinstance(write, FeedbackRecord):
        return _feedback_row(secret, write)
    if isinstance(write, PickRecord):
        return (write.intent, write.question_id, member_hash(secret, write.member))
    return _handoff_row(secret, write)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="microseconds")  # ISO 8601 UTC: sorts as text
    return int(value) if isinstance(value, bool) else value


# What forget() does to other members' questions that mention the member: the token goes, the rest stays.
_SQLITE_REDACT = (
    "update questions set text = replace(replace(text, ?1, ?2), ?3, ?4) where instr(text, ?1) or instr(text, ?3)"
)
_POSTGRES_REDACT = (
    "update questions set text = replace(replace(text, $1, $2), $3, $4) "
    "where strpos(text, $1) > 0 or strpos(text, $3) > 0"
)


def _redaction(secret: str, member: str) -> tuple[str, str, str, str]:
    """(token, its replacement, raw id, its replacement): a member's token in text written since ids are
    tokenised, and their raw id in text written before (those rows age out with the retention period)."""
    token = f"@u:{id_token(secret, member)}"
    raw = member if len(member) >= 6 else token  # a made-up short id ("U1") could be part of any word
    return (token, f"@u:{ERASED}", raw, f"u:{ERASED}")


# Take it: the first staff member wins, on any instance; Done also takes a hand-off nobody had taken.
_TAKE = "update handoffs set taken_by = {p1}, taken_at = {p2} where question_id = {p3} and taken_by is null"
_DONE = (
    "update handoffs set done_by = {p1}, done_at = {p2}, taken_by = coalesce(taken_by, {p1}), "
    "taken_at = coalesce(taken_at, {p2}) where question_id = {p3} and done_by is null"
)
_OWNERS = "select taken_by, done_by from handoffs where question_id = {p1} order by at limit 1"
_HANDOFF_TIMES = "select at, taken_at, done_at from handoffs where at >= {p1}"
_SQLITE_PARAMS = {"p1": "?1", "p2": "?2", "p3": "?3"}
_POSTGRES_PARAMS = {"p1": "$1", "p2": "$2", "p3": "$3"}


def _owners(row: Sequence[Any] | None) -> HandoffOwners | None:
    return None if row is None else HandoffOwners(row[0], row[1])


def _handoff_times(rows: Sequence[Sequence[Any]]) -> list[HandoffTimes]:
    out = []
    for at, taken_at, done_at in rows:
        start = _time(at)
        assert start is not None
        out.append(HandoffTimes(start, _time(taken_at), _time(done_at)))
    return out


_LABEL_COLUMNS = "id, text, intent, made_by, made_at, undone_at, exported_at"
# Changes whenever a label is added, undone or exported.
_LABELS_VERSION = (
    "select count(*), coalesce(max(id), 0), count(undone_at), count(exported_at), coalesce(sum(length(made_by)), 0) "
    "from labels"
)


def _time(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    return _utc(value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(value))


def _label(row: Sequence[Any]) -> StoredLabel:
    made_at = _time(row[4])
    assert made_at is not None
    return StoredLabel(int(row[0]), row[1], row[2], row[3], made_at, _time(row[5]), _time(row[6]))


def _taught(rows: Sequence[Sequence[Any]]) -> set[str]:
    """The labels Teach would have made of these stored questions (bot.safety.taught_text): what
    `forget` deletes with the member's questions, since a label keeps the member's own words."""
    return {taught_text(row[0]) for row in rows if row[0]}


def _label_texts(secret: str, texts: Sequence[str]) -> list[str]:
    """One line each, Slack ids as tokens (as a question is stored); empty ones dropped."""
    return [redact(t, secret) for t in (" ".join(text.split()) for text in texts) if t]


def _set_wal(conn: sqlite3.Connection, patience: float) -> None:
    """Switch a file to WAL. Several processes opening a new file at once can find it locked while another
    switches it; SQLite does not always wait on its busy handler for this, so wait here."""
    deadline = time.monotonic() + patience
    while True:
        try:
            conn.execute("pragma journal_mode = wal")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class _OneRowWrites:
    """The one-row writes, as a batch of one, for both stores."""

    async def write(self, rows: Sequence[Write]) -> None:
        raise NotImplementedError

    async def record_question(self, record: QuestionRecord) -> None:
        await self.write([record])

    async def record_feedback(self, question_id: str, member: str, helpful: bool) -> None:
        await self.write([_now_feedback(question_id, member, helpful)])

    async def record_handoff(self, question_id: str, member: str) -> None:
        await self.write([HandoffRecord(question_id, member, _now())])


class SQLiteStore(_OneRowWrites):
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

    async def get_question(self, question_id: str) -> StoredQuestion | None:
        rows = await self._run(
            lambda conn: conn.execute(f"select {_COLUMNS} from questions q where id = ?", (question_id,)).fetchall()
        )
        return _stored(rows[0]) if rows else None

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

    async def questions_since(self, since: datetime.datetime) -> list[StoredQuestion]:
        start = _utc(since).isoformat(timespec="microseconds")
        rows = await self._run(
            lambda conn: conn.execute(
                f"select {_COLUMNS} from questions q where at >= ? order by at, id", (start,)
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

    async def _handoff_update(self, statement: str, staff: str, question_id: str) -> HandoffOwners | None:
        at = _sqlite_value(_now())

        def work(conn: sqlite3.Connection) -> HandoffOwners | None:
            with self._transaction(conn):
                conn.execute(statement.format(**_SQLITE_PARAMS), (staff, at, question_id))
                return _owners(conn.execute(_OWNERS.format(**_SQLITE_PARAMS), (question_id,)).fetchone())

        return await self._run(work)

    async def take_handoff(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_TAKE, staff, question_id)

    async def finish_handoff(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_DONE, staff, question_id)

    async def handoffs_since(self, since: datetime.datetime) -> list[HandoffTimes]:
        start = _sqlite_value(_utc(since))
        rows = await self._run(lambda conn: conn.execute(_HANDOFF_TIMES.format(**_SQLITE_PARAMS), (start,)).fetchall())
        return _handoff_times(rows)

    async def add_labels(self, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
        rows = _label_texts(self._secret, texts)
        made_by, at = member_hash(self._secret, staff), _sqlite_value(_now())

        def work(conn: sqlite3.Connection) -> list[int]:
            with self._transaction(conn):
                return [
                    int(
                        conn.execute(
                            "insert into labels (text, intent, made_by, made_at) values (?, ?, ?, ?) returning id",
                            (text, intent, made_by, at),
                        ).fetchone()[0]
                    )
                    for text in rows
                ]

        return await self._run(work)

    async def labels(self, include_undone: bool = False) -> list[StoredLabel]:
        where = "" if include_undone else " where undone_at is null"
        rows = await self._run(
            lambda conn: conn.execute(f"select {_LABEL_COLUMNS} from labels{where} order by id").fetchall()
        )
        return [_label(row) for row in rows]

    async def undo_label(self, label_id: int) -> bool:
        at = _sqlite_value(_now())

        def work(conn: sqlite3.Connection) -> bool:
            with self._transaction(conn):
                sql = "update labels set undone_at = ? where id = ? and undone_at is null"
                return conn.execute(sql, (at, label_id)).rowcount == 1

        return await self._run(work)

    async def mark_exported(self, label_ids: Sequence[int]) -> None:
        at = _sqlite_value(_now())
        rows = [(at, int(i)) for i in label_ids]

        def work(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                conn.executemany("update labels set exported_at = ? where id = ? and exported_at is null", rows)

        await self._run(work)

    async def labels_version(self) -> str:
        row = await self._run(lambda conn: conn.execute(_LABELS_VERSION).fetchone())
        return ":".join(str(v) for v in row)

    async def hit(self, key: str, window_start: int) -> int:
        hashed = member_hash(self._secret, key)

        def work(conn: sqlite3.Connection) -> int:
            with self._transaction(conn):
                conn.execute(_HIT_TIDY.format(p1="?", p2="?"), (hashed, window_start))
                return int(conn.execute(_HIT.format(p1="?", p2="?"), (hashed, window_start)).fetchone()[0])

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


# The questions' columns, then the asker's hash and whether anyone handed the question off.
_COLUMNS = (
    "q.id, q.at, q.surface, q.intent, q.confidence, q.outcome, q.text, q.channel, q.message_ts, q.member_hash, "
    "exists (select 1 from handoffs h where h.question_id = q.id), q.picked"
)


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
        member_hash=row[9],
        handed_off=bool(row[10]),
        picked=row[11],
    )


def _rowcount(status: str) -> int:
    """asyncpg returns a command's status ("DELETE 3"), not a row count."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(_OneRowWrites):
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

    async def get_question(self, question_id: str) -> StoredQuestion | None:
        async with self._connection() as conn:
            row = await conn.fetchrow(f"select {_COLUMNS} from questions q where id = $1", question_id)
        return None if row is None else _stored(tuple(row))

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

    async def questions_since(self, since: datetime.datetime) -> list[StoredQuestion]:
        async with self._connection() as conn:
            rows = await conn.fetch(f"select {_COLUMNS} from questions q where at >= $1 order by at, id", _utc(since))
        return [_stored(tuple(row)) for row in rows]

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        start = _utc(since)
        async with self._connection() as conn:
            handoffs = await conn.fetchval("select count(*) from handoffs where at >= $1", start)
            votes = await conn.fetch(
                "select f.helpful, q.intent, count(*) from feedback f left join questions q on q.id = f.question_id "
                "where f.at >= $1 group by f.helpful, q.intent",
                start,
            )
        return _counts(handoffs, [(v[0], v[1], v[2]) for v in votes])

    async def _handoff_update(self, statement: str, staff: str, question_id: str) -> HandoffOwners | None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(statement.format(**_POSTGRES_PARAMS), staff, _now(), question_id)
            return _owners(await conn.fetchrow(_OWNERS.format(**_POSTGRES_PARAMS), question_id))

    async def take_handoff(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_TAKE, staff, question_id)

    async def finish_handoff(self, question_id: str, staff: str) -> HandoffOwners | None:
        return await self._handoff_update(_DONE, staff, question_id)

    async def handoffs_since(self, since: datetime.datetime) -> list[HandoffTimes]:
        async with self._connection() as conn:
            rows = await conn.fetch(_HANDOFF_TIMES.format(**_POSTGRES_PARAMS), _utc(since))
        return _handoff_times([tuple(r) for r in rows])

    async def add_labels(self, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
        rows = _label_texts(self._secret, texts)
        made_by, at = member_hash(self._secret, staff), _now()
        async with self._connection() as conn, conn.transaction():
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

    async def labels(self, include_undone: bool = False) -> list[StoredLabel]:
        where = "" if include_undone else " where undone_at is null"
        async with self._connection() as conn:
            rows = await conn.fetch(f"select {_LABEL_COLUMNS} from labels{where} order by id")
        return [_label(tuple(row)) for row in rows]

    async def undo_label(self, label_id: int) -> bool:
        async with self._connection() as conn:
            status = await conn.execute(
                "update labels set undone_at = $1 where id = $2 and undone_at is null", _now(), label_id
            )
        return _rowcount(status) == 1

    async def mark_exported(self, label_ids: Sequence[int]) -> None:
        async with self._connection() as conn:
            await conn.execute(
                "update labels set exported_at = $1 where id = any($2::bigint[]) and exported_at is null",
                _now(),
                [int(i) for i in label_ids],
            )

    async def labels_version(self) -> str:
        async with self._connection() as conn:
            row = await conn.fetchrow(_LABELS_VERSION)
        return ":".join(str(v) for v in row)

    async def hit(self, key: str, window_start: int) -> int:
        hashed = member_hash(self._secret, key)
        async with self._connection() as conn, conn.transaction():
            await conn.execute(_HIT_TIDY.format(p1="$1", p2="$2"), hashed, window_start)
            return int(await conn.fetchval(_HIT.format(p1="$1", p2="$2"), hashed, window_start))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await bounded(pool.close(), self.close_timeout)
        except (TimeoutError, Exception):
            pool.terminate()  # a frozen server: drop the sockets rather than wait for it
