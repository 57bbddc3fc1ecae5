"""Question in, Answer out: matching plus thread follow-ups, over one validated catalogue."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable

from intents.matcher import MAX_ALTERNATIVES, SENTENCES, Matcher, is_off_topic, off_topic_label, pop_off_topic
from intents.model import Answer, Candidate, Catalogue, Intent, Match
from intents.text import APOSTROPHES, MAX_CHARS, STOPWORDS, content_words, normalise, stem, strip_markup

FOLLOWUP_THRESHOLD = 0.55
# A follow-up is a short reply: longer text is a new question, whatever it starts with.
FOLLOWUP_MAX_WORDS = 8
# A topic scoring under this must share at least one of the catalogue's own words (an anchor) with the
# question, or point back at something ("is it funded?", "your programmes"): "how do I find the area of a
# circle" scores 0.29 for review_findings through "find" alone, and belongs to the fallback. Chosen on
# tests/data/dev.tsv and the training split of a public off-topic benchmark, never on tests/data/blind.tsv.
ANCHOR_CONFIDENCE = 0.35
# A word is an anchor when the topics' examples use it at least this many times as often (per example)
# as the off-topic examples of every area do; ANCHOR_SMOOTHING stands in for a count of zero, and a
# small area's rates are drawn towards those of all areas together as if it held ANCHOR_PRIOR more
# examples, so one mention among a few event questions does not disqualify a word.
ANCHOR_RATIO = 2.0
ANCHOR_SMOOTHING = 0.1
ANCHOR_PRIOR = 50
# ...and when at least this many topic examples use it: a word one example happens to use ("in this area")
# is no mark of our topics, however rare off-topic.
ANCHOR_MIN_EXAMPLES = 2
# Words that point back at the conversation or at the Confederation: a question holding one is ours to try.
POINTING_WORDS = frozenset({"it", "this", "that", "these", "those", "they", "them", "your", "yours"})
# Small talk is mostly words the topic matcher leaves out ("how are you doing, ai?" is ['ai'] to it). A
# question that falls back or gets small talk, with at most SMALL_TALK_MAX_WORDS words of meaning, is
# read again with every word against the small talk and off-topic examples of at most
# SMALL_TALK_EXAMPLE_WORDS such words (the short ones, like it); small talk scoring this much answers.
# Chosen on the training and validation splits of a public intent benchmark and tests/data/dev.tsv.
SMALL_TALK_CONFIDENCE = 0.45
SMALL_TALK_MAX_WORDS = 2
SMALL_TALK_EXAMPLE_WORDS = 3
SMALL_TALK_OFF_TOPIC_MARGIN = 0.1
# A foreign word is one at least FOREIGN_MIN_EXAMPLES off-topic examples use and no intent's examples do
# ("hewitt", "fuller", "darzi"): a question holding one is about something else unless its topic leads
# the closest off-topic area by FOREIGN_MARGIN. "Hewitt review recommendations" is the Hewitt review,
# not Messenger's seven. Chosen on tests/data/dev.tsv and the training split of a public benchmark.
FOREIGN_MIN_EXAMPLES = 2
FOREIGN_MARGIN = 0.1
# A sentence opening with one of these asks whether something has been done ("Has the government funded
# the implementation?", "Has the talent function been set up?"): where it stands, like settings.status_words.
# Not "have there been" (whether something exists: "have there been other leadership reviews?").
HAS_IT_HAPPENED = frozenset({"has", "have", "hasnt", "havent"})
# ...nor when the sentence asks what was said or whether the bot has something: "has the review said
# anything about appraisals?", "have you a summary of recommendation 4?".
WHAT_IT_SAYS = frozenset(
    "you said say says mention mentioned recommend recommended cover covered suggest suggested propose proposed "
    "include included address addressed anything got".split()
)
# Words a sentence may open with before its question ("hi, has the talent function been set up?").
OPENERS = frozenset({"hi", "hello", "hey", "so", "ok", "okay", "and", "but", "also", "quick", "question"})
# Words a request may open with before saying what it wants made ("can you please draft..."): see
# settings.task_openings.
TASK_CHARS = 200
REQUEST_LEAD = frozenset(
    "can could would will you please pls plz hey hi hello bot i need want to help me just quickly quick id like "
    "ok okay so now also kindly u".split()
)
# ...but a lead that speaks of "I" and never of "you" is the member's own plan, not a request to the bot:
# "I need to write a board paper on Messenger, what are the key points?" is a question.
FIRST_PERSON = frozenset({"i", "id", "im", "ive"})
# Words that name a review, report or programme. One named by a word no topic example uses ("the Cass
# review", "the Nye Bevan programme", "a PRINCE2 course") is someone else's, not Messenger's review nor one
# of our offers, unless the question also names Messenger.
REVIEW_WORDS = frozenset(
    {"review", "report", "inquiry", "enquiry", "stocktake", "investigation", "audit", "programme", "fellowship"}
)  # "course", "scheme" and "program" reach this as "programme" (vocabulary.concepts)
# Describing words that come before "review" or "programme" without naming one.
NOT_NAMES = frozenset(
    """independent original final full new free online national annual rapid interim recent latest last first
    second whole entire main big major mentoring coaching training leadership development local regional
    internal external government official short long formal informal similar separate previous earlier later
    next current proper recommended related wider broader overall general special public private joint
    clinical executive management staff board annual peer""".split()
)


def build_matchers(catalogue: Catalogue) -> tuple[Matcher, Matcher | None, Matcher | None]:
    """The intent matcher (with each area of off-topic examples as a class of its own), the follow-up
    one, and the small-talk one (see Engine._read_as_small_talk)."""
    examples = {i.id: i.examples for i in catalogue.intents}
    for area, texts in catalogue.settings.out_of_scope.items():
        examples[off_topic_label(area)] = texts
    vocabulary = catalogue.vocabulary
    rec_numbers = {i.recommendation_number: i.id for i in catalogue.intents if i.recommendation_number}
    matcher = Matcher(examples, rec_numbers, vocabulary=vocabulary)
    followups = None
    if catalogue.settings.followups:
        followups = Matcher(dict(catalogue.settings.followups), keep_stopwords=True, vocabulary=vocabulary)

    def short(texts: Iterable[str]) -> list[str]:
        return [t for t in texts if len(content_words(vocabulary.normalise(t))) <= SMALL_TALK_EXAMPLE_WORDS]

    chat = {i.id: short(i.examples) for i in catalogue.intents if not i.is_topic}
    small_talk = None
    if any(chat.values()):
        chat.update((label, short(texts)) for label, texts in examples.items() if is_off_topic(label))
        # Words alone, and the topic matcher's spelling: a few hundred short examples need no more.
        small_talk = Matcher(
            {label: texts for label, texts in chat.items() if texts},
            keep_stopwords=True,
            vocabulary=vocabulary,
            characters=False,
            spelling=matcher.spelling,
        )
    return matcher, followups, small_talk


def speaks_of_us(matcher: Matcher, anchors: frozenset[str], question: str) -> bool:
    """Whether the question holds one of our anchor words, or a word pointing back at the conversation
    or at the Confederation: what a weak topic match needs before it is answered."""
    return bool(set(matcher.words(question)) & anchors or set(matcher.normalise(question)) & POINTING_WORDS)


WordsOf = Callable[[str], frozenset[str]]


def words_of(matcher: Matcher) -> WordsOf:
    """The distinct words (as the matcher reads them) of an example, each example read once: anchor,
    topic and foreign words all count the same examples at start-up."""
    cache: dict[str, frozenset[str]] = {}

    def read(text: str) -> frozenset[str]:
        if text not in cache:
            cache[text] = frozenset(content_words(matcher.normalise(text)))
        return cache[text]

    return read


def anchor_words(catalogue: Catalogue, matcher: Matcher, read: WordsOf | None = None) -> frozenset[str]:
    """The words (as the matcher reads them) that mark a question as being about our topics: used by the
    topics' examples far more often than by the off-topic examples of any one area (a word common among
    questions on other NHS policy is no anchor, however rare among weather questions). Empty without
    off-topic examples."""
    areas = [texts for texts in catalogue.settings.out_of_scope.values() if texts]
    if not areas:
        return frozenset()
    read = read or words_of(matcher)

    def rates(examples: Iterable[str]) -> tuple[Counter[str], int]:
        counts: Counter[str] = Counter()
        n = 0
        for example in examples:
            n += 1
            counts.update(read(example))
        return counts, n

    topics, count = rates(e for i in catalogue.intents if i.is_topic for e in i.examples)
    elsewhere = [rates(texts) for texts in areas]
    total = sum(size for _, size in elsewhere)
    pooled: Counter[str] = sum((seen for seen, _ in elsewhere), Counter())
    floor = ANCHOR_SMOOTHING / total

    def off_topic_rate(word: str) -> float:
        prior = pooled[word] / total
        return max((seen[word] + ANCHOR_PRIOR * prior) / (size + ANCHOR_PRIOR) for seen, size in elsewhere)

    return frozenset(
        word
        for word, n in topics.items()
        if n >= ANCHOR_MIN_EXAMPLES and n / count >= ANCHOR_RATIO * (off_topic_rate(word) + floor)
    )


def _capitalised(question: str, word: str) -> bool:
    """Whether `word` (as normalised: lower case, no apostrophes) is written with a capital somewhere in the
    question other than at the start of a sentence: a name ("the Francis report")."""
    text = APOSTROPHES.sub("", strip_markup(question[:MAX_CHARS]))
    for found in re.finditer(rf"\b{re.escape(word)}\b", text, re.IGNORECASE):
        before = text[: found.start()].rstrip()
        if found.group(0)[0].isupper() and before and before[-1] not in ".?!:":
            return True
    return False


def topic_words(catalogue: Catalogue, matcher: Matcher, read: WordsOf | None = None) -> frozenset[str]:
    """Every word (as the matcher reads them) that some topic's examples use."""
    read = read or words_of(matcher)
    return frozenset(word for i in catalogue.intents if i.is_topic for e in i.examples for word in read(e))


def foreign_words(catalogue: Catalogue, matcher: Matcher, read: WordsOf | None = None) -> frozenset[str]:
    """The words (as the matcher reads them) that off-topic examples use and our intents never do: see
    FOREIGN_MIN_EXAMPLES. Empty without off-topic examples."""
    read = read or words_of(matcher)
    ours = {word for intent in catalogue.intents for e in intent.examples for word in read(e)}
    counts: Counter[str] = Counter()
    for example in catalogue.settings.off_topic_examples:
        counts.update(read(example) - ours)
    return frozenset(word for word, n in counts.items() if n >= FOREIGN_MIN_EXAMPLES)


class Engine:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.threshold = catalogue.settings.confidence_threshold
        self.suggestion_floor = catalogue.settings.suggestion_floor
        self.matcher, self.followups, self.small_talk = build_matchers(catalogue)
        read = words_of(self.matcher)
        self.anchors = anchor_words(catalogue, self.matcher, read)
        self.foreign = foreign_words(catalogue, self.matcher, read)
        self.topic_words = topic_words(catalogue, self.matcher, read)
        self.task_openings = tuple(tuple(normalise(t)) for t in catalogue.settings.task_openings if normalise(t))
        # topic -> the intent reporting where it stands; and the words that ask that, as the matcher reads them
        self.status_intent = {topic: i.id for i in catalogue.intents for topic in i.status_of}
        self.status_words = {w for phrase in catalogue.settings.status_words for w in self.matcher.normalise(phrase)}
        # Every word the follow-up phrases use: what is left of a question without them names its topic.
        self.followup_words = {
            w for phrases in catalogue.settings.followups.values() for p in phrases for w in self.matcher.normalise(p)
        }

    def match(self, question: str) -> Match:
        """The best intent, and alternatives no weaker than the suggestion floor: a fallback that names
        a barely related topic ("weather in Leeds" -> action learning sets) misleads more than it helps."""
        match, task = self._topics(question)
        return match if task else self._read_as_small_talk(question, match)

    def match_topics(self, question: str) -> Match:
        """The topic matcher's answer alone, before small talk reads the question again (see
        _read_as_small_talk): what a thread follow-up is weighed against."""
        return self._topics(question)[0]

    def _topics(self, question: str) -> tuple[Match, bool]:
        """match_topics, and whether the question is a request to make something (see task_opening),
        which neither small talk nor a thread follow-up may answer: decided once per question."""
        match = self.matcher.match(question, self.threshold, floor=self.suggestion_floor)
        if self.task_opening(question):
            return Match(None, match.confidence, (), match.off_topic), True
        return self._checked(question, match), False

    def _checked(self, question: str, match: Match) -> Match:
        """The topic matcher's `match`, held back, passed over or sent to where it stands."""
        if self.held_back(question, match.intent_id, match.confidence):
            # Nothing in the question is ours: the plain fallback, with no far-fetched "did you mean".
            return Match(None, match.confidence, (), match.off_topic)
        if self.is_topic(match.intent_id) and self.other_review(question):
            return Match(None, match.confidence, (), match.off_topic)
        if self.about_something_else(question, match):
            return Match(None, match.confidence, (), match.off_topic)
        if match.intent_id is None and match.alternatives:
            # "Did you mean" offers topics only ("Did you mean: Hello?" helps nobody), and only when the
            # question holds one of our words.
            topics = tuple(c for c in match.alternatives if self.is_topic(c.intent_id))
            return Match(None, match.confidence, topics if self._speaks_of_us(question) else (), match.off_topic)
        if not self.is_topic(match.intent_id):
            return match
        return self._where_it_stands(question, match)

    def _read_as_small_talk(self, question: str, match: Match) -> Match:
        """A short fallback or small talk, read again with every word, against the small talk and
        off-topic examples alone: "all good with you?" is ['good'] to the topic matcher, which sent it to
        goodbye. Small talk scoring SMALL_TALK_CONFIDENCE, ahead of every
        off-topic area, answers; small talk the topic matcher chose falls back when an off-topic area
        leads all small talk by SMALL_TALK_OFF_TOPIC_MARGIN ("i need that said again" is no help
        request). A topic stands."""
        if self.is_topic(match.intent_id):
            return match
        if self.small_talk is None or len(content_words(self.matcher.normalise(question))) > SMALL_TALK_MAX_WORDS:
            return match
        scores = self.small_talk.focused_scores(question)
        off_topic = pop_off_topic(scores)
        best, score = max(scores.items(), key=lambda kv: (kv[1], kv[0]), default=(None, 0.0))
        if best is not None and score >= SMALL_TALK_CONFIDENCE and score > off_topic:
            return Match(best, round(score, 4), ())
        if match.intent_id is not None and off_topic >= score + SMALL_TALK_OFF_TOPIC_MARGIN:
            return Match(None, match.confidence, ())
        return match

    def _where_it_stands(self, question: str, match: Match) -> Match:
        """'Was the national induction ever introduced?' names recommendation 1's topic but asks where it
        stands: the intent that reports on it (its `status_of`) answers, the topic itself comes next."""
        status = self.status_intent.get(match.intent_id or "")
        if status is None or not self.asks_where_it_stands(question):
            return match
        topic = Candidate(match.intent_id, match.confidence)  # type: ignore[arg-type]
        rest = tuple(c for c in match.alternatives if c.intent_id != status)
        return Match(status, match.confidence, (topic, *rest)[:MAX_ALTERNATIVES])

    def asks_where_it_stands(self, question: str) -> bool:
        """A status word anywhere, or a sentence opening with HAS_IT_HAPPENED (see there)."""
        if set(self.matcher.normalise(question)) & self.status_words:
            return True
        for sentence in SENTENCES.split(question[:MAX_CHARS].strip()):
            tokens = normalise(sentence)
            while tokens and tokens[0] in OPENERS:
                tokens = tokens[1:]
            if not tokens or tokens[0] not in HAS_IT_HAPPENED or tokens[1:2] == ["there"]:
                continue
            if not set(tokens) & WHAT_IT_SAYS:
                return True
        return False

    def is_topic(self, intent_id: str | None) -> bool:
        intent = self.catalogue.get(intent_id)
        return intent is not None and intent.is_topic

    def _speaks_of_us(self, question: str) -> bool:
        """The anchor test (see speaks_of_us); passed by every question when there are no anchors. A
        fallback offers its near misses only then: "i need to speak to customer service about my
        flight" falls back on the everyday questions, and should not offer a person at the Confederation."""
        return not self.anchors or speaks_of_us(self.matcher, self.anchors, question)

    def about_something_else(self, question: str, match: Match) -> tuple[str, ...]:
        """The foreign words for which the topic matched is passed over: the question holds them and the
        topic does not lead the closest off-topic area by FOREIGN_MARGIN (see foreign_words). Empty when
        the topic stands."""
        if not self.is_topic(match.intent_id) or match.confidence >= match.off_topic + FOREIGN_MARGIN:
            return ()
        return tuple(sorted(set(self.matcher.words(question)) & self.foreign))

    def task_opening(self, question: str) -> str | None:
        """The opening of settings.task_openings that the question starts with, after any REQUEST_LEAD
        words ("Can you draft a board paper on EDI?" -> "draft"), or None: a request to make something."""
        # Only the opening matters: the first words, without reading the whole of a long message.
        tokens = normalise(question[:TASK_CHARS])
        start = 0
        while start < len(tokens) and tokens[start] in REQUEST_LEAD:
            start += 1
        lead = set(tokens[:start])
        if lead & FIRST_PERSON and "you" not in lead:
            return None
        for opening in self.task_openings:
            if tuple(tokens[start : start + len(opening)]) == opening:
                return " ".join(opening)
        return None

    def other_review(self, question: str) -> str | None:
        """The name of another review, report or programme the question asks about ("cass" in "key
        findings of the Cass review?", "bevan" in "the Nye Bevan programme"): the word right before one of
        REVIEW_WORDS, when no topic example uses it, it is no common describing word ("the independent
        review", "a free course": NOT_NAMES), and it looks like a name: no example of any kind uses it, or
        only off-topic ones do (a foreign word), or it is written with a capital inside the sentence ("the
        Francis report"). None when there is none, or when the question also names Messenger."""
        tokens = self.matcher.normalise(question)
        names = [
            before
            for before, word in zip(tokens, tokens[1:], strict=False)
            if word in REVIEW_WORDS and before not in STOPWORDS and before not in NOT_NAMES and not before.isdigit()
        ]
        for before in names:
            name = stem(self.matcher.spelling.correct(before))
            if name in self.topic_words or name in NOT_NAMES:
                continue
            unseen = before not in self.matcher.spelling.counts
            if (unseen or name in self.foreign or _capitalised(question, before)) and not self._names_messenger(
                question
            ):
                return name
        return None

    def _names_messenger(self, question: str) -> bool:
        return "messenger" in self.matcher.words(question)

    def held_back(self, question: str, intent_id: str | None, confidence: float) -> bool:
        """Whether a topic scoring `confidence` is held back for want of an anchor word: weak, and the
        question shares no word of ours and points back at nothing (see ANCHOR_CONFIDENCE)."""
        if confidence >= ANCHOR_CONFIDENCE or not self.is_topic(intent_id):
            return False
        return not self._speaks_of_us(question)

    def suggestions(self, question: str) -> tuple[str, ...]:
        """The intent ids a fallback would offer for this question had it fallen back, whatever its
        confidence: how `bot eval` asks whether a miss would still have reached the right topic."""
        # A threshold nothing reaches sends every question down the fallback path, floor and all.
        match = self.matcher.match(question, math.inf, floor=self.suggestion_floor)
        return tuple(c.intent_id for c in match.alternatives)

    def answer(self, question: str, previous_intent: str | None = None) -> Answer:
        """Answer a question; in a thread, `previous_intent` is the topic last answered there."""
        match, task = self._topics(question)
        previous = self.catalogue.get(previous_intent)
        if previous is not None and self.followups is not None and not task:
            kind, score = self._followup_kind(question)
            # "how do I sign up?" follows the thread's topic; "how do I join the EDI network?" names
            # its own: a follow-up wins when nothing but follow-up words is left, or nothing else matched.
            left = [w for w in self.matcher.normalise(question) if w not in self.followup_words]
            names_topic = bool(content_words(left))
            if kind is not None and (not names_topic or match.intent_id is None):
                mode = {"more": "more", "signup": "signup", "read": "read"}[kind]
                return Answer(question, previous, round(score, 4), self._alternatives(match), mode, followup=True)  # type: ignore[arg-type]
        if not task:
            match = self._read_as_small_talk(question, match)
        intent = self.catalogue.get(match.intent_id)
        if intent is None:
            return Answer(question, None, match.confidence, self._alternatives(match), "fallback")
        return Answer(question, intent, match.confidence, self._alternatives(match), "full")

    def _followup_kind(self, question: str) -> tuple[str | None, float]:
        assert self.followups is not None
        if len(self.followups.words(question)) > FOLLOWUP_MAX_WORDS:
            return None, 0.0
        result = self.followups.match(question, FOLLOWUP_THRESHOLD)
        return result.intent_id, result.confidence

    def _alternatives(self, match: Match) -> tuple[Intent, ...]:
        found = (self.catalogue.get(c.intent_id) for c in match.alternatives)
        return tuple(i for i in found if i is not None)

    def signup_offer(self, text: str) -> Intent | None:
        """The offer a `signup <text>` command names, or None when it names none clearly."""
        offers = [i.id for i in self.catalogue.offers]
        if not text.strip() or not offers:
            return None
        result = self.matcher.match(text, self.threshold * 0.6, among=offers)
        return self.catalogue.get(result.intent_id)
