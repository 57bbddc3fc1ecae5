"""The content loader on its own: every problem names the file, line, column, intent and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.command_names import Commands
from bot.content import validate_file
from intents import ContentError, load_catalogue
from intents.loader import DEFAULT_SUGGESTION_FLOOR, MAX_FILE_BYTES
from tests.conftest import RESPONSES

GOOD_INTENT = """\
  - id: {id}
    title: A title
    examples: [one question, two question, three question, four question, five question,
               six question, seven question, eight question {id}]
    summary: A summary long enough to pass the minimum length check for summaries.
    links:
      - label: Home
        url: https://www.nhsconfed.org/
    reviewed: 2026-11-01
    source:
      label: The briefing
      url: https://www.nhsconfed.org/
"""
SETTINGS = """\
settings:
  confidence_threshold: 0.3
  fallback_text: I don't know.
  contact_text: Ask the team.
  default_source: The briefing
intents:
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "responses.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ContentError) as info:
        load_catalogue(path)
    return [str(p) for p in info.value.problems]


def test_shipped_content_is_valid() -> None:
    result = validate_file(RESPONSES, Commands())
    catalogue, problems = result.catalogue, result.problems
    assert catalogue is not None, [str(p) for p in problems]
    ids = {i.id for i in catalogue.intents}
    required = """review_overview review_findings recommendations rec_collaborative_leadership rec_edi
    rec_management_standards rec_appraisal rec_talent_management rec_non_executives rec_challenged_roles key_points
    confed_response manager_bashing nhs_under_managed workforce_pressures primary_social_care role_of_centre
    previous_reviews funding_implementation implementation_progress offer_ics_leadership_programme
    offer_action_learning_sets offer_ned_network offer_edi_programme offer_operating_model offers_overview contact
    newsletter greeting thanks help""".split()
    assert set(required) <= ids
    assert all(len(i.examples) >= 12 for i in catalogue.intents)
    assert sorted(i.recommendation_number for i in catalogue.intents if i.recommendation_number) == list(range(1, 8))


def test_a_good_minimal_file_loads(tmp_path: Path) -> None:
    catalogue = load_catalogue(write(tmp_path, SETTINGS + GOOD_INTENT.format(id="alpha")))
    assert [i.id for i in catalogue.intents] == ["alpha"]


def test_yaml_syntax_error_points_at_the_line(tmp_path: Path) -> None:
    text = SETTINGS + GOOD_INTENT.format(id="alpha")
    path = write(tmp_path, text + "    details: [unclosed\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{text.count(chr(10)) + 1}:14:")
    assert "never closed; end it with ]" in problem


def _line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


@pytest.mark.parametrize(
    ("mistake", "fix", "expected"),
    [
        # A quote left open swallows the text up to the next quote, lines later.
        ("    title: A title\n", '    title: "A title\n', 'double quote (") here is never closed'),
        ("    title: A title\n", "    title: 'A title\n", "single quote (') here is never closed"),
        ("    title: A title\n", "    title: Note: a title\n", "put text that contains a colon in double quotes"),
        ("    title: A title\n", "    title: A title\n\ttags: x\n", "a tab is used for indenting here"),
        # A field pushed in under a field with a value reads as more of that text, not as a colon in it.
        ("    title: A title\n", "       title: A title\n", "indented more than the field above it"),
        # A wrapped line of text that happens to hold "Word: " is a colon in text, not a field out of line.
        (
            "    summary: A summary long enough",
            "    summary: A summary long enough\n      Deadline: 30 June 2026,",
            "put text that contains a colon in double quotes",
        ),
    ],
)
def test_yaml_mistakes_are_explained_in_plain_english_where_they_start(
    tmp_path: Path, mistake: str, fix: str, expected: str
) -> None:
    intents = GOOD_INTENT.format(id="alpha").replace(mistake, fix) + GOOD_INTENT.format(id="beta").replace(
        "A summary", '"A summary"'
    )
    text = SETTINGS + intents
    path = write(tmp_path, text)
    [problem] = problems_of(path)
    line = _line_of(text, fix.strip().split("\n")[-1])  # the line the mistake is on: the last one written
    assert problem.startswith(f"{path}:{line}:"), problem
    assert expected in problem
    assert "YAML syntax error" not in problem


def test_text_indented_too_little_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = SETTINGS + GOOD_INTENT.format(id="alpha").replace(
        "    summary: A summary long enough", "    summary: A summary\n  long enough"
    )
    path = write(tmp_path, text)
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:{_line_of(text, '  long enough')}:3:")
    assert "indented less than the text it continues" in problem


@pytest.mark.parametrize(
    ("change", "line", "expected"),
    [
        (("    title: A title\n", "    title: A title\n    colour: blue\n"), 9, "intent 'alpha': unknown field 'colour'"),
        (("    title: A title\n", ""), 7, "intent 'alpha': missing field 'title'"),
        (("    title: A title\n", "    title: [a, b]\n"), 8, "intent 'alpha' field 'title': expected text, found a list"),
        (("https://www.nhsconfed.org/", "http://www.nhsconfed.org/"), 14, "field 'links' item 1 url: must be a full https://"),
        (("      - label: Home\n", "      - label: ''\n"), 13, "field 'links' item 1 label: must not be empty"),
        (("A summary long enough to pass the minimum length check for summaries.", "Too short."), 11,
         "intent 'alpha' field 'summary': too short"),
        (("six question, seven question, eight question alpha", "six question"), 9,
         "field 'examples': 6 examples; at least 8 are needed"),
    ],
)  # fmt: skip
def test_field_problems_name_line_intent_and_field(
    tmp_path: Path, change: tuple[str, str], line: int, expected: str
) -> None:
    text = SETTINGS + GOOD_INTENT.format(id="alpha")
    assert change[0] in text
    path = write(tmp_path, text.replace(change[0], change[1], 1))
    found = problems_of(path)
    assert any(p.startswith(f"{path}:{line}:") and expected in p for p in found), found


def test_duplicate_ids_unknown_related_and_shared_examples(tmp_path: Path) -> None:
    second = GOOD_INTENT.format(id="alpha").replace("eight question alpha", "eight question beta")
    third = GOOD_INTENT.format(id="gamma") + "    related: [nowhere]\n"
    path = write(tmp_path, SETTINGS + GOOD_INTENT.format(id="alpha") + second + third)
    found = "\n".join(problems_of(path))
    assert "intent 'alpha' field 'id': duplicate id (first used on line 7)" in found
    assert "intent 'gamma' field 'related': no intent has the id 'nowhere'" in found
    assert "'one question' is also an example of intent 'alpha'" in found


def test_settings_problems(tmp_path: Path) -> None:
    text = (
        (SETTINGS + GOOD_INTENT.format(id="alpha"))
        .replace("0.3", "1.5")
        .replace("  fallback_text: I don't know.\n", "")
    )
    found = "\n".join(problems_of(write(tmp_path, text)))
    assert "settings.confidence_threshold: must be between 0 and 1" in found
    assert "settings: missing field 'fallback_text'" in found


@pytest.mark.parametrize(
    ("line", "variable"),
    [("staff_user_ids: [U0123ABCD]", "STAFF_USER_IDS"), ("staff_usergroup_ids: []", "STAFF_USERGROUP_IDS"),
     ("handoff_channel: C0123ABCD", "HANDOFF_CHANNEL")],
)  # fmt: skip
def test_who_is_staff_is_no_longer_content(tmp_path: Path, line: str, variable: str) -> None:
    """Whoever can edit an answer must not be able to make themselves staff: each old line is an error at
    its own line, naming the variable the operator sets instead."""
    text = SETTINGS.replace("settings:\n", f"settings:\n  {line}\n", 1) + GOOD_INTENT.format(id="alpha")
    [problem] = problems_of(write(tmp_path, text))
    assert ":2:" in problem and f"the operator sets {variable} in the bot's environment" in problem


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
    bomb += "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    [problem] = problems_of(write(tmp_path, bomb))
    assert ":2:" in problem and "aliases" in problem


def test_oversized_files_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "#" * (MAX_FILE_BYTES + 1))
    [problem] = problems_of(path)
    assert f"{path}:1:1:" in problem and "limit" in problem


def test_non_yaml_objects_and_empty_files(tmp_path: Path) -> None:
    assert "the file is empty" in problems_of(write(tmp_path, ""))[0]
    assert "expected a set of 'name: value' fields" in problems_of(write(tmp_path, "- just\n- a list\n"))[0]
    tagged = problems_of(write(tmp_path, "settings: !!python/object/apply:os.system [echo hi]\nintents: []\n"))
    assert "settings: expected a set of 'name: value' fields" in tagged[0]


def test_render_limits_are_checked(tmp_path: Path) -> None:
    huge = "x" * 3100
    text = SETTINGS + GOOD_INTENT.format(id="alpha")
    text = text.replace("    title: A title\n", f"    title: {'t' * 200}\n")
    text = text.replace("A summary long enough to pass the minimum length check for summaries.", huge)
    text = text.replace("      - label: Home\n", f"      - label: {'l' * 80}\n")
    path = write(tmp_path, text)
    result = validate_file(path, Commands())
    catalogue, problems = result.catalogue, result.problems
    assert catalogue is None
    found = [str(p) for p in problems]
    assert f"{path}:8:5: intent 'alpha' field 'title': 200 characters; a heading can have 150" in found
    assert (
        f"{path}:11:5: intent 'alpha' field 'summary': 3100 characters once rendered; Slack allows 3000 in a section"
        in found
    )
    assert any(f"{path}:13:" in p and "button label" in p for p in found), found


def test_broadcasts_in_content_are_refused(tmp_path: Path) -> None:
    text = (SETTINGS + GOOD_INTENT.format(id="alpha")).replace("I don't know.", "I don't know <!channel>.")
    result = validate_file(write(tmp_path, text), Commands())
    catalogue, problems = result.catalogue, result.problems
    assert catalogue is None
    [problem] = [str(p) for p in problems if "would notify people" in str(p)]
    assert problem.startswith(f"{tmp_path / 'responses.yaml'}:3:31: settings.fallback_text: '<!channel>'")


def test_the_suggestion_floor_is_read_from_the_file(tmp_path: Path) -> None:
    text = SETTINGS.replace("  fallback_text:", "  suggestion_floor: 0.25\n  fallback_text:") + GOOD_INTENT.format(
        id="alpha"
    )
    assert load_catalogue(write(tmp_path, text)).settings.suggestion_floor == 0.25
    plain = load_catalogue(write(tmp_path, SETTINGS + GOOD_INTENT.format(id="alpha")))
    assert plain.settings.suggestion_floor == DEFAULT_SUGGESTION_FLOOR < plain.settings.confidence_threshold
    # Left out under a low threshold, the default never rises above the threshold.
    low = load_catalogue(write(tmp_path, (SETTINGS + GOOD_INTENT.format(id="alpha")).replace("0.3", "0.1")))
    assert low.settings.suggestion_floor == 0.1
    shipped = load_catalogue(RESPONSES).settings
    assert 0 < shipped.suggestion_floor < shipped.confidence_threshold


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("low", "settings.suggestion_floor: expected a number, found text 'low'"),
        ("[0.1]", "settings.suggestion_floor: expected a number, found a list"),
        ("0.35", "settings.suggestion_floor: must be from 0 up to confidence_threshold (0.3), found 0.35"),
        ("-0.1", "settings.suggestion_floor: must be from 0 up to confidence_threshold (0.3), found -0.1"),
    ],
)
def test_a_bad_suggestion_floor_names_its_line(tmp_path: Path, value: str, expected: str) -> None:
    text = SETTINGS.replace("  fallback_text:", f"  suggestion_floor: {value}\n  fallback_text:") + GOOD_INTENT.format(
        id="alpha"
    )
    path = write(tmp_path, text)
    assert problems_of(path) == [f"{path}:3:21: {expected}"]


def text_with(summary: str) -> str:
    """The minimal file with a multi-line summary (its first text line is line 12)."""
    block = "    summary: |-\n" + "".join(f"      {line}\n" for line in summary.splitlines())
    intent = GOOD_INTENT.format(id="alpha").replace(
        "    summary: A summary long enough to pass the minimum length check for summaries.\n", block
    )
    return SETTINGS + intent


def test_an_http_link_inside_a_summary_names_its_line_and_column(tmp_path: Path) -> None:
    summary = (
        "A summary long enough to pass the minimum length check.\nRead more in <http://www.nhsconfed.org/|the report>."
    )
    path = write(tmp_path, text_with(summary))
    assert problems_of(path) == [
        f"{path}:13:20: intent 'alpha' field 'summary': link must be a full https:// address (or mailto:), "
        "found 'http://www.nhsconfed.org/'"
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("<https://www.nhsconfed.org/a page|the page>", "https://www.nhsconfed.org/a page"),
        ("<https://www.nhsconfed.org/a\npage|the page>", "https://www.nhsconfed.org/a page"),  # split over two lines
        ("<www.nhsconfed.org|the site>", "www.nhsconfed.org"),
        ("<https:///nowhere>", "https:///nowhere"),
        ("<mailto:not an address|us>", "mailto:not an address"),
        ("<javascript:alert(1)|click>", "javascript:alert(1)"),
        ("http://www.nhsconfed.org/ for more", "http://www.nhsconfed.org/"),  # Slack links it by itself,
    ],
)
def test_bad_links_inside_text_are_errors(tmp_path: Path, text: str, found: str) -> None:
    summary = "A summary long enough to pass the minimum length check.\nFirst line.\nThen " + text
    path = write(tmp_path, text_with(summary))
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:14:12: intent 'alpha' field 'summary': link must be a full https://"), problem
    assert problem.endswith(f"found '{found}'")


def test_good_links_and_mentions_inside_text_pass(tmp_path: Path) -> None:
    summary = (
        "A summary long enough to pass the minimum length check.\n"
        "See <https://www.nhsconfed.org/|the site>, <https://www.nhsconfed.org/> or <mailto:team@nhsconfed.org|email us>.\n"
        "Plain https://www.nhsconfed.org/ is fine, and so is 1 < 2 > 0."
    )
    catalogue = load_catalogue(write(tmp_path, text_with(summary)))
    assert "<mailto:team@nhsconfed.org|email us>" in catalogue.intents[0].summary


def test_links_are_checked_in_every_text_field(tmp_path: Path) -> None:
    text = (
        (SETTINGS + GOOD_INTENT.format(id="alpha"))
        .replace("Ask the team.", 'Ask the "team" at <http://a.org|a>.')
        .replace("    title: A title\n", "    title: A title\n    details: [fine, <http://b.org>]\n")
        .replace("      - label: Home\n", "      - label: Home <http://c.org>\n")
    )
    path = write(tmp_path, text)
    found = problems_of(path)
    assert [p.split(": link")[0] for p in found] == [
        f"{path}:4:35: settings.contact_text",
        f"{path}:9:21: intent 'alpha' field 'details' item 2",
        f"{path}:14:21: intent 'alpha' field 'links' item 1 label",
    ], found


@pytest.mark.parametrize(
    ("status_of", "expected"),
    [
        ("[nowhere]", "field 'status_of': no intent has the id 'nowhere'"),
        ("[alpha]", "field 'status_of': an intent cannot name itself here"),
    ],
)
def test_status_of_names_other_intents(tmp_path: Path, status_of: str, expected: str) -> None:
    text = (
        SETTINGS
        + GOOD_INTENT.format(id="alpha").replace(
            "    title: A title\n", f"    title: A title\n    status_of: {status_of}\n"
        )
        + GOOD_INTENT.format(id="beta")
    )
    path = write(tmp_path, text)
    [problem] = [p for p in problems_of(path) if "field 'status_of'" in p]
    assert problem.startswith(f"{path}:{_line_of(text, 'status_of')}:") and expected in problem


def test_a_topic_is_reported_on_by_one_intent_only(tmp_path: Path) -> None:
    text = (
        SETTINGS
        + GOOD_INTENT.format(id="alpha").replace("    title: A title\n", "    title: A title\n    status_of: [gamma]\n")
        + GOOD_INTENT.format(id="beta").replace("    title: A title\n", "    title: A title\n    status_of: [gamma]\n")
        + GOOD_INTENT.format(id="gamma")
    )
    path = write(tmp_path, text)
    [problem] = [p for p in problems_of(path) if "field 'status_of'" in p]
    assert "'gamma' is already reported on by 'alpha'" in problem


def with_off_topic(block: str) -> str:
    return SETTINGS.replace("intents:\n", block + "intents:\n") + GOOD_INTENT.format(id="alpha")


def test_off_topic_questions_come_as_one_list_or_by_area(tmp_path: Path) -> None:
    plain = with_off_topic("  out_of_scope:\n    - what is the weather\n    - set an alarm\n")
    assert load_catalogue(write(tmp_path, plain)).settings.out_of_scope == {
        "off_topic": ("what is the weather", "set an alarm")
    }
    areas = with_off_topic(
        "  out_of_scope:\n    everyday:\n      - what is the weather\n    nhs_elsewhere:\n      - the gp contract\n"
    )
    settings = load_catalogue(write(tmp_path, areas)).settings
    assert settings.out_of_scope == {"everyday": ("what is the weather",), "nhs_elsewhere": ("the gp contract",)}
    assert settings.off_topic_examples == ("what is the weather", "the gp contract")
    shipped = load_catalogue(RESPONSES).settings.out_of_scope
    assert {"everyday", "nhs_elsewhere", "events"} <= set(shipped) and all(shipped.values())


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "  out_of_scope:\n    Every Day:\n      - what is the weather\n",
            "7:5: settings.out_of_scope.Every Day: an area name is a lower case letter, then up to 63 letters,",
        ),
        ("  out_of_scope:\n    everyday: []\n", "7:15: settings.out_of_scope.everyday: the area has no questions"),
        ("  out_of_scope:\n    everyday: [42]\n", "7:16: settings.out_of_scope.everyday item 1: expected text"),
        (
            "  out_of_scope:\n    everyday: what is the weather\n",
            "7:15: settings.out_of_scope.everyday: expected a list (lines starting with '- '), found text",
        ),
        (
            "  out_of_scope: the weather\n",
            "6:17: settings.out_of_scope: expected a list of questions, or areas (like 'everyday:') each holding one;",
        ),
    ],
)
def test_a_bad_off_topic_area_names_its_line(tmp_path: Path, block: str, expected: str) -> None:
    path = write(tmp_path, with_off_topic(block))
    found = problems_of(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:{expected}"), found
