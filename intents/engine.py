"""Question in, Answer out: matching plus thread follow-ups, over one validated catalogue."""

from __future__ import annotations

import math

from intents.matcher import OUT_OF_SCOPE, Matcher
from intents.model import Answer, Catalogue, Intent, Match
from intents.text import content_words

FOLLOWUP_THRESHOLD = 0.55
# A follow-up is a short reply: longer text is a new question, whatever it starts with.
FOLLOWUP_MAX_WORDS = 8


def build_matchers(catalogue: Catalogue) -> tuple[Matcher, Matcher | None]:
    """The intent matcher (with the off-topic examples as a class of their own) and the follow-up one."""
    examples = {i.id: i.examples for i in catalogue.intents}
    if catalogue.settings.out_of_scope:
        examples[OUT_OF_SCOPE] = catalogue.settings.out_of_scope
    vocabulary = catalogue.vocabulary
    rec_numbers = {i.recommendation_number: i.id for i in catalogue.intents if i.recommendation_number}
    matcher = Matcher(examples, rec_numbers, vocabulary=vocabulary)
    followups = None
    if catalogue.settings.followups:
        followups = Matcher(dict(catalogue.settings.followups), keep_stopwords=True, vocabulary=vocabulary)
    return matcher, followups


class Engine:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.threshold = catalogue.settings.confidence_threshold
        self.suggestion_floor = catalogue.settings.suggestion_floor
        self.matcher, self.followups = build_matchers(catalogue)
        # Every word the follow-up phrases use: what is left of a question without them names its topic.
        self.followup_words = {
            w for phrases in catalogue.settings.followups.values() for p in phrases for w in self.matcher.normalise(p)
        }

    def match(self, question: str) -> Match:
        """The best intent, and alternatives no weaker than the suggestion floor: a fallback that names
        a barely related topic ("weather in Leeds" -> action learning sets) misleads more than it helps."""
        return self.matcher.match(question, self.threshold, floor=self.suggestion_floor)

    def suggestions(self, question: str) -> tuple[str, ...]:
        """The intent ids a fallback would offer for this question had it fallen back, whatever its
        confidence: how `bot eval` asks whether a miss would still have reached the right topic."""
        # A threshold nothing reaches sends every question down the fallback path, floor and all.
        match = self.matcher.match(question, math.inf, floor=self.suggestion_floor)
        return tuple(c.intent_id for c in match.alternatives)

    def answer(self, question: str, previous_intent: str | None = None) -> Answer:
        """Answer a question; in a thread, `previous_intent` is the topic last answered there."""
        match = self.match(question)
        previous = self.catalogue.get(previous_intent)
        if previous is not None and self.followups is not None:
            kind, score = self._followup_kind(question)
            # "how do I sign up?" follows the thread's topic; "how do I join the EDI network?" names
            # its own: a follow-up wins when nothing but follow-up words is left, or nothing else matched.
            left = [w for w in self.matcher.normalise(question) if w not in self.followup_words]
            names_topic = bool(content_words(left))
            if kind is not None and (not names_topic or match.intent_id is None):
                mode = {"more": "more", "signup": "signup", "read": "read"}[kind]
                return Answer(question, previous, round(score, 4), self._alternatives(match), mode, followup=True)  # type: ignore[arg-type]
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
