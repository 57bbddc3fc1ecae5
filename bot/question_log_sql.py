"""The question log in SQL: SQLite by default (one file, nothing to set up), PostgreSQL when
DATABASE_URL names one (several instances share it).

Both backends keep the same tables (questions, feedback, hand-offs, labels) and answer the same
QuestionStore protocol (bot/question_log.py).
Members are written only as HMAC-SHA256(secret, user id): the raw id never reaches a table, a log or
the file, so the log can be read for reports without identifying anyone, and `forget` can still find
one member's rows when that member asks.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import re
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
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


class _Writer(Protocol):
    async def write(self, rows: Sequence[Write]) -> None: ...


D = TypeVar("D", bound=_Writer)


class Part(Generic[D]):
    """One concern's part of a store (bot/question_log.py): it runs its statements on its database."""

    def __init__(self, db: D) -> None:
        self._db = db


# The one-row writes, a batch of one through the database's write: the same in both dialects.
class QuestionWrites(Part[D]):
    async def record(self, record: QuestionRecord) -> None:
        await self._db.write([record])


class FeedbackWrites(Part[D]):
    async def record(self, question_id: str, member: str, helpful: bool) -> None:
        await self._db.write([_now_feedback(question_id, member, helpful)])


class HandoffWrites(Part[D]):
    async def record(self, question_id: str, member: str) -> None:
        await self._db.write([HandoffRecord(question_id, member, _now())])


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
        from bot.question_log_postgres import PostgresStore

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
    from bot.question_log_sqlite import SQLiteStore

    return SQLiteStore(path, secret)


def describe_store(store: QuestionStore) -> str:
    """Where the log is and its schema version, for a line of output: never a password."""
    from bot.question_log_postgres import PostgresStore
    from bot.question_log_sqlite import SQLiteStore

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
