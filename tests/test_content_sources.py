"""Every address responses.yaml cites or links is in its own source register (`sources:`), so a fresh
clone checks its links; where the shared source list is beside the checkout, the register agrees with it."""

from __future__ import annotations

import re

import pytest

from bot.settings import PROJECT_DIR
from intents import load_catalogue
from intents.validate import source_register
from tests.conftest import RESPONSES

SHARED_SOURCES = PROJECT_DIR.parent / "shared" / "content" / "sources.md"


def test_every_link_and_source_is_in_the_register() -> None:
    catalogue = load_catalogue(RESPONSES)
    register = {s.url for s in catalogue.sources}
    assert register, "responses.yaml has no source register"
    used = {link.url for i in catalogue.intents for link in (*i.links, *([i.signup] if i.signup else []))}
    used |= {i.source.url for i in catalogue.intents if i.source is not None}
    used |= set(re.findall(r"<(https://[^|>]+)", catalogue.settings.contact_text))
    assert used and sorted(used - register) == []
    assert list(source_register(catalogue)) == []


@pytest.mark.skipif(not SHARED_SOURCES.is_file(), reason="the shared source list is not beside this checkout")
def test_the_register_lists_only_addresses_from_the_shared_sources() -> None:
    allowed = set(re.findall(r"https://[^\s)`;,]+", SHARED_SOURCES.read_text(encoding="utf-8")))
    register = {s.url for s in load_catalogue(RESPONSES).sources}
    assert sorted(register - allowed) == []


def test_the_shipped_offers_are_unknown_and_offer_no_sign_up() -> None:
    catalogue = load_catalogue(RESPONSES)
    offers = {i.id: i for i in catalogue.offers}
    assert {
        "offer_ics_leadership_programme",
        "offer_action_learning_sets",
        "offer_ned_network",
        "offer_edi_programme",
    } <= set(offers)
    for offer in offers.values():
        assert offer.status is not None and offer.status.state == "unknown" and offer.signup is None
    for intent in catalogue.intents:
        for link in (*intent.links, *([intent.signup] if intent.signup else [])):
            assert link.url.startswith("https://")


def _said(date: str) -> str:
    """A register date as a label says it: 2022-06-08 is "8 June 2022", 2023-06 "June 2023"."""
    parts = [int(p) for p in date.split("-")]
    month = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")  # fmt: skip
    return " ".join([*(str(parts[2]) for _ in parts[2:]), *(month[parts[1] - 1] for _ in parts[1:2]), str(parts[0])])


def test_each_source_label_names_its_linked_source_first() -> None:
    """Only a label's first part (up to "; ") is the link under an answer, so that part names the source at
    the address: where the register dates it, the first part gives that date (a label that names the
    GOV.UK page first over a link to a 2023 answer is caught)."""
    catalogue = load_catalogue(RESPONSES)
    register = {s.url: s for s in catalogue.sources}
    wrong = []
    for intent in catalogue.intents:
        if intent.source is None:
            continue
        entry = register[intent.source.url]
        first = intent.source.label.split("; ", 1)[0]
        if entry.date and _said(entry.date) not in first:
            wrong.append(f"{intent.id}: '{first}' does not give {_said(entry.date)} ({entry.title})")
    assert wrong == []
