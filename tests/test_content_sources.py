"""Every address responses.yaml links to is one listed in shared/content/sources.md."""

from __future__ import annotations

import re

import pytest

from bot.settings import PROJECT_DIR
from intents import load_catalogue
from tests.conftest import RESPONSES

SOURCES = PROJECT_DIR.parent / "shared" / "content" / "sources.md"


@pytest.mark.skipif(not SOURCES.is_file(), reason="shared/content/sources.md is not beside this checkout")
def test_every_link_is_listed_in_sources() -> None:
    allowed = set(re.findall(r"https://[^\s)`;,]+", SOURCES.read_text(encoding="utf-8")))
    catalogue = load_catalogue(RESPONSES)
    used = {link.url for i in catalogue.intents for link in (*i.links, *([i.signup] if i.signup else []))}
    used |= set(re.findall(r"<(https://[^|>]+)", catalogue.settings.contact_text))
    assert used, "no links found"
    assert sorted(used - allowed) == []


def test_every_offer_has_a_signup_link_and_every_link_is_https() -> None:
    catalogue = load_catalogue(RESPONSES)
    offers = {i.id for i in catalogue.offers}
    assert {
        "offer_ics_leadership_programme",
        "offer_action_learning_sets",
        "offer_ned_network",
        "offer_edi_programme",
    } <= offers
    for intent in catalogue.intents:
        for link in (*intent.links, *([intent.signup] if intent.signup else [])):
            assert link.url.startswith("https://")
