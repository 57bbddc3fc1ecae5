"""`python -m bot learn`: a new example lands right after the intent's last one, every other byte of the
file stays as staff wrote it, the engine then answers the question with that intent, and a question the
file cannot take leaves the file untouched."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot import content
from bot.command_names import Commands
from bot.content import build_content
from bot.learn import learn, learn_example
from bot.settings import PROJECT_DIR
from intents.loader import load_catalogue
from tests.conftest import RESPONSES

INTENT = "review_people"
# Today the model sends this to the fallback; taught once, it should go to review_people.
QUESTION = "whose name is on the front cover"


@pytest.fixture(autouse=True)
def no_content_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(content, "CONTENT_CACHE", None)


@pytest.fixture
def path(tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "responses.yaml"
    shutil.copyfile(RESPONSES, copy)
    yield copy


def _last_example(path: Path, intent_id: str) -> tuple[int, int]:
    """(line, column) of the intent's last example in the file as it is now."""
    intent = load_catalogue(path).get(intent_id)
    assert intent is not None
    return intent.example_lines[-1]


def _added_lines(before: bytes, after: bytes) -> list[str]:
    """The diff between two versions of the file: the lines added; fails on any line removed or changed."""
    diff = list(difflib.ndiff(before.decode().splitlines(keepends=True), after.decode().splitlines(keepends=True)))
    assert not [d for d in diff if d.startswith("- ")], "a line of the original was changed or removed"
    return [d[2:] for d in diff if d.startswith("+ ")]


def test_adds_the_example_after_the_last_one_and_changes_nothing_else(path: Path) -> None:
    before = path.read_bytes()
    line, column = _last_example(path, INTENT)
    assert build_content(path, Commands()).engine.match(QUESTION).intent_id != INTENT
    learned = learn_example(path, QUESTION, INTENT)
    assert learned.problems == () and learned.line == line + 1
    after = path.read_bytes()
    lines = before.decode().splitlines(keepends=True)
    expected = "".join(lines[:line] + [" " * (column - 3) + f"- {QUESTION}\n"] + lines[line:])
    assert after.decode() == expected
    assert _added_lines(before, after) == [" " * (column - 3) + f"- {QUESTION}\n"]
    intent = load_catalogue(path).get(INTENT)
    assert intent is not None and intent.examples[-1] == QUESTION
    assert build_content(path, Commands()).engine.match(QUESTION).intent_id == INTENT


def test_quotes_only_when_yaml_needs_it(path: Path) -> None:
    tricky = "messenger: was it 'the general' who wrote it? #curious"
    assert learn(path, tricky, INTENT) == []
    line, column = _last_example(path, INTENT)
    written = path.read_text().splitlines()[line - 1]
    assert written == " " * (column - 3) + "- \"messenger: was it 'the general' who wrote it? #curious\""
    assert load_catalogue(path).get(INTENT).examples[-1] == tricky  # type: ignore[union-attr]
    assert learn(path, "  who   chaired the leadership\nreview team  ", INTENT) == []
    assert load_catalogue(path).get(INTENT).examples[-1] == "who chaired the leadership review team"  # type: ignore[union-attr]


def test_keeps_comments_and_trailing_comments(path: Path) -> None:
    text = path.read_text()
    line, _ = _last_example(path, INTENT)
    lines = text.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].rstrip("\n") + "  # from the June workshop\n"
    lines.insert(line, "      # - an example kept out for now\n")
    path.write_text("".join(lines))
    before = path.read_bytes()
    assert learn(path, QUESTION, INTENT) == []
    after = path.read_text().splitlines(keepends=True)
    assert after[line - 1].endswith("# from the June workshop\n")
    assert after[line].strip() == f"- {QUESTION}"
    assert after[line + 1] == "      # - an example kept out for now\n"
    assert len(_added_lines(before, path.read_bytes())) == 1


def test_adds_inside_a_flow_list(path: Path) -> None:
    catalogue = load_catalogue(path)
    intent = catalogue.get(INTENT)
    assert intent is not None
    lines = path.read_text().splitlines(keepends=True)
    first, last = intent.example_lines[0][0], intent.example_lines[-1][0]
    # Rewrite the intent's examples as one flow list: `examples: [a, b, ...]`.
    flow = yaml.safe_dump(list(intent.examples), default_flow_style=True, width=float("inf")).strip()
    header = first - 2  # the `examples:` line, just above the first example
    assert lines[header].strip() == "examples:"
    lines[header:last] = [lines[header].rstrip("\n") + f" {flow}\n"]
    path.write_text("".join(lines))
    before = path.read_text()
    assert learn(path, "who chaired the leadership review team", INTENT) == []
    after = path.read_text()
    assert after == before.replace(flow, flow[:-1] + ", who chaired the leadership review team]", 1)
    assert load_catalogue(path).get(INTENT).examples[-1] == "who chaired the leadership review team"  # type: ignore[union-attr]


def test_keeps_windows_line_endings(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    before = path.read_bytes()
    assert learn(path, QUESTION, INTENT) == []
    after = path.read_bytes()
    assert after.count(b"\r\n") == before.count(b"\r\n") + 1 and after.count(b"\n") == after.count(b"\r\n")
    assert after.replace(f"      - {QUESTION}\r\n".encode(), b"", 1) == before


@pytest.mark.parametrize(
    ("question", "intent_id", "message"),
    [
        (QUESTION, "no_such_intent", "no intent 'no_such_intent'"),
        (QUESTION, "review_peopl", "did you mean review_people"),
        ("what is the messenger review", INTENT, "already an example of intent 'review_overview'"),
        ("What is the Messenger review?!", "key_points", "already an example of intent 'review_overview'"),
        ("   ", INTENT, "the question is empty"),
    ],
)
def test_refuses_and_leaves_the_file_untouched(path: Path, question: str, intent_id: str, message: str) -> None:
    before = path.read_bytes()
    problems = learn(path, question, intent_id)
    assert problems and message in problems[0]
    assert path.read_bytes() == before


def test_restores_the_file_when_validation_fails(path: Path) -> None:
    before = path.read_bytes()
    stat = path.stat()
    problems = learn(path, "@channel what did the review say about managers", INTENT)
    assert "left as it was" in problems[0]
    assert any("would notify people" in p for p in problems[1:])
    assert path.read_bytes() == before
    assert path.stat().st_mode == stat.st_mode
    assert sorted(p.name for p in path.parent.iterdir()) == ["responses.yaml"]  # no temporary file left


def test_refuses_a_file_that_already_has_errors(path: Path) -> None:
    path.write_text(path.read_text().replace("confidence_threshold: 0.3", "confidence_threshold: lots", 1))
    before = path.read_bytes()
    problems = learn(path, QUESTION, INTENT)
    assert "fix them first" in problems[0] and "confidence_threshold" in problems[0]
    assert path.read_bytes() == before


def test_cli(path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "learn", *args, "--path", str(path)],
            cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    line, _ = _last_example(path, INTENT)
    result = run(QUESTION, INTENT)
    assert result.returncode == 0, result.stderr
    assert f"{path}:{line + 1}: added as an example of '{INTENT}'" in result.stdout
    result = run(QUESTION, INTENT)
    assert result.returncode == 1 and "already an example" in result.stderr


def test_the_reports_command_pasted_as_it_is_says_to_choose_the_intent(tmp_path: Path) -> None:
    """`bot report` names the model's guess but leaves INTENT_ID for staff to choose: pasted unchanged,
    learn changes nothing and says what to do."""
    from bot.command_names import Commands
    from bot.learn import learn_example
    from bot.settings import PROJECT_DIR

    path = tmp_path / "responses.yaml"
    path.write_bytes((PROJECT_DIR / "responses.yaml").read_bytes())
    before = path.read_bytes()
    learned = learn_example(path, "when was the messenger report published exactly", "INTENT_ID", Commands())
    assert learned.line is None and path.read_bytes() == before
    assert any("replace INTENT_ID" in p for p in learned.problems)


def test_a_refused_export_names_the_label_to_undo_not_a_line_of_a_file_put_back(tmp_path: Path) -> None:
    """A label the whole-file check refuses (here: no word the bot can match) is named with its undo command;
    the file is put back, so no line number of it is given as if it were there."""
    import datetime

    from bot.learn import export_labels
    from bot.question_log import StoredLabel
    from bot.settings import PROJECT_DIR

    path = tmp_path / "responses.yaml"
    path.write_bytes((PROJECT_DIR / "responses.yaml").read_bytes())
    shutil.copytree(PROJECT_DIR / "training", tmp_path / "training")
    before = path.read_bytes()
    now = datetime.datetime.now(datetime.UTC)
    labels = [
        StoredLabel(7, "where can I download the messenger review as a pdf", "review_overview", "x", now),
        StoredLabel(8, "!!! ???", "review_overview", "x", now),
    ]
    result = export_labels(path, labels, Commands())
    assert path.read_bytes() == before and not result.written
    assert any(p.startswith("label 8: ") and "`python -m bot labels undo 8`" in p for p in result.problems)
    assert not any(f"{path}:" in p for p in result.problems[1:])


def test_learn_still_gives_the_models_advice_on_the_new_example(tmp_path: Path) -> None:
    """An example the model, trained without it, sends elsewhere is added, with check's warning on its line
    (one training on the example alone, not check's five over the whole file)."""
    from bot.learn import learn_example
    from bot.settings import PROJECT_DIR

    path = tmp_path / "responses.yaml"
    path.write_bytes((PROJECT_DIR / "responses.yaml").read_bytes())
    shutil.copytree(PROJECT_DIR / "training", tmp_path / "training")
    learned = learn_example(path, "what are the key points of the messenger review", "thanks", Commands())
    assert learned.line is not None
    assert any("is matched to 'key_points' by a model trained without it" in w for w in learned.warnings)
