"""Labelled questions: `question<TAB>intent id or none` files. Staff keep some beside the content file in
training/ (the model learns from them); the blind sets in tests/data are read the same way, to measure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from intents.loader import Problem
from intents.model import Catalogue

NONE_LABEL = "none"
TRAINING_FOLDER = "training"


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    expected: str | None  # None: off-topic, the fallback is right
    line: int
    path: str = ""
    weight: float = 1.0  # how many examples it counts as in training


class LabelError(ValueError):
    pass


def parse_labelled(text: str, path: str | Path, known_ids: set[str]) -> tuple[list[LabelledQuestion], list[Problem]]:
    """Every labelled line, and a Problem (file:line) for each malformed one; '#' lines and blanks skipped."""
    out, problems = [], []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        parts = raw.split("\t")
        if len(parts) != 2:
            found = f"{len(parts)} column{'s' if len(parts) != 1 else ''}"
            problems.append(Problem(str(path), number, 1, f"expected 'question<TAB>intent', found {found}"))
            continue
        question, label = parts[0].strip(), parts[1].strip()
        if not label:
            problems.append(
                Problem(str(path), number, len(parts[0]) + 2, f"no intent id after the tab (an id, or '{NONE_LABEL}')")
            )
            continue
        if label != NONE_LABEL and label not in known_ids:
            problems.append(Problem(str(path), number, len(parts[0]) + 2, f"unknown intent id '{label}'"))
            continue
        out.append(LabelledQuestion(question, None if label == NONE_LABEL else label, number, str(path)))
    return out, problems


def read_labelled(path: str | Path, known_ids: set[str]) -> list[LabelledQuestion]:
    """One labelled file; LabelError on its first malformed line."""
    found, problems = parse_labelled(Path(path).read_text(encoding="utf-8"), path, known_ids)
    if problems:
        p = problems[0]
        raise LabelError(f"{p.path}:{p.line}: {p.message}")
    return found


def training_files(content_path: str | Path) -> list[Path]:
    """The staff-kept labelled files beside a content file: training/*.tsv, in name order."""
    return sorted((Path(content_path).parent / TRAINING_FOLDER).glob("*.tsv"))


def read_training(content_path: str | Path, known_ids: set[str]) -> tuple[tuple[LabelledQuestion, ...], list[Problem]]:
    """Every labelled question of training/*.tsv beside the content file, and each malformed line's problem."""
    found: list[LabelledQuestion] = []
    problems: list[Problem] = []
    for path in training_files(content_path):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 1, 1, f"cannot read the training file: {exc}"))
            continue
        items, bad = parse_labelled(text, path, known_ids)
        found += items
        problems += bad
    return tuple(found), problems


def training_data(catalogue: Catalogue) -> tuple[list[str], list[str], list[float]]:
    """Texts, labels and weights: every intent's examples, every off-topic example as "none", the
    catalogue's training items (training/*.tsv, and staff's labels, which weigh more)."""
    texts: list[str] = []
    labels: list[str] = []
    weights: list[float] = []
    for intent in catalogue.intents:
        texts += intent.examples
        labels += [intent.id] * len(intent.examples)
    off_topic = catalogue.settings.off_topic_examples
    texts += off_topic
    labels += [NONE_LABEL] * len(off_topic)
    weights += [1.0] * len(texts)
    for item in catalogue.training:
        texts.append(item.question)
        labels.append(item.expected or NONE_LABEL)
        weights.append(item.weight)
    return texts, labels, weights
