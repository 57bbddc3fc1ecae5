"""What the bot keeps about the questions members ask: the interface the listeners use.

The question log and feedback live in SQLite by default (a file under the project, no set-up) or in
PostgreSQL when DATABASE_URL says so (bot/question_log_sql.py). Members are kept only as a keyed hash
(HMAC-SHA256 with a secret), never as their Slack user id: callers pass the raw id and the store
hashes it before anything is written. Slack ids typed into a question (mentions, bare ids) and DM
channel ids are stored as tokens of the same keyed hash (see bot/question_log_sql.py, redact()).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

# Where a question came from.
Surface = Literal["dm", "mention", "thread", "command", "button"]


@dataclass(frozen=True)
class QuestionRecord:
    """One answered (or unanswered) question, as the listener saw it."""

    id: str  # chosen by the caller before the reply is posted (the feedback buttons carry it)
    at: datetime.datetime  # UTC
    surface: Surface
    member: str  # the raw Slack user id: hashed by the store, never written as it is
    intent: str | None
    confidence: float | None
    outcome: str  # "answered", "fallback", "rate_limited", ...
    text: str | None  # the question; None when QUESTION_LOG=off
    channel: str | None = None
    message_ts: str | None = None  # the member's message (for the hand-off permalink)


@dataclass(frozen=True)
class FeedbackRecord:
    """One vote, timed when the member clicked: a vote retried later never replaces a newer one."""

    question_id: str
    member: str  # the raw Slack user id: hashed by the store
    helpful: bool
    at: datetime.datetime  # UTC


@dataclass(frozen=True)
class HandoffRecord:
    question_id: str
    member: str  # the raw Slack user id: hashed by the store
    at: datetime.datetime  # UTC


@dataclass(frozen=True)
class PickRecord:
    """A member's own pick among the choices a reply offered (a question back, "did you mean"): kept with
    that question, and only when the member who picks is the one who asked."""

    question_id: str
    member: str  # the raw Slack user id: hashed by the store
    intent: str


# What the recorder hands to a store: written in order, all of a batch in one transaction.
Write = QuestionRecord | FeedbackRecord | HandoffRecord | PickRecord


@dataclass(frozen=True)
class StoredQuestion:
    id: str
    at: datetime.datetime
    surface: str
    intent: str | None
    confidence: float | None
    outcome: str
    text: str | None
    channel: str | None  # public (C...) and private (G...) channels as they are; a DM (D...) as "d:<token>"
    message_ts: str | None
    # The asker's keyed hash (compare with Recorder.member_hash(user)); "" never matches anyone.
    member_hash: str = ""
    handed_off: bool = False  # a row exists in handoffs for this question id
    picked: str | None = None  # the intent the asker picked among the reply's choices, if any


@dataclass(frozen=True)
class HandoffOwners:
    """Who on the staff has a hand-off (Take it) and who closed it (Done): Slack user ids, or None."""

    taken_by: str | None
    done_by: str | None


@dataclass(frozen=True)
class HandoffTimes:
    at: datetime.datetime  # handed off by the member
    taken_at: datetime.datetime | None
    done_at: datetime.datetime | None


@dataclass(frozen=True)
class StoredLabel:
    """A question staff taught the bot (Teach in the App Home): the model learns it as an example of
    `intent`, or as off-topic when `intent` is None."""

    id: int
    text: str  # stored like a question: Slack ids as tokens
    intent: str | None
    made_by: str  # the staff member's keyed hash, like every member id ("" once they are forgotten)
    made_at: datetime.datetime  # UTC
    undone_at: datetime.datetime | None = None
    exported_at: datetime.datetime | None = None  # written into responses.yaml by `bot labels export`

    @property
    def active(self) -> bool:
        return self.undone_at is None


@dataclass(frozen=True)
class UnansweredGroup:
    text: str  # a representative question
    count: int  # how many members asked (keyed hashes), not how many messages
    suggested: str | None  # the intent the model finds closest, for `learn`
    messages: int = 0
    mostly_one: bool = False  # one member sent more than half of its messages


@dataclass(frozen=True)
class Report:
    days: int
    questions: int
    answered: int
    fallback: int
    handoffs: int
    helpful: int
    not_helpful: int
    handoffs_taken: int = 0
    handoffs_done: int = 0
    minutes_to_take: float | None = None  # the median, over the hand-offs taken
    by_intent: dict[str, int] = field(default_factory=dict)
    helpful_by_intent: dict[str, int] = field(default_factory=dict)
    not_helpful_by_intent: dict[str, int] = field(default_factory=dict)
    unanswered: list[UnansweredGroup] = field(default_factory=list)


class Questions(Protocol):
    """The questions members asked."""

    async def record(self, record: QuestionRecord) -> None: ...

    async def get(self, question_id: str) -> StoredQuestion | None: ...

    async def since(self, since: datetime.datetime) -> list[StoredQuestion]: ...


class Feedback(Protocol):
    """Members' votes on answers."""

    async def record(self, question_id: str, member: str, helpful: bool) -> None:
        """One vote per member per answer; a later vote replaces the earlier one."""
        ...

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        """handoffs, helpful, not_helpful, and helpful:<intent> / not_helpful:<intent> keys."""
        ...


class Handoffs(Protocol):
    """Questions passed to a person, and who on the staff took and closed each."""

    async def record(self, question_id: str, member: str) -> None: ...

    async def take(self, question_id: str, staff: str) -> HandoffOwners | None:
        """Make `staff` (a Slack user id) the owner of this hand-off unless someone already is, in one
        statement (two instances: one wins). The owners after it; None when no hand-off of it is stored."""
        ...

    async def finish(self, question_id: str, staff: str) -> HandoffOwners | None:
        """Mark the hand-off done by `staff` (taking it too, if nobody had) unless it is done already."""
        ...

    async def since(self, since: datetime.datetime) -> list[HandoffTimes]: ...


class Labels(Protocol):
    """What staff taught the bot (Teach)."""

    async def add(self, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
        """Store one label per text (`intent` None: off-topic), made by the raw Slack id `staff` (hashed
        by the store), all in one transaction; returns their ids."""
        ...

    async def read(self, include_undone: bool = False) -> list[StoredLabel]:
        """Every label, oldest first; undone ones only when asked."""
        ...

    async def undo(self, label_id: int) -> bool:
        """Undo one label; False when there is no such label or it was undone already."""
        ...

    async def mark_exported(self, label_ids: Sequence[int]) -> None:
        """Record that these labels are now examples in the content file."""
        ...

    async def version(self) -> str:
        """A short string that changes whenever a label is added, undone or exported: cheap to poll."""
        ...


class Limits(Protocol):
    """Rate limits every instance shares."""

    async def hit(self, key: str, window_start: int) -> int:
        """Count one hit of a shared rate limit (`key` names what and who; it is stored hashed) in the
        window starting at `window_start` (epoch seconds); the hits in that window so far."""
        ...


class QuestionStore(Protocol):
    """The question log's database: its schema, batched writes, erasure and retention, which span every
    table; and one part per concern, each a small interface of its own. Callers hold the part they need
    (`store.labels`, `store.handoffs`, ...)."""

    # The parts, read-only here (a part is never replaced), so each store may hold its own kind.
    @property
    def questions(self) -> Questions: ...

    @property
    def feedback(self) -> Feedback: ...

    @property
    def handoffs(self) -> Handoffs: ...

    @property
    def labels(self) -> Labels: ...

    @property
    def limits(self) -> Limits: ...

    async def migrate(self) -> None:
        """Create or upgrade the schema (versioned; safe with several instances at once)."""
        ...

    async def write(self, rows: Sequence[Write]) -> None:
        """Write and commit these rows in order, in one transaction: all of them or (raising) none.
        Idempotent: a batch retried after a timeout that did commit adds nothing twice."""
        ...

    async def ping(self) -> None:
        """Raise unless the database takes a write now (tells an outage from a row that fails)."""
        ...

    def member_hash(self, member: str) -> str:
        """The keyed hash the store writes for this raw Slack user id."""
        ...

    async def forget(self, member: str) -> int:
        """Delete every row of this member (right to erasure) and redact every mention of them in other
        members' questions; returns how many rows were deleted."""
        ...

    async def purge(self, older_than: datetime.timedelta) -> int:
        """Delete rows older than the retention period; returns how many rows went."""
        ...

    async def close(self) -> None: ...
