"""Measure the engine against a labelled set: question TAB expected intent id (or 'none')."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from intents.engine import Engine
from intents.model import Match
from intents.training import NONE_LABEL, LabelError, LabelledQuestion, read_labelled


@dataclass
class Evaluation:
    total: int = 0
    in_scope: int = 0
    in_scope_correct: int = 0
    out_of_scope: int = 0
    out_of_scope_correct: int = 0
    # per intent: true positives, predicted count, expected count
    tp: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    expected: Counter[str] = field(default_factory=Counter)
    confusions: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    # What the suggestion floor lets through on a fallback ("did you mean ...").
    suggestion_floor: float = 0.0
    out_of_scope_fallbacks: int = 0
    out_of_scope_suggested: int = 0  # off-topic fallbacks that still named a topic
    in_scope_fallbacks: int = 0
    in_scope_fallbacks_suggested: int = 0  # ... that named any topic
    in_scope_fallbacks_hit: int = 0  # ... that named the right one
    # Every in-scope miss (fallback or wrong intent), as if it had fallen back: a set large enough to
    # compare floors, where the fallbacks alone are a handful.
    in_scope_misses: int = 0
    in_scope_misses_hit: int = 0
    # What a member feels: the right answer, or the right topic among the choices the reply shows (asking
    # back, or "did you mean" on a fallback): one click away.
    in_scope_one_click: int = 0
    asked_back: int = 0  # replies that ask which topic, instead of answering
    # Each question's answer, in file order: what `bot eval --json` prints, to compare two runs.
    answers: list[dict[str, object]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.in_scope_correct / self.in_scope if self.in_scope else 1.0

    @property
    def one_click(self) -> float:
        return self.in_scope_one_click / self.in_scope if self.in_scope else 1.0

    @property
    def ask_rate(self) -> float:
        return self.asked_back / self.total if self.total else 0.0

    @property
    def out_of_scope_recall(self) -> float:
        return self.out_of_scope_correct / self.out_of_scope if self.out_of_scope else 1.0

    @property
    def out_of_scope_suggestion_rate(self) -> float:
        """Of the off-topic questions that fell back, the share that still offered a topic."""
        return self.out_of_scope_suggested / self.out_of_scope_fallbacks if self.out_of_scope_fallbacks else 0.0

    def precision(self, intent_id: str) -> float:
        return self.tp[intent_id] / self.predicted[intent_id] if self.predicted[intent_id] else 1.0

    def recall(self, intent_id: str) -> float:
        return self.tp[intent_id] / self.expected[intent_id] if self.expected[intent_id] else 1.0


def evaluate(engine: Engine, questions: list[LabelledQuestion], without: frozenset[str] = frozenset()) -> Evaluation:
    """Each question asked once, with no conversation before it, through every stage but `without`."""
    evaluation = Evaluation(suggestion_floor=engine.suggestion_floor)
    for item in questions:
        match = engine.match(item.question, without)
        got = match.intent_id
        _count_suggestions(evaluation, engine, item, match)
        answer = engine.answer(item.question, without=without)
        evaluation.answers.append(
            {
                "question": item.question,
                "expected": item.expected,
                "intent": answer.intent.id if answer.intent else None,
                "mode": answer.mode,
                "confidence": answer.confidence,
                "offered": [i.id for i in answer.alternatives],
            }
        )
        evaluation.total += 1
        asked = answer.mode == "ask"
        evaluation.asked_back += asked
        if item.expected is not None:
            # The reply shows choices when it asks back, or falls back with "did you mean".
            shown = {i.id for i in answer.alternatives} if asked or answer.intent is None else set()
            evaluation.in_scope_one_click += (got == item.expected and not asked) or item.expected in shown
        expected = item.expected or NONE_LABEL
        actual = got or NONE_LABEL
        evaluation.expected[expected] += 1
        evaluation.predicted[actual] += 1
        if item.expected is None:
            evaluation.out_of_scope += 1
            evaluation.out_of_scope_correct += got is None
        else:
            evaluation.in_scope += 1
            evaluation.in_scope_correct += got == item.expected
        if expected == actual:
            evaluation.tp[expected] += 1
        else:
            evaluation.confusions[(expected, actual)].append(item.question)
    return evaluation


def _count_suggestions(evaluation: Evaluation, engine: Engine, item: LabelledQuestion, match: Match) -> None:
    shown = tuple(c.intent_id for c in match.alternatives) if match.intent_id is None else ()
    if item.expected is None:
        if match.intent_id is None:
            evaluation.out_of_scope_fallbacks += 1
            evaluation.out_of_scope_suggested += bool(shown)
        return
    if match.intent_id == item.expected:
        return
    evaluation.in_scope_misses += 1
    if match.intent_id is None:
        evaluation.in_scope_fallbacks += 1
        evaluation.in_scope_fallbacks_suggested += bool(shown)
        evaluation.in_scope_fallbacks_hit += item.expected in shown
        evaluation.in_scope_misses_hit += item.expected in shown
    else:
        evaluation.in_scope_misses_hit += item.expected in engine.suggestions(item.question)


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else "0/0"


def _suggestion_lines(evaluation: Evaluation) -> list[str]:
    rows = [
        (
            "off-topic fallbacks showing suggestions",
            evaluation.out_of_scope_suggested,
            evaluation.out_of_scope_fallbacks,
            "",
        ),
        ("in-scope fallbacks showing any", evaluation.in_scope_fallbacks_suggested, evaluation.in_scope_fallbacks, ""),
        (
            "in-scope fallbacks showing the right one",
            evaluation.in_scope_fallbacks_hit,
            evaluation.in_scope_fallbacks,
            "suggestion hit rate",
        ),
        (
            "in-scope misses with the right one shown",
            evaluation.in_scope_misses_hit,
            evaluation.in_scope_misses,
            "wrong answers counted as if they had fallen back",
        ),
    ]
    lines = [f"fallback suggestions (suggestion floor {evaluation.suggestion_floor:g}):"]
    for label, part, whole, note in rows:
        lines.append(f"  {label + ':':42} {_share(part, whole):14} {note}".rstrip())
    return lines


def format_evaluation(evaluation: Evaluation, most_confused: int = 10) -> str:
    lines = [
        f"in-scope top-1 accuracy: {evaluation.accuracy:.1%} ({evaluation.in_scope_correct}/{evaluation.in_scope})",
        f"out-of-scope recall:     {evaluation.out_of_scope_recall:.1%} "
        f"({evaluation.out_of_scope_correct}/{evaluation.out_of_scope})",
        f"in-scope one click:      {evaluation.one_click:.1%} ({evaluation.in_scope_one_click}/{evaluation.in_scope})"
        f"; replies asking back: {evaluation.ask_rate:.1%} ({evaluation.asked_back}/{evaluation.total})",
        "",
    ]
    lines += _suggestion_lines(evaluation) + ["", f"{'intent':34} {'precision':>9} {'recall':>7} {'n':>4}"]
    for intent_id in sorted(set(evaluation.expected) | set(evaluation.predicted)):
        lines.append(
            f"{intent_id:34} {evaluation.precision(intent_id):9.0%} {evaluation.recall(intent_id):7.0%} "
            f"{evaluation.expected[intent_id]:4}"
        )
    ranked = sorted(evaluation.confusions.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:most_confused]
    if ranked:
        lines += ["", "most confused (expected -> got):"]
        for (expected, actual), questions in ranked:
            lines.append(f"  {expected} -> {actual} ({len(questions)})")
            lines.extend(f"      {q}" for q in questions[:5])
    return "\n".join(lines)


__all__ = [
    "NONE_LABEL",
    "LabelError",
    "LabelledQuestion",
    "Evaluation",
    "evaluate",
    "format_evaluation",
    "read_labelled",
]
