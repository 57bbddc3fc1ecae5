"""The claims members read, held to the sources: a recommendation in the government's words where the answer
cites GOV.UK, no "no update" claim where the register holds a later source, an offer's buttons only to pages
registered for it, and an offer's standing said once, by the bot, from its `status:`. The rules are tried
on the shipped file broken the way the last fact-check found it; the replies on the shipped file, and on
a copy where staff have marked the EDI programme open as the staff guide says."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest

from bot.blocks import long_date
from bot.command_names import Commands
from bot.content import Content, build_content
from bot.conversation import command_reply
from bot.routing import MemberCommand
from bot.settings import PROJECT_DIR
from bot.terminal import to_plain_text
from intents import Answer, Problem
from intents.validate import validate_text
from tests.conftest import RESPONSES

SHIPPED = RESPONSES.read_text(encoding="utf-8")
EDI = "offer_edi_programme"
EDI_PAGE = "https://www.nhsconfed.org/supporting-members/equality-diversity-inclusion"
HOME = "https://www.nhsconfed.org/"


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"anchor found {text.count(old)} times: {old!r}"
    return text.replace(old, new)


def _in(text: str, intent_id: str, old: str, new: str) -> str:
    """`old` replaced by `new` within one intent (its first occurrence after the intent's id line)."""
    start = text.index(f"  - id: {intent_id}\n")
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old) :]


def _problems(text: str, tmp_path: Path) -> list[Problem]:
    path = tmp_path / "responses.yaml"
    path.write_text(text, encoding="utf-8")
    return validate_text(text, path, advice=False).problems


def _found(problems: list[Problem], fragment: str) -> list[Problem]:
    return [p for p in problems if fragment in p.message]


def _line(text: str, intent_id: str, field: str) -> int:
    lines = text.split("\n")
    start = lines.index(f"  - id: {intent_id}")
    return next(n for n, line in enumerate(lines[start:], start + 1) if line.startswith(f"    {field}:"))


def test_the_shipped_file_passes_every_claim_rule(tmp_path: Path) -> None:
    fragments = ("says where an offer stands", "repeats the sign-up address", "not name as this offer's page",
                 "whose words are", "says there is no update on", "is not an offer", "no intent has the id")  # fmt: skip
    problems = _problems(SHIPPED, tmp_path)
    assert [str(p) for p in problems if any(f in p.message for f in fragments)] == []


# --- a recommendation's wording matches the government's words when the answer cites GOV.UK ---


def test_a_recommendation_in_the_briefings_words_under_a_govuk_citation_is_refused(tmp_path: Path) -> None:
    text = _edit(SHIPPED, "      6. Effective recruitment", "      6. More effective recruitment")
    text = _edit(text, "*Recommendation 6: effective recruitment", "*Recommendation 6: more effective recruitment")
    found = _found(_problems(text, tmp_path), "whose words are")
    assert [(p.line, p.message.split(":")[0]) for p in found] == [
        (_line(text, "recommendations", "summary"), "intent 'recommendations' field 'summary'"),
        (_line(text, "rec_non_executives", "summary"), "intent 'rec_non_executives' field 'summary'"),
    ]
    assert "recommendation 6 is given as 'More effective recruitment and development of non-executive directors'" in (
        found[0].message
    )
    assert "whose words are 'Effective recruitment and development of non-executive directors'" in found[0].message


def test_the_governments_words_may_be_followed_by_our_own(tmp_path: Path) -> None:
    text = _edit(SHIPPED, "      6. Effective recruitment and development of non-executive directors\n",
                 "      6. Effective recruitment and development of non-executive directors (a specialist team)\n")  # fmt: skip
    assert _found(_problems(text, tmp_path), "whose words are") == []


def test_an_answer_that_does_not_cite_govuk_may_paraphrase(tmp_path: Path) -> None:
    # key_points cites our briefing only: the briefing's own wording is fine there.
    text = _in(SHIPPED, "key_points", "      • Many recommendations were welcome",
               "      • Recommendation 6: more effective recruitment of non-executives.\n"
               "      • Many recommendations were welcome")  # fmt: skip
    assert _found(_problems(text, tmp_path), "whose words are") == []


# --- "no update" claims are refused when the register holds a later source for that topic ---


@pytest.mark.parametrize(
    ("intent_id", "anchor", "claim", "topic"),
    [
        # The six places that contradicted the answer of 20 November 2023 said things like these.
        ("recs_5_to_7_status", "    summary: |-\n", "      Our sources hold no public update specific to recommendations 5, 6 and 7.\n",
         "rec_talent_management"),
        ("implementation_progress", "    details:\n", '      - "They hold no public update specific to recommendations 5 to 7."\n',
         "recommendations"),
        ("rec_non_executives", "    details:\n", '      - "Our sources hold no public update on this recommendation since 2022."\n',
         "rec_non_executives"),
        ("primary_social_care", "    details:\n", "      - Our sources hold no later update on leadership in social care since 2022.\n",
         "primary_social_care"),
        ("role_of_centre", "    details:\n", "      - Our sources say nothing more about the centre since 2022.\n",
         "role_of_centre"),
    ],
)  # fmt: skip
def test_a_no_update_claim_on_a_topic_with_a_later_source_is_refused(
    tmp_path: Path, intent_id: str, anchor: str, claim: str, topic: str
) -> None:
    text = _in(SHIPPED, intent_id, anchor, anchor + claim)
    found = _found(_problems(text, tmp_path), "says there is no update on")
    assert found, f"{intent_id}: not refused"
    assert found[0].message.startswith(f"intent '{intent_id}' field")
    assert f"on '{topic}', but the register holds a later source that reports on it" in found[0].message


def test_a_no_update_claim_stands_where_no_later_source_reports_on_the_topic(tmp_path: Path) -> None:
    claim = "      Our sources hold no update on vacancies since June 2022.\n"
    text = _in(SHIPPED, "workforce_pressures", "    more: |-\n", "    more: |-\n" + claim)
    assert _found(_problems(text, tmp_path), "says there is no update on") == []
    # The register decides: without the answer's reports_on, the old claim on recommendation 6 would pass.
    old = '      - "Our sources hold no public update on this recommendation since 2022."\n'
    text = _in(SHIPPED, "rec_non_executives", "    details:\n", "    details:\n" + old)
    text = re.sub(r"    reports_on: \[recommendations,[^\]]*\]\n", "", text)
    assert _found(_problems(text, tmp_path), "says there is no update on") == []


# --- a link's register entry names what it is; an offer's link is registered as that offer's page ---


def test_an_offer_linking_a_page_not_registered_for_it_is_refused(tmp_path: Path) -> None:
    # The old finding: the ICS programme linked a report on a different, later programme as if its own.
    link = "      - label: ICS peer-learning programme\n        url: https://nhsconfed.org/publications/evolution-provider-collaboration\n"
    anchor = "    related: [offers_overview, offer_action_learning_sets]\n"
    text = _edit(SHIPPED, anchor, link + anchor)
    [problem] = _found(_problems(text, tmp_path), "not name as this offer's page")
    assert problem.message.startswith("intent 'offer_ics_leadership_programme' field 'links': 'ICS peer-learning")
    assert "its entry, 'The evolution of provider collaboration (publication)'" in problem.message
    assert problem.line == text.split("\n").index(link.split("\n")[0]) + 1
    # Registered for the offer (the shared list names it so), it may be linked.
    registered = _edit(text, "    for_offers: [offer_action_learning_sets]\n",
                       "    for_offers: [offer_action_learning_sets, offer_ics_leadership_programme]\n")  # fmt: skip
    assert _found(_problems(registered, tmp_path), "not name as this offer's page") == []


def test_every_offer_link_in_the_shipped_register_names_the_page_and_the_offer() -> None:
    content = build_content(RESPONSES, Commands())
    register = {s.url: s for s in content.catalogue.sources}
    for offer in content.catalogue.offers:
        for link in offer.links:
            entry = register[link.url]
            assert entry.offer_page == offer.id or offer.id in entry.for_offers, (offer.id, link.url)
    assert "https://nhsconfed.org/system-improvement" not in register  # a different programme, never this one's


@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("    for_offers: [offer_edi_programme, rec_edi]\n", "field 'for_offers': 'rec_edi' is not an offer"),
        ("    for_offers: [offer_edi_programm]\n", "field 'for_offers': no intent has the id 'offer_edi_programm'"),
    ],
)
def test_the_register_names_offers_and_topics_that_exist(tmp_path: Path, new: str, problem: str) -> None:
    text = _edit(SHIPPED, "    for_offers: [offer_edi_programme]\n", new)
    found = _found(_problems(text, tmp_path), problem)
    assert found and found[0].message.startswith("sources entry https://www.nhsconfed.org/bme-leadership")


# --- an offer's standing is said once, by the bot, from its status ---


@pytest.mark.parametrize(
    ("intent_id", "sentence"),
    [
        (EDI, "Our sources do not say whether the programme still runs as it did in 2022."),
        ("offer_ned_network", "To ask about current dates and places, get in touch with the team."),
        ("offers_overview", "Our sources do not say which of these still run."),
        ("offer_action_learning_sets", "The sets are open to all members."),
    ],
)
def test_offer_text_that_says_where_the_offer_stands_is_refused(tmp_path: Path, intent_id: str, sentence: str) -> None:
    text = _in(SHIPPED, intent_id, "    summary: |-\n", f"    summary: |-\n      {sentence}\n")
    found = _found(_problems(text, tmp_path), "says where an offer stands")
    assert [p.line for p in found] == [_line(text, intent_id, "summary")]
    assert found[0].level == "error"


def test_a_topic_that_is_not_an_offer_may_say_what_still_runs(tmp_path: Path) -> None:
    text = _in(
        SHIPPED, "rec_appraisal", "    summary: |-\n", "    summary: |-\n      Board appraisal still runs yearly.\n"
    )
    assert _found(_problems(text, tmp_path), "says where an offer stands") == []


def _marked_open(*, keep_page_link: bool) -> str:
    """The shipped file with the EDI programme marked open as the staff guide says (section 9)."""
    unknown = "    status:\n      state: unknown\n      as_of: 2026-12-04\n"
    start = SHIPPED.index(f"  - id: {EDI}\n")
    at = SHIPPED.index(unknown, start)
    opened = (
        "    status:\n      state: open\n      as_of: 2026-12-07\n"
        f"    signup:\n      label: Join the EDI programme\n      url: {EDI_PAGE}\n"
    )
    text = SHIPPED[:at] + opened + SHIPPED[at + len(unknown) :]
    if not keep_page_link:
        text = _in(text, EDI, f"      - label: EDI programme page\n        url: {EDI_PAGE}\n", "")
    return text


@pytest.fixture(scope="module", params=[False, True], ids=["page-link-deleted", "page-link-kept"])
def marked_open(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Content:
    folder = tmp_path_factory.mktemp("open")
    (folder / "training").symlink_to(PROJECT_DIR / "training")
    path = folder / "responses.yaml"
    path.write_text(_marked_open(keep_page_link=request.param), encoding="utf-8")
    return build_content(path, Commands())


def _buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        found += [e for e in block.get("elements", []) if isinstance(e, dict) and e.get("type") == "button"]
        if isinstance(block.get("accessory"), dict):
            found.append(block["accessory"])
    return found


def _edi_part(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A list's section about the EDI programme (the whole reply when it is about the programme alone)."""
    sections = [b for b in blocks if b.get("type") == "section" and b["text"]["text"].startswith("*Our EDI programme*")]
    return sections if len(sections) == 1 and any(b.get("accessory") for b in sections) else blocks


def test_the_staff_guide_shows_how_to_mark_an_offer_open() -> None:
    guide = (PROJECT_DIR / "docs" / "editing-responses.md").read_text(encoding="utf-8")
    assert "**To mark an offer open**" in guide
    assert "      state: open\n      as_of: 2026-12-07\n    signup:\n      label: Join the EDI programme\n" in guide


def test_an_offer_marked_open_says_so_in_every_reply_that_shows_it(marked_open: Content) -> None:
    content = marked_open
    problems = validate_text(_marked_open(keep_page_link=False), RESPONSES, advice=False).problems
    assert [str(p) for p in problems if p.level == "error"] == []
    engine, renderer = content.engine, content.renderer
    asked = engine.answer("how do I sign up for the EDI programme?")
    assert asked.intent is not None and asked.intent.id == EDI
    edi = content.catalogue.get(EDI)
    assert edi is not None and edi.is_open
    replies = {
        "plain answer": renderer.answer(asked).blocks,
        "tell me more": renderer.answer(Answer.chosen(edi, "more")).blocks,
        "where to read": renderer.answer(Answer.chosen(edi, "read")).blocks,
        "sign-up follow-up": renderer.answer(engine.answer("how do I sign up?", EDI)).blocks,
        "/messenger signup edi": command_reply(content, MemberCommand("signup edi"))[1].blocks,
        "/messenger offers": command_reply(content, MemberCommand("offers"))[1].blocks,
        "/messenger signup": command_reply(content, MemberCommand("signup"))[1].blocks,
        "offers overview answer": renderer.answer(engine.answer("what support do you offer")).blocks,
        "App Home": renderer.home(content.catalogue.get("key_points"))["blocks"],
    }
    for name, blocks in replies.items():
        part = _edi_part(blocks)
        said = to_plain_text(part)
        assert "open" in said.lower(), name
        assert "do not say" not in said.lower() and "don't know" not in said.lower(), (name, said)
        assert "7 December 2026" in said, name  # the day the team confirmed it, from as_of
        assert [b["url"] for b in _buttons(part) if b.get("url") == EDI_PAGE] == [EDI_PAGE], name  # one button
        assert "sign up for Our" not in said, name
    signup = replies["/messenger signup edi"]
    assert [b.get("style") for b in _buttons(signup)] == ["primary"]


def test_an_unknown_offers_sign_up_reply_says_its_piece_once() -> None:
    content = build_content(RESPONSES, Commands())
    for offer in content.catalogue.offers:
        reply = content.renderer.answer(Answer.chosen(offer, "signup"))
        said = to_plain_text(reply.blocks)
        assert said.lower().count("do not say whether") == 1, said
        assert reply.handoff  # Ask a person goes with it...
        urls = [b["url"] for b in _buttons(reply.blocks) if "url" in b]
        assert HOME not in urls and len(urls) == len(set(urls))  # ...so no second button to the contact page
        checked = set(re.findall(r"checked (\d{1,2} \w+ \d{4})", said))
        assert offer.reviewed is not None and checked == {long_date(offer.reviewed)}, said
        assert "last checked" not in said.lower()


def test_every_answer_gives_one_checked_date_and_it_is_its_reviewed_date() -> None:
    content = build_content(RESPONSES, Commands())
    for intent in content.catalogue.intents:
        for mode in ("full", "more", "signup"):
            said = to_plain_text(content.renderer.answer(Answer.chosen(intent, mode)).blocks)  # type: ignore[arg-type]
            checked = set(re.findall(r"(?:checked|[Aa]s of) (\d{1,2} \w+ \d{4})", said))
            assert intent.reviewed is not None and checked <= {long_date(intent.reviewed)}, (intent.id, mode, said)
            assert "{checked}" not in said


def test_checked_in_text_is_the_reviewed_date(tmp_path: Path) -> None:
    content = build_content(RESPONSES, Commands())
    intent = content.catalogue.get("nhse_abolition")
    assert intent is not None and intent.reviewed == datetime.date(2026, 12, 8)
    assert "{checked}" in intent.summary
    said = to_plain_text(content.renderer.answer(Answer.chosen(intent)).blocks)
    assert "As of 8 December 2026, our sources do not say whether the Bill has passed" in said


def test_every_mention_of_a_person_is_dated() -> None:
    """sources.md: people, "date every mention". A sentence (or title) naming someone whose role has changed
    says when it held ("then Health and Social Care Secretary", "chief executive from June 2021"), so a
    member reading it years on does not take the role to be theirs today."""
    from intents import load_catalogue
    from intents.validate import _sentences, _texts_of

    people = ("Sajid Javid", "Matthew Taylor", "Linda Pollard")
    # "then" or "former", or the role's own dates ("in 2022, Chair of", "from June 2021", "2021 to April 2026"):
    # a sentence merely dated elsewhere ("announced on 4 October 2021") still reads the role as current.
    dated = re.compile(r"\bthen\b|\bformer\b|\b(?:in|from) (?:\w+ )?(?:19|20)\d\d\b|\b(?:19|20)\d\d to\b")
    undated = []
    for intent in load_catalogue(RESPONSES).intents:
        said = [intent.title, *(s for _, _, text in _texts_of(intent) for s in _sentences(text))]
        for sentence in said:
            if any(p in sentence.replace("\n", " ").replace("*", "") for p in people) and not dated.search(sentence):
                undated.append(f"{intent.id}: {sentence}")
    assert undated == []
