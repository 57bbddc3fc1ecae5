"""Content warnings for `python -m bot check`: examples the model, trained without them, sends to another
intent, and pairs of intents whose examples are so alike that members will get the wrong one."""

from __future__ import annotations

from collections import Counter

from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from intents.classifier import C, build_pipeline, training_data
from intents.loader import Problem
from intents.model import Catalogue

# Each example is predicted by a model trained on the other folds.
FOLDS = 5
# An example is reported as misrouted when another intent beats its own by more than this (SVM decision
# values): rare enough on the shipped file that a warning is worth reading.
MISROUTE_MARGIN = 1.5
# A pair is reported when at least this many examples, and this share of the smaller intent's, cross it.
OVERLAP_MIN_EXAMPLES = 3
OVERLAP_MIN_SHARE = 0.33
WORST_PAIRS = 5


def content_warnings(catalogue: Catalogue) -> list[Problem]:
    texts, labels, _ = training_data(catalogue)
    counts = Counter(labels)
    if len(counts) < 2 or min(counts.values()) < 2:
        return []
    vocabulary = catalogue.vocabulary
    features = build_pipeline().steps[0][1]
    model = make_pipeline(features, LinearSVC(C=C, dual="auto", random_state=0))
    folds = StratifiedKFold(n_splits=min(FOLDS, min(counts.values())), shuffle=True, random_state=0)
    read_texts = [" ".join(vocabulary.normalise(t)) for t in texts]
    scores = cross_val_predict(model, read_texts, labels, cv=folds, method="decision_function")
    classes = sorted(counts)
    intents = {i.id: i for i in catalogue.intents}
    lines = {(i.id, t): n for i in catalogue.intents for t, n in zip(i.examples, i.example_lines, strict=False)}
    path = str(catalogue.path)
    warnings: list[Problem] = []
    crossing: Counter[tuple[str, str]] = Counter()
    # Each content example's nearest other example in the model's feature space: a pair of intents whose
    # examples keep finding each other's nearest will be confused.
    own_rows = [n for n, (text, label) in enumerate(zip(texts, labels, strict=True)) if (label, text) in lines]
    matrix = features.fit_transform([read_texts[n] for n in own_rows])
    similar = (matrix @ matrix.T).toarray()
    for row in range(len(own_rows)):
        similar[row, row] = -1.0
        nearest = labels[own_rows[int(similar[row].argmax())]]
        label = labels[own_rows[row]]
        if nearest != label:
            crossing[(min(label, nearest), max(label, nearest))] += 1
    for n, (text, label) in enumerate(zip(texts, labels, strict=True)):
        if label not in intents or (label, text) not in lines:
            continue  # off-topic examples and training/*.tsv: not the content file's examples
        row = scores[n]
        best = max(range(len(classes)), key=lambda k: row[k])
        other, own = classes[best], row[classes.index(label)]
        # Only another intent: short small talk ("night night") taken for off-topic costs a member little.
        if other != label and other in intents and row[best] > own + MISROUTE_MARGIN:
            where = f"'{other}'"
            warnings.append(
                Problem(
                    path,
                    *lines[(label, text)],
                    f"intent '{label}' field 'examples': '{text}' is matched to {where} by a model trained "
                    "without it; reword it or add examples like it",
                    "warning",
                )
            )

    def worth_reporting(pair: tuple[str, str], n: int) -> bool:
        smaller = min(len(intents[pair[0]].examples), len(intents[pair[1]].examples))
        return n >= max(OVERLAP_MIN_EXAMPLES, OVERLAP_MIN_SHARE * smaller)

    pairs = [(pair, n) for pair, n in crossing.most_common() if worth_reporting(pair, n)][:WORST_PAIRS]
    for (a, b), n in pairs:
        warnings.append(
            Problem(
                path,
                intents[a].line,
                1,
                f"intents '{a}' and '{b}' overlap: {n} of their examples are closest to an example of the other; "
                "members may get the wrong answer",
                "warning",
            )
        )
    return warnings
