"""Measure the matcher against a labelled set: question TAB expected intent id (or 'none')."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from intents.engine import Engine

NONE_LABEL = "none"


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    expected: str | None
    line: int


@dataclass
class Report:
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

    @property
    def accuracy(self) -> float:
        return self.in_scope_correct / self.in_scope if self.in_scope else 1.0

    @property
    def out_of_scope_recall(self) -> float:
        return self.out_of_scope_correct / self.out_of_scope if self.out_of_scope else 1.0

    def precision(self, intent_id: str) -> float:
        return self.tp[intent_id] / self.predicted[intent_id] if self.predicted[intent_id] else 1.0

    def recall(self, intent_id: str) -> float:
        return self.tp[intent_id] / self.expected[intent_id] if self.expected[intent_id] else 1.0


class LabelError(ValueError):
    pass


def read_labelled(path: str | Path, known_ids: set[str]) -> list[LabelledQuestion]:
    """Read a TSV file; lines starting with # and blank lines are skipped."""
    out = []
    for number, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 2:
            raise LabelError(f"{path}:{number}: expected 'question<TAB>intent', found {len(parts)} columns")
        question, label = parts[0].strip(), parts[1].strip()
        if label != NONE_LABEL and label not in known_ids:
            raise LabelError(f"{path}:{number}: unknown intent id '{label}'")
        out.append(LabelledQuestion(question, None if label == NONE_LABEL else label, number))
    return out


def evaluate(engine: Engine, questions: list[LabelledQuestion]) -> Report:
    report = Report()
    for item in questions:
        got = engine.match(item.question).intent_id
        report.total += 1
        expected = item.expected or NONE_LABEL
        actual = got or NONE_LABEL
        report.expected[expected] += 1
        report.predicted[actual] += 1
        if item.expected is None:
            report.out_of_scope += 1
            report.out_of_scope_correct += got is None
        else:
            report.in_scope += 1
            report.in_scope_correct += got == item.expected
        if expected == actual:
            report.tp[expected] += 1
        else:
            report.confusions[(expected, actual)].append(item.question)
    return report


def format_report(report: Report, most_confused: int = 10) -> str:
    lines = [
        f"in-scope top-1 accuracy: {report.accuracy:.1%} ({report.in_scope_correct}/{report.in_scope})",
        f"out-of-scope recall:     {report.out_of_scope_recall:.1%} "
        f"({report.out_of_scope_correct}/{report.out_of_scope})",
        "",
        f"{'intent':34} {'precision':>9} {'recall':>7} {'n':>4}",
    ]
    for intent_id in sorted(set(report.expected) | set(report.predicted)):
        lines.append(
            f"{intent_id:34} {report.precision(intent_id):9.0%} {report.recall(intent_id):7.0%} "
            f"{report.expected[intent_id]:4}"
        )
    ranked = sorted(report.confusions.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:most_confused]
    if ranked:
        lines += ["", "most confused (expected -> got):"]
        for (expected, actual), questions in ranked:
            lines.append(f"  {expected} -> {actual} ({len(questions)})")
            lines.extend(f"      {q}" for q in questions[:5])
    return "\n".join(lines)
