"""Match a question to an intent: TF-IDF over words, word pairs and character trigrams.

Each intent's score blends three views of its examples: the nearest few examples, the intent's
centroid, and a naive Bayes posterior over words. Pure Python and small on purpose: the catalogue
has a few hundred example questions, so sparse look-ups over inverted indexes answer in a fraction
of a millisecond and keep the bot's memory close to a bare Bolt app's. No model, no download, no
network. The weights below were chosen on tests/data/eval.tsv, never on the examples themselves.
"""

from __future__ import annotations

import hashlib
import math
import re
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence

from intents.model import Candidate, Match
from intents.text import NO_VOCABULARY, NON_WORD, Vocabulary, content_words, stem, strip_markup

# Character trigrams found in more than this share of the examples ("ion", "ent") are left out of the
# index: they weigh little (low IDF) yet their posting lists were most of the time spent per question.
CHAR_MAX_SHARE = 0.1
MIN_DOCS_TO_PRUNE = 200  # a small space (the follow-up phrases) keeps every trigram
# How much each feature family counts in the final similarity (they add to 1).
WORD_WEIGHT = 0.5
CHAR_WEIGHT = 0.5
# An intent's score mixes its single best example with the mean of its top three, so one lucky
# example cannot carry a weak match alone.
BEST_WEIGHT = 0.5
MAX_ALTERNATIVES = 3
# How far a topic naming the same recommendation number must lead the recommendation's own intent, on
# the words besides the number, to answer in its place (see Matcher._number_rival).
RIVAL_MARGIN = 0.1
# Words the examples never use still weigh in the question's norm, a little less than the rarest known word.
UNKNOWN_WEIGHT = 0.8


def _word_features(words: Sequence[str]) -> Counter[str]:
    feats: Counter[str] = Counter(words)
    feats.update(f"{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    return feats


def _char_features(words: Sequence[str]) -> Counter[str]:
    feats: Counter[str] = Counter()
    for word in words:
        padded = f" {word} "
        feats.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return feats


_COUNT_BITS = 20


class _Postings:
    """term number -> (ids, weights), as one pair of flat typed arrays for all terms and one packed int
    per term (where its run starts, how long it is; 0 for a term with none). The indexes are most of the
    bot's own memory: a pair of small arrays per term cost about ten times as much in object headers as
    the numbers in them, and a dict per index keyed by the terms again cost as much as the numbers."""

    def __init__(self, lists: dict[int, tuple[list[int], list[float]]], terms: int, id_type: str) -> None:
        self.ids = array(id_type)
        # Single precision: scores are compared to two decimals, and it halves the biggest arrays.
        self.weights = array("f")
        self.runs = array("q", bytes(8 * terms))
        for term, (ids, weights) in lists.items():
            self.runs[term] = (len(self.ids) << _COUNT_BITS) | len(ids)
            self.ids.extend(ids)
            self.weights.extend(weights)

    def get(self, term: int) -> tuple[array[int], array[float]] | None:
        run = self.runs[term] if term >= 0 else 0  # -1: a term the examples never use
        if not run:
            return None
        start, end = run >> _COUNT_BITS, (run >> _COUNT_BITS) + (run & ((1 << _COUNT_BITS) - 1))
        return self.ids[start:end], self.weights[start:end]

    def items(self) -> Iterator[tuple[int, tuple[array[int], array[float]]]]:
        for term in range(len(self.runs)):
            found = self.get(term)
            if found is not None:
                yield term, found


class _Space:
    """One TF-IDF vector space with an inverted index over the example vectors. Terms are numbered once
    (`terms`); the IDF weights, the index and the centroids are arrays by term number."""

    def __init__(self, docs: list[Counter[str]], max_share: float = 1.0) -> None:
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        n = len(docs)
        self.terms: dict[str, int] = {term: number for number, term in enumerate(df)}
        self.idf = array("d", (math.log((1 + n) / (1 + count)) + 1.0 for count in df.values()))
        self.unknown_idf = (math.log(1 + n) + 1.0) * UNKNOWN_WEIGHT
        self.size = n
        counts = list(df.values())
        index: dict[int, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for doc_id, doc in enumerate(docs):
            for term, weight in self._weigh(doc, known_only=True):
                if n >= MIN_DOCS_TO_PRUNE and counts[term] > max_share * n:
                    continue  # in the norm, but not worth its long posting list (see CHAR_MAX_SHARE)
                doc_ids, weights = index[term]
                doc_ids.append(doc_id)
                weights.append(weight)
        # term -> (example ids, weights), read by the query loop below (the hot path of every answer).
        self.index = _Postings(index, len(self.terms), "H" if n <= 0xFFFF else "I")

    def _weigh(self, feats: Counter[str], *, known_only: bool) -> list[tuple[int, float]]:
        """(term number, weight) pairs of a unit vector; -1 for a term the examples never use."""
        vec: list[tuple[int, float]] = []
        for term, count in feats.items():
            number = self.terms.get(term, -1)
            if number < 0:
                if known_only:
                    continue
                # Unknown terms still count in the norm: a long off-topic question with one
                # on-topic word should not look like a close match.
                idf = self.unknown_idf
            else:
                idf = self.idf[number]
            vec.append((number, (1.0 + math.log(count)) * idf))
        norm = math.sqrt(sum(w * w for _, w in vec)) or 1.0
        return [(t, w / norm) for t, w in vec]

    def build_centroids(self, labels: list[str]) -> None:
        sums: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for term, (doc_ids, weights) in self.index.items():
            for doc_id, weight in zip(doc_ids, weights, strict=True):
                sums[labels[doc_id]][term] += weight
        self.label_names = list(sums)
        centroids: dict[int, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        for number, vec in enumerate(sums.values()):
            norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
            for term, weight in vec.items():
                numbers, term_weights = centroids[term]
                numbers.append(number)
                term_weights.append(weight / norm)
        # term -> (label numbers into label_names, weights), stored like the index.
        self.centroids = _Postings(centroids, len(self.terms), "H")

    def similarities(self, feats: Counter[str]) -> tuple[list[float], set[int], dict[str, float]]:
        """Cosine similarity of the query to each example (a list by example, and the examples that
        share a term with it), and to each label's centroid."""
        query = self._weigh(feats, known_only=False)
        totals = [0.0] * self.size
        touched: set[int] = set()
        centroid: dict[str, float] = defaultdict(float)
        postings, centroids, names = self.index, self.centroids, self.label_names
        for term, weight in query:
            found = postings.get(term) if term >= 0 else None
            if found is not None:
                doc_ids, doc_weights = found
                touched.update(doc_ids)
                for doc_id, doc_weight in zip(doc_ids, doc_weights, strict=True):
                    totals[doc_id] += weight * doc_weight
                label_numbers, label_weights = centroids.get(term)  # type: ignore[misc]  # same terms
                for number, label_weight in zip(label_numbers, label_weights, strict=True):
                    centroid[names[number]] += weight * label_weight
        return totals, touched, centroid


# An intent's final score blends nearest examples (kNN) with its centroid (all its examples summed):
# the centroid rewards questions that share words with many of an intent's examples, the nearest
# examples reward a close paraphrase of one.
CENTROID_WEIGHT = 0.6

# A multinomial naive Bayes posterior over word features is blended in: it knows that a word spread
# over many intents ("recommendation") says little, and one concentrated in a few ("ned") says a lot.
NB_WEIGHT = 0.3
NB_SMOOTHING = 0.5

# Words shorter than this are never "corrected": 'rain' is one edit from 'train', and a wrong
# correction turns an off-topic question into a confident wrong answer.
MIN_CORRECTABLE = 5


class _NaiveBayes:
    """Multinomial naive Bayes with a uniform prior, precomputed as log-probabilities per term. Its terms
    are numbered as `terms` (the word space's, built from the same examples)."""

    def __init__(self, docs: list[Counter[str]], labels: list[str], terms: dict[str, int]) -> None:
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for doc, label in zip(docs, labels, strict=True):
            counts[label].update(doc)
        self.terms = terms
        size = len(terms) or 1
        self.labels = sorted(counts)
        totals = {label: sum(c.values()) for label, c in counts.items()}
        self.unseen = {label: math.log(NB_SMOOTHING / (totals[label] + NB_SMOOTHING * size)) for label in self.labels}
        # For each term, how much more likely each label makes it than an unseen term would: (label
        # numbers into self.labels, lifts) as typed arrays.
        lift: dict[int, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        number_of = {label: number for number, label in enumerate(self.labels)}
        for label, c in counts.items():
            for term, n in c.items():
                seen = math.log((n + NB_SMOOTHING) / (totals[label] + NB_SMOOTHING * size))
                numbers, lifts = lift[terms[term]]
                numbers.append(number_of[label])
                lifts.append(seen - self.unseen[label])
        self.lift = _Postings(lift, len(terms), "H")

    def posterior(self, feats: Counter[str]) -> dict[str, float]:
        known = {self.terms[t]: n for t, n in feats.items() if t in self.terms}
        if not known:
            return {}
        mass = sum(known.values())
        log_p = {label: mass * self.unseen[label] for label in self.labels}
        labels = self.labels
        for term, n in known.items():
            numbers, lifts = self.lift.get(term)  # type: ignore[misc]  # known terms only
            for number, lift in zip(numbers, lifts, strict=True):
                log_p[labels[number]] += n * lift
        top = max(log_p.values())
        weights = {label: math.exp(v - top) for label, v in log_p.items()}
        total = sum(weights.values())
        return {label: w / total for label, w in weights.items()}


# Longer "words" are never corrected: no English word needs it, and a 2,000-letter token must cost nothing.
MAX_CORRECTABLE = 20
TYPED_MIN_LENGTH = 7


def _variants(word: str) -> set[str]:
    """The word and every way to drop one letter from it."""
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def _key(variant: str) -> int:
    """A stable 32-bit key for a variant (str hashes change from process to process, and the index is
    cached). Some 30,000 keys in 2**32: a stray match needs a collision and the same first letter too."""
    return int.from_bytes(hashlib.blake2b(variant.encode(), digest_size=4).digest(), "little")


def _slip_of(typo: str, word: str) -> bool:
    """Whether `typo` is `word` with two neighbouring letters swapped or one letter left out."""
    if len(typo) == len(word):
        diffs = [i for i, (a, b) in enumerate(zip(typo, word, strict=True)) if a != b]
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and typo[diffs[0]] == word[diffs[1]]
            and typo[diffs[1]] == word[diffs[0]]
        )
    if len(typo) == len(word) - 1:
        return any(word[:i] + word[i + 1 :] == typo for i in range(len(word)))
    return False


class _Spelling:
    """Corrects single-edit typos against the words the examples use (symmetric deletes: a typo and a
    word match when dropping at most one letter from each makes them equal). The deletes are kept as
    sorted 32-bit keys beside the number of the word each comes from, two flat arrays: a dict of the
    variant strings cost several times as much memory as the words themselves."""

    def __init__(self, words: Iterable[str]) -> None:
        self.counts: Counter[str] = Counter(words)
        self.words = sorted(w for w in self.counts if MIN_CORRECTABLE - 1 <= len(w) <= MAX_CORRECTABLE + 1)
        pairs = sorted((_key(v), number) for number, word in enumerate(self.words) for v in _variants(word))
        self.keys = array("I", (key for key, _ in pairs))
        self.owners = array("H" if len(self.words) <= 0xFFFF else "I", (number for _, number in pairs))

    def correct(self, word: str) -> str:
        if word in self.counts or not MIN_CORRECTABLE <= len(word) <= MAX_CORRECTABLE or word.isdigit():
            return word
        candidates: set[str] = set()
        keys, size = self.keys, len(self.keys)
        for variant in _variants(word):
            key = _key(variant)
            at = bisect_left(keys, key)
            while at < size and keys[at] == key:
                candidates.add(self.words[self.owners[at]])
                at += 1
        # A typo seldom changes a word's first letter: 'david' is a name, not a misspelt 'javid'.
        candidates = {c for c in candidates if c[0] == word[0]}
        if not candidates:
            return word
        return max(sorted(candidates), key=lambda w: self.counts[w])


# In a question with a preamble, how much the asking sentence counts against the whole message.
FOCUS_WEIGHT = 0.6
SENTENCES = re.compile(r"(?<=[.?!])\s+|\n+")

# The label of settings.out_of_scope's examples, followed by their area ("__out_of_scope__.everyday");
# never an intent id.
OUT_OF_SCOPE = "__out_of_scope__"


def off_topic_label(area: str) -> str:
    return f"{OUT_OF_SCOPE}.{area}"


def is_off_topic(label: str) -> bool:
    return label.startswith(OUT_OF_SCOPE)


def pop_off_topic(scores: dict[str, float]) -> float:
    """Take the off-topic areas out of `scores`; the best of them (0 without any)."""
    areas = [label for label in scores if is_off_topic(label)]
    return max((scores.pop(label) for label in areas), default=0.0)


# Words that name one recommendation ("recommendation 4", "rec four"); the plural names them all, and
# the verb ("Messenger recommended, one line each") names none.
_REC_WORDS = frozenset({"recommendation", "rec", "recomendation", "reccomendation", "recommendaton"})
_JOINED = re.compile(r"^rec(?:ommendation)?([1-9])$")  # "rec4"
_NUMBER_LINKS = frozenset({"number", "no", "num"})  # "recommendation number 4", "rec no. 4"
_CLAUSE = re.compile(r"[,;:!?()\n]|\.(?:\s|$)")
_DIGIT = re.compile(r"^[1-9]$")


def recommendation_number(text: str, numbers: Mapping[str, str]) -> int | None:
    """'recommendation 4', 'rec four', 'the fourth recommendation', 'recommendation number 4', 'rec4' -> 4.
    The number must stand right beside the word, in the same clause, so a number elsewhere in the
    question ("the seven recommendations, one line each") is never read as one."""
    for clause in _CLAUSE.split(strip_markup(text).lower()):
        words = NON_WORD.sub(" ", clause.replace("'", "")).split()
        for i, word in enumerate(words):
            joined = _JOINED.match(word)
            if joined:
                return int(joined.group(1))
            if word not in _REC_WORDS:
                continue
            after = words[i + 1 : i + 3]
            if after and after[0] in _NUMBER_LINKS:
                after = after[1:]
            beside = after[:1] + words[max(0, i - 1) : i]
            for candidate in beside:
                digit = numbers.get(candidate, candidate)
                if _DIGIT.match(digit):
                    return int(digit)
    return None


class Matcher:
    """Scores a question against every intent's examples."""

    def __init__(
        self,
        examples: Mapping[str, Sequence[str]],
        rec_numbers: dict[int, str] | None = None,
        *,
        keep_stopwords: bool = False,
        vocabulary: Vocabulary = NO_VOCABULARY,
        characters: bool = True,
        spelling: _Spelling | None = None,
    ) -> None:
        """`characters=False` leaves out the character trigrams (words alone, for a small helper matcher);
        `spelling` shares another matcher's corrector instead of building one."""
        self.rec_numbers = dict(rec_numbers or {})
        self.vocabulary = vocabulary
        self.keep_stopwords = keep_stopwords
        self.labels: list[str] = []
        self.texts: list[str] = []
        words_per_doc: list[list[str]] = []
        for intent_id, texts in examples.items():
            for text in texts:
                self.labels.append(intent_id)
                self.texts.append(text)
                words_per_doc.append(self._analyse(text))
        self.spelling = spelling or _Spelling(t for text in self.texts for t in self.normalise(text))
        # The vocabulary's own long words as typed ("diversity", "implementation"): a typo of one is mended
        # before the vocabulary folds it ("divesrity" -> 'edi'). Short ones are left out: too many everyday
        # words ("pesos", "cheesy") lie one letter from "peers" or "cheers".
        self.typed_spelling = _Spelling(w for w in vocabulary.raw_words() if len(w) >= TYPED_MIN_LENGTH)
        self.word_space = _Space([_word_features(w) for w in words_per_doc])
        self.word_space.build_centroids(self.labels)
        self.bayes = _NaiveBayes([_word_features(w) for w in words_per_doc], self.labels, self.word_space.terms)
        self.char_space: _Space | None = None
        self.word_weight, self.char_weight = 1.0, 0.0
        if characters:
            self.char_space = _Space([_char_features(w) for w in words_per_doc], CHAR_MAX_SHARE)
            self.char_space.build_centroids(self.labels)
            self.word_weight, self.char_weight = WORD_WEIGHT, CHAR_WEIGHT
        self.intent_ids = list(dict.fromkeys(self.labels))
        # For each recommendation number, the other intents whose examples name it ("rec5").
        self.number_rivals: dict[int, frozenset[str]] = {}
        for number, owner in self.rec_numbers.items():
            token = f"rec{number}"
            rivals = {label for label, words in zip(self.labels, words_per_doc, strict=True) if token in words}
            self.number_rivals[number] = frozenset(rivals - {owner})

    def normalise(self, text: str) -> list[str]:
        return self.vocabulary.normalise(text)

    def _analyse(self, text: str, correct: bool = False) -> list[str]:
        if correct:
            tokens = self.vocabulary.normalise(text, self._mend_typed)
            tokens = [self.spelling.correct(t) for t in tokens]
        else:
            tokens = self.normalise(text)
        words = [] if self.keep_stopwords else content_words(tokens)
        # Small talk ("what can you do?") is all stopwords: then every word counts.
        return words or [stem(t) for t in tokens]

    def _mend_typed(self, token: str) -> str:
        """A typo of one of the vocabulary's long words, mended ("divesrity" -> "diversity"), when it is two
        letters swapped or one letter missing: a real word one letter away ("drivers" and "diverse",
        "identity" and "identify") differs by a changed or an added letter, and is left alone."""
        if token in self.spelling.counts:
            return token
        mended = self.typed_spelling.correct(token)
        return mended if mended != token and _slip_of(token, mended) else token

    def words(self, question: str) -> list[str]:
        return self._analyse(question, correct=True)

    def scores(self, question: str, among: Iterable[str] | None = None, exclude: int | None = None) -> dict[str, float]:
        """Similarity in [0, 1] of the question to each intent (intents with no overlap are left out).
        `exclude` leaves one example out, to test an example against all the others."""
        words = self.words(question)
        if not words:
            return {}
        word_feats = _word_features(words)
        word_sims, word_docs, word_centroid = self.word_space.similarities(word_feats)
        posterior = self.bayes.posterior(word_feats)
        char_sims, char_docs, char_centroid = self._char_similarities(words)
        allowed = set(among) if among is not None else None
        per_intent: dict[str, list[float]] = defaultdict(list)
        labels, word_weight, char_weight = self.labels, self.word_weight, self.char_weight
        touched = word_docs | char_docs
        if exclude is not None:
            touched.discard(exclude)
        for doc_id in touched:
            per_intent[labels[doc_id]].append(word_weight * word_sims[doc_id] + char_weight * char_sims[doc_id])
        out: dict[str, float] = {}
        for label, sims in per_intent.items():
            if allowed is not None and label not in allowed:
                continue
            top = sorted(sims, reverse=True)[:3]
            top += [0.0] * (3 - len(top))
            nearest = BEST_WEIGHT * top[0] + (1 - BEST_WEIGHT) * sum(top) / 3
            centre = word_weight * word_centroid.get(label, 0.0) + char_weight * char_centroid.get(label, 0.0)
            similarity = (1 - CENTROID_WEIGHT) * nearest + CENTROID_WEIGHT * centre
            out[label] = min(1.0, (1 - NB_WEIGHT) * similarity + NB_WEIGHT * posterior.get(label, 0.0))
        return out

    def focused_scores(self, question: str, allowed: Iterable[str] | None = None) -> dict[str, float]:
        """Scores that weigh the asking sentence above any preamble: in "Our execs are exhausted and
        there are gaps on every rota. Does your analysis recognise what leaders work under?" the
        second sentence says what is wanted; the first only sets the scene."""
        whole = self.scores(question, allowed)
        parts = SENTENCES.split(question.strip())
        if len(parts) < 2:
            return whole
        # A sentence of stopwords alone ("What are they for?") points back at the one before: no focus.
        sentences = [s for s in parts if len(self.words(s)) >= 2 and content_words(self.normalise(s))]
        if len(sentences) < 2:
            return whole
        asking = next((s for s in reversed(sentences) if s.rstrip().endswith("?")), sentences[-1])
        focus = self.scores(asking, allowed)
        return {
            label: (1 - FOCUS_WEIGHT) * whole.get(label, 0.0) + FOCUS_WEIGHT * focus.get(label, 0.0)
            for label in whole.keys() | focus.keys()
        }

    def example_similarities(self, words: Sequence[str]) -> tuple[list[float], set[int]]:
        """The similarity of analysed `words` to every example (by example number, the same word and
        character blend the nearest examples are scored with), and the examples sharing a term."""
        word_sims, word_docs, _ = self.word_space.similarities(_word_features(words))
        char_sims, char_docs, _ = self._char_similarities(words)
        blended = [self.word_weight * w + self.char_weight * c for w, c in zip(word_sims, char_sims, strict=True)]
        return blended, word_docs | char_docs

    def _char_similarities(self, words: Sequence[str]) -> tuple[list[float], set[int], dict[str, float]]:
        if self.char_space is None:
            return [0.0] * len(self.labels), set(), {}
        return self.char_space.similarities(_char_features(words))

    def nearest_example(self, doc_id: int) -> tuple[str, float] | None:
        """The label and similarity of the example most like example `doc_id` (itself left out)."""
        sims, touched = self.example_similarities(self._analyse(self.texts[doc_id]))
        best: tuple[str, float] | None = None
        for other in touched:
            if other == doc_id:
                continue
            if best is None or sims[other] > best[1]:
                best = (self.labels[other], sims[other])
        return best

    def _number_rival(
        self, question: str, number: int, target: str, threshold: float, allowed: set[str] | None
    ) -> tuple[str, float] | None:
        """The intent that answers "progress on rec 7" rather than recommendation 7's own: one whose
        examples also name the number and whose score on the rest of the question ("progress") would
        answer it on its own, clearly ahead of the recommendation's. "Explain recommendation 7" and
        "what does recommendation 7 say" leave too little for any rival, and stay with the owner."""
        rivals = [r for r in self.number_rivals.get(number, ()) if allowed is None or r in allowed]
        if not rivals:
            return None
        rest = [w for w in self.words(question) if w not in ("recommendation", f"rec{number}")]
        if not rest:
            return None
        scores = self.scores(" ".join(rest))
        best = max(rivals, key=lambda label: (scores.get(label, 0.0), label))
        score = scores.get(best, 0.0)
        if score >= threshold and score >= scores.get(target, 0.0) + RIVAL_MARGIN:
            return best, score
        return None

    def match(
        self, question: str, threshold: float, among: Iterable[str] | None = None, *, floor: float = 0.0
    ) -> Match:
        """The best intent at or above `threshold` (or None), with up to three alternatives scoring at
        least `floor`: the caller decides how weak a near miss may be and still be worth naming."""
        allowed = set(among) if among is not None else None
        scores = self.focused_scores(question, allowed)
        number = recommendation_number(question, self.vocabulary.numbers)
        # Closest to one of the off-topic areas: not ours to answer, however well a topic scores.
        off_topic = pop_off_topic(scores)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if ranked and off_topic >= ranked[0][1] and number is None:
            alternatives = tuple(Candidate(i, round(s, 4)) for i, s in ranked[:MAX_ALTERNATIVES] if s >= threshold)
            return Match(None, round(ranked[0][1], 4), alternatives, round(off_topic, 4))
        if number is not None and number in self.rec_numbers:
            target = self.rec_numbers[number]
            top = self._number_rival(question, number, target, threshold, allowed)
            if top is not None:
                # "progress on rec 7": a topic whose own examples name recommendation 7 (where the later
                # recommendations stand) and that fits the rest of the question better answers it.
                ranked = [top] + [kv for kv in ranked if kv[0] != top[0]]
            elif allowed is None or target in allowed:
                rest = [kv for kv in ranked if kv[0] != target]
                ranked = [(target, 1.0)] + rest
        if not ranked or ranked[0][1] < threshold:
            alternatives = tuple(Candidate(i, round(s, 4)) for i, s in ranked[:MAX_ALTERNATIVES] if s >= floor)
            return Match(None, round(ranked[0][1], 4) if ranked else 0.0, alternatives, round(off_topic, 4))
        best, confidence = ranked[0]
        alternatives = tuple(Candidate(i, round(s, 4)) for i, s in ranked[1 : MAX_ALTERNATIVES + 1] if s >= floor)
        return Match(best, round(confidence, 4), alternatives, round(off_topic, 4))
