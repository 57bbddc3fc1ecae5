"""Slash commands through signed form posts: ephemeral answers with a Share button, in the ack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.test_events import _all_text, _buttons


def _share(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in _buttons(reply) if b["action_id"] == "share"]


async def test_keypoints_command(harness: Harness) -> None:
    status, reply = await harness.command("/keypoints", "")
    assert status == 200
    assert reply["response_type"] == "ephemeral"
    assert "Our key points" in _all_text(reply)
    assert len(_share(reply)) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key-points", "Our key points"),
        ("recommendations", "7. Encouraging top talent"),
        ("recommendation 4", "simplified, standard appraisal"),
        ("recommendation seven", "challenged parts of the system"),
        ("offers", "where each stands"),
        ("help", "/messenger recommendation 4"),
        ("", "/keypoints"),
        ("is the nhs over-managed?", "under-managed"),
    ],
)
async def test_messenger_subcommands(harness: Harness, text: str, expected: str) -> None:
    status, reply = await harness.command("/messenger", text)
    assert status == 200
    assert reply["response_type"] == "ephemeral"
    assert expected in _all_text(reply)
    assert len(_share(reply)) == 1


async def test_recommendation_out_of_range_explains(harness: Harness) -> None:
    _, reply = await harness.command("/messenger", "recommendation 9")
    assert "recommendation 1` to `recommendation 7" in _all_text(reply)


async def test_signup_for_an_offer_of_unknown_status_offers_no_signup_but_a_person(harness: Harness) -> None:
    # The shipped offers are all unknown as of 2026-12-04: what we said in 2022, that our sources stop
    # there, the offer's pages as plain links, and Ask a person; never a sign-up button.
    for text in ("signup edi", "signup action learning sets", "sign up ics leadership programme"):
        _, reply = await harness.command("/messenger", text)
        said = _all_text(reply)
        assert "June 2022" in said and "do not say whether this offer still runs" in said, said
        assert "sign up for" not in said.lower() and "use the link below" not in said
        assert not [b for b in _buttons(reply) if b.get("style") == "primary"]  # no sign-up button
        assert "Ask a person" in [b["text"]["text"] for b in _buttons(reply)]


async def test_signup_without_an_offer_lists_every_offer_and_where_it_stands(harness: Harness) -> None:
    _, reply = await harness.command("/messenger", "signup")
    catalogue = harness.services.content.current.catalogue
    said = _all_text(reply)
    assert "Which offer would you like to sign up for" not in said
    assert catalogue.settings.texts.offers_intro in said
    assert all(o.title in said for o in catalogue.offers)
    assert said.count("our sources do not say whether it still runs") == len(catalogue.offers)
    buttons = _buttons(reply)
    assert {b.get("value") for b in buttons} >= {o.id for o in catalogue.offers}  # "more about" each offer
    assert not [b for b in buttons if b.get("url") and b.get("action_id", "").startswith("link:offer_")]
    assert "Ask a person" in [b["text"]["text"] for b in buttons]


async def test_asking_for_a_person_by_command_offers_ask_a_person_as_a_message_does(harness: Harness) -> None:
    """The same question gets the same buttons whichever way it is asked (tests/test_events.py asks it
    in a DM and a thread)."""
    _, reply = await harness.command("/messenger", "can a real person help?")
    labels = [b["text"]["text"] for b in _buttons(reply)]
    assert "Ask a person" in labels and "Helpful" not in labels


async def test_unknown_free_text_falls_back_with_contact(harness: Harness) -> None:
    _, reply = await harness.command("/messenger", "will it rain in Leeds")
    assert "don't know" in _all_text(reply)
    assert harness.standin.calls_to("chat.postMessage") == []


class TestConfigurableNames:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"messenger_command": "/confedbot", "keypoints_command": "/confedkeys"}

    async def test_configured_command_names_are_served(self, harness: Harness) -> None:
        _, reply = await harness.command("/confedkeys", "")
        assert "Our key points" in _all_text(reply)
        _, reply = await harness.command("/confedbot", "help")
        assert "/confedbot recommendation 4" in _all_text(reply)
        status, _ = await harness.command("/messenger", "help")
        assert status == 404  # not a command of this app any more
