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
        ("offers", "How we support members"),
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


async def test_signup_with_an_offer_gives_its_link(harness: Harness) -> None:
    _, reply = await harness.command("/messenger", "signup edi")
    urls = [b["url"] for b in _buttons(reply) if "url" in b]
    assert urls == ["https://www.nhsconfed.org/supporting-members/equality-diversity-inclusion"]
    _, reply = await harness.command("/messenger", "signup action learning sets")
    assert "Action learning sets" in _all_text(reply)


async def test_signup_without_an_offer_lists_every_offer(harness: Harness) -> None:
    _, reply = await harness.command("/messenger", "signup")
    offers = harness.services.content.current.catalogue.offers
    assert {o.signup.url for o in offers if o.signup} <= {b.get("url") for b in _buttons(reply)}
    assert "Which offer" in _all_text(reply)


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
