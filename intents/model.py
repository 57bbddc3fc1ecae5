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


OfferState = Literal["open", "closed", "unknown"]


@dataclass(frozen=True)
class OfferStatus:
    """Whether an offer takes members now, as staff last confirmed it. Only an open offer is offered
    as a sign-up: the bot is read years after the briefing that announced most offers."""

    state: OfferState = field(metadata=in_file())
    # The day staff confirmed this state (for an open offer: that it was open). Shown for an open or closed
    # offer; an unknown one has nothing confirmed, so members see only its answer's `reviewed` date.
    as_of: datetime.date = field(metadata=in_file())
    # Open only, when known: the last day to join, and when the next cohort starts (text, as staff know it).
    closes: datetime.date | None = field(default=None, metadata=in_file(required=False))
    next_cohort: str | None = field(default=None, metadata=in_file(required=False))
    # Closed only: the intent id of what replaced it, when staff name one.
    replaced_by: str | None = field(default=None, metadata=in_file(required=False))


@dataclass(frozen=True)
class Source:
    """One entry of the project's source register (`sources:` in responses.yaml): every `source:` and
    every address the bot links must be one of these, so a fresh clone can check its links itself."""

    url: str = field(metadata=in_file())
    title: str = field(metadata=in_file())
    publisher: str = field(metadata=in_file())
    # What the source supports, in our own words: what an editor may cite it for.
    supports: str = field(metadata=in_file())
    # As precise as the source is: YYYY, YYYY-MM or YYYY-MM-DD; left out for undated pages (home page).
    date: str | None = field(default=None, metadata=in_file(required=False))
    # The offer (intent id) whose own page this is: only such a page may be that offer's sign-up button.
    offer_page: str | None = field(default=None, metadata=in_file(required=False))
    # Other offers (intent ids) the shared source list names this page for (a closest known page, a report
    # of the offer's): an offer's buttons go only to its own page or to pages registered for it here.
    for_offers: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    # The topics (intent ids) this source gives later news of: a claim that there is "no update" on one
    # of them is refused when the source is dated after the topic's own source.
    reports_on: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    # The review's recommendations in this source's own words, in order (recommendation 1 first): an
    # answer citing the source that names "Recommendation 6: ..." must use these words.
    recommendations: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    line: int = 0

    @property
    def newest_day(self) -> datetime.date | None:
        """The last day the source's date could mean (2023-06 is up to 30 June 2023), or None undated."""
        if not self.date:
            return None
        parts = [int(p) for p in self.date.split("-")]
        if len(parts) == 3:
            return datetime.date(parts[0], parts[1], parts[2])
        if len(parts) == 2:
            year, month = parts[0] + parts[1] // 12, parts[1] % 12 + 1
            return datetime.date(year, month, 1) - datetime.timedelta(days=1)
        return datetime.date(parts[0], 12, 31)


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
    # Makes the intent an offer: open, closed or unknown, as staff last confirmed it (OfferStatus).
    status: OfferStatus | None = field(default=None, metadata=in_file(required=False))
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
        return self.status is not None or self.signup is not None

    @property
    def is_open(self) -> bool:
        """Only an open offer with its own sign-up link is offered as a sign-up."""
        return self.status is not None and self.status.state == "open" and self.signup is not None

    @property
    def is_topic(self) -> bool:
        """Substantive answers (with links) become a thread's topic; small talk ("hello") does not."""
        return bool(self.links) or self.is_offer


@dataclass(frozen=True)
class Texts:
    """Wordings members read that are not any one intent's answer (`settings.texts` in responses.yaml).
    Each default reads well on its own; TEXT_PLACEHOLDERS says what each may contain in braces."""

    signup_open: str = field(
        default="To sign up for {offer}, use the button below. The team confirmed on {as_of} that it was open.",
        metadata=in_file(required=False),
    )
    signup_closes: str = field(default="It closes on {closes}.", metadata=in_file(required=False))
    signup_next_cohort: str = field(default="Next cohort: {next_cohort}.", metadata=in_file(required=False))
    # An offer of unknown standing has no "as of" date: nobody confirmed anything. The date its answer
    # was last checked is the intent's `reviewed`, shown once, under the answer.
    signup_unknown: str = field(
        default=(
            "Our sources do not say whether {offer} still runs, so I can't sign you up. To ask about current "
            "dates and places, ask a person from the team."
        ),
        metadata=in_file(required=False),
    )
    signup_closed: str = field(
        default="{offer} has closed (the team confirmed this on {as_of}), so there is nothing to sign up for.",
        metadata=in_file(required=False),
    )
    signup_replaced: str = field(
        default="It was replaced by {replacement}: see the button below.", metadata=in_file(required=False)
    )
    signup_nothing: str = field(
        default=(
            "There is nothing to sign up for on {topic}. These are our offers for leaders, and what we know of "
            "where each stands:"
        ),
        metadata=in_file(required=False),
    )
    offers_intro: str = field(
        default="Our offers for leaders, and what we know of where each stands:", metadata=in_file(required=False)
    )
    ask_back: str = field(
        default="I'm not sure which of these you mean. Choose one and I'll answer here:",
        metadata=in_file(required=False),
    )
    offers_unclear: str = field(
        default="I'm not sure which offer you mean. These are all of them, and what we know of where each stands:",
        metadata=in_file(required=False),
    )
    offer_open_line: str = field(default="Open: confirmed on {as_of}.", metadata=in_file(required=False))
    offer_closed_line: str = field(default="Closed: confirmed on {as_of}.", metadata=in_file(required=False))
    offer_unknown_line: str = field(
        default="Our sources do not say whether it still runs: ask a person from the team.",
        metadata=in_file(required=False),
    )
    offer_more_button: str = field(default="More about it", metadata=in_file(required=False))
    ask_person_button: str = field(default="Ask a person", metadata=in_file(required=False))
    helpful_button: str = field(default="Helpful", metadata=in_file(required=False))
    not_helpful_button: str = field(default="Not helpful", metadata=in_file(required=False))
    thanks_helpful: str = field(default="Thanks for letting us know it helped.", metadata=in_file(required=False))
    sorry_not_helpful: str = field(
        default="Sorry that didn't help. You can ask a person from the team instead:", metadata=in_file(required=False)
    )
    already_handed_off: str = field(
        default="You've already asked the team about this one; they'll reply here.", metadata=in_file(required=False)
    )
    handoff_not_yours: str = field(
        default=(
            "Only the member who asked this question can pass it to the team. Ask it yourself and I'll offer "
            "you the same button."
        ),
        metadata=in_file(required=False),
    )
    handoff_unknown: str = field(
        default="Sorry, I can't find that question any more, so I can't pass it on.", metadata=in_file(required=False)
    )
    handoff_too_many: str = field(
        default="You've asked the team about several questions in the last hour; they'll get to those first.",
        metadata=in_file(required=False),
    )
    cannot_post: str = field(
        default="I can't post in this channel. Invite me with `/invite @` and my name, then try again.",
        metadata=in_file(required=False),
    )
    slow_down: str = field(
        default="You're sending questions faster than I can answer them well. Please wait a few seconds and ask again.",
        metadata=in_file(required=False),
    )
    apology: str = field(
        default=(
            "Sorry, something went wrong on my side and I couldn't answer that. Please try again in a moment, "
            "or get in touch with the NHS Confederation team."
        ),
        metadata=in_file(required=False),
    )
    # Where each text staff wrote starts in the file, for precise messages.
    lines: tuple[tuple[str, int], ...] = field(default=(), compare=False)

    def line_of(self, name: str) -> int:
        return dict(self.lines).get(name, 1)


# What each text may contain in braces; any other {word} is an error in `check`.
TEXT_PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "signup_open": ("offer", "as_of"),
    "signup_closes": ("closes",),
    "signup_next_cohort": ("next_cohort",),
    "signup_unknown": ("offer",),
    "signup_closed": ("offer", "as_of"),
    "signup_replaced": ("replacement",),
    "signup_nothing": ("topic",),
    "offer_open_line": ("as_of",),
    "offer_closed_line": ("as_of",),
    "offer_unknown_line": (),
}


@dataclass(frozen=True)
class ContentSettings:
    confidence_threshold: float = field(metadata=in_file())
    # On a fallback, only intents scoring at least this are offered as "did you mean"; at most the threshold.
    suggestion_floor: float = field(metadata=in_file(required=False))
    fallback_text: str = field(metadata=in_file())
    contact_text: str = field(metadata=in_file())
    default_source: str = field(metadata=in_file())
    followups: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=in_file(required=False))
    # Off-topic questions by area ("everyday", "nhs_elsewhere"...): each area is a class of its own, so the
    # bot learns what a weather question and what a GP contract question look like apart. A plain list
    # in the file is one area, named "off_topic".
    out_of_scope: dict[str, tuple[str, ...]] = field(default_factory=dict, metadata=in_file(required=False))
    # Words that ask where something stands now ("yet", "since", "progress"): see Intent.status_of.
    status_words: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    # `bot check` warns about an intent whose `reviewed` date is older than this many days.
    review_after_days: int = field(default=365, metadata=in_file(required=False))
    # "Ask a person": what the member is told (the channel is the operator's HANDOFF_CHANNEL).
    handoff_text: str = field(
        default="Thanks: I've passed your question to the NHS Confederation team, who will reply to you here.",
        metadata=in_file(required=False),
    )

    # Phrases that carry the Confederation's own view, and the words that say whose view a sentence gives:
    # `check` refuses a sentence that uses one of the first without one of the second.
    view_phrases: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    view_markers: tuple[str, ...] = field(default=(), metadata=in_file(required=False))
    texts: Texts = field(default_factory=Texts, metadata=in_file(required=False))

    @property
    def off_topic_examples(self) -> tuple[str, ...]:
        """Every off-topic example, whatever its area."""
        return tuple(text for texts in self.out_of_scope.values() for text in texts)


@dataclass(frozen=True)
class Catalogue:
    settings: ContentSettings = field(metadata=in_file())
    intents: tuple[Intent, ...] = field(metadata=in_file())
    vocabulary: Vocabulary = field(default_factory=Vocabulary, metadata=in_file(required=False))
    # The source register: every address the content may cite or link (Source).
    sources: tuple[Source, ...] = field(default=(), metadata=in_file(required=False))
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
Mode = Literal["full", "signup", "read", "more", "fallback", "ask"]


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
