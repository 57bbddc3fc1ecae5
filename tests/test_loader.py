"""The content loader on its own: every problem names the file, line, column, intent and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.blocks import Commands
from bot.content import validate_file
from intents import ContentError, load_catalogue
from intents.loader import MAX_FILE_BYTES
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
    catalogue, problems = validate_file(RESPONSES, Commands())
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
    path = write(tmp_path, SETTINGS + GOOD_INTENT.format(id="alpha") + "    summary: [unclosed\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:16:")
    assert "YAML syntax error" in problem


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
    catalogue, problems = validate_file(path, Commands())
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
    catalogue, problems = validate_file(write(tmp_path, text), Commands())
    assert catalogue is None
    assert any("mentions people or channels" in str(p) for p in problems)
