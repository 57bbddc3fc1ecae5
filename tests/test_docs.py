"""The staff guide's commands all run, and each row of its error table is what `check` tells staff about
a file broken that way."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from bot.command_names import Commands
from bot.content import validate_file
from bot.settings import PROJECT_DIR
from intents import Problem
from tests.conftest import run_cli

GUIDE = (PROJECT_DIR / "docs" / "editing-responses.md").read_text(encoding="utf-8")
README = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
# The operator and architecture guides: their commands run too, as the README's and the staff guide's do.
OTHER_DOCS = [(PROJECT_DIR / "docs" / n).read_text(encoding="utf-8") for n in ("operator-guide.md", "architecture.md")]
README_LINES = 200


def _shell_blocks(text: str) -> list[list[str]]:
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [[line.split("  #")[0].strip() for line in block.splitlines() if line.strip()] for block in blocks]


_BLOCKS = [b for text in (GUIDE, README, *OTHER_DOCS) for b in _shell_blocks(text) if b[0] != "make run"]


def test_the_readme_is_a_map_and_every_link_in_the_docs_resolves() -> None:
    """At most README_LINES lines; every relative link of the README and docs/ names a file that exists,
    and every #anchor a heading of that file (GitHub's anchors: lower case, punctuation dropped)."""
    assert len(README.splitlines()) <= README_LINES
    for doc in [PROJECT_DIR / "README.md", *(PROJECT_DIR / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            name, _, anchor = target.partition("#")
            linked = (doc.parent / name).resolve() if name else doc
            assert linked.exists(), f"{doc.name}: {target}"
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.MULTILINE)
                anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
                assert anchor in anchors, f"{doc.name}: {target}"


@pytest.mark.parametrize("block", _BLOCKS)
def test_every_command_shown_runs(block: list[str], tmp_path: Path) -> None:
    """Each block runs line by line, as a staff member would type it, in a copy of the project's content."""
    shutil.copy(PROJECT_DIR / "responses.yaml", tmp_path / "responses.yaml")
    (tmp_path / "tests" / "data").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "tests" / "data" / "blind.tsv", tmp_path / "tests" / "data" / "blind.tsv")
    shutil.copytree(PROJECT_DIR / "training", tmp_path / "training")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env["RESPONSES_PATH"] = str(tmp_path / "responses.yaml")
    # A question log of its own: a command shown never reads or writes the developer's .data/.
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'questions.sqlite3'}"
    for command in block:
        if command.startswith("make "):
            continue  # the README's make targets are what CI itself runs
        args = shlex.split(command)
        if args[0] == ".venv/bin/python":
            result = run_cli(args[1:], cwd=tmp_path, env=env, timeout=120)  # this test run's .venv
        else:
            result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, command + "\n" + result.stdout + result.stderr


def test_the_guide_yaml_samples_are_valid_yaml() -> None:
    for block in re.findall(r"```yaml\n(.*?)```", GUIDE, re.DOTALL):
        yaml.safe_load(block)


def _error_table(guide: str) -> dict[str, bool]:
    """Each message fragment of the guide's error table (section 6), and whether its row is a warning."""
    table = guide.split("| message contains | what it means | how to fix it |\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[1:]:
        cell = line.split(" | ", 1)[0]
        for fragment in re.findall(r"`([^`]+)`", cell):
            rows[fragment] = "(warning)" in cell
    return rows


ERROR_TABLE = _error_table(GUIDE)
SHIPPED = (PROJECT_DIR / "responses.yaml").read_text(encoding="utf-8")


class Broken(NamedTuple):
    """The shipped file with `old` (text found exactly once, or a pattern matched once) replaced by `new`."""

    fragment: str
    old: str | re.Pattern[str]
    new: str


def _case(id: str, fragment: str, old: str | re.Pattern[str], new: str, *marks: pytest.MarkDecorator) -> object:
    return pytest.param(Broken(fragment, old, new), id=id, marks=marks)


_REVIEWED = "    title: The Messenger review at a glance\n    reviewed: 2026-12-08\n"
_EDI_STATUS = "      state: unknown\n      as_of: 2026-12-04\n    links:\n      - label: EDI programme page\n"
_EDI_END = "    related: [rec_edi, offers_overview]\n"
_HELLO = "      Hello! I answer"
_BME = "      - label: BME Leadership Network\n        url: https://www.nhsconfed.org/bme-leadership\n"
_CAREER = (
    "      - In June 2022 we said the report was right to call for a more consistent career development pathway, "
    "from recruitment through to mid-career and beyond.\n"
)
_HOW_ARE_YOU = "      - how are you\n"
_BYE = "      - good talking to you, bye\n"
_GREETINGS = ["how are you", "how have you been", "how's life", "how are things", "how's it all going", "good morning",
              "hello there bot", "what's up"]  # fmt: skip
_SIGNUP = '    signup: {{label: Sign up, url: "https://www.nhsconfed.org/{}"}}\n'
_OVERVIEW_SOURCE = """\
    source:
      label: "GOV.UK, Health and social care review: leadership for a collaborative and inclusive future (8 June 2022); NHS Confederation briefing (8 June 2022)"
      url: https://www.gov.uk/government/publications/health-and-social-care-review-leadership-for-a-collaborative-and-inclusive-future
"""
CASES = [
    _case("unclosed-quote", "is never closed",
          "title: The Messenger review at a glance", 'title: "The Messenger review at a glance'),
    _case("colon-in-text", "put text that contains a colon in double quotes",
          "title: Our offers for leaders (June 2022)", "title: Our offers: for leaders (June 2022)"),
    _case("wrapped-too-far-left", "indented less than the text it continues",
          "    title: The Messenger review at a glance\n", "    title: The Messenger review\n  at a glance\n"),
    _case("field-pushed-right", "indented more than the field above it",
          "  - id: review_overview\n    title:", "  - id: review_overview\n      title:"),
    _case("tab", "a tab is used for indenting", "  - id: review_overview\n    title:", "  - id: review_overview\n\ttitle:"),
    _case("not-lined-up", "is not lined up with the lines around it",
          "    title: The Messenger review at a glance\n", "   title: The Messenger review at a glance\n"),
    _case("other-yaml", "YAML syntax error",
          "title: The Messenger review at a glance", "title: @The Messenger review at a glance"),
    _case("backslash", "double any backslash",
          "title: The Messenger review at a glance", 'title: "The Messenger review \\q at a glance"'),
    _case("alias", "YAML aliases (*name) are not allowed", "title: The Messenger review at a glance", "title: *glance"),
    _case("unknown-field", "unknown field",
          "    title: The Messenger review at a glance\n", "    titel: The Messenger review at a glance\n"),
    _case("missing-field", "missing field", "    title: The Messenger review at a glance\n", ""),
    _case("required-intent", "is missing; the bot's commands need it", "  - id: help\n", "  - id: helpdesk\n"),
    _case("source-as-text", "expected a set of 'name: value' fields", _OVERVIEW_SOURCE,
          "    source: The review itself, on GOV.UK\n"),
    _case("list-for-text", "expected text",
          "title: The Messenger review at a glance", "title: [The Messenger review at a glance]"),
    _case("text-for-list", "expected a list",
          "    related: [offers_overview, offer_action_learning_sets]\n", "    related: offers_overview\n"),
    _case("text-for-number", "expected a number", "  confidence_threshold: 0.3\n", "  confidence_threshold: a third\n"),
    _case("date-as-words", "expected a date written as YYYY-MM-DD",
          _REVIEWED, _REVIEWED.replace("2026-12-08", "8 December 2026")),
    _case("no-such-day", "is not a real date", _REVIEWED, _REVIEWED.replace("2026-12-08", "2026-02-30")),
    _case("date-and-time", "write only the date", _REVIEWED, _REVIEWED.replace("2026-12-08", "2026-12-08 09:30:00")),
    _case("reviewed-in-future", "is in the future", _REVIEWED, _REVIEWED.replace("2026-12-08", "2999-01-01")),
    _case("reviewed-long-ago", "last reviewed", _REVIEWED, _REVIEWED.replace("2026-12-08", "2020-01-01")),
    _case("review-period", "settings.review_after_days: must be from 1 to 3650",
          "  review_after_days: 365\n", "  review_after_days: 0\n"),
    _case("empty", "must not be empty", "title: The Messenger review at a glance", 'title: ""'),
    _case("duplicate-id", "duplicate id", "  - id: review_people\n", "  - id: review_overview\n"),
    _case("related-typo", "no intent has the id",
          "    related: [offers_overview, offer_action_learning_sets]\n",
          "    related: [offers_overview, offer_action_learning_set]\n"),
    _case("http-url", "must be a full https:// address",
          "        url: https://www.nhsconfed.org/bme-leadership\n", "        url: http://www.nhsconfed.org/bme-leadership\n"),
    _case("http-link-in-text", "link must be a full https:// address",
          "    <https://www.nhsconfed.org/|nhsconfed.org>.", "    <http://www.nhsconfed.org/|nhsconfed.org>."),
    _case("unregistered-url", "is not in the source register",
          "        url: https://www.nhsconfed.org/bme-leadership\n",
          "        url: https://www.nhsconfed.org/bme-leadership-network\n"),
    _case("signup-not-open", "must not offer", _EDI_END,
          _SIGNUP.format("supporting-members/equality-diversity-inclusion") + _EDI_END),
    _case("signup-elsewhere", "is not this offer's own page", _EDI_STATUS,
          _EDI_STATUS.replace("unknown", "open").replace("    links:", _SIGNUP.format("bme-leadership") + "    links:")),
    _case("open-long-ago", "confirmed open on", _EDI_STATUS,
          _EDI_STATUS.replace("unknown", "open").replace("2026-12-04", "2020-01-01")
          .replace("    links:", _SIGNUP.format("supporting-members/equality-diversity-inclusion") + "    links:")),
    _case("whose-view", "is the Confederation's view", _HELLO, "      Leaders have little time. Hello! I answer"),
    _case("title-says-now", "its newest source is from",
          "    title: The Messenger review at a glance\n", "    title: The Messenger review now\n"),
    _case("overview-link", "is not any open offer's",
          "      - label: Get in touch with the team\n        url: https://www.nhsconfed.org/\n",
          "      - label: Get in touch with the team\n        url: https://www.nhsconfed.org/topic/leadership\n"),
    _case("placeholder", "unknown placeholder", 'Try "what are the key points?"', 'Try {keypoint} or "what are the key points?"'),
    _case("notify", "would notify people", "  fallback_text: >-\n    Sorry,", "  fallback_text: >-\n    @channel Sorry,"),
    _case("floor-above-threshold", "settings.suggestion_floor: must be from 0 up to",
          "  suggestion_floor: 0.1\n", "  suggestion_floor: 0.5\n"),
    _case("staff-in-content", "is no longer set in the content file",
          "  review_after_days: 365\n", "  review_after_days: 365\n  staff_user_ids: [U0123ABCD]\n"),
    _case("short-summary", "too short",
          "      You're welcome. Ask me anything else about the Messenger review or our offers whenever you like.\n",
          "      You're welcome.\n"),
    _case("few-examples", "are needed",
          re.compile(r"(  - id: thanks\n(?:    .*\n)*?    examples:\n      - .*\n)(?:      - .*\n)+"), r"\1"),
    _case("example-of-two", "is also an example of intent", _HOW_ARE_YOU, _HOW_ARE_YOU + "      - how do I contact you\n"),
    _case("example-twice", "is listed twice", _HOW_ARE_YOU, _HOW_ARE_YOU + _HOW_ARE_YOU),
    _case("punctuation-example", "has no words the bot can match", _HOW_ARE_YOU, _HOW_ARE_YOU + '      - "???"\n'),
    _case("capital-word", "must be one lower-case word", "    rec: recommendation\n", "    Rec: recommendation\n"),
    _case("capital-meaning", "write it in lower-case words", "    rec: recommendation\n", "    rec: Recommendation\n"),
    _case("number-word", "must be a number written in digits", '    first: "1"\n', '    first: "one"\n'),
    _case("word-in-two-concepts", "already means", "    appraisal: [appraisals]\n", "    appraisal: [appraisals, bosses]\n"),
    _case("area-name", "an area name is a lower case letter", "    nhs_elsewhere:\n", "    NHS elsewhere:\n"),
    _case("empty-area", "the area has no questions", "    nhs_elsewhere:\n", "    jokes: []\n    nhs_elsewhere:\n"),
    _case("out-of-scope-text", "expected a list of questions, or areas",
          re.compile(r"  out_of_scope:\n.*?(?=  # Short replies)", re.DOTALL), "  out_of_scope: the weather\n"),
    _case("phrase-of-three", "must be two lower-case words", "    non exec: ned\n", "    non exec stuff: ned\n"),
    _case("long-summary", "characters once rendered", _HELLO, "      " + "Hello. " * 450 + "\n" + _HELLO),
    _case("long-title", "a heading can have", "    title: Hello\n", "    title: Hello" + " there" * 30 + "\n"),
    _case("long-label", "button label",
          "      - label: BME Leadership Network\n", "      - label: BME Leadership Network" + " and more" * 10 + "\n"),
    _case("huge-file", "the limit is", "\nsources:\n", "\n# " + "padding " * 70_000 + "\nsources:\n"),
    _case("bold-first-line", "starts with a heading line", _HELLO, "      *Hello*\n" + _HELLO),
    _case("standing-by-hand", "says where an offer stands", "Our EDI work has included a *BME Leadership Network*,",
          "It still runs. Our EDI work has included a *BME Leadership Network*,"),
    _case("title-promises-standing", "promises where",
          '    title: "Recommendations 5 to 7: what our sources say since 2022"\n',
          "    title: Where recommendations 5 to 7 stand\n"),
    _case("signup-repeats-link", "repeats the sign-up address", _EDI_STATUS,
          _EDI_STATUS.replace("unknown", "open")
          .replace("    links:", _SIGNUP.format("supporting-members/equality-diversity-inclusion") + "    links:")),
    _case("offer-link-elsewhere", "not name as this offer's page", _BME,
          _BME + "      - label: Our leadership pages\n        url: https://www.nhsconfed.org/topic/leadership\n"),
    _case("for-offers-not-offer", "is not an offer", "    for_offers: [offer_edi_programme]\n",
          "    for_offers: [offer_edi_programme, rec_edi]\n"),
    _case("recommendation-paraphrase", "whose words are", "      6. Effective recruitment",
          "      6. More effective recruitment"),
    _case("no-update-claim", "says there is no update on", _CAREER,
          _CAREER + "      - Our sources hold no public update on this recommendation since 2022.\n"),
    _case("misrouted-example", "is matched to", _HOW_ARE_YOU,
          _HOW_ARE_YOU + "      - what were the seven recommendations of the messenger review\n"),
    _case("overlapping-intents", "overlap", _BYE,
          _BYE + "".join(f"      - {greeting} then\n" for greeting in _GREETINGS)),
]  # fmt: skip


def _break(broken: Broken) -> str:
    if isinstance(broken.old, re.Pattern):
        text, n = broken.old.subn(broken.new, SHIPPED)
    else:
        n = SHIPPED.count(broken.old)
        text = SHIPPED.replace(broken.old, broken.new)
    assert n == 1, f"the edit's anchor must be found once in responses.yaml, found {n} times"
    return text


def _check(text: str, folder: Path) -> list[Problem]:
    """`python -m bot check` on this text, saved beside the project's own training/ as the real file is."""
    path = folder / "responses.yaml"
    path.write_text(text, encoding="utf-8")
    if not (folder / "training").exists():
        (folder / "training").symlink_to(PROJECT_DIR / "training")
    return validate_file(path, Commands()).problems


@pytest.fixture(scope="module")
def shipped_problems(tmp_path_factory: pytest.TempPathFactory) -> list[Problem]:
    return _check(SHIPPED, tmp_path_factory.mktemp("shipped"))


@pytest.mark.parametrize("broken", CASES)
def test_each_row_of_the_error_table_is_what_check_tells_staff(
    broken: Broken, shipped_problems: list[Problem], tmp_path: Path
) -> None:
    assert not [p for p in shipped_problems if broken.fragment in p.message], "the shipped file already has it"
    problems = _check(_break(broken), tmp_path)
    found = [p for p in problems if broken.fragment in p.message]
    assert found, "\n".join(str(p) for p in problems[:10])
    level = "warning" if ERROR_TABLE[broken.fragment] else "error"
    assert {p.level for p in found} == {level}, "\n".join(str(p) for p in found)


def test_every_row_of_the_error_table_has_a_case() -> None:
    cases = [p.values[0].fragment for p in CASES]  # type: ignore[attr-defined]
    assert len(cases) == len(set(cases))
    assert sorted(ERROR_TABLE) == sorted(cases)
