"""Load and validate responses.yaml into a Catalogue, reporting every problem with file, line and column.

The file is read with PyYAML's SafeLoader only. We walk the composed node tree (not the plain Python
objects) so each problem can point at the exact line and column a staff editor has to fix.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from intents.model import REQUIRED_INTENT_IDS, Catalogue, ContentSettings, Intent, Link, OfferStatus, Source, Texts
from intents.text import NO_VOCABULARY, PLAIN_BROADCAST, SPECIAL_MENTION, Vocabulary
from intents.yaml_errors import explain_yaml_error

MAX_FILE_BYTES = 512 * 1024
MIN_EXAMPLES = 8
MIN_SUMMARY_CHARS = 40
FOLLOWUP_KINDS = ("more", "signup", "read")
# A probability: a topic the model gives one chance in ten is worth offering as "did you mean".
DEFAULT_SUGGESTION_FLOOR = 0.1
_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# A Slack mrkdwn link inside text: <target> or <target|label>. <@U1>, <!here> and <#C1> are mentions
# (refused elsewhere), and a '<' followed by a space is not a link.
_TEXT_LINK_RE = re.compile(r"<([^<>|@!#\s][^<>|]*)(?:\|[^<>]*)?>")
# Slack also links a bare address by itself; a bare https:// one is fine, a bare http:// one is not.
_BARE_HTTP_RE = re.compile(r"(?<![<|\w])http://[^\s<>|]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@]+\.[^\s@]+$")

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    column: int
    message: str
    level: Level = "error"

    def __str__(self) -> str:
        prefix = "" if self.level == "error" else "warning: "
        return f"{self.path}:{self.line}:{self.column}: {prefix}{self.message}"


class ContentError(Exception):
    """The content file cannot be used; `problems` says exactly why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def _schema(cls: type) -> dict[str, bool]:
    """The fields of a dataclass that staff write in the file, and whether each is required: read from
    the dataclass itself (intents/model.py), so the schema is written once."""
    return {f.name: f.metadata["required"] for f in dataclasses.fields(cls) if f.metadata.get("yaml")}


_TOP_FIELDS = _schema(Catalogue)
_SETTINGS_FIELDS = _schema(ContentSettings)
_INTENT_FIELDS = _schema(Intent)
_LINK_FIELDS = _schema(Link)
_STATUS_FIELDS = _schema(OfferStatus)
_SOURCE_FIELDS = _schema(Source)
_TEXT_FIELDS = _schema(Texts)
_FIELD_NAMES = (
    frozenset(_TOP_FIELDS)
    | frozenset(_SETTINGS_FIELDS)
    | frozenset(_INTENT_FIELDS)
    | frozenset(_LINK_FIELDS)
    | frozenset(_STATUS_FIELDS)
    | frozenset(_SOURCE_FIELDS)
    | frozenset(_TEXT_FIELDS)
)
OFFER_STATES = ("open", "closed", "unknown")
_SOURCE_DATE_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_VOCABULARY_PARTS = ("numbers", "synonyms", "concepts", "phrases")
_ANY_KEY: dict[str, bool] = {}  # a mapping whose keys staff choose (the vocabulary's words)
_constructor = yaml.constructor.SafeConstructor()


def is_web_address(url: str) -> bool:
    """A full https:// address with no spaces: the rule for every address a member can follow."""
    parsed = urlparse(url)
    return parsed.scheme == "https" and bool(parsed.netloc) and not any(c.isspace() for c in url)


def is_text_link_target(target: str) -> bool:
    """What a link inside text may point at: a web address as above, or one email address (mailto:),
    which opens the member's mail client and carries no risk an https rule guards against."""
    parsed = urlparse(target)
    if parsed.scheme == "mailto":
        return not any(c.isspace() for c in target) and bool(_EMAIL_RE.match(parsed.path))
    return is_web_address(target)


class _Checker:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.problems: list[Problem] = []

    def add(self, node: Node | None, message: str, level: Level = "error") -> None:
        mark = node.start_mark if node is not None else None
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        self.problems.append(Problem(self.path, line, column, message, level))

    def add_at(self, index: int, message: str) -> None:
        """An error at a character offset in the file (a link in the middle of a block of text)."""
        line_start = self.text.rfind("\n", 0, index) + 1
        line = self.text.count("\n", 0, index) + 1
        self.problems.append(Problem(self.path, line, index - line_start + 1, message))

    def text_links(self, node: Node, value: str, where: str) -> None:
        """Hold links written inside text to the rules of `url:` fields, each reported where it is written."""
        found = [(m.start(), m.group(0), m.group(1)) for m in _TEXT_LINK_RE.finditer(value)]
        found += [(m.start(), m.group(0), m.group(0)) for m in _BARE_HTTP_RE.finditer(value)]
        cursor, end = node.start_mark.index, node.end_mark.index
        for _, written, target in sorted(found):
            # The parsed value has lost the file's indentation and line folds; a link's first word has
            # not, so it is found in the source from there (at the scalar's own start if even that fails).
            probe = written.split()[0]
            index = self.text.find(probe, cursor, end)
            if index >= 0:
                cursor = index + len(probe)
            if is_text_link_target(target):
                continue
            shown = " ".join(target.split())  # one line, even when the link was split over two
            message = f"{where}: link must be a full https:// address (or mailto:), found '{shown}'"
            if index < 0:
                self.add(node, message)
            else:
                self.add_at(index, message)

    # --- typed accessors: each returns None (and records a problem) when the node is wrong ---

    def mapping(self, node: Node, where: str, fields: dict[str, bool]) -> dict[str, Node] | None:
        if not isinstance(node, MappingNode):
            self.add(node, f"{where}: expected a set of 'name: value' fields, found {_kind(node)}")
            return None
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                self.add(key_node, f"{where}: field names must be plain words")
                continue
            if key in out:
                self.add(key_node, f"{where}: field '{key}' is given twice")
                continue
            if fields is not _ANY_KEY and key not in fields:
                known = ", ".join(fields)
                self.add(key_node, f"{where}: unknown field '{key}' (known fields: {known})")
                continue
            out[key] = value_node
        for name, required in fields.items():
            if required and name not in out:
                self.add(node, f"{where}: missing field '{name}'")
        return out

    def string(self, node: Node, where: str, *, links: bool = True) -> str | None:
        """Text, with any links written inside it checked too (`links=False` for a url field itself)."""
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            self.add(node, f"{where}: expected text, found {_kind(node)}")
            return None
        value = str(node.value).strip()
        if not value:
            self.add(node, f"{where}: must not be empty")
            return None
        if links:
            self.text_links(node, value, where)
        # Broadcasts and mentions have no place in content.
        broadcast = SPECIAL_MENTION.search(value) or PLAIN_BROADCAST.search(value)
        if broadcast is not None:
            written = self.text.find(broadcast.group(0), node.start_mark.index, node.end_mark.index)
            message = f"{where}: '{broadcast.group(0)}' would notify people; content may not mention or broadcast"
            if written >= 0:
                self.add_at(written, message)
            else:
                self.add(node, message)
        return value

    def scalar_text(self, node: Node, where: str) -> str | None:
        """A plain value read as text, whatever YAML would make of it (`one: 1` is the text '1')."""
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            self.add(node, f"{where}: expected a word or a number, found {_kind(node)}")
            return None
        return str(node.value).strip()

    def vocabulary_word(self, node: Node, word: str, where: str) -> bool:
        """One lower-case word of letters and digits, as the bot reads a member's word."""
        if re.fullmatch(r"[a-z0-9]+", word):
            return True
        self.add(node, f"{where}: '{word}' must be one lower-case word of letters and digits")
        return False

    def date(self, node: Node, where: str) -> datetime.date | None:
        if not isinstance(node, ScalarNode) or node.tag != "tag:yaml.org,2002:timestamp":
            self.add(node, f"{where}: expected a date written as YYYY-MM-DD (2026-11-26), found {_kind(node)}")
            return None
        try:
            value = _constructor.construct_object(node)
        except (ValueError, yaml.YAMLError):
            self.add(node, f"{where}: '{node.value}' is not a real date; write it as YYYY-MM-DD")
            return None
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            self.add(node, f"{where}: write only the date, as YYYY-MM-DD")
            return None
        return value

    def number(self, node: Node, where: str, *, integer: bool) -> float | None:
        tags = ("tag:yaml.org,2002:int",) if integer else ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
        if not isinstance(node, ScalarNode) or node.tag not in tags:
            kind = "a whole number" if integer else "a number"
            self.add(node, f"{where}: expected {kind}, found {_kind(node)}")
            return None
        return _constructor.construct_object(node)

    def strings(self, node: Node, where: str) -> list[tuple[str, Node]] | None:
        if not isinstance(node, SequenceNode):
            self.add(node, f"{where}: expected a list (lines starting with '- '), found {_kind(node)}")
            return None
        out = []
        for i, item in enumerate(node.value, 1):
            value = self.string(item, f"{where} item {i}")
            if value is not None:
                out.append((value, item))
        return out

    def link(self, node: Node, where: str) -> Link | None:
        fields = self.mapping(node, where, _LINK_FIELDS)
        if fields is None:
            return None
        label = self.string(fields["label"], f"{where} label") if "label" in fields else None
        url = self.string(fields["url"], f"{where} url", links=False) if "url" in fields else None
        if url is not None:
            if not is_web_address(url):
                self.add(fields["url"], f"{where} url: must be a full https:// address, found '{url}'")
                url = None
        if label is None or url is None:
            return None
        return Link(label=label, url=url)


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a set of fields"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:null":
        return "nothing"
    names = {
        "tag:yaml.org,2002:str": "text",
        "tag:yaml.org,2002:int": "a number",
        "tag:yaml.org,2002:float": "a number",
        "tag:yaml.org,2002:bool": "yes/no",
    }
    return f"{names.get(node.tag, 'a value')} '{node.value}'"


# libyaml's safe parser, when PyYAML was built with it, reads the file about ten times faster (start-up
# and reload); the pure-Python one words syntax errors the way the staff guide documents them.
_FAST_LOADER = getattr(yaml, "CSafeLoader", None)


def _compose(text: str, checker: _Checker) -> Node | None:
    """Parse YAML safely. Aliases are refused outright: they are how 'billion laughs' bombs work."""
    if _FAST_LOADER is not None:
        try:
            if not any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=_FAST_LOADER)):
                return yaml.compose(text, Loader=_FAST_LOADER)
        except yaml.YAMLError:
            pass  # parsed again below, for the message and position staff are used to
    return _compose_reporting(text, checker)


def _compose_reporting(text: str, checker: _Checker) -> Node | None:
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                checker.add(
                    _MarkOnly(event.start_mark),
                    "YAML aliases (*name) are not allowed in this file; write the text out in full",
                )
                return None
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        explained = explain_yaml_error(text, exc, _FIELD_NAMES)
        checker.problems.append(Problem(checker.path, explained.line, explained.column, explained.message))
        return None
    except yaml.YAMLError as exc:
        checker.add(None, f"YAML syntax error: {exc}")
        return None


class _MarkOnly(Node):
    def __init__(self, mark: Any) -> None:
        super().__init__("", "", mark, mark)


def parse_catalogue(text: str, path: str | Path) -> tuple[Catalogue | None, list[Problem]]:
    """Validate content text. Returns the catalogue (None on any error) and every problem found."""
    checker = _Checker(str(path), text)
    root = _compose(text, checker)
    if root is None:
        if not checker.problems:
            checker.add(None, "the file is empty")
        return None, checker.problems
    top = checker.mapping(root, "file", _TOP_FIELDS)
    if top is None:
        return None, checker.problems
    settings = _settings(checker, top["settings"]) if "settings" in top else None
    vocabulary = _vocabulary(checker, top["vocabulary"]) if "vocabulary" in top else NO_VOCABULARY
    intents = _intents(checker, top["intents"], vocabulary) if "intents" in top else []
    sources = _sources(checker, top["sources"]) if "sources" in top else []
    errors = [p for p in checker.problems if p.level == "error"]
    if errors or settings is None:
        return None, checker.problems
    from intents.training import read_training  # it reports its problems as this module's Problem

    # The staff-kept labelled questions beside the file (training/*.tsv): the model learns from them too.
    ids = {i.id for i in intents}
    training, bad = read_training(path, ids)
    if bad:
        # A required intent renamed or deleted makes every training line naming it unknown: say why first.
        named = {p.message for p in bad}
        gone = {i for i in REQUIRED_INTENT_IDS if f"unknown intent id '{i}'" in named}
        return None, [*checker.problems, *missing_required(str(path), ids | (set(REQUIRED_INTENT_IDS) - gone)), *bad]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    catalogue = Catalogue(
        settings, tuple(intents), vocabulary, tuple(sources), path=Path(path), digest=digest, training=training
    )
    return catalogue, checker.problems


def missing_required(path: str, ids: set[str]) -> list[Problem]:
    """The intents the code relies on (slash commands, the App Home) that `ids` lacks, one error each."""
    return [
        Problem(path, 1, 1, f"intents: the intent '{intent_id}' is missing; the bot's commands need it")
        for intent_id in REQUIRED_INTENT_IDS
        if intent_id not in ids
    ]


def _vocabulary(c: _Checker, node: Node) -> Vocabulary:
    """The `vocabulary:` section: every word lower case, as the bot reads members' words."""
    parts = c.mapping(node, "vocabulary", {name: False for name in _VOCABULARY_PARTS}) or {}
    found: dict[str, dict[str, Node]] = {}
    for name, part in parts.items():
        found[name] = c.mapping(part, f"vocabulary.{name}", _ANY_KEY) or {}
    numbers: dict[str, str] = {}
    synonyms: dict[str, str] = {}
    concepts: dict[str, tuple[str, ...]] = {}
    phrases: dict[tuple[str, str], str] = {}
    for word, value in found.get("numbers", {}).items():
        digit = c.scalar_text(value, f"vocabulary.numbers.{word}")
        if digit is not None and not digit.isdigit():
            c.add(value, f"vocabulary.numbers.{word}: must be a number written in digits, found '{digit}'")
        elif digit is not None and c.vocabulary_word(value, word, "vocabulary.numbers"):
            numbers[word] = digit
    for word, value in found.get("synonyms", {}).items():
        meaning = c.scalar_text(value, f"vocabulary.synonyms.{word}")
        if meaning is not None and c.vocabulary_word(value, word, "vocabulary.synonyms"):
            if meaning != meaning.lower() or not re.fullmatch(r"[a-z0-9]+( [a-z0-9]+)*", meaning):
                c.add(value, f"vocabulary.synonyms.{word}: write it in lower-case words, found '{meaning}'")
            else:
                synonyms[word] = meaning
    seen_in: dict[str, str] = {}
    for concept, value in found.get("concepts", {}).items():
        members = c.strings(value, f"vocabulary.concepts.{concept}") or []
        ok = c.vocabulary_word(value, concept, "vocabulary.concepts")
        for word, item in members:
            if not c.vocabulary_word(item, word, f"vocabulary.concepts.{concept}"):
                ok = False
            elif word in seen_in and seen_in[word] != concept:
                c.add(item, f"vocabulary.concepts.{concept}: '{word}' already means '{seen_in[word]}'")
                ok = False
            else:
                seen_in[word] = concept
        if ok:
            concepts[concept] = tuple(w for w, _ in members)
    for pair, value in found.get("phrases", {}).items():
        folded = c.scalar_text(value, f"vocabulary.phrases.{pair}")
        two = pair.split()
        if len(two) != 2 or pair != pair.lower():
            c.add(value, f"vocabulary.phrases: '{pair}' must be two lower-case words")
        elif folded is not None and c.vocabulary_word(value, folded, f"vocabulary.phrases.{pair}"):
            phrases[(two[0], two[1])] = folded
    return Vocabulary(numbers=numbers, synonyms=synonyms, concepts=concepts, phrases=phrases)


def read_content(path: str | Path) -> str:
    """The file's text, or ContentError if it is missing, too large or not UTF-8."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ContentError([Problem(str(path), 1, 1, f"file is {size} bytes; the limit is {MAX_FILE_BYTES}")])
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ContentError([Problem(str(path), 1, 1, f"cannot read the file: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise ContentError([Problem(str(path), 1, 1, f"the file is not UTF-8 text: {exc.reason}")]) from exc


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a content file; raise ContentError naming file, line and field on any error."""
    catalogue, problems = parse_catalogue(read_content(path), path)
    if catalogue is None:
        raise ContentError([p for p in problems if p.level == "error"])
    return catalogue


# An off-topic area's name: a plain word, as intent ids are.
_AREA_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
PLAIN_OFF_TOPIC = "off_topic"  # the one area of an out_of_scope written as a plain list


def _off_topic_areas(c: _Checker, node: Node | None) -> dict[str, tuple[str, ...]]:
    """settings.out_of_scope: a list of questions (one area), or areas each holding a list."""
    if node is None:
        return {}
    if isinstance(node, SequenceNode):
        texts = c.strings(node, "settings.out_of_scope") or []
        return {PLAIN_OFF_TOPIC: tuple(t for t, _ in texts)} if texts else {}
    if not isinstance(node, MappingNode):
        c.add(
            node,
            "settings.out_of_scope: expected a list of questions, or areas (like 'everyday:') each holding one; "
            f"found {_kind(node)}",
        )
        return {}
    areas = c.mapping(node, "settings.out_of_scope", _ANY_KEY)
    names = {key.value: key for key, _ in node.value if isinstance(key, ScalarNode)}
    out: dict[str, tuple[str, ...]] = {}
    for area, area_node in (areas or {}).items():
        where = f"settings.out_of_scope.{area}"
        if not _AREA_RE.fullmatch(area):
            c.add(
                names.get(area, area_node),
                f"{where}: an area name is a lower case letter, then up to 63 letters, digits and _ (like 'everyday')",
            )
            continue
        found = c.strings(area_node, where)
        if isinstance(area_node, SequenceNode) and not area_node.value:
            c.add(area_node, f"{where}: the area has no questions; add some or remove it")
        elif found:
            out[area] = tuple(t for t, _ in found)
    return out


# Who is staff, and where hand-offs go, are the operator's to set, not the content's: whoever could edit
# an answer could otherwise make themselves staff. Each is an error naming the variable that replaced it.
MOVED_TO_ENVIRONMENT = {
    "staff_user_ids": "STAFF_USER_IDS",
    "staff_usergroup_ids": "STAFF_USERGROUP_IDS",
    "handoff_channel": "HANDOFF_CHANNEL",
}


def _settings(c: _Checker, node: Node) -> ContentSettings | None:
    fields = c.mapping(node, "settings", {**_SETTINGS_FIELDS, **dict.fromkeys(MOVED_TO_ENVIRONMENT, False)})
    if fields is None:
        return None
    for name, variable in MOVED_TO_ENVIRONMENT.items():
        if name in fields:
            c.add(
                fields[name],
                f"settings.{name}: is no longer set in the content file (anyone who can edit an answer could "
                f"change it); the operator sets {variable} in the bot's environment instead: delete this line",
            )
    threshold = None
    if "confidence_threshold" in fields:
        threshold = c.number(fields["confidence_threshold"], "settings.confidence_threshold", integer=False)
        if threshold is not None and not 0 < threshold < 1:
            c.add(fields["confidence_threshold"], "settings.confidence_threshold: must be between 0 and 1")
            threshold = None
    floor = _suggestion_floor(c, fields.get("suggestion_floor"), threshold)
    texts = {}
    for name in ("fallback_text", "contact_text", "default_source"):
        texts[name] = c.string(fields[name], f"settings.{name}") if name in fields else None
    followups: dict[str, tuple[str, ...]] = {}
    if "followups" in fields:
        kinds = c.mapping(fields["followups"], "settings.followups", {k: False for k in FOLLOWUP_KINDS})
        for kind, kind_node in (kinds or {}).items():
            phrases = c.strings(kind_node, f"settings.followups.{kind}")
            if phrases is not None:
                followups[kind] = tuple(p for p, _ in phrases)
    review_after_days = 365
    if "review_after_days" in fields:
        days = c.number(fields["review_after_days"], "settings.review_after_days", integer=True)
        if days is not None and not 1 <= days <= 3650:
            c.add(fields["review_after_days"], "settings.review_after_days: must be from 1 to 3650 days")
        elif days is not None:
            review_after_days = int(days)
    handoff: dict[str, str] = {}
    if "handoff_text" in fields:
        handoff_text = c.string(fields["handoff_text"], "settings.handoff_text")
        if handoff_text is not None:
            handoff["handoff_text"] = handoff_text
    out_of_scope = _off_topic_areas(c, fields.get("out_of_scope"))
    status_words: tuple[str, ...] = ()
    if "status_words" in fields:
        status_words = tuple(t for t, _ in c.strings(fields["status_words"], "settings.status_words") or [])
    view: dict[str, tuple[str, ...]] = {}
    for name in ("view_phrases", "view_markers"):
        if name in fields:
            view[name] = tuple(t.lower() for t, _ in c.strings(fields[name], f"settings.{name}") or [])
    member_texts = _texts(c, fields["texts"]) if "texts" in fields else Texts()
    if threshold is None or floor is None or None in texts.values():
        return None
    return ContentSettings(
        confidence_threshold=float(threshold),
        suggestion_floor=float(floor),
        fallback_text=texts["fallback_text"],  # type: ignore[arg-type]
        contact_text=texts["contact_text"],  # type: ignore[arg-type]
        default_source=texts["default_source"],  # type: ignore[arg-type]
        followups=followups,
        out_of_scope=out_of_scope,
        status_words=status_words,
        review_after_days=review_after_days,
        texts=member_texts,
        **view,  # type: ignore[arg-type]
        **handoff,  # type: ignore[arg-type]
    )


def _texts(c: _Checker, node: Node) -> Texts:
    """`settings.texts`: any wording left out keeps its default (intents/model.py)."""
    fields = c.mapping(node, "settings.texts", _TEXT_FIELDS) or {}
    found: dict[str, Any] = {"lines": tuple((k, v.start_mark.line + 1) for k, v in fields.items())}
    for name, value_node in fields.items():
        value = c.string(value_node, f"settings.texts.{name}")
        if value is not None:
            found[name] = " ".join(value.split())  # one paragraph, however staff wrapped it
    return Texts(**found)


def _sources(c: _Checker, node: Node) -> list[Source]:
    """The source register: each entry's address once, with what it is and what it supports."""
    if not isinstance(node, SequenceNode):
        c.add(node, f"sources: expected a list of sources (each starting with '- url: ...'), found {_kind(node)}")
        return []
    out: list[Source] = []
    seen: dict[str, int] = {}
    for n, item in enumerate(node.value, 1):
        where = f"sources item {n}"
        fields = c.mapping(item, where, _SOURCE_FIELDS)
        if fields is None:
            continue
        values: dict[str, str | None] = {}
        for name in ("url", "title", "publisher", "supports", "offer_page"):
            if name in fields:
                values[name] = c.string(fields[name], f"{where} field '{name}'", links=name != "url")
        url = values.get("url")
        if url is not None and not is_web_address(url):
            c.add(fields["url"], f"{where} field 'url': must be a full https:// address, found '{url}'")
            continue
        if url is not None and url in seen:
            c.add(fields["url"], f"{where} field 'url': {url} is already listed (line {seen[url]})")
            continue
        date = None
        if "date" in fields:
            date = c.scalar_text(fields["date"], f"{where} field 'date'")
            if date is not None and not _SOURCE_DATE_RE.match(date):
                c.add(fields["date"], f"{where} field 'date': write YYYY, YYYY-MM or YYYY-MM-DD, found '{date}'")
                continue
        lists: dict[str, tuple[str, ...]] = {}
        for name in ("for_offers", "reports_on", "recommendations"):
            if name in fields:
                items = c.strings(fields[name], f"{where} field '{name}'")
                lists[name] = tuple(text for text, _ in items or [])
        if None in (values.get(k) for k in ("url", "title", "publisher", "supports")):
            continue
        seen[url] = item.start_mark.line + 1  # type: ignore[index]
        out.append(
            Source(
                url=url,  # type: ignore[arg-type]
                title=values["title"],  # type: ignore[arg-type]
                publisher=values["publisher"],  # type: ignore[arg-type]
                supports=values["supports"],  # type: ignore[arg-type]
                date=date,
                offer_page=values.get("offer_page"),
                for_offers=lists.get("for_offers", ()),
                reports_on=lists.get("reports_on", ()),
                recommendations=lists.get("recommendations", ()),
                line=item.start_mark.line + 1,
            )
        )
    return out


def _status(c: _Checker, node: Node, name: str) -> OfferStatus | None:
    """An offer's `status:`: its state and the day staff confirmed it, with what fits that state only."""
    where = f"{name} field 'status'"
    fields = c.mapping(node, where, _STATUS_FIELDS)
    if fields is None:
        return None
    state = c.string(fields["state"], f"{where} state") if "state" in fields else None
    if state is not None and state not in OFFER_STATES:
        c.add(fields["state"], f"{where} state: must be open, closed or unknown, found '{state}'")
        state = None
    as_of = c.date(fields["as_of"], f"{where} as_of") if "as_of" in fields else None
    closes = c.date(fields["closes"], f"{where} closes") if "closes" in fields else None
    next_cohort = c.string(fields["next_cohort"], f"{where} next_cohort") if "next_cohort" in fields else None
    replaced_by = c.string(fields["replaced_by"], f"{where} replaced_by") if "replaced_by" in fields else None
    for field_name, allowed in (("closes", "open"), ("next_cohort", "open"), ("replaced_by", "closed")):
        if field_name in fields and state is not None and state != allowed:
            c.add(fields[field_name], f"{where} {field_name}: only an offer whose state is {allowed} has one")
            return None
    if state is None or as_of is None:
        return None
    return OfferStatus(state, as_of, closes, next_cohort, replaced_by)  # type: ignore[arg-type]


def _suggestion_floor(c: _Checker, node: Node | None, threshold: float | None) -> float | None:
    """The floor as written, or the default (never above the threshold); None after a problem."""
    if node is None:
        return min(DEFAULT_SUGGESTION_FLOOR, threshold) if threshold is not None else None
    floor = c.number(node, "settings.suggestion_floor", integer=False)
    if floor is None:
        return None
    if not 0 <= floor <= (threshold if threshold is not None else 1):
        limit = f"confidence_threshold ({threshold:g})" if threshold is not None else "1"
        c.add(node, f"settings.suggestion_floor: must be from 0 up to {limit}, found {floor:g}")
        return None
    return floor


def _intents(c: _Checker, node: Node, vocabulary: Vocabulary) -> list[Intent]:
    if not isinstance(node, SequenceNode) or not node.value:
        c.add(node, "intents: expected a list of intents (each starting with '- id: ...')")
        return []
    intents: list[Intent] = []
    id_nodes: dict[str, Node] = {}
    related_refs: list[tuple[str, str, str, Node]] = []  # (owner, field, the id it names, where)
    example_owner: dict[str, tuple[str, Node]] = {}
    rec_numbers: dict[int, str] = {}
    for position, item in enumerate(node.value, 1):
        intent = _intent(c, item, position, vocabulary, id_nodes, related_refs, example_owner, rec_numbers)
        if intent is not None:
            intents.append(intent)
    reported_by: dict[str, str] = {}
    for owner, name, ref, ref_node in related_refs:
        where = f"intent '{owner}' field '{name}'"
        if ref not in id_nodes:
            c.add(ref_node, f"{where}: no intent has the id '{ref}'")
        elif ref == owner:
            c.add(ref_node, f"{where}: an intent cannot name itself here")
        elif name == "status_of" and ref in reported_by:
            c.add(ref_node, f"{where}: '{ref}' is already reported on by '{reported_by[ref]}'")
        elif name == "status_of":
            reported_by[ref] = owner
    return intents


def _intent_name(node: Node, position: int) -> str:
    """'intent 'some_id'' when the id can be read, else 'intent N' (its place in the list)."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "id" and isinstance(value, ScalarNode) and value.value:
                return f"intent '{value.value}'"
    return f"intent {position}"


def _intent(
    c: _Checker,
    node: Node,
    position: int,
    vocabulary: Vocabulary,
    id_nodes: dict[str, Node],
    related_refs: list[tuple[str, str, str, Node]],
    example_owner: dict[str, tuple[str, Node]],
    rec_numbers: dict[int, str],
) -> Intent | None:
    fields = c.mapping(node, _intent_name(node, position), _INTENT_FIELDS)
    if fields is None:
        return None
    intent_id = c.string(fields["id"], f"intent {position} field 'id'") if "id" in fields else None
    if intent_id is not None and not _ID_RE.match(intent_id):
        c.add(fields["id"], f"intent {position} field 'id': '{intent_id}' must be lower-case letters, digits and _")
        intent_id = None
    if intent_id is not None and intent_id in id_nodes:
        first = id_nodes[intent_id].start_mark.line + 1
        c.add(fields["id"], f"intent '{intent_id}' field 'id': duplicate id (first used on line {first})")
        intent_id = None
    name = f"intent '{intent_id}'" if intent_id else f"intent {position}"
    if intent_id is not None:
        id_nodes[intent_id] = fields["id"]
    before = len([p for p in c.problems if p.level == "error"])

    title = c.string(fields["title"], f"{name} field 'title'") if "title" in fields else None
    summary = c.string(fields["summary"], f"{name} field 'summary'") if "summary" in fields else None
    if summary is not None and len(summary) < MIN_SUMMARY_CHARS:
        c.add(
            fields["summary"],
            f"{name} field 'summary': too short ({len(summary)} characters; at least {MIN_SUMMARY_CHARS})",
        )
    examples: list[str] = []
    example_lines: list[tuple[int, int]] = []
    if "examples" in fields:
        items = c.strings(fields["examples"], f"{name} field 'examples'")
        if items is not None:
            if len(items) < MIN_EXAMPLES:
                c.add(
                    fields["examples"],
                    f"{name} field 'examples': {len(items)} examples; at least {MIN_EXAMPLES} are needed",
                )
            for text, item in items:
                key = " ".join(vocabulary.normalise(text))
                if not key:
                    c.add(item, f"{name} field 'examples': '{text}' has no words the bot can match")
                    continue
                owner = example_owner.get(key)
                if owner is not None and owner[0] != (intent_id or name):
                    line = owner[1].start_mark.line + 1
                    c.add(
                        item,
                        f"{name} field 'examples': '{text}' is also an example of intent '{owner[0]}' (line {line})",
                    )
                elif owner is not None:
                    c.add(item, f"{name} field 'examples': '{text}' is listed twice")
                else:
                    example_owner[key] = (intent_id or name, item)
                examples.append(text)
                example_lines.append((item.start_mark.line + 1, item.start_mark.column + 1))
    details: list[str] = []
    if "details" in fields:
        details = [t for t, _ in c.strings(fields["details"], f"{name} field 'details'") or []]
    links: list[Link] = []
    if "links" in fields:
        links_node = fields["links"]
        if isinstance(links_node, SequenceNode):
            for i, item in enumerate(links_node.value, 1):
                link = c.link(item, f"{name} field 'links' item {i}")
                if link is not None:
                    links.append(link)
        elif not (isinstance(links_node, ScalarNode) and links_node.tag == "tag:yaml.org,2002:null"):
            c.add(links_node, f"{name} field 'links': expected a list of label/url pairs, found {_kind(links_node)}")
    signup = c.link(fields["signup"], f"{name} field 'signup'") if "signup" in fields else None
    status = _status(c, fields["status"], name) if "status" in fields else None
    if status is not None and status.replaced_by:
        related_refs.append((intent_id or name, "status.replaced_by", status.replaced_by, fields["status"]))
    source = c.link(fields["source"], f"{name} field 'source'") if "source" in fields else None
    reviewed = c.date(fields["reviewed"], f"{name} field 'reviewed'") if "reviewed" in fields else None
    more = c.string(fields["more"], f"{name} field 'more'") if "more" in fields else None
    related: list[str] = []
    if "related" in fields:
        for ref, ref_node in c.strings(fields["related"], f"{name} field 'related'") or []:
            related.append(ref)
            related_refs.append((intent_id or name, "related", ref, ref_node))
    status_of: list[str] = []
    if "status_of" in fields:
        for ref, ref_node in c.strings(fields["status_of"], f"{name} field 'status_of'") or []:
            status_of.append(ref)
            related_refs.append((intent_id or name, "status_of", ref, ref_node))
    rec_number = None
    if "recommendation_number" in fields:
        value = c.number(fields["recommendation_number"], f"{name} field 'recommendation_number'", integer=True)
        if value is not None and not 1 <= value <= 20:
            c.add(fields["recommendation_number"], f"{name} field 'recommendation_number': must be from 1 to 20")
        elif value is not None and int(value) in rec_numbers:
            c.add(
                fields["recommendation_number"],
                f"{name} field 'recommendation_number': {value} is already used by '{rec_numbers[int(value)]}'",
            )
        elif value is not None:
            rec_number = int(value)
            rec_numbers[rec_number] = intent_id or name

    after = len([p for p in c.problems if p.level == "error"])
    if after > before or intent_id is None or title is None or summary is None:
        return None
    return Intent(
        id=intent_id,
        title=title,
        examples=tuple(examples),
        summary=summary,
        details=tuple(details),
        links=tuple(links),
        related=tuple(related),
        signup=signup,
        source=source,
        reviewed=reviewed,
        more=more,
        recommendation_number=rec_number,
        status_of=tuple(status_of),
        status=status,
        line=node.start_mark.line + 1,
        example_lines=tuple(example_lines),
        field_lines=tuple(_field_lines(fields)),
    )


def _field_lines(fields: dict[str, Node]) -> list[tuple[str, int]]:
    lines = [(name, node.start_mark.line + 1) for name, node in fields.items()]
    links = fields.get("links")
    if isinstance(links, SequenceNode):
        lines += [(f"links.{n}", item.start_mark.line + 1) for n, item in enumerate(links.value)]
    return lines


def iter_texts(catalogue: Catalogue) -> Iterable[tuple[str, int, str]]:
    """(where, line, text) for every piece of member-facing text in the catalogue."""
    s = catalogue.settings
    for name in ("fallback_text", "contact_text", "default_source"):
        yield f"settings.{name}", 1, getattr(s, name)
    for intent in catalogue.intents:
        where = f"intent '{intent.id}' field"
        yield f"{where} 'title'", intent.line_of("title"), intent.title
        yield f"{where} 'summary'", intent.line_of("summary"), intent.summary
        for detail in intent.details:
            yield f"{where} 'details'", intent.line_of("details"), detail
        if intent.more:
            yield f"{where} 'more'", intent.line_of("more"), intent.more
