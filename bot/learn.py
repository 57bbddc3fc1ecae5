"""`python -m bot learn "QUESTION" INTENT_ID`: add a question members really asked as a new example of
an intent, the way an editor would by hand.

Staff own responses.yaml, its comments and its layout, so the file is never re-dumped: the new line is
spliced into the original text right after the intent's last example, and every other byte stays as it
was. The result must pass the same validation as `python -m bot check`; if it does not, the original
file is put back.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

import bot.content
from bot.command_names import Commands
from bot.content import validate_file
from bot.question_log import StoredLabel
from bot.safety import clean
from intents.loader import Problem, parse_catalogue
from intents.quality import example_warnings
from intents.training import NONE_LABEL, TRAINING_FOLDER

_DASH = re.compile(r"[ \t]*-[ \t]+")
_UNBOUNDED = float("inf")  # yaml.safe_dump width: never fold the question over two lines
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LearnRefused(Exception):
    """Why the example was not added; the file is as it was."""


@dataclass(frozen=True)
class Learned:
    line: int | None  # the new example's line in the file; None when nothing was added
    problems: tuple[str, ...] = ()  # why nothing was added (empty on success)
    warnings: tuple[str, ...] = ()  # `check`'s advice about the new example itself


def learn(path: Path, question: str, intent_id: str, commands: Commands | None = None) -> list[str]:
    """Add `question` to intent `intent_id` in the content file at `path`. Returns the problems that
    stopped it, empty when the example was added."""
    return list(learn_example(path, question, intent_id, commands).problems)


def learn_example(path: Path, question: str, intent_id: str, commands: Commands | None = None) -> Learned:
    # Read, splice, write and check are one step: two learns at once (sandbox clicks, a CLI run beside
    # them) would each splice into the same original and the later write would drop the earlier example.
    with _editing(path):
        return _learn_locked(path, question, intent_id, commands)


@contextlib.contextmanager
def _editing(path: Path) -> Iterator[None]:
    """An exclusive lock on the content file's folder, held by one editor at a time, across threads and
    processes (flock locks conflict between separate opens, also within one process). The folder, not a
    lock file: nothing is left beside the content, and the file itself is replaced by every write."""
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def _learn_locked(path: Path, question: str, intent_id: str, commands: Commands | None) -> Learned:
    question = " ".join(question.split())  # one line: an example is one question
    try:
        original = path.read_bytes()
        text = original.decode("utf-8")
        new_text, line = _with_example(text, path, question, intent_id)
    except OSError as exc:
        return Learned(None, (f"{path}: cannot read the file: {exc.strerror or exc}",))
    except UnicodeDecodeError:
        return Learned(None, (f"{path}: the file is not UTF-8 text",))
    except LearnRefused as exc:
        return Learned(None, (str(exc),))
    _write_atomically(path, new_text.encode("utf-8"))
    result = validate_file(path, commands or Commands(), advice=False)
    if result.errors or result.catalogue is None:
        _write_atomically(path, original)
        note = f"{path}: not added; the file would not pass `python -m bot check`, so it was left as it was:"
        return Learned(None, (note, *(str(p) for p in result.errors)))
    # The model's advice on the new example alone, from the model of the file as it was (kept, not refitted).
    advice = [*result.warnings, *example_warnings(result.catalogue, intent_id, question, bot.content.CONTENT_CACHE)]
    return Learned(line, (), tuple(str(p) for p in advice if p.line == line))


def _with_example(text: str, path: Path, question: str, intent_id: str) -> tuple[str, int]:
    """The file's text with the example added, and the example's line; or LearnRefused."""
    if not question:
        raise LearnRefused("the question is empty")
    catalogue, problems = parse_catalogue(text, path)
    if catalogue is None:
        errors = "\n".join(str(p) for p in problems if p.level == "error")
        raise LearnRefused(f"{path} has errors; fix them first (python -m bot check):\n{errors}")
    intent = catalogue.get(intent_id)
    if intent is None and intent_id == "INTENT_ID":  # bot report's command, pasted as it is
        raise LearnRefused("replace INTENT_ID with the id of the answer members need (python -m bot ask shows it)")
    if intent is None:
        ids = [i.id for i in catalogue.intents]
        close = difflib.get_close_matches(intent_id, ids, n=3)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise LearnRefused(f"{path} has no intent '{intent_id}'{hint}")
    # The loader's own test of sameness: two examples the bot reads as the same words are one example.
    key = " ".join(catalogue.vocabulary.normalise(question))
    for other in catalogue.intents:
        for example, (line, _) in zip(other.examples, other.example_lines, strict=False):
            if key and " ".join(catalogue.vocabulary.normalise(example)) == key:
                raise LearnRefused(
                    f"'{question}' is already an example of intent '{other.id}' ({path}:{line}: {example})"
                )
    # The pure-Python composer: its marks index characters of `text`, which the splice relies on.
    examples = _examples_node(yaml.compose(text, Loader=yaml.SafeLoader), intent_id)
    new_text, offset = _splice(text, examples, question)
    before, after = _examples_of(text, intent_id), _examples_of(new_text, intent_id)
    if before is None or after != [*before, question]:
        raise LearnRefused(f"could not place the example in {path} safely; add it by hand")
    return new_text, new_text.count("\n", 0, offset) + 1


def _examples_node(root: Node, intent_id: str) -> SequenceNode:
    """The `examples:` list of one intent, as written in the file (with its positions)."""
    intents = _field(root, "intents")
    for item in intents.value if isinstance(intents, SequenceNode) else []:
        id_node = _field(item, "id")
        examples = _field(item, "examples")
        if isinstance(id_node, ScalarNode) and id_node.value == intent_id and isinstance(examples, SequenceNode):
            return examples
    raise LearnRefused(f"intent '{intent_id}' has no list of examples to add to")


def _field(node: Node | None, name: str) -> Node | None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == name:
                return value
    return None


def _examples_of(text: str, intent_id: str) -> list[object] | None:
    """The intent's examples as YAML reads them: what the splice must have changed, and nothing else."""
    data = yaml.load(text, Loader=_FAST_LOADER)
    if isinstance(data, dict):
        for item in data.get("intents") or []:
            if isinstance(item, dict) and item.get("id") == intent_id:
                examples = item.get("examples")
                return list(examples) if isinstance(examples, list) else None
    return None


def _render(question: str, *, flow: bool) -> str:
    """The question as YAML writes it in a list: plain when that reads back as the same text, otherwise
    in double quotes (the quoting the staff guide uses)."""
    dumped = yaml.safe_dump([question], default_flow_style=flow, allow_unicode=True, width=_UNBOUNDED)
    plain = dumped[1:-2] if flow else dumped[2:-1]
    if plain[:1] in ("'", '"'):
        plain = yaml.safe_dump(question, default_style='"', allow_unicode=True, width=_UNBOUNDED).rstrip("\n")
    probe = f"[{plain}]" if flow else f"- {plain}"
    if "\n" in plain or yaml.safe_load(probe) != [question]:
        raise LearnRefused(f"cannot write {question!r} as one line of YAML; add it by hand")
    return plain


def _splice(text: str, examples: SequenceNode, question: str) -> tuple[str, int]:
    """Insert the question into the list; returns the new text and where the question starts."""
    if examples.flow_style:
        rendered = _render(question, flow=True)
        if examples.value:
            at = examples.value[-1].end_mark.index
            return text[:at] + ", " + rendered + text[at:], at + 2
        at = examples.end_mark.index - 1  # the closing bracket of an empty []
        return text[:at] + rendered + text[at:], at
    last = examples.value[-1]
    line_start = text.rfind("\n", 0, last.start_mark.index) + 1
    dash = _DASH.fullmatch(text, line_start, last.start_mark.index)
    if dash is None:
        raise LearnRefused("the last example is not on a line of its own ('- ...'); add the example by hand")
    prefix = dash.group(0)
    # After the last example's own line (and any comment on it): a block scalar ends at the start of
    # the line after it, a plain or quoted one somewhere on its last line.
    end = last.end_mark.index
    if last.end_mark.column == 0:
        at, before = end, ""
    else:
        newline_at = text.find("\n", end)
        at, before = (len(text), "\n") if newline_at < 0 else (newline_at + 1, "")
    newline = "\r\n" if text[line_start:at].endswith("\r\n") or (before and "\r\n" in text) else "\n"
    before = newline if before else ""
    line = prefix + _render(question, flow=False) + newline
    return text[:at] + before + line + text[at:], at + len(before) + len(prefix)


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (the bot's hot reload) see the old file or the new one, never half of one."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@dataclass(frozen=True)
class Exported:
    """What `python -m bot labels export` did: the labels now kept in the files (written, or found there
    already), and why nothing was written (empty on success)."""

    written: tuple[int, ...] = ()  # label ids added as examples, or to training/labels.tsv (off-topic)
    present: tuple[int, ...] = ()  # label ids already examples of their intent: nothing to write
    problems: tuple[str, ...] = ()
    off_topic_file: Path | None = None
    # Labels left in the database, each with why: one label the files cannot take never holds up the rest.
    skipped: tuple[str, ...] = ()


def export_labels(path: Path, labels: Sequence[StoredLabel], commands: Commands | None = None) -> Exported:
    """Write staff's labels into the content: a label of an intent as that intent's example in `path`
    (spliced as `learn` does, every other byte unchanged), an off-topic label as a line of
    training/labels.tsv. All or nothing: the files are checked as `python -m bot check` checks them,
    and put back as they were if the check fails."""
    with _editing(path):
        return _export_locked(path, labels, commands)


def _export_locked(path: Path, labels: Sequence[StoredLabel], commands: Commands | None) -> Exported:
    off_topic_file = path.parent / TRAINING_FOLDER / LABELS_FILE
    try:
        original = path.read_bytes()
        text = original.decode("utf-8")
        tsv_before = off_topic_file.read_bytes() if off_topic_file.exists() else None
    except (OSError, UnicodeDecodeError) as exc:
        return Exported(problems=(f"{path}: cannot read the file: {exc}",))
    written: list[int] = []
    present: list[int] = []
    lines: list[str] = []
    skipped: list[str] = []
    at_line: dict[int, int] = {}  # a line of the content file as it is being written: the label written there
    for label in labels:
        # A member's words: no broadcast or mention survives into the content (check refuses them), and
        # a line of labels.tsv may not start as a comment.
        question = " ".join(clean(label.text).split())
        if label.intent is None:
            question = question.lstrip("#").strip()
            if "\t" in question or not question:
                skipped.append(f"label {label.id}: nothing left to write as a line of {off_topic_file.name}")
                continue
            lines.append(f"{question}\t{NONE_LABEL}\n")
            written.append(label.id)
            continue
        try:
            before = text.count("\n")
            text, line = _with_example(text, path, question, label.intent)
            grown = text.count("\n") - before  # lines at or below the new example move down
            at_line = {(n + grown if n >= line else n): i for n, i in at_line.items()}
            at_line[line] = label.id
        except LearnRefused as exc:
            if f"is already an example of intent '{label.intent}'" in str(exc):
                present.append(label.id)
                continue
            skipped.append(f"label {label.id}: {exc} (`python -m bot labels undo {label.id}` drops it)")
            continue
        written.append(label.id)
    if not written:
        return Exported((), tuple(present), skipped=tuple(skipped))
    if text != original.decode("utf-8"):
        _write_atomically(path, text.encode("utf-8"))
    if lines:
        off_topic_file.parent.mkdir(exist_ok=True)
        head = tsv_before if tsv_before is not None else _LABELS_HEADER.encode("utf-8")
        _write_atomically(off_topic_file, head + "".join(lines).encode("utf-8"))
    result = validate_file(path, commands or Commands(), advice=False)  # pass or not: no advice needed
    if result.errors:
        _write_atomically(path, original)
        if tsv_before is None:
            off_topic_file.unlink(missing_ok=True)
        elif lines:
            _write_atomically(off_topic_file, tsv_before)
        note = f"{path}: nothing exported; the files would not pass `python -m bot check`, so they were put back:"
        return Exported(problems=(note, *(_blamed(p, at_line) for p in result.errors)))
    return Exported(tuple(written), tuple(present), (), off_topic_file if lines else None, tuple(skipped))


def _blamed(problem: Problem, at_line: dict[int, int]) -> str:
    """A problem of the file as it would have been, told by the label that caused it (the file itself was
    put back, so its line numbers would point at nothing), with the command that drops the label."""
    label = at_line.get(problem.line)
    if label is None:
        return f"{problem.message} (in the file as the export would have written it)"
    return f"label {label}: {problem.message} (`python -m bot labels undo {label}` drops it)"


LABELS_FILE = "labels.tsv"
_LABELS_HEADER = (
    "# labels.tsv: questions staff taught as off-topic (Teach, in Slack), written by `python -m bot labels export`.\n"
    "# question<TAB>none. Edit or delete lines by hand as in any training file.\n"
)
