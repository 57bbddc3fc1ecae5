"""Content warnings for `python -m bot check`: examples the model, trained without them, sends to another
intent, and pairs of intents whose examples are so alike that members will get the wrong one.

Finding them trains the model five times (a few seconds), so the findings are kept in the cache folder
under a digest of everything they depend on: the texts the model reads and their labels, and this code
and the library versions. An edit to a summary, a title or a link leaves them as they are, and `check`
after it takes a moment; a changed example finds them afresh. Line numbers are looked up on every run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from intents.loader import Problem
from intents.model import Catalogue
from intents.training import training_data

# Each example is predicted by a model trained on the other folds.
FOLDS = 5
# An example is reported as misrouted when another intent beats its own by more than this (SVM decision
# values): rare enough on the shipped file that a warning is worth reading.
MISROUTE_MARGIN = 1.5
# A pair is reported when at least this many examples, and this share of the smaller intent's, cross it.
OVERLAP_MIN_EXAMPLES = 3
OVERLAP_MIN_SHARE = 0.33
WORST_PAIRS = 5
# Misrouted examples: (intent, example, the other intent); crossing pairs: (intent, intent, examples).
Findings = tuple[list[tuple[str, str, str]], list[tuple[str, str, int]]]


def content_warnings(catalogue: Catalogue, cache_dir: Path | None = None) -> list[Problem]:
    """The warnings, from the cache in `cache_dir` when the model's inputs are unchanged."""
    texts, labels, _ = training_data(catalogue)
    counts = Counter(labels)
    if len(counts) < 2 or min(counts.values()) < 2:
        return []
    read_texts = [" ".join(catalogue.vocabulary.normalise(t)) for t in texts]
    own = sorted({(i.id, t) for i in catalogue.intents for t in i.examples})
    findings = _cached(
        cache_dir, _key(read_texts, labels, texts, own), lambda: _find(catalogue, texts, labels, read_texts)
    )
    return _problems(catalogue, findings)


def _key(*parts: object) -> str:
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode())
    digest.update(Path(__file__).read_bytes())
    for module in ("classifier.py", "text.py"):  # the features, and how a text is read into words
        digest.update(Path(__file__).with_name(module).read_bytes())
    digest.update(sys.version.encode())
    from importlib.metadata import version

    for package in ("scikit-learn", "numpy", "scipy"):
        digest.update(version(package).encode())
    return digest.hexdigest()[:32]


def _cached(cache_dir: Path | None, key: str, find: Callable[[], Findings]) -> Findings:
    path = cache_dir / f"advice-{key}.json" if cache_dir is not None else None
    if path is not None:
        try:
            misrouted, pairs = json.loads(path.read_text(encoding="utf-8"))
            return [tuple(m) for m in misrouted], [tuple(p) for p in pairs]  # type: ignore[misc]
        except (OSError, ValueError, TypeError):
            pass  # not there yet, or unreadable: find them again
    findings = find()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{hashlib.sha256(key.encode()).hexdigest()[:6]}.tmp")
            partial.write_text(json.dumps(findings), encoding="utf-8")
            partial.replace(path)
        except OSError:
            pass  # a read-only checkout: the findings are simply not kept
    return findings


def _find(catalogue: Catalogue, texts: list[str], labels: list[str], read_texts: list[str]) -> Findings:
    """Train and score: the few seconds `check` spends when examples changed."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.svm import LinearSVC

    from intents.classifier import TOLERANCE, C, build_pipeline

    counts = Counter(labels)
    # The features are fitted once, on every text, and each fold's SVM learns from its rows of them: the
    # words a held-out example brings add nothing it could match on (no other row has them), and five
    # fits of the vectorisers, most of the cost, become one.
    matrix = build_pipeline().steps[0][1].fit_transform(read_texts)
    # The served model's solver settings (TOLERANCE: half the fitting time, the same accuracy).
    model = LinearSVC(C=C, dual=True, tol=TOLERANCE, random_state=0)
    folds = StratifiedKFold(n_splits=min(FOLDS, min(counts.values())), shuffle=True, random_state=0)
    scores = cross_val_predict(model, matrix, labels, cv=folds, method="decision_function")
    classes = sorted(counts)
    intents = {i.id: i for i in catalogue.intents}
    examples = {(i.id, t) for i in catalogue.intents for t in i.examples}
    crossing: Counter[tuple[str, str]] = Counter()
    # Each content example's nearest other example in the model's feature space: a pair of intents whose
    # examples keep finding each other's nearest will be confused.
    own_rows = [n for n, (text, label) in enumerate(zip(texts, labels, strict=True)) if (label, text) in examples]
    own = matrix[own_rows]
    similar = (own @ own.T).toarray()
    for row in range(len(own_rows)):
        similar[row, row] = -1.0
        nearest = labels[own_rows[int(similar[row].argmax())]]
        label = labels[own_rows[row]]
        if nearest != label:
            crossing[(min(label, nearest), max(label, nearest))] += 1
    misrouted: list[tuple[str, str, str]] = []
    for n, (text, label) in enumerate(zip(texts, labels, strict=True)):
        if label not in intents or (label, text) not in examples:
            continue  # off-topic examples and training/*.tsv: not the content file's examples
        row = scores[n]
        best = max(range(len(classes)), key=lambda k: row[k])
        other, score = classes[best], row[classes.index(label)]
        # Only another intent: short small talk ("night night") taken for off-topic costs a member little.
        if other != label and other in intents and row[best] > score + MISROUTE_MARGIN:
            misrouted.append((label, text, other))

    def worth_reporting(pair: tuple[str, str], n: int) -> bool:
        smaller = min(len(intents[pair[0]].examples), len(intents[pair[1]].examples))
        return n >= max(OVERLAP_MIN_EXAMPLES, OVERLAP_MIN_SHARE * smaller)

    pairs = [(a, b, n) for (a, b), n in crossing.most_common() if worth_reporting((a, b), n)][:WORST_PAIRS]
    return misrouted, pairs


def _problems(catalogue: Catalogue, findings: Findings) -> list[Problem]:
    """The findings as warnings, at the lines the file has them on now."""
    lines = {(i.id, t): n for i in catalogue.intents for t, n in zip(i.examples, i.example_lines, strict=False)}
    intents = {i.id: i for i in catalogue.intents}
    path = str(catalogue.path)
    misrouted, pairs = findings
    warnings = [
        Problem(
            path,
            *lines[(label, text)],
            f"intent '{label}' field 'examples': '{text}' is matched to '{other}' by a model trained "
            "without it; reword it or add examples like it",
            "warning",
        )
        for label, text, other in misrouted
        if (label, text) in lines
    ]
    for a, b, n in pairs:
        if a in intents and b in intents:
            warnings.append(
                Problem(
                    path,
                    intents[a].line,
                    1,
                    f"intents '{a}' and '{b}' overlap: {n} of their examples are closest to an example of the "
                    "other; members may get the wrong answer",
                    "warning",
                )
            )
    return warnings


def example_warnings(
    catalogue: Catalogue, intent_id: str, example: str, model_cache: Path | None = None
) -> list[Problem]:
    """`content_warnings`' advice on one new example alone, for `learn`: where the model trained without it
    sends it. That model is the one the bot serves for the file as it was before the example, so it is
    usually in this process or in `model_cache` already, and nothing is fitted."""
    from dataclasses import replace

    from intents.classifier import Classifier

    before = replace(catalogue, intents=tuple(
        replace(i, examples=tuple(e for e in i.examples if e != example)) if i.id == intent_id else i
        for i in catalogue.intents
    ))  # fmt: skip
    classifier = Classifier(before, model_cache)
    features, calibrated = classifier.model.steps[0][1], classifier.model.steps[-1][1]
    svm = calibrated.calibrated_classifiers_[0].estimator  # one SVM fitted on all the data (ensemble=False)
    row = svm.decision_function(features.transform([classifier.read(example)]))[0]
    classes = [str(c) for c in calibrated.classes_]  # the SVM sees them encoded, in this order
    intents = {i.id for i in catalogue.intents}
    best = max(range(len(classes)), key=lambda k: row[k])
    own = row[classes.index(intent_id)] if intent_id in classes else min(row)
    if classes[best] == intent_id or classes[best] not in intents or row[best] <= own + MISROUTE_MARGIN:
        return []
    return _problems(catalogue, ([(intent_id, example, classes[best])], []))
