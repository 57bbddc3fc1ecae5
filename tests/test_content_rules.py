"""The validation pipeline's rules (required intents, review dates, placeholders, offers, vocabulary)
and the answers they shape (source footers, "tell me more", sign-up on a topic with nothing to join,
the offers list built from the file), on a small content file written here."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from bot.blocks import reflow
from bot.command_names import Commands
from bot.content import build_content, validate_file
from bot.conversation import command_reply
from bot.routing import MemberCommand
from bot.settings import PROJECT_DIR
from bot.terminal import to_plain_text
from intents import Answer
from intents.validate import review_dates

TODAY = datetime.date.today().isoformat()


def _intent(intent_id: str, words: str, *, extra: str = "", reviewed: str = TODAY) -> str:
    examples = ", ".join(f"{words} question {n}" for n in range(1, 9))
    return f"""\
  - id: {intent_id}
    title: Title of {intent_id}
    reviewed: {reviewed}
    source:
      label: Source of {intent_id}
      url: https://www.nhsconfed.org/{intent_id}
    examples: [{examples}]
    summary: The summary of {intent_id}, long enough to pass the minimum length check.
{extra}"""


OFFER = """\
    status:
      state: open
      as_of: {today}
    signup:
      label: Join {name}
      url: https://www.nhsconfed.org/join-{name}
"""


def register(urls: list[str], offers: dict[str, str]) -> str:
    """A source register listing each address once; `offers` maps an offer's own page to its id."""
    lines = ["sources:\n"]
    for url in urls:
        lines.append(f"  - url: {url}\n    title: Page {url}\n    publisher: NHS Confederation\n"
                     f"    date: 2025-01-01\n    supports: Facts for the tests.\n")  # fmt: skip
        if url in offers:
            lines.append(f"    offer_page: {offers[url]}\n")
    return "".join(lines)


IDS = [
    "help",
    "key_points",
    "recommendations",
    "contact",
    "offers_overview",
    "offer_alpha",
    "topic_more",
    "topic_plain",
]
URLS = [f"https://www.nhsconfed.org/{i}" for i in IDS] + [
    "https://www.nhsconfed.org/read", "https://www.nhsconfed.org/join-alpha", "https://www.nhsconfed.org/join-beta",
    "https://www.nhsconfed.org/offer_beta", "https://www.nhsconfed.org/elsewhere",
]  # fmt: skip
OWN_PAGES = {"https://www.nhsconfed.org/join-alpha": "offer_alpha", "https://www.nhsconfed.org/join-beta": "offer_beta"}
HEAD = """\
settings:
  confidence_threshold: 0.3
  fallback_text: I don't know.
  contact_text: Ask the team.
  default_source: The briefing
  review_after_days: 30
  followups:
    more: [tell me more, more detail please, go on]
    signup: [how do I sign up, how do I join, sign me up]
    read: [where can I read it, link please]
vocabulary:
  synonyms:
    pcn: primary care network
intents:
"""


def content_file(
    tmp_path: Path, *, drop: str = "", extra_intents: str = "", replace: tuple[str, str] = ("", "")
) -> Path:
    intents = [
        _intent("help", "help me"),
        _intent("key_points", "key points summary"),
        _intent("recommendations", "list recommendations"),
        _intent("contact", "talk to a person"),
        _intent(
            "offers_overview",
            "offers support",
            extra="    links:\n      - label: Join alpha\n        url: https://www.nhsconfed.org/join-alpha\n",
        ),
        _intent("offer_alpha", "alpha programme", extra=OFFER.format(name="alpha", today=TODAY)),
        _intent(
            "topic_more",
            "primary care network leaders",
            extra="    more: |\n      The longer story of this topic, for members who ask for more.\n"
            "    links:\n      - label: Read it\n        url: https://www.nhsconfed.org/read\n",
        ),
        _intent("topic_plain", "workforce rota gaps"),
    ]
    text = HEAD + "".join(i for i in intents if f"id: {drop}\n" not in i or not drop) + extra_intents
    text += register(URLS, OWN_PAGES)
    if replace[0]:
        assert replace[0] in text
        text = text.replace(replace[0], replace[1])
    path = tmp_path / "responses.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def messages(path: Path) -> list[str]:
    return [str(p) for p in validate_file(path, Commands()).problems]


def test_the_small_file_is_valid(tmp_path: Path) -> None:
    assert messages(content_file(tmp_path)) == []


def test_a_missing_required_intent_is_named(tmp_path: Path) -> None:
    path = content_file(tmp_path, drop="offers_overview", replace=("", ""))
    assert f"{path}:1:1: intents: the intent 'offers_overview' is missing; the bot's commands need it" in messages(path)


def test_a_stale_review_date_warns_and_strict_check_fails(tmp_path: Path) -> None:
    path = content_file(tmp_path, replace=(f"    reviewed: {TODAY}\n    source:\n      label: Source of topic_plain",
                                           "    reviewed: 2020-01-31\n    source:\n      label: Source of topic_plain"))  # fmt: skip
    [warning] = messages(path)
    line = path.read_text().split("\n").index("    reviewed: 2020-01-31") + 1
    assert warning.startswith(
        f"{path}:{line}:5: warning: intent 'topic_plain' field 'reviewed': last reviewed 2020-01-31"
    )
    assert "settings.review_after_days, 30" in warning
    assert validate_file(path, Commands()).catalogue is not None  # a warning never stops the content
    run = [sys.executable, "-m", "bot", "check", str(path)]
    plain = subprocess.run(run, cwd=PROJECT_DIR, capture_output=True, text=True)
    strict = subprocess.run([*run, "--strict"], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert (plain.returncode, strict.returncode) == (0, 1)
    assert "last reviewed 2020-01-31" in plain.stdout


def test_review_age_is_counted_from_the_day_it_is_checked(tmp_path: Path) -> None:
    catalogue = validate_file(content_file(tmp_path), Commands()).catalogue
    assert catalogue is not None
    later = datetime.date.today() + datetime.timedelta(days=31)
    stale = [p for p in review_dates(later)(catalogue)]
    assert len(stale) == len(catalogue.intents)


@pytest.mark.parametrize(
    ("fragment", "problem"),
    [
        ("{messanger}", "unknown placeholder '{messanger}'; use {messenger} and {keypoints}"),
        ("reviewed: 2026-02-30", "is not a real date; write it as YYYY-MM-DD"),
        ("reviewed: next week", "expected a date written as YYYY-MM-DD"),
        ("url: https://www.nhsconfed.org/elsewhere", "is not any open offer's sign-up address"),
    ],
)
def test_content_mistakes_are_named(tmp_path: Path, fragment: str, problem: str) -> None:
    if fragment.startswith("{"):
        replace = ("The summary of topic_plain", f"Use {fragment} for the summary of topic_plain")
    elif fragment.startswith("reviewed"):
        replace = (f"reviewed: {TODAY}\n    source:\n      label: Source of topic_plain",
                   f"{fragment}\n    source:\n      label: Source of topic_plain")  # fmt: skip
    else:
        replace = (
            "        url: https://www.nhsconfed.org/join-alpha\n  - id",
            f"        {fragment}\n  - id",
        )
    path = content_file(tmp_path, replace=replace)
    found = [m for m in messages(path) if problem in m]
    assert found, messages(path)
    line = next(n for n, text in enumerate(path.read_text().split("\n"), 1) if fragment.split(": ")[-1] in text)
    if fragment.startswith("url"):
        line -= 1  # a link is reported where it starts, at its label
    assert found[0].startswith(f"{path}:{line}:")


def test_staff_vocabulary_changes_what_the_bot_understands(tmp_path: Path) -> None:
    path = content_file(tmp_path)
    content = build_content(path, Commands())
    assert content.engine.answer("pcn").intent.id == "topic_more"  # type: ignore[union-attr]
    unknown = content_file(tmp_path, replace=("    pcn: primary care network\n", "    pcns: primary care network\n"))
    without = build_content(unknown, Commands()).engine.answer("pcn")
    assert without.intent is None or without.intent.id != "topic_more" or without.confidence < 0.9


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("    PCN: primary care network", "'PCN' must be one lower-case word"),
        ("    pcn: Primary Care", "write it in lower-case words"),
    ],
)
def test_vocabulary_mistakes_are_named(tmp_path: Path, entry: str, problem: str) -> None:
    path = content_file(tmp_path, replace=("    pcn: primary care network", entry))
    assert any(m.startswith(f"{path}:13:") and problem in m for m in messages(path)), messages(path)


def test_the_footer_names_the_intents_own_source_and_when_it_was_checked(tmp_path: Path) -> None:
    content = build_content(content_file(tmp_path), Commands())
    intent = content.catalogue.get("topic_plain")
    assert intent is not None
    footer = content.renderer.answer(Answer.chosen(intent)).blocks[-1]["elements"][0]["text"]
    day = datetime.date.today()
    assert (
        footer
        == f"Source: <https://www.nhsconfed.org/topic_plain|Source of topic_plain> · checked {day.day} {day:%B %Y}"
    )
    home = str(content.renderer.home(content.catalogue.get("key_points")))
    assert f"last checked against their sources on {day.day} {day:%B %Y}" in home


def test_tell_me_more_gives_the_longer_text_or_says_where_to_read(tmp_path: Path) -> None:
    content = build_content(content_file(tmp_path), Commands())
    more = to_plain_text(content.renderer.answer(content.engine.answer("tell me more", "topic_more")).blocks)
    assert "The longer story of this topic" in more
    assert "The summary of topic_more" not in more
    plain = to_plain_text(content.renderer.answer(content.engine.answer("tell me more", "topic_plain")).blocks)
    assert "The summary of topic_plain" not in plain and "read more" in plain.lower()


def test_sign_up_after_a_topic_with_nothing_to_join_shows_the_offers(tmp_path: Path) -> None:
    content = build_content(content_file(tmp_path), Commands())
    answer = content.engine.answer("how do I sign up?", "topic_plain")
    text = to_plain_text(content.renderer.answer(answer).blocks)
    assert "nothing to sign up for on Title of topic_plain" in text
    assert "Open: confirmed on" in text  # where each offer stands
    assert "Join alpha] -> https://www.nhsconfed.org/join-alpha" in text


def test_the_offers_command_is_built_from_the_offers_in_the_file(tmp_path: Path) -> None:
    extra = _intent("offer_beta", "beta scheme", extra=OFFER.format(name="beta", today=TODAY))
    path = content_file(tmp_path, extra_intents=extra)
    what, message, _ = command_reply(build_content(path, Commands()), MemberCommand("offers"))
    text = to_plain_text(message.blocks)
    assert what == "offers_overview"
    assert "Title of offer_alpha" in text and "Title of offer_beta" in text  # a new offer appears by itself
    # Its heading (settings.texts), once.
    assert text.count("Our offers for leaders, and what we know of where each stands") == 1


@pytest.mark.parametrize(
    ("staff_wrote", "member_sees"),
    [
        ("A function at\n*regional level* to support", "A function at *regional level* to support"),
        ("indulge in\n*manager-bashing*.", "indulge in *manager-bashing*."),
        ("Seven recommendations:\n*Recommendation 1* collaboration.\n*Recommendation 2* EDI.",
         "Seven recommendations:\n*Recommendation 1* collaboration.\n*Recommendation 2* EDI."),
        ("Two points.\n• one\n• two", "Two points.\n• one\n• two"),
        ("First paragraph\nwrapped.\n\nSecond.", "First paragraph wrapped.\n\nSecond."),
    ],
)  # fmt: skip
def test_wrapped_lines_join_and_items_keep_their_lines(staff_wrote: str, member_sees: str) -> None:
    assert reflow(staff_wrote) == member_sees


def test_ask_runs_slash_commands_as_a_member_gets_them(tmp_path: Path) -> None:
    path = content_file(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--path", str(path), "/messenger signup alpha", "/messenger offers"],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "command:      offer_alpha" in result.stdout
    assert "To sign up for Title of offer_alpha" in result.stdout
    assert "command:      offers_overview" in result.stdout


def _line_of(path: Path, fragment: str) -> int:
    """The line of `fragment`, looked for after the intent it names ('offer_alpha|    signup:')."""
    after, _, fragment = fragment.rpartition("|")
    lines = path.read_text().split("\n")
    start = next((n for n, text in enumerate(lines) if after and f"id: {after}" in text), 0)
    return next(n for n, text in enumerate(lines[start:], start + 1) if fragment in text)


ALPHA_OPEN = f"    status:\n      state: open\n      as_of: {TODAY}\n"


@pytest.mark.parametrize(
    ("replace", "at", "problem"),
    [
        # A sign-up on an offer whose status is not open.
        ((ALPHA_OPEN, f"    status:\n      state: unknown\n      as_of: {TODAY}\n"), "offer_alpha|label: Join alpha",
         "field 'signup': the offer's status is unknown, so it must not offer a sign-up"),
        # A sign-up button to a page that is not the offer's own (the register names no offer_page for it).
        (("url: https://www.nhsconfed.org/join-alpha\n  - id: topic_more",
         "url: https://www.nhsconfed.org/read\n  - id: topic_more"), "offer_alpha|label: Join alpha",
        "https://www.nhsconfed.org/read is not this offer's own page"),
        # An open status older than settings.review_after_days (30 here).
        ((ALPHA_OPEN, "    status:\n      state: open\n      as_of: 2020-01-31\n"), "offer_alpha|state: open",
         "warning: intent 'offer_alpha' field 'status': confirmed open on 2020-01-31"),
        # A state that is none of open, closed or unknown.
        ((ALPHA_OPEN, f"    status:\n      state: maybe\n      as_of: {TODAY}\n"), "      state: maybe",
         "field 'status' state: must be open, closed or unknown, found 'maybe'"),
        # An address that is not in the source register.
        (("        url: https://www.nhsconfed.org/read\n", "        url: https://www.nhsconfed.org/unlisted\n"),
         "topic_more|label: Read it", "https://www.nhsconfed.org/unlisted is not in the source register"),
        # A title that says "now" over sources older than review_after_days.
        (("title: Title of topic_plain", "title: Where topic_plain stands now"), "Where topic_plain stands now",
         "field 'title': says 'now', but its newest source is from 2025-01-01"),
        # A placeholder a member text does not have.
        (("  review_after_days: 30\n", "  review_after_days: 30\n  texts:\n    signup_open: Join {ofer} now.\n"),
         "signup_open: Join", "settings.texts.signup_open: unknown placeholder '{ofer}'"),
        # The Confederation's view stated in the bot's own voice.
        (("  review_after_days: 30\n",
          "  review_after_days: 30\n  view_phrases: [efficiency savings]\n  view_markers: [we said]\n"),
         "topic_plain|    summary:", "'efficiency savings' is the Confederation's view"),
    ],
)  # fmt: skip
def test_offer_status_register_texts_and_voice_rules(
    tmp_path: Path, replace: tuple[str, str], at: str, problem: str
) -> None:
    path = content_file(tmp_path, replace=replace)
    if "efficiency savings" in problem:
        path.write_text(path.read_text().replace(
            "The summary of topic_plain,", "Leaders were asked for double the efficiency savings. The summary of topic_plain,"
        ))  # fmt: skip
    found = [m for m in messages(path) if problem in m]
    assert found, messages(path)
    assert found[0].startswith(f"{path}:{_line_of(path, at)}:"), found[0]


def test_an_attributed_view_passes(tmp_path: Path) -> None:
    path = content_file(tmp_path, replace=("  review_after_days: 30\n",
        "  review_after_days: 30\n  view_phrases: [efficiency savings]\n  view_markers: [we said]\n"))  # fmt: skip
    path.write_text(path.read_text().replace(
        "The summary of topic_plain,", "In June 2022 we said leaders were asked for double the efficiency savings. The summary of topic_plain,"
    ))  # fmt: skip
    assert messages(path) == []


def test_a_file_without_a_register_is_refused(tmp_path: Path) -> None:
    path = content_file(tmp_path)
    path.write_text(path.read_text().split("sources:\n")[0])
    assert f"{path}:1:1: sources: the file has no source register" in " ".join(messages(path))


def test_only_an_open_offer_is_offered_as_a_sign_up(tmp_path: Path) -> None:
    unknown = content_file(tmp_path, replace=(ALPHA_OPEN + "    signup:\n      label: Join alpha\n"
                                              "      url: https://www.nhsconfed.org/join-alpha\n",
                                              f"    status:\n      state: unknown\n      as_of: {TODAY}\n"))  # fmt: skip
    # offers_overview may no longer link the sign-up address: drop its link for this file.
    unknown.write_text(unknown.read_text().replace(
        "    links:\n      - label: Join alpha\n        url: https://www.nhsconfed.org/join-alpha\n", ""))  # fmt: skip
    content = build_content(unknown, Commands())
    offer = content.catalogue.get("offer_alpha")
    assert offer is not None and offer.is_offer and not offer.is_open
    reply = content.renderer.answer(Answer.chosen(offer, "signup"))
    text = to_plain_text(reply.blocks)
    assert "do not say whether Title of offer_alpha still runs" in text and "To sign up" not in text
    assert reply.handoff  # Ask a person goes with it
    with_row = content.renderer.with_feedback(reply, "q1", fallback=False, handoff=False)
    assert [b["block_id"] for b in with_row.blocks[-2:]] == ["feedback", "handoff"]
    listed = to_plain_text(content.renderer.offers().blocks)
    assert "-> https://www.nhsconfed.org/join-alpha" not in listed and "[More about it] (button: offer_alpha)" in listed


def test_an_offers_answer_says_where_it_stands_from_its_status_alone(tmp_path: Path) -> None:
    """The plain answer, "tell me more" and where to read: each says where the offer stands, once, from
    `status:`; the sign-up button is the one button to its address, even when a link repeats it."""
    repeat = "    links:\n      - label: Alpha page\n        url: https://www.nhsconfed.org/join-alpha\n"
    path = content_file(tmp_path, replace=(OFFER.format(name="alpha", today=TODAY),
                                           OFFER.format(name="alpha", today=TODAY) + repeat))  # fmt: skip
    assert [m for m in messages(path) if "repeats the sign-up address" in m and "warning:" in m]
    content = build_content(path, Commands())
    offer = content.catalogue.get("offer_alpha")
    assert offer is not None
    day = datetime.date.today()
    for mode in ("full", "more", "read"):
        reply = content.renderer.answer(Answer.chosen(offer, mode))  # type: ignore[arg-type]
        text = to_plain_text(reply.blocks)
        assert text.count(f"Open: confirmed on {day.day} {day:%B %Y}.") == 1, (mode, text)
        assert text.count("-> https://www.nhsconfed.org/join-alpha") == 1, (mode, text)
        assert not reply.handoff
    plain = content.renderer.answer(Answer.chosen(content.catalogue.get("topic_plain")))  # type: ignore[arg-type]
    assert "Open:" not in to_plain_text(plain.blocks)  # a topic that is not an offer has no standing


def test_checked_in_text_is_the_answers_reviewed_date(tmp_path: Path) -> None:
    path = content_file(
        tmp_path, replace=("The summary of topic_plain,", "As of {checked}, the summary of topic_plain,")
    )
    assert messages(path) == []
    content = build_content(path, Commands())
    text = to_plain_text(content.renderer.answer(Answer.chosen(content.catalogue.get("topic_plain"))).blocks)  # type: ignore[arg-type]
    day = datetime.date.today()
    assert f"As of {day.day} {day:%B %Y}, the summary" in text and f"checked {day.day} {day:%B %Y}" in text
    wrong = content_file(tmp_path, replace=("The summary of topic_plain,", "As of {cheked}, the summary,"))
    assert any("unknown placeholder '{cheked}'" in m for m in messages(wrong))


def test_the_offers_overview_answer_lists_the_offers_with_one_button_each(tmp_path: Path) -> None:
    content = build_content(content_file(tmp_path), Commands())
    overview = content.catalogue.get("offers_overview")
    assert overview is not None and overview.links[0].url == "https://www.nhsconfed.org/join-alpha"
    text = to_plain_text(content.renderer.answer(Answer.chosen(overview)).blocks)
    assert "Title of offer_alpha" in text and "Open: confirmed on" in text
    assert text.count("-> https://www.nhsconfed.org/join-alpha") == 1, text
