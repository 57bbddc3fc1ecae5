"""Content warnings for `python -m bot check`: examples the matcher would send elsewhere, and pairs
of intents whose examples overlap so much that members will get the wrong one."""

from __future__ import annotations

from collections import Counter

from intents.engine import ANCHOR_CONFIDENCE, anchor_words, speaks_of_us
from intents.loader import Problem
from intents.matcher import Matcher, recommendation_number
from intents.model import Catalogue

# An example is reported as misrouted when another intent beats its own by more than this.
MISROUTE_MARGIN = 0.15
# An example "leans" across a pair when its single most similar example belongs to the other intent;
# a pair is reported when at least this many examples, and this share of the smaller intent's, do.
OVERLAP_MIN_EXAMPLES = 3
OVERLAP_MIN_SHARE = 0.33
WORST_PAIRS = 5


def content_warnings(catalogue: Catalogue) -> list[Problem]:
    intents = {i.id: i for i in catalogue.intents}
    matcher = Matcher({i.id: i.examples for i in catalogue.intents}, vocabulary=catalogue.vocabulary)
    rec_numbers = {i.recommendation_number: i.id for i in catalogue.intents if i.recommendation_number}
    lines = {(i.id, t): n for i in catalogue.intents for t, n in zip(i.examples, i.example_lines, strict=False)}
    threshold = catalogue.settings.confidence_threshold
    path = str(catalogue.path)
    warnings: list[Problem] = []
    leaning: Counter[tuple[str, str]] = Counter()
    anchors = anchor_words(catalogue, matcher)
    for doc_id, (label, text) in enumerate(zip(matcher.labels, matcher.texts, strict=False)):
        if rec_numbers.get(recommendation_number(text, matcher.vocabulary.numbers) or 0) == label:
            continue  # answered by its number, whatever the words say
        scores = matcher.scores(text, exclude=doc_id)
        own = scores.get(label, 0.0)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        if ranked and ranked[0][0] != label and ranked[0][1] >= threshold and ranked[0][1] > own + MISROUTE_MARGIN:
            other = ranked[0][0]
            warnings.append(
                Problem(
                    path,
                    *lines.get((label, text), (intents[label].line, 1)),
                    f"intent '{label}' field 'examples': '{text}' is matched to '{other}' "
                    f"({ranked[0][1]:.2f} against {own:.2f}); reword it or add examples like it",
                    "warning",
                )
            )
        if anchors and intents[label].is_topic and own < ANCHOR_CONFIDENCE and not speaks_of_us(matcher, anchors, text):
            warnings.append(
                Problem(
                    path,
                    *lines.get((label, text), (intents[label].line, 1)),
                    f"intent '{label}' field 'examples': '{text}' has none of the words the topics share "
                    f"(it scores {own:.2f}, under {ANCHOR_CONFIDENCE}), so a member asking this way is told "
                    "the bot does not know; add examples that ask it in the topic's own words",
                    "warning",
                )
            )
        nearest = matcher.nearest_example(doc_id)
        if nearest is not None and nearest[0] != label:
            first, second = sorted((label, nearest[0]))
            leaning[(first, second)] += 1

    def worth_reporting(pair: tuple[str, str], n: int) -> bool:
        smaller = min(len(intents[pair[0]].examples), len(intents[pair[1]].examples))
        return n >= max(OVERLAP_MIN_EXAMPLES, OVERLAP_MIN_SHARE * smaller)

    pairs = [(pair, n) for pair, n in leaning.most_common() if worth_reporting(pair, n)][:WORST_PAIRS]
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
