"""What the bot keeps about the questions members ask: the interface the listeners use.

The question log and feedback live in SQLite by default (a file under the project, no set-up) or in
PostgreSQL when DATABASE_URL says so (bot/storage_sql.py). Members are kept only as a keyed hash
(HMAC-SHA256 with a secret), never as their Slack user id: callers pass the raw id and the store
hashes it before anything is written.
"""

from __future__ import annotations

import datetime
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
class StoredQuestion:
    id: str
    at: datetime.datetime
    surface: str
    intent: str | None
    confidence: float | None
    outcome: str
    text: str | None
    channel: str | None
    message_ts: str | None


@dataclass(frozen=True)
class UnansweredGroup:
    text: str  # a representative question
    count: int
    suggested: str | None  # the intent the matcher finds closest, for `learn`


@dataclass(frozen=True)
class Report:
    days: int
    questions: int
    answered: int
    fallback: int
    handoffs: int
    helpful: int
    not_helpful: int
    by_intent: dict[str, int] = field(default_factory=dict)
    helpful_by_intent: dict[str, int] = field(default_factory=dict)
    not_helpful_by_intent: dict[str, int] = field(default_factory=dict)
    unanswered: list[UnansweredGroup] = field(default_factory=list)


class QuestionStore(Protocol):
    async def migrate(self) -> None:
        """Create or upgrade the schema (versioned; safe with several instances at once)."""
        ...

    async def record_question(self, record: QuestionRecord) -> None: ...

    async def record_feedback(self, question_id: str, member: str, helpful: bool) -> None:
        """One vote per member per answer; a later vote replaces the earlier one."""
        ...

    async def record_handoff(self, question_id: str, member: str) -> None: ...

    async def get_question(self, question_id: str) -> StoredQuestion | None: ...

    async def forget(self, member: str) -> int:
        """Delete every row of this member (right to erasure); returns how many rows went."""
        ...

    async def purge(self, older_than: datetime.timedelta) -> int:
        """Delete rows older than the retention period; returns how many rows went."""
        ...

    async def questions_since(self, since: datetime.datetime) -> list[StoredQuestion]: ...

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        """handoffs, helpful, not_helpful, and helpful:<intent> / not_helpful:<intent> keys."""
        ...

    async def close(self) -> None: ...
