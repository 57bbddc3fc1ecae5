"""Turn a member's raw Slack text into comparable tokens.

Slack markup, emoji, case, punctuation and number words must not change the answer, so they are
all folded away here, before any matching. Work is bounded: only the first MAX_CHARS characters and
MAX_TOKENS tokens of a question are considered, so a 40,000-character message costs no more than a
paragraph.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

MAX_CHARS = 2000
MAX_TOKENS = 60

_MARKUP = re.compile(r"<([^<>\n]{0,500})>")
# Slack's special sequences that notify people: <!here>, <!channel>, <!everyone>, <!subteam^S123|@team>,
# <@U123>, <@W123|name> (labels of any length), and the plain-text broadcasts Slack may still expand when
# link_names is on. One definition: the content check refuses them, and every reply is cleaned of them.
SPECIAL_MENTION = re.compile(r"<[!@][^<>]*>")
PLAIN_BROADCAST = re.compile(r"(?<![\w@])@(here|channel|everyone)\b", re.IGNORECASE)
_EMOJI = re.compile(r":[a-z0-9_+'-]{1,60}:")
NON_WORD = re.compile(r"[^a-z0-9]+")
APOSTROPHES = re.compile(r"[’'`]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")

# Only "i".."vii" as Roman numerals right after a recommendation word; elsewhere "i" is a pronoun.
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii"}
# A comma, semicolon, colon, question or exclamation mark, bracket or full stop ends a clause. A number
# word that opens a clause names a recommendation only if a recommendation word stands right before or
# after it ("recommended, one line each" is not recommendation 1; "rec. four" is recommendation 4).
_CLAUSE_BREAK = re.compile(r"[,;:!?()]|\.(?:\s|$)")
# The words that name one recommendation ("recommendation 4", "rec four"), their plurals, and the words
# that may stand between one and its number ("recommendation number 4"): one list, read here and by the
# engine's `recommendation N`.
REC_WORDS = frozenset({"recommendation", "rec", "recomendation", "reccomendation", "recommendaton"})
REC_PLURALS = frozenset({"recommendations", "recs", "recomendations", "reccomendations"})
NUMBER_LINKS = frozenset({"number", "no", "num"})
_REC_WORDS = REC_WORDS | REC_PLURALS | NUMBER_LINKS


def strip_markup(text: str) -> str:
    """Remove Slack markup: mentions and broadcasts vanish, links keep only their label, emoji go."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        if inner.startswith("#") and "|" in inner:
            return " " + inner.split("|", 1)[1] + " "
        if inner.startswith(("@", "!", "#")):
            return " "
        if "|" in inner:
            return " " + inner.split("|", 1)[1] + " "
        return " "

    text = _MARKUP.sub(replace, text[:MAX_CHARS])
    text = _EMOJI.sub(" ", text)
    return html.unescape(text)


@dataclass(frozen=True)
class Vocabulary:
    """What members' words mean to the bot, from the `vocabulary:` section of responses.yaml: number
    words as digits, synonyms and short forms, concept words, and two-word phrases. Staff own it."""

    numbers: Mapping[str, str] = field(default_factory=dict)
    synonyms: Mapping[str, str] = field(default_factory=dict)
    concepts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    phrases: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        concept_of = {word: concept for concept, words in self.concepts.items() for word in words}
        object.__setattr__(self, "_concept_of", concept_of)

    def raw_words(self) -> list[str]:
        """The words this vocabulary reads (number words, synonyms, concept words and the words of its
        phrases), as typed."""
        words = [*self.numbers, *self.synonyms]
        words += [w for members in self.concepts.values() for w in members]
        words += [w for pair in self.phrases for w in pair]
        return words

    def normalise(self, text: str, correct: Callable[[str], str] | None = None) -> list[str]:
        """Tokens of a question: lower case, ASCII-folded, number words as digits, synonyms merged.
        `correct` mends each word's spelling first, so a misspelt synonym ("divesrity") is still read."""
        text = strip_markup(text)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
        text = APOSTROPHES.sub("", text)
        text = _THOUSANDS.sub("", text)
        raw: list[str] = []
        opens: set[int] = set()  # positions of the first token of each clause
        for clause in _CLAUSE_BREAK.split(text):
            opens.add(len(raw))
            raw.extend(NON_WORD.sub(" ", clause).split())
        raw = raw[:MAX_TOKENS]
        if correct is not None:
            raw = [correct(token) for token in raw]
        tokens: list[str] = []
        for i, token in enumerate(raw):
            previous = tokens[-1] if tokens else ""
            if token in _ROMAN and previous != "recommendation":
                tokens.append(token)
                continue
            if token in self.numbers:
                beside = {raw[i - 1] if i > 0 else "", raw[i + 1] if i + 1 < len(raw) else ""}
                if i in opens and i > 0 and not beside & _REC_WORDS:
                    continue
                tokens.append(self.numbers[token])
                continue
            tokens.extend(self.synonyms.get(token, token).split())
        return self._fold_concepts(tokens)

    def _fold_concepts(self, tokens: list[str]) -> list[str]:
        concept_of: dict[str, str] = self._concept_of  # type: ignore[attr-defined]
        out: list[str] = []
        i = 0
        while i < len(tokens):
            pair = self.phrases.get((tokens[i], tokens[i + 1])) if i + 1 < len(tokens) else None
            if pair is not None:
                out.append(pair)
                i += 2
                continue
            out.append(concept_of.get(tokens[i], tokens[i]))
            i += 1
        return out


NO_VOCABULARY = Vocabulary()


def normalise(text: str, vocabulary: Vocabulary = NO_VOCABULARY) -> list[str]:
    return vocabulary.normalise(text)


STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my myself no nor
    not now of off on once only or other our ours out over own same she should so some such than that
    the their theirs them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself im ive id
    dont doesnt whats thats theres hes shes its please tell know want get got us really thing things
    anything something like okay ok lot bit one actually exactly basically honestly literally simply anyway
    anyways precisely truly came come comes isnt wasnt arent werent hasnt havent hadnt didnt cant couldnt
    wont wouldnt shouldnt etc""".split()
)


def stem(token: str) -> str:
    """A deliberately light stemmer: plural and common verb endings only."""
    if len(token) > 5 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 5 and token.endswith("ing"):
        return token[:-3]
    if len(token) > 4 and token.endswith("ed") and not token.endswith("eed"):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def content_words(tokens: list[str]) -> list[str]:
    """Stemmed words that carry meaning. A lone digit only means something next to 'recommendation'
    (as 'rec4'); elsewhere ('2 + 2') it is noise."""
    out = []
    for i, token in enumerate(tokens):
        if len(token) == 1 and token.isdigit():
            near = tokens[max(0, i - 2) : i] + tokens[i + 1 : i + 3]
            if "recommendation" in near or "recommendations" in near:
                out.append("rec" + token)
            continue
        if token not in STOPWORDS:
            out.append(stem(token))
    return out
