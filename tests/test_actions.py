"""Button clicks (block_actions) through signed interactivity posts."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.conftest import Harness
from tests.test_events import _all_text


def _click(
    harness: Harness, action: dict[str, Any], *, ephemeral: bool = False, thread_ts: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "ts": "1700000100.000001", "text": "earlier answer"}
    if thread_ts:
        message["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0000001"},
        "user": {"id": "U0000001", "name": "member"},
        "api_app_id": "A0000001",
        "trigger_id": "1.2.3",
        "channel": {"id": "C0000001"},
        "container": {
            "type": "message",
            "message_ts": "1700000100.000001",
            "channel_id": "C0000001",
            "is_ephemeral": ephemeral,
        },
        "response_url": harness.standin.response_url(),
        "actions": [{"type": "button", "block_id": "related", "action_ts": "1700000101.1", **action}],
    }
    if not ephemeral:
        payload["message"] = message
    return payload


async def test_topic_button_posts_that_topic_in_the_thread(harness: Harness) -> None:
    payload = _click(harness, {"action_id": "topic:rec_edi", "value": "rec_edi"}, thread_ts="1700000000.000009")
    status, _ = await harness.action(payload)
    assert status == 200
    [post] = await harness.posts(1)
    assert post["channel"] == "C0000001"
    assert post["thread_ts"] == "1700000000.000009"
    assert "Recommendation 2" in _all_text(post)
    assert await harness.services.threads.get("C0000001", "1700000000.000009") == "rec_edi"


async def test_a_button_clicked_twice_quickly_posts_one_answer(harness: Harness) -> None:
    payload = _click(harness, {"action_id": "topic:key_points", "value": "key_points"})
    results = await asyncio.gather(harness.action(payload), harness.action(payload))
    assert [r[0] for r in results] == [200, 200]
    await harness.posts(1)
    await harness.settle(1)


async def test_topic_button_on_an_ephemeral_answer_replies_ephemerally(harness: Harness) -> None:
    payload = _click(harness, {"action_id": "topic:rec_appraisal", "value": "rec_appraisal"}, ephemeral=True)
    await harness.action(payload)
    [call] = await harness.standin.wait_for("response_url")
    assert call.params["response_type"] == "ephemeral"
    assert "appraisal" in _all_text(call.params).lower()
    assert harness.standin.calls_to("chat.postMessage") == []


async def test_share_in_channel_posts_for_everyone_and_removes_the_ephemeral(harness: Harness) -> None:
    _, reply = await harness.command("/messenger", "recommendation 4")
    share = next(e for b in reply["blocks"] for e in b.get("elements", []) if e.get("action_id") == "share")
    payload = _click(harness, {"action_id": "share", "value": share["value"]}, ephemeral=True)
    status, _ = await harness.action(payload)
    assert status == 200
    [post] = await harness.posts(1)
    assert post["channel"] == "C0000001"
    assert "simplified, standard appraisal" in _all_text(post)
    assert "Shared by <@U0000001>" in _all_text(post)
    assert "share" not in json.dumps(post["blocks"]).replace("Shared", "")  # no share button in public
    [call] = await harness.standin.wait_for("response_url")
    assert call.params["delete_original"] is True


async def test_link_buttons_are_acked_and_post_nothing(harness: Harness) -> None:
    payload = _click(harness, {"action_id": "link:0", "url": "https://www.nhsconfed.org/"})
    status, _ = await harness.action(payload)
    assert status == 200
    await harness.settle(0)


async def test_unknown_topic_posts_nothing(harness: Harness) -> None:
    payload = _click(harness, {"action_id": "topic:nope", "value": "no_such_intent"})
    status, _ = await harness.action(payload)
    assert status == 200
    await harness.settle(0)
