"""The stages a question goes through, named once and in order (STAGES); each stage's constants live
beside it, and each writes its reason on the decision, which the why panel, `bot report` and `learn` read.
`bot eval --without STAGE` measures what a stage is worth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from intents.model import Mode
from intents.text import content_words
from intents.training import NONE_LABEL

if TYPE_CHECKING:
    from intents.engine import Engine


@dataclass
class Decision:
    """One question on its way through the stages."""

    question: str
    previous: str | None  # the conversation's topic, if any
    text: str = ""  # as the model reads it (normalise)
    ranked: tuple[tuple[str, float], ...] = ()  # the model's probabilities, best first (classify)
    intent_id: str | None = None
    confidence: float = 0.0
    mode: Mode = "full"
    followup: bool = False
    chatter: bool = False  # no word in it: no answer and no "did you mean"
    done: bool = False  # a stage decided: the later ones do not run
    reasons: list[tuple[str, str]] = field(default_factory=list)

    def say(self, stage: str, reason: str) -> None:
        self.reasons.append((stage, reason))


class Stage(Protocol):
    name: str

    def run(self, engine: Engine, d: Decision) -> None: ...


class Normalise:
    """The content's vocabulary (synonyms, number words, concepts) reads the question first."""

    name = "normalise"

    def run(self, engine: Engine, d: Decision) -> None:
        d.text = engine.classifier.read(d.question)


class Followup:
    """In a conversation with a topic, a message that is nothing but a follow-up phrase ("how do I sign
    up?", "tell me more") follows that topic. One that says anything of its own is a new question."""

    name = "followup"
    # How much of the message a phrase of settings.followups must share (words in both / in either).
    OVERLAP = 0.34

    def kind(self, engine: Engine, question: str) -> tuple[str | None, float]:
        tokens = engine.catalogue.vocabulary.normalise(question)
        words = set(tokens)
        if not words or content_words([t for t in tokens if t not in engine.followup_words]):
            return None, 0.0
        best: tuple[str | None, float] = (None, 0.0)
        for kind, phrases in engine.followup_phrases.items():
            for phrase in phrases:
                score = len(words & phrase) / len(words | phrase)
                if score > best[1]:
                    best = (kind, score)
        return best if best[1] >= self.OVERLAP else (None, 0.0)

    def run(self, engine: Engine, d: Decision) -> None:
        previous = engine.catalogue.get(d.previous)
        if previous is None:
            return
        kind, score = self.kind(engine, d.question)
        if kind is None:
            return
        d.intent_id, d.confidence, d.mode, d.followup, d.done = previous.id, round(score, 4), kind, True, True  # type: ignore[assignment]
        d.say(self.name, f"'{kind}' of the conversation's topic {previous.id} (phrase overlap {score:.2f})")


class Wordless:
    """A message without a word (numbers, symbols, emoji: "+1", "2+2", ":thumbsup:", "100%") is chatter,
    never a topic and never a "did you mean": a recommendation by number needs the word (or the slash
    command). Decided before the model, which reads "1" in "+1" as half of "recommendation 1"."""

    name = "wordless"
    _EMOJI = re.compile(r":[a-z0-9_+'-]+:")
    _WORD = re.compile(r"[^\W\d_]{2,}")

    def run(self, engine: Engine, d: Decision) -> None:
        if self._WORD.search(self._EMOJI.sub(" ", d.question)):
            return
        d.ranked = engine.classifier.ranked(d.text)  # kept for the why panel; it decides nothing here
        d.intent_id, d.confidence, d.mode, d.chatter, d.done = None, 0.0, "fallback", True, True
        d.say(self.name, "no word in it: chatter, not a question")


class Classify:
    """The model: calibrated probabilities over every intent and "none" (off-topic)."""

    name = "classify"

    def run(self, engine: Engine, d: Decision) -> None:
        d.ranked = engine.classifier.ranked(d.text)  # empty for emoji or markup alone: the model says "none"
        d.intent_id, d.confidence = d.ranked[0][0], round(d.ranked[0][1], 4)
        d.say(self.name, f"{d.intent_id} p={d.confidence:.2f}")


class Status:
    """A question about a topic that asks where it stands (settings.status_words: "was the national
    induction ever introduced?") goes to the intent reporting on it (its `status_of`)."""

    name = "status"

    def run(self, engine: Engine, d: Decision) -> None:
        status = engine.status_intent.get(d.intent_id or "")
        if status is None:
            return
        words = set(engine.catalogue.vocabulary.normalise(d.question)) & engine.status_words
        if words:
            d.say(self.name, f"{d.intent_id} asked where it stands ('{sorted(words)[0]}'): {status}")
            d.intent_id = status


class Fallback:
    """Off-topic ("none") or too unsure (settings.confidence_threshold, a probability): the bot says it
    does not know, offering topics at least settings.suggestion_floor probable as "did you mean"."""

    name = "fallback"

    def run(self, engine: Engine, d: Decision) -> None:
        if d.intent_id == NONE_LABEL:
            # A fallback's confidence is the best intent's probability: how near the bot came to answering.
            best = next(((label, p) for label, p in d.ranked if label != NONE_LABEL), (None, 0.0))
            d.say(self.name, f"off-topic p={d.confidence:.2f} (next: {best[0]} p={best[1]:.2f})")
            d.confidence = round(best[1], 4)
        elif d.confidence < engine.threshold:
            d.say(self.name, f"p={d.confidence:.2f} < threshold {engine.threshold:g}")
        else:
            return
        d.intent_id, d.mode = None, "fallback"


# The order questions take. normalise and classify are the model itself; status is a rule that measured
# its worth on never-read sets (docs/architecture.md, "The pipeline"); followup acts only in a conversation.
# Deleted for paying nothing there: task (a request to write something -> fallback; the model sends
# those to "none" itself), number (a recommendation named by number the model gave to no topic: it
# changed no answer there), and the matcher's old rules (anchors, foreign words, other reviews, small talk).
STAGES: tuple[Stage, ...] = (Normalise(), Followup(), Wordless(), Classify(), Status(), Fallback())
STAGE_NAMES = tuple(s.name for s in STAGES)
# Without classify and fallback there is no answer at all; normalise is part of the model (it learnt from
# normalised text: 5-fold cross-validation on the training data, 94.3% in scope with it, 91.2% without).
REQUIRED = frozenset({"normalise", "classify", "fallback"})

__all__ = ["REQUIRED", "STAGES", "STAGE_NAMES", "Decision"]
