"""Why the engine chose an answer: the stages' reasons written on it, the model's probabilities, and
the examples most like the question. Read-only: it reads the very answer the bot gave, re-runs no rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from intents.engine import Engine
from intents.model import Answer, Intent
from intents.training import training_data


@dataclass(frozen=True)
class Example:
    """One example question from the content file and how alike the question is to it (0 to 1)."""

    text: str
    intent_id: str  # "none" for an off-topic example or question
    similarity: float
    line: int | None = None  # where it is written in the content file, when known
    column: int | None = None


@dataclass(frozen=True)
class Explanation:
    question: str
    intent_id: str | None  # None: the bot fell back
    mode: str  # full, signup, read, more (a follow-up) or fallback
    followup: bool
    confidence: float  # the model's probability of the answer (a follow-up: its phrase overlap)
    threshold: float
    alternatives: tuple[tuple[str, float], ...]  # the next labels by probability, "none" among them
    offered: tuple[str, ...]  # those the reply offered as buttons ("Did you mean"): above the floor
    best_example: Example | None  # the example most like the question, of any intent
    best_of_intent: Example | None  # the chosen intent's example most like the question
    reasons: tuple[tuple[str, str], ...] = ()  # (stage, reason), in the pipeline's order


ALTERNATIVES_SHOWN = 4


def _where(intents: dict[str, Intent], intent_id: str, text: str) -> tuple[int | None, int | None]:
    intent = intents.get(intent_id)
    if intent is None or text not in intent.examples or not intent.example_lines:
        return None, None
    line, column = intent.example_lines[intent.examples.index(text)]
    return line, column


def best_examples(engine: Engine, question: str, intent_id: str | None) -> tuple[Example | None, Example | None]:
    """The training text most like the question overall, and the best one of `intent_id`."""
    texts, labels, _ = training_data(engine.catalogue)
    if not texts:
        return None, None
    sims = engine.classifier.similarities(engine.classifier.read(question), texts)
    intents = {i.id: i for i in engine.catalogue.intents}

    def example(n: int) -> Example:
        line, column = _where(intents, labels[n], texts[n])
        return Example(texts[n], labels[n], round(sims[n], 4), line, column)

    order = sorted(range(len(sims)), key=lambda n: -sims[n])
    if sims[order[0]] <= 0:
        return None, None
    of_intent = next((example(n) for n in order if labels[n] == intent_id and sims[n] > 0), None)
    return example(order[0]), of_intent


def explain(engine: Engine, answer: Answer) -> Explanation:
    """The reasons behind `answer`, which `engine` gave for `answer.question`."""
    intent_id = answer.intent.id if answer.intent else None
    alternatives = tuple((label, round(p, 4)) for label, p in answer.ranked if label != intent_id)
    best, of_intent = best_examples(engine, answer.question, intent_id)
    return Explanation(
        question=answer.question,
        intent_id=intent_id,
        mode=answer.mode,
        followup=answer.followup,
        confidence=answer.confidence,
        threshold=engine.threshold,
        alternatives=alternatives[:ALTERNATIVES_SHOWN],
        offered=tuple(i.id for i in answer.alternatives),
        best_example=best,
        best_of_intent=of_intent,
        reasons=answer.reasons,
    )


__all__ = ["Example", "Explanation", "best_examples", "explain"]
