"""Value objects that cross the engine's boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Intent:
    """One topic the bot can answer, as staff wrote it in responses.yaml."""

    id: str
    title: str
    examples: tuple[str, ...]
    summary: str
    details: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    related: tuple[str, ...] = ()
    signup: Link | None = None
    source: str | None = None
    recommendation_number: int | None = None
    line: int = 0
    # (line, column) of each example in the file, in the order of `examples`.
    example_lines: tuple[tuple[int, int], ...] = field(default=(), compare=False)
    # Where each field starts in the file ("links.0" for the first link), for precise messages.
    field_lines: tuple[tuple[str, int], ...] = field(default=(), compare=False)

    def line_of(self, name: str) -> int:
        return dict(self.field_lines).get(name, self.line)

    @property
    def is_offer(self) -> bool:
        return self.signup is not None

    @property
    def is_topic(self) -> bool:
        """Substantive answers (with links) become a thread's topic; small talk ("hello") does not."""
        return bool(self.links) or self.signup is not None


@dataclass(frozen=True)
class ContentSettings:
    confidence_threshold: float
    # On a fallback, only intents scoring at least this are offered as "did you mean"; at most the threshold.
    suggestion_floor: float
    fallback_text: str
    contact_text: str
    default_source: str
    staff_user_ids: tuple[str, ...] = ()
    staff_usergroup_ids: tuple[str, ...] = ()
    followups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    out_of_scope: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    settings: ContentSettings
    intents: tuple[Intent, ...]
    path: Path
    digest: str = ""  # a short hash of the file's text: which version is in service

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {i.id: i for i in self.intents})

    def get(self, intent_id: str | None) -> Intent | None:
        if intent_id is None:
            return None
        return self._by_id.get(intent_id)  # type: ignore[attr-defined]

    @property
    def offers(self) -> tuple[Intent, ...]:
        return tuple(i for i in self.intents if i.is_offer)


@dataclass(frozen=True)
class Candidate:
    intent_id: str
    score: float


@dataclass(frozen=True)
class Match:
    """The raw result of matching one question: best intent (or None) and alternatives."""

    intent_id: str | None
    confidence: float
    alternatives: tuple[Candidate, ...] = ()


Mode = Literal["full", "signup", "read", "fallback"]


@dataclass(frozen=True)
class Answer:
    """What the bot should say: an intent to present, how, and near misses for 'did you mean'."""

    question: str
    intent: Intent | None
    confidence: float
    alternatives: tuple[Intent, ...]
    mode: Mode
    followup: bool = False

    @property
    def is_fallback(self) -> bool:
        return self.intent is None

    @classmethod
    def chosen(cls, intent: Intent, mode: Mode = "full", question: str = "") -> Answer:
        """An answer picked directly (a button, a command argument), not matched from a question."""
        return cls(question or intent.title, intent, 1.0, (), mode)
