"""Block Kit rendering on its own: reflowed text, Slack's limits, the plain-text view."""

from __future__ import annotations

from bot.blocks import Renderer, reflow
from bot.command_names import Commands
from bot.terminal import to_plain_text
from intents import Answer, load_catalogue
from tests.conftest import RESPONSES


def test_reflow_joins_wrapped_lines_but_keeps_lists_and_paragraphs() -> None:
    text = "A sentence that staff\nwrapped in YAML.\n• first point\n• second\n  point\n\nA new paragraph\n*Bold lead:* own line\n1. numbered"
    assert reflow(text) == (
        "A sentence that staff wrapped in YAML.\n• first point\n• second point\n\nA new paragraph\n*Bold lead:* own line\n1. numbered"
    )


def test_every_intent_renders_within_slacks_limits_with_placeholders_filled() -> None:
    catalogue = load_catalogue(RESPONSES)
    renderer = Renderer(catalogue, Commands("/askconfed", "/confedkeys"))
    for intent in catalogue.intents:
        for mode in ("full", "signup", "read"):
            message = renderer.answer(Answer("q", intent, 1.0, (), mode), shareable=True)  # type: ignore[arg-type]
            assert message.text and len(message.blocks) <= 50
            plain = to_plain_text(message.blocks)
            assert "{messenger}" not in plain and "{keypoints}" not in plain
            for block in message.blocks:
                for element in block.get("elements", []):
                    if element.get("type") == "button":
                        assert len(element["text"]["text"]) <= 75
                        assert element.get("url", "https://").startswith("https://")
    help_text = to_plain_text(renderer.answer(Answer("q", catalogue.get("help"), 1.0, (), "full")).blocks)  # type: ignore[arg-type]
    assert "/askconfed recommendation 4" in help_text and "/confedkeys" in help_text


def test_the_feedback_and_handoff_rows_are_what_slack_sdk_would_build() -> None:
    from slack_sdk.models.blocks import ActionsBlock, ButtonElement

    from bot.blocks import _feedback_block

    expected = ActionsBlock(
        block_id="feedback",
        elements=[
            ButtonElement(text="Helpful", action_id="feedback:helpful", value="q1"),
            ButtonElement(text="Not helpful", action_id="feedback:not_helpful", value="q1"),
        ],
    ).to_dict()
    assert _feedback_block("q1") == expected
    renderer = Renderer(load_catalogue(RESPONSES), Commands())
    link = ActionsBlock(
        block_id="handoff",
        elements=[ButtonElement(text="Ask a person", action_id="link:handoff", url=renderer.contact_url)],
    ).to_dict()
    assert renderer.handoff_block("q1", handoff=False) == link


def test_the_source_line_links_only_the_first_named_source() -> None:
    """A label naming several sources links only its first part (the source at its address); the rest is
    plain text, so a member never clicks one source's name and lands on another's page."""
    catalogue = load_catalogue(RESPONSES)
    renderer = Renderer(catalogue, Commands())
    rec_1 = catalogue.get("rec_collaborative_leadership")
    assert rec_1 is not None and rec_1.source is not None
    line = renderer.source_line(rec_1)
    assert line.startswith(
        "Source: <https://www.parallelparliament.co.uk/question/1917|Parliamentary answer on implementation "
        "(20 November 2023)>; GOV.UK review page (8 June 2022) · checked "
    ), line
    single = catalogue.get("manager_bashing")
    assert single is not None and single.source is not None
    assert renderer.source_line(single).startswith(f"Source: <{single.source.url}|{single.source.label}> · checked ")


def test_the_terminal_shows_slack_markup_as_plain_text() -> None:
    """`bot ask` and local mode print what a member reads, not Slack's markup."""
    from bot.terminal import plain, to_plain_text

    assert plain("See <https://www.gov.uk/x|the review> and <https://a.example/>") == (
        "See the review (https://www.gov.uk/x) and https://a.example/"
    )
    assert plain("*Bold* and _italic_ and `code` and ```fenced``` for <@U0123ABC> &amp; <!channel>") == (
        "Bold and italic and code and fenced for @U0123ABC & @channel"
    )
    assert plain("intent_id_with_underscores stays, 2*3*4 too") == "intent_id_with_underscores stays, 2*3*4 too"
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "*Title*\n<https://x.example|x>"}}
    assert to_plain_text([block]) == "Title\nx (https://x.example)"
