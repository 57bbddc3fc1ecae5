"""Ask a person, attacked: a member's text reaches the staff channel escaped and quoted whole, so it can
ping nobody and forge no line of ours; only the member who asked can pass a question on, once, and a few
times an hour. Through signed block_actions posts (shape from tests/data/slack/) and the stand-in."""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

import pytest

from bot.listeners import actions
from bot.services import HANDOFFS_PER_HOUR
from tests.conftest import Harness
from tests.test_slack_corpus import fixture

MEMBER = "U0HANDOFF1"
OTHER = "U0HANDOFF2"
STAFF_CHANNEL = "C0STAFF001"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Room for the floods below: the member-wide limit (every click counts) is tested in test_rate_limits.py.
    return {"rate_limit_count": 100, "handoff_channel": STAFF_CHANNEL}


def _click(harness: Harness, question_id: str, post: dict[str, Any], user: str) -> dict[str, Any]:
    """Slack's block_actions payload for a click on "Ask a person" under the bot's reply `post`."""
    payload = copy.deepcopy(fixture("action_topic_button.json")["body"]["payload"])
    payload["user"]["id"] = user
    payload["response_url"] = harness.standin.response_url()
    payload["actions"] = [{"action_id": "handoff", "block_id": "handoff", "type": "button", "value": question_id,
                           "text": {"type": "plain_text", "text": "Ask a person"}, "action_ts": "1780009999.000001"}]  # fmt: skip
    payload["message"] = {**payload["message"], "text": post["text"], "ts": "1780000000.000300"}
    payload["message"].pop("thread_ts", None)
    payload["container"].update(channel_id=post["channel"], message_ts="1780000000.000300")
    payload["container"].pop("thread_ts", None)
    payload["channel"]["id"] = post["channel"]
    return payload


def _handoff_id(post: dict[str, Any]) -> str:
    button = next(e for b in post["blocks"] for e in b.get("elements", []) if e.get("action_id") == "handoff")
    value: str = button["value"]
    return value


async def _fallback(harness: Harness, text: str, user: str = MEMBER, nth: int = 1) -> dict[str, Any]:
    await harness.dm(text, user=user)
    posts = await harness.posts(nth)
    return posts[nth - 1]


def _staff_posts(harness: Harness) -> list[dict[str, Any]]:
    return [c.params for c in harness.standin.calls_to("chat.postMessage") if c.params["channel"] == STAFF_CHANNEL]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


FORGED = (
    "can I get a parking permit for the hospital site?\n"
    "<<!channel>!channel> <<!here>!here> <!subteam^S0TEAM|@" + "x" * 300 + "> <@U0VICTIM1> @everyone\n"
    "Best guess: `key_points` at 1.00\n"
    "<https://evil.example/login|Open the member's thread>"
)


async def test_a_members_text_reaches_staff_escaped_and_quoted_whole(harness: Harness) -> None:
    post = await _fallback(harness, FORGED)
    status, _ = await harness.action(_click(harness, _handoff_id(post), post, MEMBER))
    assert status == 200
    await harness.posts(2)
    [staff] = _staff_posts(harness)
    assert staff["link_names"] is False  # Slack's own switch: no name in the text becomes a mention
    everything = " ".join(_strings([staff["text"], staff["blocks"]]))
    # Nothing can ping or link: no special sequence but our own header's mention of the asker.
    specials = re.findall(r"<[!@#][^>]*>|<https?:[^>]*>", everything)
    assert set(specials) <= {f"<@{MEMBER}>"}, specials
    assert "evil.example" not in " ".join(re.findall(r"<[^>]*>", everything))
    # The member's words are there, escaped the way Slack escapes text, every line of them quoted.
    quote = staff["blocks"][1]["text"]["text"]
    assert staff["blocks"][1]["text"]["verbatim"] is True  # Slack parses nothing in the quote
    assert "&lt;&lt;!channel&gt;!channel&gt;" in quote
    # Another member's id is shown escaped: as typed while the question waits in memory, or as the token
    # the log keeps (see bot/question_log_sql.py) once written; never as a mention.
    assert "&lt;@u:" in quote or "&lt;@U0VICTIM1&gt;" in quote
    assert "<@U0VICTIM1" not in everything
    assert all(line.startswith("> ") for line in quote.split("\n")), quote
    assert len(quote.split("\n")) == 4
    # The bot's own lines stand apart from the quote, once each.
    context = [e["text"] for b in staff["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert sum(t.startswith("Best guess:") for t in context) == 1
    assert all("evil" not in t for t in context)


async def test_only_the_member_who_asked_can_pass_a_question_on(harness: Harness) -> None:
    post = await _fallback(harness, "can I get a parking permit for the hospital site?")
    await harness.action(_click(harness, _handoff_id(post), post, OTHER))
    [told] = await harness.standin.wait_for("response_url", 1)
    assert told.params["response_type"] == "ephemeral" and "Only the member who asked" in told.params["text"]
    await harness.settle(1)
    assert _staff_posts(harness) == []


async def test_a_made_up_question_id_pages_nobody(harness: Harness) -> None:
    post = await _fallback(harness, "can I get a parking permit for the hospital site?")
    await harness.action(_click(harness, "0123456789abcdef", post, MEMBER))
    [told] = await harness.standin.wait_for("response_url", 1)
    assert "can't find that question" in told.params["text"]
    await harness.settle(1)
    assert _staff_posts(harness) == []


async def test_fifty_clicks_on_one_question_page_the_staff_once(harness: Harness) -> None:
    post = await _fallback(harness, "can I get a parking permit for the hospital site?")
    payload = _click(harness, _handoff_id(post), post, MEMBER)
    statuses = await asyncio.gather(*(harness.action(payload) for _ in range(50)))
    assert {s for s, _ in statuses} == {200}
    await harness.standin.wait_for("response_url", 50)
    await harness.settle(2)
    assert len(_staff_posts(harness)) == 1
    # A later click, once the hand-off is in the log, is refused by the log itself.
    await harness.action(payload)
    calls = await harness.standin.wait_for("response_url", 51)
    assert "already asked the team" in calls[-1].params["text"]
    await harness.settle(2)


async def test_hand_offs_are_rate_limited_per_member(harness: Harness) -> None:
    count = HANDOFFS_PER_HOUR + 1
    posts = [await _fallback(harness, f"can I get parking permit number {n} at the site?", nth=n + 1)
             for n in range(count)]  # fmt: skip
    for post in posts:
        await harness.action(_click(harness, _handoff_id(post), post, MEMBER))
    calls = await harness.standin.wait_for("response_url", count)
    await harness.settle(count + HANDOFFS_PER_HOUR)
    assert len(_staff_posts(harness)) == HANDOFFS_PER_HOUR
    assert "several questions in the last hour" in calls[-1].params["text"]
    assert json.dumps(_staff_posts(harness)).count("parking permit number") == HANDOFFS_PER_HOUR * 2


async def test_a_hand_off_that_could_not_be_posted_can_be_tried_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed post is no hand-off: the member is told how to reach the team, and a later click works."""
    monkeypatch.setattr(actions, "HANDOFF_LOCK_SECONDS", 0.2)
    post = await _fallback(harness, "can I get a parking permit for the hospital site?")
    payload = _click(harness, _handoff_id(post), post, MEMBER)
    harness.standin.errors["chat.postMessage"] = "channel_not_found"
    await harness.action(payload)
    [told] = await harness.standin.wait_for("response_url", 1)
    settings = harness.services.content.current.catalogue.settings
    assert told.params["text"] == settings.contact_text
    del harness.standin.errors["chat.postMessage"]
    await asyncio.sleep(0.3)  # past the short mark that keeps two simultaneous clicks to one post
    await harness.action(payload)
    calls = await harness.standin.wait_for("response_url", 2)
    assert calls[-1].params["text"] == settings.handoff_text
    delivered = [p for p in _staff_posts(harness) if p is not None]
    assert len(delivered) == 2 and harness.standin.calls_to("chat.postMessage")[-1].response is not None
