"""Why the engine chose an answer: the intent, how sure it was, the near misses and the examples that
matched best. Read-only: it reuses the matcher's own indexes and weights and changes no score, so staff
see the reasons behind the very answer the bot gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from intents.engine import SMALL_TALK_CONFIDENCE, Engine
from intents.matcher import Matcher
from intents.model import Answer, Intent


@dataclass(frozen=True)
class Example:
    """One example question from the content file and how alike the question is to it (0 to 1)."""

    text: str
    intent_id: str  # off_topic_label(area) for an entry of settings.out_of_scope
    similarity: float
    line: int | None = None  # where it is written in the content file, when known
    column: int | None = None


@dataclass(frozen=True)
class Explanation:
    question: str
    intent_id: str | None  # None: the bot fell back
    mode: str  # full, signup, read, more (a thread follow-up) or fallback
    followup: bool
    confidence: float
    threshold: float
    alternatives: tuple[tuple[str, float], ...]  # the next intents by score, however weak
    offered: tuple[str, ...]  # those the reply offered as buttons ("Did you mean"): above the floor
    best_example: Example | None  # the example most like the question, of any intent
    best_of_intent: Example | None  # the chosen intent's example most like the question
    # A topic that scored above the threshold but was held back: the question has no word of ours.
    held_back: str | None = None
    # Read again as small talk, with every word (Engine._read_as_small_talk): then `threshold` is the
    # small-talk one, and `topic_matcher_said` what the topic matcher alone answered (None: a fallback).
    small_talk: bool = False
    topic_matcher_said: str | None = None
    # A topic passed over for being about something else: the question holds `foreign` words, which
    # off-topic examples use and no intent's examples do, and the topic did not lead clearly.
    passed_over: str | None = None
    foreign: tuple[str, ...] = ()
    # The name of another review, report or programme the question asks about ("cass"): its topic was
    # passed over.
    other_review: str | None = None
    # The opening of settings.task_openings the question starts with ("draft"): a request to make something.
    task: str | None = None


def example_similarities(matcher: Matcher, question: str) -> list[float]:
    """The question's similarity to every example, in the matcher's example order: the same word and
    character views the matcher blends for an intent's nearest examples."""
    words = matcher.words(question)
    if not words:
        return [0.0] * len(matcher.texts)
    return matcher.example_similarities(words)[0]


def _where(intents: dict[str, Intent], intent_id: str, text: str) -> tuple[int | None, int | None]:
    intent = intents.get(intent_id)
    if intent is None or text not in intent.examples or not intent.example_lines:
        return None, None
    line, column = intent.example_lines[intent.examples.index(text)]
    return line, column


def best_examples(engine: Engine, question: str, intent_id: str | None) -> tuple[Example | None, Example | None]:
    """The example most like the question overall, and the best one of `intent_id` (None without it)."""
    matcher = engine.matcher
    sims = example_similarities(matcher, question)
    intents = {i.id: i for i in engine.catalogue.intents}

    def example(doc_id: int) -> Example:
        label, text = matcher.labels[doc_id], matcher.texts[doc_id]
        line, column = _where(intents, label, text)
        return Example(text, label, round(sims[doc_id], 4), line, column)

    order = sorted(range(len(sims)), key=lambda d: -sims[d])
    if not order or sims[order[0]] <= 0:
        return None, None
    best = example(order[0])
    of_intent = next((example(d) for d in order if matcher.labels[d] == intent_id and sims[d] > 0), None)
    return best, of_intent


def explain(engine: Engine, answer: Answer) -> Explanation:
    """The reasons behind `answer`, which `engine` gave for `answer.question`."""
    # The engine's own match with the suggestion floor at 0: near misses too weak to offer members
    # still tell staff which intent was next in line.
    match = engine.matcher.match(answer.question, engine.threshold, floor=0.0)
    intent_id = answer.intent.id if answer.intent else None
    topics = engine.match_topics(answer.question)
    small_talk = not answer.followup and topics.intent_id != intent_id
    alternatives = tuple((c.intent_id, c.score) for c in match.alternatives if c.intent_id != intent_id)
    best, of_intent = best_examples(engine, answer.question, intent_id)
    # The engine's order (Engine.match_topics): a request to make something, then a topic held back for
    # want of our words, then a topic passed over for another review's name or for a foreign word.
    fell_back = answer.intent is None and not answer.followup
    task = engine.task_opening(answer.question) if fell_back else None
    held_back = passed_over = other_review = None
    foreign: tuple[str, ...] = ()
    topic = match.intent_id if fell_back and task is None and engine.is_topic(match.intent_id) else None
    if topic is not None and engine.held_back(answer.question, topic, match.confidence):
        held_back = topic
    elif topic is not None:
        other_review = engine.other_review(answer.question)
        foreign = () if other_review else engine.about_something_else(answer.question, match)
        passed_over = topic if other_review or foreign else None
    if topic is not None and (held_back or passed_over):
        alternatives = ((topic, match.confidence), *alternatives)
    elif task is not None and match.intent_id is not None:
        alternatives = ((match.intent_id, match.confidence), *alternatives)
    return Explanation(
        question=answer.question,
        intent_id=intent_id,
        mode=answer.mode,
        followup=answer.followup,
        confidence=answer.confidence,
        threshold=SMALL_TALK_CONFIDENCE if small_talk else engine.threshold,
        alternatives=alternatives,
        offered=tuple(i.id for i in answer.alternatives),
        best_example=best,
        best_of_intent=of_intent,
        held_back=held_back,
        small_talk=small_talk,
        topic_matcher_said=topics.intent_id if small_talk else None,
        passed_over=passed_over,
        foreign=foreign,
        other_review=other_review,
        task=task,
    )


__all__ = ["Example", "Explanation", "best_examples", "example_similarities", "explain"]
