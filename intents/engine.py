"""Question in, Answer out: the stages of intents.pipeline over one catalogue and its trained model."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from intents.classifier import Classifier
from intents.model import Answer, Candidate, Catalogue, Intent, Match
from intents.pipeline import REQUIRED, STAGE_NAMES, STAGES, Decision
from intents.text import NON_WORD, NUMBER_LINKS, REC_WORDS, strip_markup
from intents.training import NONE_LABEL

# "did you mean" offers at most this many topics.
MAX_ALTERNATIVES = 3
# Asking back: when the best topic is less probable than ASK_BELOW, or the next topic has at least CLOSE
# times its probability, the reply asks which of the (up to MAX_ALTERNATIVES) likeliest topics the member
# means instead of guessing. The probabilities are calibrated: below 0.8 the model itself gives its best
# guess at least a 1 in 5 chance of being wrong. On blind7 (its ask rate read, never its answers) about 1
# reply in 18 asks; the issue allows 1 in 7.
ASK_BELOW = 0.8
CLOSE = 0.5
# `signup <offer>` names an offer when the model gives it at least this share of what it gives all offers.
SIGNUP_SHARE = 0.5

_JOINED = re.compile(r"^rec(?:ommendation)?([1-9])$")  # "rec4"
_CLAUSE = re.compile(r"[,;:!?()\n]|\.(?:\s|$)")


def recommendation_number(text: str, numbers: dict[str, str]) -> int | None:
    """'recommendation 4', 'rec four', 'recommendation number 4', 'rec4' -> 4 (the slash command's
    `recommendation N`); the number must stand right beside the word, in the same clause."""
    for clause in _CLAUSE.split(strip_markup(text).lower()):
        words = NON_WORD.sub(" ", clause.replace("'", "")).split()
        for i, word in enumerate(words):
            joined = _JOINED.match(word)
            if joined:
                return int(joined.group(1))
            if word not in REC_WORDS:
                continue
            after = words[i + 1 : i + 3]
            if after and after[0] in NUMBER_LINKS:
                after = after[1:]
            for candidate in after[:1] + words[max(0, i - 1) : i]:
                digit = numbers.get(candidate, candidate)
                if len(digit) == 1 and digit in "123456789":
                    return int(digit)
    return None


class Engine:
    def __init__(self, catalogue: Catalogue, model_cache: Path | None = None) -> None:
        """`model_cache`: a folder where fitted models are kept, by a digest of what fitted them."""
        self.catalogue = catalogue
        self.threshold = catalogue.settings.confidence_threshold
        self.suggestion_floor = catalogue.settings.suggestion_floor
        self.classifier = Classifier(catalogue, model_cache)
        vocabulary = catalogue.vocabulary
        # topic -> the intent reporting where it stands, and the words that ask that.
        self.status_intent = {topic: i.id for i in catalogue.intents for topic in i.status_of}
        self.status_words = {w for phrase in catalogue.settings.status_words for w in vocabulary.normalise(phrase)}
        self.followup_phrases = {
            kind: [frozenset(vocabulary.normalise(p)) for p in phrases]
            for kind, phrases in catalogue.settings.followups.items()
        }
        self.followup_words = {w for phrases in self.followup_phrases.values() for p in phrases for w in p}
        self._by_number = {i.recommendation_number: i for i in catalogue.intents if i.recommendation_number}

    def decide(self, question: str, previous_intent: str | None = None, without: Iterable[str] = ()) -> Decision:
        """Every stage but those in `without`, in order, until one decides."""
        skip = frozenset(without)
        unknown = skip - set(STAGE_NAMES)
        if unknown or skip & REQUIRED:
            raise ValueError(f"cannot run without {', '.join(sorted(unknown | (skip & REQUIRED)))}")
        d = Decision(question, previous_intent)
        for stage in STAGES:
            if stage.name not in skip:
                stage.run(self, d)
            if d.done:
                break
        return d

    def answer(self, question: str, previous_intent: str | None = None, without: Iterable[str] = ()) -> Answer:
        """Answer a question; `previous_intent` is the conversation's topic (a thread's, a DM's)."""
        d = self.decide(question, previous_intent, without)
        intent = self.catalogue.get(d.intent_id)
        alternatives = tuple(i for i in (self.catalogue.get(c) for c in self._offered(d)) if i is not None)
        mode = d.mode if intent is not None else "fallback"
        choices = self._choices(d) if intent is not None and mode == "full" else ()
        if choices:
            mode, alternatives = "ask", tuple(i for i in map(self.catalogue.get, choices) if i is not None)
        return Answer(question, intent, d.confidence, alternatives, mode, d.followup, tuple(d.reasons), d.ranked)

    def _choices(self, d: Decision) -> tuple[str, ...]:
        """The topics to ask back between, the likeliest first; () when the model is sure enough."""
        if d.followup or not self.is_topic(d.intent_id):
            return ()
        topics = [(label, p) for label, p in d.ranked if self.is_topic(label)]
        if len(topics) < 2 or topics[0][0] != d.intent_id:
            return ()
        unsure = d.confidence < ASK_BELOW or topics[1][1] >= CLOSE * topics[0][1]
        choices = tuple(label for label, p in topics[:MAX_ALTERNATIVES] if p >= self.suggestion_floor)
        return choices if unsure and len(choices) >= 2 else ()

    def _offered(self, d: Decision) -> tuple[str, ...]:
        """On a fallback, the topics at least suggestion_floor probable: "did you mean"."""
        if d.intent_id is not None or d.followup or d.chatter:
            return ()
        return self.topics_above(d.ranked, self.suggestion_floor)

    def topics_above(self, ranked: Iterable[tuple[str, float]], floor: float) -> tuple[str, ...]:
        return tuple(label for label, p in ranked if p >= floor and self.is_topic(label))[:MAX_ALTERNATIVES]

    def match(self, question: str, without: Iterable[str] = ()) -> Match:
        """The answer as `bot eval` counts it: the intent (None: fallback) and what a fallback offered."""
        a = self.answer(question, without=without)
        offered = tuple(Candidate(i.id, dict(a.ranked).get(i.id, 0.0)) for i in a.alternatives)
        return Match(a.intent.id if a.intent else None, a.confidence, offered, dict(a.ranked).get(NONE_LABEL, 0.0))

    def suggestions(self, question: str) -> tuple[str, ...]:
        """The topics a fallback would offer for this question, had it fallen back."""
        return self.topics_above(self.decide(question).ranked, self.suggestion_floor)

    def closest_topic(self, answer: Answer) -> str | None:
        """The intent a question the bot could not answer is closest to, for `bot report`: None when the
        model thinks it off-topic."""
        if not answer.ranked:
            return None
        best = answer.ranked[0][0]
        return None if best == NONE_LABEL else best

    def is_topic(self, intent_id: str | None) -> bool:
        intent = self.catalogue.get(intent_id)
        return intent is not None and intent.is_topic

    def recommendation(self, number: int) -> Intent | None:
        return self._by_number.get(number)

    @property
    def recommendation_count(self) -> int:
        return len(self._by_number)

    def recommendation_named(self, text: str) -> Intent | None:
        """The recommendation `text` names by number ("recommendation 4", "rec four"), if any."""
        return self.recommendation(recommendation_number(text, dict(self.catalogue.vocabulary.numbers)) or 0)

    def signup_offer(self, text: str) -> Intent | None:
        """The offer a `signup <text>` command names, or None when it names none clearly."""
        offers = {i.id for i in self.catalogue.offers}
        if not text.strip() or not offers:
            return None
        ranked = [(label, p) for label, p in self.classifier.ranked(self.classifier.read(text)) if label in offers]
        total = sum(p for _, p in ranked)
        if not ranked or total <= 0 or ranked[0][1] / total < SIGNUP_SHARE:
            return None
        return self.catalogue.get(ranked[0][0])
