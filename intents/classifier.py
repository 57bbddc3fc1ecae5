"""The intent classifier: TF-IDF over word 1-2-grams and character 2-4-grams (within words) into a linear
SVM, calibrated so that its scores are probabilities. Trained at start-up and on every reload from the
intents' examples, the off-topic areas (all one class, "none") and training/*.tsv; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline, make_pipeline, make_union
from sklearn.svm import LinearSVC

from intents.model import Catalogue
from intents.text import Vocabulary
from intents.training import training_data

# Chosen by 5-fold cross-validation on the training data (examples, off-topic areas, training/*.tsv).
C = 0.5
WORD_NGRAMS = (1, 2)
# Character 2-4-grams rather than 2-5: a third fewer features, a fit in two thirds of the time, and 5-fold
# cross-validation a little ahead (90.3% against 90.2%).
CHAR_NGRAMS = (2, 4)
# The SVM's stopping tolerance: 1e-2 fits in half the time of the default 1e-4, with the same
# cross-validated accuracy; a hot reload retrains, and must be in service within 2 s.
TOLERANCE = 1e-2
# Temperature scaling: one parameter for all classes, fitted on 2 folds' held-out predictions; faster than
# per-class sigmoids, and 2 folds cross-validated as well as 3 at two thirds of the fitting. One SVM fitted
# on all the data answers (ensemble=False), not one per fold: a third of the CPU per question, and 5-fold
# cross-validation on the training data put it a point ahead (90.2% against 89.2% top-1, off-topic included).
CALIBRATION_FOLDS = 2
# Trained models kept per process, by a digest of what they learnt from: the test suite builds hundreds
# of apps on a few catalogues, and a reload of unchanged training data needs no new fit.
MEMO_SIZE = 4

_memo: OrderedDict[str, Pipeline] = OrderedDict()
_memo_lock = threading.Lock()


def build_pipeline(folds: int = CALIBRATION_FOLDS) -> Pipeline:
    def tfidf(analyzer: str, ngrams: tuple[int, int]) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True, strip_accents="unicode")

    features = make_union(tfidf("word", WORD_NGRAMS), tfidf("char_wb", CHAR_NGRAMS))
    # The dual solver: a few thousand rows of many more features.
    svm = LinearSVC(C=C, dual=True, tol=TOLERANCE, random_state=0)
    return make_pipeline(features, CalibratedClassifierCV(svm, method="temperature", cv=folds, ensemble=False))


def _fit(
    texts: Sequence[str], labels: Sequence[str], weights: Sequence[float], cache_dir: Path | None = None
) -> Pipeline:
    """The model for these texts, labels and weights: from this process's memo, else from `cache_dir` (a
    model another process fitted on exactly these, with this code and these libraries), else fitted."""
    settings = f"{sklearn.__version__} {numpy.__version__} {C} {WORD_NGRAMS} {CHAR_NGRAMS} {TOLERANCE} " \
        f"{CALIBRATION_FOLDS} single {sys.version}"  # fmt: skip
    digest = hashlib.sha256(settings.encode())
    digest.update(Path(__file__).read_bytes())  # this module's code builds it: a change is a new model
    for text, label, weight in zip(texts, labels, weights, strict=True):
        digest.update(f"{label}\t{text}\t{weight:g}\n".encode())
    key = digest.hexdigest()
    with _memo_lock:
        if key in _memo:
            _memo.move_to_end(key)
            return _memo[key]
    kept = cache_dir / f"model-{key[:32]}.pickle" if cache_dir is not None else None
    model = _load(kept)
    if model is None:
        fit_params = {}
        if any(w != 1.0 for w in weights):
            fit_params["calibratedclassifiercv__sample_weight"] = numpy.asarray(weights, dtype=numpy.float64)
        model = build_pipeline().fit(list(texts), list(labels), **fit_params)
        _keep(kept, model)
    with _memo_lock:
        _memo[key] = model
        while len(_memo) > MEMO_SIZE:
            _memo.popitem(last=False)
    return model


def _load(path: Path | None) -> Pipeline | None:
    if path is None:
        return None
    try:
        with path.open("rb") as f:
            model = pickle.load(f)  # our own file, named by the digest of what fitted it
        return model if isinstance(model, Pipeline) else None
    except Exception:  # not there yet, or unreadable: fit again
        return None


def _keep(path: Path | None, model: Pipeline) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(path)  # whole or not at all, whoever else is writing it
    except OSError:
        pass  # a read-only checkout: the model is simply not kept


class Classifier:
    """Probabilities over the intents and "none" for one question, best first."""

    def __init__(self, catalogue: Catalogue, cache_dir: Path | None = None) -> None:
        self.vocabulary: Vocabulary = catalogue.vocabulary
        texts, labels, weights = training_data(catalogue)
        if len(set(labels)) < 2:
            raise ValueError("the classifier needs examples of at least two intents (or one and off-topic ones)")
        self.model = _fit([self.read(t) for t in texts], labels, weights, cache_dir)
        self.labels: tuple[str, ...] = tuple(str(c) for c in self.model.classes_)
        self._scorer = _Scorer(self.model)

    def read(self, text: str) -> str:
        """The text as the model sees it: the vocabulary's tokens (synonyms, numbers, concepts) joined."""
        return " ".join(self.vocabulary.normalise(text))

    def ranked(self, text: str) -> tuple[tuple[str, float], ...]:
        """(label, probability) for every label, most probable first; `text` already read (see read)."""
        probabilities = self._scorer.probabilities(text)
        # Labels are sorted (scikit-learn's classes_), so a stable sort breaks ties by label.
        order = numpy.argsort(-probabilities, kind="stable")
        return tuple((self.labels[i], float(probabilities[i])) for i in order)

    def similarities(self, text: str, examples: Sequence[str]) -> list[float]:
        """Cosine similarity (0 to 1) of the text to each example in the model's own feature space: which
        example a question is most like, for the why panel."""
        features: Any = self.model.steps[0][1]
        matrix = features.transform([self.read(e) for e in examples])
        # Each half of the union is L2-normalised: the dot product of two rows is at most 2.
        return [float(v) / 2 for v in (matrix @ features.transform([text]).T).toarray().ravel()]


class _Scorer:
    """The fitted pipeline's arithmetic for one question, read from the fitted model: each vectoriser's own
    analyser, sublinear term frequency times idf, L2 per half, the SVM's decision values, then the
    calibrator's temperature. The same numbers as `model.predict_proba` (a test holds them together), without
    scikit-learn's per-call input checks, which cost more than the sums themselves: about 1.4 ms a question
    down to about 0.1 ms."""

    def __init__(self, model: Pipeline) -> None:
        union: Any = model.steps[0][1]
        self.parts: list[tuple[Any, dict[str, int], numpy.ndarray, int]] = []
        offset = 0
        for _, vectoriser in union.transformer_list:
            self.parts.append((vectoriser.build_analyzer(), vectoriser.vocabulary_, vectoriser.idf_, offset))
            offset += len(vectoriser.idf_)
        (calibrated,) = model.steps[-1][1].calibrated_classifiers_
        svm = calibrated.estimator
        self.coef: numpy.ndarray = numpy.asarray(svm.coef_)  # (classes, features), or (1, features) for two
        self.intercept: numpy.ndarray = numpy.asarray(svm.intercept_)
        (temperature,) = calibrated.calibrators
        self.beta = float(temperature.beta_)

    def decision(self, text: str) -> numpy.ndarray:
        scores = self.intercept.astype(numpy.float64)
        for analyse, vocabulary, idf, offset in self.parts:
            counts: dict[int, int] = {}
            for token in analyse(text):
                index = vocabulary.get(token)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            columns = numpy.fromiter(counts.keys(), dtype=numpy.intp, count=len(counts))
            weights = numpy.log(numpy.fromiter(counts.values(), dtype=numpy.float64, count=len(counts))) + 1.0
            weights *= idf[columns]
            weights /= numpy.sqrt(weights @ weights)
            scores = scores + self.coef[:, columns + offset] @ weights
        return scores

    def probabilities(self, text: str) -> numpy.ndarray:
        scores = self.decision(text)
        # Two labels: one decision value x, read as the logits (-x, x), as the calibrator does.
        logits = numpy.array([-scores[0], scores[0]]) if scores.shape[0] == 1 else scores
        # The calibrator takes values that already look like probabilities as such and uses their logs.
        if numpy.all((logits >= 0) & (logits <= 1)) and numpy.isclose(logits.sum(), 1.0):
            logits = numpy.log(logits + 1e-12)
        z = self.beta * logits
        z -= z.max()
        exp = numpy.exp(z)
        probabilities: numpy.ndarray = exp / exp.sum()
        probabilities[(probabilities > 1.0) & (probabilities <= 1.0 + 1e-5)] = 1.0
        return probabilities
