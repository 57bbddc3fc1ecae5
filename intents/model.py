"""Value objects that cross the engine's boundary."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from intents.text import Vocabulary

# Intent ids the code itself relies on (slash commands, the App Home); `bot check` names any missing.
HELP = "help"
KEY_POINTS = "key_points"
RECOMMENDATIONS = "recommendations"
OFFERS_OVERVIEW = "offers_overview"
CONTACT = "contact"
REQUIRED_INTENT_IDS = (HELP, KEY_POINTS, RECOMMENDATIONS, OFFERS_OVERVIEW, CONTACT)


def in_file(*, required: bool = True) -> dict[str, bool]:
    """Field metadata: this field is written in responses.yaml (required unless it says otherwise).
    The loader reads its table of known fields from these marks, so the schema is written once."""
    return {"yaml": True, "required": required}


@dataclass(frozen=True)
class Link:
    label: str = field(metadata=in_file())
    url: str = field(metadata=in_file())


@dataclass(frozen=True)
class Intent:
    """One topic the bot can answer, as staff wrote it in responses.yaml."""

    id: str = field(metadata=in_file())
    title: str = field(metadata=in_file())
    examples: tuple[str, ...] = field(metadata=in_file())
    summary: str = field(metadata=in_file())
    # When a person last checked this intent against its sources, and where its facts come from.
    reviewed: datetime.date | None = field(default=None, metadata=in_file())
    source: Link | None = field(default=None, metadata=in_file())
    details: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    # A longer text for "tell me more"; without it the bot says where to read more.
    more: str | None = field(default=None, metadata=in_file(required=False))
    links: tuple[Link, ...] = field(default=(), metadata=in_file(required=False))
    related: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    signup: Link | None = field(default=None, metadata=in_file(required=False))
    recommendation_number: int | None = field(default=None, metadata=in_file(required=False))
    # The topics whose progress this intent reports ("where recommendations 5 to 7 stand"): a question
    # about one of them that asks where it stands (settings.status_words) is answered here instead.
    status_of: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
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
    confidence_threshold: float = field(metadata=in_file())
    # On a fallback, only intents scoring at least this are offered as "did you mean"; at most the threshold.
    suggestion_floor: float = field(metadata=in_file(required=False))
    fallback_text: str = field(metadata=in_file())
    contact_text: str = field(metadata=in_file())
    default_source: str = field(metadata=in_file())
    staff_user_ids: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    staff_usergroup_ids: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    followups: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=in_file(required=False))
    # Off-topic questions by area ("everyday", "nhs_elsewhere"...): each area is a class of its own, so the
    # bot learns what a weather question and what a GP contract question look like apart. A plain list
    # in the file is one area, named "off_topic".
    out_of_scope: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=in_file(required=False))
    # Words that ask where something stands now ("yet", "since", "progress"): see Intent.status_of.
    status_words: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    # `bot check` warns about an intent whose `reviewed` date is older than this many days.
    review_after_days: int = field(default=365, metadata=in_file(required=False))
    # "Ask a person": the Slack channel staff watch (C... or G...), and what the member is told.
    handoff_channel: str | None = field(default=None, metadata=in_file(required=False))
    handoff_text: str = field(
        default="Thanks: I've passed your question to the NHS Confederation team, who will reply to you here.",
        metadata=in_file(required=False),
    )

    @property
    def off_topic_examples(self) -> tuple[str, ...]:
        """Every off-topic example, whatever its area."""
        return tuple(text for texts in self.out_of_scope.values() for text in texts)


@dataclass(frozen=True)
class Catalogue:
    settings: ContentSettings = field(metadata=in_file())
    intents: tuple[Intent, ...] = field(metadata=in_file())
    vocabulary: Vocabulary = field(default_factory=Vocabulary, metadata=in_file(required=False))
    path: Path = Path("responses.yaml")
    digest: str = ""  # a short hash of the file's text: which version is in service
    # training/*.tsv beside the file (intents.training.LabelledQuestion): labelled questions to learn from.
    training: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {i.id: i for i in self.intents})

    def get(self, intent_id: str | None) -> Intent | None:
        if intent_id is None:
            return None
        return self._by_id.get(intent_id)  # type: ignore[attr-defined]

    @property
    def offers(self) -> tuple[Intent, ...]:
        return tuple(i for i in self.intents if i.is_offer)

    @property
    def last_reviewed(self) -> datetime.date | None:
        dates = [i.reviewed for i in self.intents if i.reviewed is not None]
        return max(dates) if dates else None


@dataclass(frozen=True)
class Candidate:
    intent_id: str
    score: float


@dataclass(frozen=True)
class Match:
    """The raw result of matching one question: best intent (or None), alternatives, and the score of
    the closest off-topic area (0 without off-topic examples)."""

    intent_id: str | None
    confidence: float
    alternatives: tuple[Candidate, ...] = ()
    off_topic: float = 0.0


# full: the answer; signup: how to join (or, for a topic with nothing to join, the offers); read: where
# to read more; more: the longer text for "tell me more" (where to read, without one); fallback.
Mode = Literal["full", "signup", "read", "more", "fallback"]


@dataclass(frozen=True)
class Answer:
    """What the bot should say: an intent to present, how, and near misses for 'did you mean'."""

    question: str
    intent: Intent | None
    confidence: float
    alternatives: tuple[Intent, ...]
    mode: Mode
    followup: bool = False
    # (stage, reason) for each stage that acted, in order: ("classify", "key_points p=0.83").
    reasons: tuple[tuple[str, str], ...] = ()
    # The model's probabilities, best first, "none" (off-topic) among them; empty when no model was asked.
    ranked: tuple[tuple[str, float], ...] = ()

    @property
    def is_fallback(self) -> bool:
        return self.intent is None

    @classmethod
    def chosen(cls, intent: Intent, mode: Mode = "full", question: str = "") -> Answer:
        """An answer picked directly (a button, a command argument), not matched from a question."""
        return cls(question or intent.title, intent, 1.0, (), mode)
