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

MAX_CHARS = 2000
MAX_TOKENS = 60

_MARKUP = re.compile(r"<([^<>\n]{0,500})>")
_EMOJI = re.compile(r":[a-z0-9_+'-]{1,60}:")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"[’'`]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")

_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "first": "1", "second": "2", "third": "3", "fourth": "4", "fifth": "5", "sixth": "6", "seventh": "7",
    "eighth": "8", "1st": "1", "2nd": "2", "3rd": "3", "4th": "4", "5th": "5", "6th": "6", "7th": "7",
    "8th": "8", "i": "1", "ii": "2", "iii": "3", "iv": "4", "v": "5", "vi": "6", "vii": "7",
}  # fmt: skip
_SYNONYMS = {
    "rec": "recommendation", "recs": "recommendations", "recomendation": "recommendation",
    "recomendations": "recommendations", "tldr": "tl dr", "recommend": "recommendation",
    "recommended": "recommendation", "recommending": "recommendation",
    "confed": "confederation", "nhsconfed": "confederation", "keypoints": "key points",
    "overmanaged": "over managed", "undermanaged": "under managed", "nonexecutive": "non executive",
    "nonexec": "non exec", "signup": "sign up", "nhsei": "nhse", "execs": "exec", "executives": "executive",
    "neds": "ned", "gps": "gp",
    "u": "you", "ur": "your", "pls": "please", "plz": "please", "thx": "thanks", "ty": "thanks",
    "info": "information", "govt": "government", "gov": "government", "mgmt": "management",
    "managers": "manager", "leaders": "leader",
}  # fmt: skip
# Words that mean the same thing to this bot, folded to one concept word so a member's wording need
# not match an example's exactly. Applied after number folding; matched on whole words.
_CONCEPTS = {
    "find": "found finding findings conclude concluded concludes conclusion conclusions verdict discover discovered "
    "uncover uncovered identify identified flag flagged",
    "ned": "ned neds nonexec nonexecs",
    "edi": "diversity diverse inclusion inclusive equality equal equalities race racial racism ethnic ethnicity bame",
    "recommendation": "propose proposed proposes proposal proposals suggest suggests suggested",
    "newsletter": "newsletters bulletin bulletins subscribe subscription mailing",
    "funding": "funded fund funds money budget resources resourcing resourced",
    "implement": "implemented implementing implementation implement",
    "manager": "managers bosses bureaucrats bureaucrat administrators",
    "centre": "center central",
    "view": "views opinion opinions stance position reaction react reacted respond responded response perspective",
    "challenged": "challenging tough tougher toughest hardest difficult struggling failing troubled",
    "role": "roles job jobs post posts",
    "overview": "rundown gist outline background introduction intro",
    "summary": "summarise summarize summarised summarized highlights takeaways recap nutshell headline headlines",
    "shortage": "shortages shortfall shortfalls vacancy vacancies understaffed understaffing",
    "induction": "inductions onboarding inducting induct",
    "join": "register enrol enroll apply joining",
    "contact": "speak talk",
    "programme": "programmes program programs course courses scheme schemes",
    "network": "networks networking",
    "media": "press papers newspaper newspapers coverage journalists",
    "collaborative": "collaboratives collaboration collaborations",
    "appraisal": "appraisals",
    "ics": "icb icbs icss",
    "chiefexec": "ceo ceos",
    "regulate": "regulation regulated regulating regulates",
}
_CONCEPT_OF = {word: concept for concept, words in _CONCEPTS.items() for word in words.split()}
# Two-word phrases folded to one concept word first.
_PHRASES = {
    ("non", "exec"): "ned", ("non", "execs"): "ned", ("non", "executive"): "ned", ("non", "executives"): "ned",
    ("general", "practice"): "primary", ("primary", "care"): "primary", ("social", "care"): "socialcare",
    ("chief", "exec"): "chiefexec", ("chief", "execs"): "chiefexec", ("chief", "executive"): "chiefexec",
    ("chief", "executives"): "chiefexec", ("sign", "up"): "join", ("integrated", "care"): "ics",
    ("performance", "review"): "appraisal", ("performance", "reviews"): "appraisal", ("nhs", "england"): "nhse",
    ("key", "points"): "summary", ("key", "messages"): "summary", ("tl", "dr"): "summary",
}  # fmt: skip
# Only "i".."vii" as Roman numerals right after a recommendation word; elsewhere "i" is a pronoun.
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii"}


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


def normalise(text: str) -> list[str]:
    """Tokens of a question: lower case, ASCII-folded, number words as digits, synonyms merged."""
    text = strip_markup(text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _APOSTROPHES.sub("", text)
    text = _THOUSANDS.sub("", text)
    raw = _NON_WORD.sub(" ", text).split()[:MAX_TOKENS]
    tokens: list[str] = []
    for _i, token in enumerate(raw):
        previous = tokens[-1] if tokens else ""
        if token in _ROMAN and previous != "recommendation":
            tokens.append(token)
            continue
        if token in _NUMBER_WORDS:
            tokens.append(_NUMBER_WORDS[token])
            continue
        tokens.extend(_SYNONYMS.get(token, token).split())
    return _fold_concepts(tokens)


def _fold_concepts(tokens: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        pair = _PHRASES.get((tokens[i], tokens[i + 1])) if i + 1 < len(tokens) else None
        if pair is not None:
            out.append(pair)
            i += 2
            continue
        out.append(_CONCEPT_OF.get(tokens[i], tokens[i]))
        i += 1
    return out


STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my myself no nor
    not now of off on once only or other our ours out over own same she should so some such than that
    the their theirs them then there these they this those through to too under until up very was we
    were what when where which while who whom why will with would you your yours yourself im ive id
    dont doesnt whats thats theres hes shes its please tell know want get got us really thing things
    anything something like okay ok lot bit one""".split()
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
