"""Take it and Done on the staff channel's hand-off message: one owner, shown on the message; only staff,
only in the staff channel, whatever the payload says; counted in the report. Through signed
block_actions posts (the documented shape in tests/data/slack/) and the stand-in."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from bot.blocks import DONE_ACTION, TAKE_ACTION
from bot.report import build_report, format_report
from tests.conftest import Harness
from tests.test_slack_corpus import fixture

MEMBER = "U0HANDOFF1"
STAFF = "U0STAFFAA1"
OTHER_STAFF = "U0STAFFBB2"
STAFF_CHANNEL = "C0STAFF001"
QUESTION = "can I get a parking permit for the hospital site?"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"handoff_channel": STAFF_CHANNEL, "staff_user_ids": (STAFF, OTHER_STAFF)}


def _button(post: dict[str, Any], action_id: str) -> tuple[str, dict[str, Any]] | None:
    for block in post["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    return None


def _as_slack_returns(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The message's blocks as a block_actions payload carries them: Slack gives a block the bot sent
    without an id one of its own (tests/data/slack/README.md)."""
    return [{**b, "block_id": b.get("block_id") or f"gen{n}"} for n, b in enumerate(copy.deepcopy(blocks))]


def _click(harness: Harness, message: dict[str, Any], ts: str, action_id: str, user: str,
           channel: str = STAFF_CHANNEL) -> dict[str, Any]:  # fmt: skip
    """Slack's block_actions payload for a click on `action_id` in the message `message` (as posted)."""
    found = _button(message, action_id)
    assert found is not None, action_id
    block_id, button = found
    payload = copy.deepcopy(fixture("action_topic_button.json")["body"]["payload"])
    payload["user"].update(id=user, username="staff", name="staff")
    payload["response_url"] = harness.standin.response_url()
    payload["actions"] = [{"action_id": action_id, "block_id": block_id, "type": "button", "value": button["value"],
                           "text": button["text"], "action_ts": "1780009999.000001"}]  # fmt: skip
    payload["message"] = {**payload["message"], "text": message["text"], "ts": ts,
                          "blocks": _as_slack_returns(message["blocks"])}  # fmt: skip
    for key in ("thread_ts", "parent_user_id"):
        payload["message"].pop(key, None)
    payload["container"].update(channel_id=channel, message_ts=ts)
    payload["container"].pop("thread_ts", None)
    payload["channel"].update(id=channel, name="staff")
    return payload


async def _handed_off(harness: Harness) -> tuple[dict[str, Any], str]:
    """A member's question the bot could not answer, passed on with Ask a person: the staff post and its ts."""
    await harness.dm(QUESTION, user=MEMBER)
    [answer] = await harness.posts(1)
    found = _button(answer, "handoff")
    assert found is not None
    ask = _click(harness, answer, "1780000000.000300", "handoff", MEMBER, channel=answer["channel"])
    await harness.action(ask)
    calls = await harness.standin.wait_for("chat.postMessage", 2)
    staff_call = calls[1]
    assert staff_call.params["channel"] == STAFF_CHANNEL
    await harness.services.recorder.flush()
    assert staff_call.response is not None
    return staff_call.params, staff_call.response["ts"]


def _updates(harness: Harness) -> list[dict[str, Any]]:
    return [c.params for c in harness.standin.calls_to("chat.update")]


def _context(message: dict[str, Any]) -> str:
    return " ".join(e["text"] for b in message["blocks"] if b["type"] == "context" for e in b["elements"])


def _actions(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def _told(harness: Harness, n: int) -> str:
    calls = await harness.standin.wait_for("response_url", n)
    assert calls[-1].params["response_type"] == "ephemeral"
    text: str = calls[-1].params["text"]
    return text


async def test_the_first_to_take_it_has_it_and_the_message_says_so(harness: Harness) -> None:
    staff_post, ts = await _handed_off(harness)
    assert _actions(staff_post) == [TAKE_ACTION, DONE_ACTION] and "Nobody has taken this yet" in _context(staff_post)

    await harness.action(_click(harness, staff_post, ts, TAKE_ACTION, STAFF))

    [update] = await harness.standin.wait_for("chat.update", 1)
    taken = update.params
    assert (taken["channel"], taken["ts"]) == (STAFF_CHANNEL, ts)
    assert f"Taken by <@{STAFF}>" in _context(taken) and _actions(taken) == [DONE_ACTION]
    assert taken["link_names"] is False  # the member's quoted words stay inert, as when first posted
    # The member's question is still there, quoted exactly as first posted.
    assert taken["blocks"][1]["text"]["text"] == staff_post["blocks"][1]["text"]["text"]

    # Someone else clicks the Take it they still see: told who has it; nothing changes.
    await harness.action(_click(harness, staff_post, ts, TAKE_ACTION, OTHER_STAFF))
    assert await _told(harness, 2) == f"<@{STAFF}> already has this one."
    await harness.settle(2)
    assert len(_updates(harness)) == 1
    # The owner clicking again changes nothing either: the message already says they have it.
    await harness.action(_click(harness, staff_post, ts, TAKE_ACTION, STAFF))
    await harness.standin.wait_for("chat.update", 2)
    assert f"Taken by <@{STAFF}>" in _context(_updates(harness)[-1])


async def test_done_closes_it_and_the_report_counts_taken_done_and_the_wait(harness: Harness) -> None:
    staff_post, ts = await _handed_off(harness)
    await harness.action(_click(harness, staff_post, ts, TAKE_ACTION, STAFF))
    [update] = await harness.standin.wait_for("chat.update", 1)
    await harness.action(_click(harness, update.params, ts, DONE_ACTION, OTHER_STAFF))
    updates = await harness.standin.wait_for("chat.update", 2)
    closed = updates[-1].params
    assert _context(closed).endswith(f"Done by <@{OTHER_STAFF}> (taken by <@{STAFF}>)") and _actions(closed) == []

    report = await build_report(harness.services.recorder.store, harness.services.content.current.engine, 1)
    assert (report.handoffs, report.handoffs_taken, report.handoffs_done) == (1, 1, 1)
    assert report.minutes_to_take is not None and 0 <= report.minutes_to_take < 1
    assert "hand-offs:   1 (1 taken, 1 done; taken after 0 min, the median)" in format_report(report)


async def test_done_on_a_hand_off_nobody_took_takes_it_too(harness: Harness) -> None:
    staff_post, ts = await _handed_off(harness)
    await harness.action(_click(harness, staff_post, ts, DONE_ACTION, STAFF))
    [update] = await harness.standin.wait_for("chat.update", 1)
    assert _context(update.params).endswith(f"Done by <@{STAFF}>")
    [times] = await harness.services.recorder.store.handoffs.since(
        datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    )
    assert times.taken_at is not None and times.done_at is not None


@pytest.mark.parametrize("action_id", [TAKE_ACTION, DONE_ACTION])
async def test_a_member_forging_the_click_changes_nothing(harness: Harness, action_id: str) -> None:
    staff_post, ts = await _handed_off(harness)
    await harness.action(_click(harness, staff_post, ts, action_id, MEMBER))
    assert await _told(harness, 2) == "Only staff can take or close a hand-off."
    # From any other channel, even a staff member's click is refused.
    await harness.action(_click(harness, staff_post, ts, action_id, STAFF, channel="C0000001"))
    assert await _told(harness, 3) == "Hand-offs are taken in the staff channel only."
    await harness.settle(2)
    assert _updates(harness) == []
    [times] = await harness.services.recorder.store.handoffs.since(
        datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    )
    assert (times.taken_at, times.done_at) == (None, None)


async def test_a_click_for_a_hand_off_the_log_never_held_says_so(harness: Harness) -> None:
    staff_post, ts = await _handed_off(harness)
    forged = copy.deepcopy(staff_post)
    for block in forged["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == TAKE_ACTION:
                element["value"] = "0123456789abcdef"
    await harness.action(_click(harness, forged, ts, TAKE_ACTION, STAFF))
    assert await _told(harness, 2) == "The question log holds no hand-off of this question."
    assert _updates(harness) == []
