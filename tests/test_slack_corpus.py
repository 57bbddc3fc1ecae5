"""Slack's own payloads, from tests/data/slack/ (each file names the documentation page it follows),
driven through the signed HTTP path (Socket Mode envelopes through the stand-in's WebSocket), with
what the member would see checked for each. Also: every button the bot renders, clicked with the
payload Slack sends for it, answers 200 and does what the button says."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.services import Services
from devtools.standin import SlackStandIn
from intents import Answer
from tests.conftest import Harness
from tests.test_events import _all_text

CORPUS = Path(__file__).parent / "data" / "slack"
DOC_SITES = ("https://docs.slack.dev/", "https://api.slack.com/")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / name).read_text(encoding="utf-8"))


def _fill(value: Any, response_url: str) -> Any:
    return json.loads(json.dumps(value).replace("{{RESPONSE_URL}}", response_url))


def encode(data: dict[str, Any], response_url: str) -> tuple[str, str]:
    """The bytes Slack would POST for a fixture, and their content type."""
    body = _fill(data["body"], response_url)
    if data["transport"] == "events_api":
        return json.dumps(body), "application/json"
    if data["transport"] == "interactive":
        return urlencode({"payload": json.dumps(body["payload"])}), "application/x-www-form-urlencoded"
    return urlencode(body), "application/x-www-form-urlencoded"


async def send(harness: Harness, name: str) -> tuple[int, str]:
    data = fixture(name)
    body, content_type = encode(data, harness.standin.response_url())
    return await harness.post_signed(body, content_type)


def _event(name: str) -> dict[str, Any]:
    return fixture(name)["body"]["event"]


# --- what the member sees, file by file ---


async def _answered_in(harness: Harness, channel: str, thread_ts: str | None, *phrases: str) -> None:
    [post] = await harness.posts(1)
    assert post["channel"] == channel
    assert post.get("thread_ts") == thread_ts
    text = _all_text(post)
    for phrase in phrases:
        assert phrase.lower() in text.lower(), (phrase, text[:300])
    await harness.settle(1)


async def _nothing_posted(harness: Harness) -> None:
    await harness.settle(0)
    assert harness.standin.calls_to("views.publish") == []
    assert harness.standin.calls_to("response_url") == []


def _title(harness: Harness, intent_id: str) -> str:
    intent = harness.services.content.current.catalogue.get(intent_id)
    assert intent is not None
    return intent.title


Check = Callable[[Harness, str], Awaitable[None]]


async def _mention(harness: Harness, body: str) -> None:
    event = _event("event_app_mention.json")
    await _answered_in(harness, event["channel"], event["ts"], _title(harness, "key_points"))


async def _mention_in_thread(harness: Harness, body: str) -> None:
    event = _event("event_app_mention_in_thread.json")
    await _answered_in(harness, event["channel"], event["thread_ts"], "appraisal")


async def _dm(harness: Harness, body: str) -> None:
    event = _event("event_message_im.json")
    await _answered_in(harness, event["channel"], None, _title(harness, "offer_action_learning_sets"))


async def _file_share(harness: Harness, body: str) -> None:
    event = _event("event_file_share.json")
    await _answered_in(harness, event["channel"], None, "appraisal")


async def _thread_reply(harness: Harness, body: str) -> None:
    event = _event("event_message_thread_reply.json")
    # "how do I sign up?" in a thread whose topic is an offer: that offer's sign-up reply (its status is
    # unknown, so it says our sources do not say whether it still runs).
    await _answered_in(harness, event["channel"], event["thread_ts"], "still runs", "Action learning sets")


async def _thread_broadcast(harness: Harness, body: str) -> None:
    # A member sharing a summary with the channel, in a thread the bot answered, asks the bot nothing:
    # the bot is a guest there and stays quiet (bot/conversation.py). Its subtype is one routing reads
    # (tests/test_routing.py); what it says is what keeps the bot quiet.
    await harness.settle(0)


async def _home(harness: Harness, body: str) -> None:
    [call] = await harness.standin.wait_for("views.publish")
    assert call.params["user_id"] == "U0000001"
    assert call.params["view"]["type"] == "home"
    assert "How to ask" in json.dumps(call.params["view"])
    await harness.settle(0)


async def _url_verification(harness: Harness, body: str) -> None:
    assert fixture("url_verification.json")["body"]["challenge"] in body
    await _nothing_posted(harness)


async def _ignored(harness: Harness, body: str) -> None:
    await _nothing_posted(harness)


def _ephemeral_ack(*phrases: str) -> Check:
    async def check(harness: Harness, body: str) -> None:
        reply = json.loads(body)
        assert reply["response_type"] == "ephemeral"
        text = _all_text(reply)
        for phrase in phrases:
            assert phrase.lower() in text.lower()
        assert any(e.get("action_id") == "share" for b in reply["blocks"] for e in b.get("elements", []))
        await _nothing_posted(harness)

    return check


async def _topic_public(harness: Harness, body: str) -> None:
    container = fixture("action_topic_button.json")["body"]["payload"]["container"]
    await _answered_in(harness, container["channel_id"], container["thread_ts"], _title(harness, "offers_overview"))


async def _topic_ephemeral(harness: Harness, body: str) -> None:
    [call] = await harness.standin.wait_for("response_url")
    assert call.params["response_type"] == "ephemeral"
    assert call.params["replace_original"] is False
    assert _title(harness, "offers_overview") in _all_text(call.params)
    await harness.settle(0)


async def _did_you_mean(harness: Harness, body: str) -> None:
    await _answered_in(harness, "D0000001", None, _title(harness, "offer_action_learning_sets"))


async def _share_ephemeral(harness: Harness, body: str) -> None:
    [post] = await harness.posts(1)
    assert post["channel"] == "C0000001"
    assert "Shared by <@U0000001>" in _all_text(post)
    assert _title(harness, "offer_action_learning_sets") in _all_text(post)
    [call] = await harness.standin.wait_for("response_url")
    assert call.params["delete_original"] is True
    await harness.settle(1)


async def _share_public(harness: Harness, body: str) -> None:
    # Public answers carry no share button; if one is clicked anyway, the answer is already in the
    # channel: posting it again would double-post, and deleting the original would lose it.
    await _nothing_posted(harness)


async def _teach_refused(harness: Harness, body: str) -> None:
    # A member is not staff: a modal that says so, and nothing read from or written to the log.
    [call] = await harness.standin.wait_for("views.open")
    assert call.params["trigger_id"] == fixture("action_teach_button_home.json")["body"]["payload"]["trigger_id"]
    assert "only the content team" in json.dumps(call.params["view"])
    assert "submit" not in call.params["view"]
    await _nothing_posted(harness)


async def _save_refused(harness: Harness, body: str) -> None:
    reply = json.loads(body)
    assert reply["response_action"] == "errors"
    assert "only the content team" in reply["errors"]["intent"]
    await harness.services.recorder.store.migrate()  # the harness's log is not started: nothing wrote to it
    assert await harness.services.recorder.store.labels.read() == []
    await _nothing_posted(harness)


EXPECTED: dict[str, Check] = {
    "event_app_mention.json": _mention,
    "event_app_mention_in_thread.json": _mention_in_thread,
    "event_message_im.json": _dm,
    "event_message_thread_reply.json": _thread_reply,
    "event_thread_broadcast.json": _thread_broadcast,
    "event_file_share.json": _file_share,
    "event_message_changed.json": _ignored,
    "event_message_deleted.json": _ignored,
    "event_bot_message.json": _ignored,
    "event_bot_own_message_im.json": _ignored,
    "event_message_mpim.json": _ignored,  # a group DM without a mention is not for the bot
    "event_app_home_opened_no_view.json": _home,
    "event_app_home_opened_with_view.json": _home,
    "event_app_home_opened_messages_tab.json": _ignored,
    "url_verification.json": _url_verification,
    "ssl_check.json": _ignored,
    "command_keypoints.json": _ephemeral_ack("key points"),
    "command_messenger_recommendation.json": _ephemeral_ack("appraisal"),
    "command_messenger_question.json": _ephemeral_ack("Action learning sets"),
    "action_topic_button.json": _topic_public,
    "action_topic_button_ephemeral.json": _topic_ephemeral,
    "action_link_button.json": _ignored,
    "action_link_button_ephemeral.json": _ignored,
    "action_share_button_ephemeral.json": _share_ephemeral,
    "action_share_button.json": _share_public,
    "action_did_you_mean_button.json": _did_you_mean,
    "action_teach_button_home.json": _teach_refused,
    "view_submission_teach.json": _save_refused,
}
SOCKET_FILES = ("socket_events_api.json", "socket_slash_commands.json", "socket_interactive.json")
# Threads the bot answered earlier, as its thread memory would hold them.
EARLIER_THREADS = {
    "event_message_thread_reply.json": "offer_action_learning_sets",
    "event_thread_broadcast.json": "recommendations",
}


def test_every_corpus_file_is_driven_and_names_its_source() -> None:
    files = {p.name for p in CORPUS.glob("*.json")}
    assert files == set(EXPECTED) | set(SOCKET_FILES)
    for name in files:
        data = fixture(name)
        assert data["source"].startswith(DOC_SITES), name
        assert data["transport"] in ("events_api", "slash_command", "interactive", "socket_mode"), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_slack_payload_through_the_signed_path(harness: Harness, name: str) -> None:
    if name in EARLIER_THREADS:
        event = _event(name)
        await harness.services.threads.set(event["channel"], event["thread_ts"], EARLIER_THREADS[name])
    status, body = await send(harness, name)
    assert status == 200, body
    await EXPECTED[name](harness, body)


# --- every button the bot renders, clicked as Slack sends the click ---


def _click_payload(
    button: dict[str, Any], block_id: str, message_ts: str, *, ephemeral: bool, response_url: str
) -> dict[str, Any]:
    """Slack's block_actions payload for a click on `button` (shape from the corpus files)."""
    template = "action_topic_button_ephemeral.json" if ephemeral else "action_topic_button.json"
    payload = copy.deepcopy(fixture(template)["body"]["payload"])
    payload["response_url"] = response_url
    payload["container"]["message_ts"] = message_ts
    if "message" in payload:
        payload["message"]["ts"] = message_ts
    action = {k: button[k] for k in ("action_id", "text", "value", "url", "style") if k in button}
    action.update({"block_id": block_id, "type": "button", "action_ts": f"{time.time():.6f}"})
    payload["actions"] = [action]
    return payload


def _rendered_messages(services: Services) -> list[tuple[str, list[dict[str, Any]], bool]]:
    """(name, blocks, ephemeral) for every message the bot can render."""
    content = services.content.current
    renderer = content.renderer
    out = []
    for intent in content.catalogue.intents:
        out.append((f"public:{intent.id}", renderer.answer(Answer.chosen(intent)).blocks, False))
        out.append((f"ephemeral:{intent.id}", renderer.answer(Answer.chosen(intent), shareable=True).blocks, True))
    near = tuple(i for i in content.catalogue.intents[:3])
    out.append(("fallback", renderer.answer(Answer("near miss", None, 0.2, near, "fallback")).blocks, False))
    out.append(("offers", renderer.offers().blocks, True))
    out.append(("home", renderer.home(content.catalogue.get("key_points"))["blocks"], False))
    return out


def _buttons(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for n, block in enumerate(blocks):
        block_id = block.get("block_id") or f"blk{n}"  # Slack gives blocks without an id one of its own
        for element in block.get("elements", []) + ([block["accessory"]] if "accessory" in block else []):
            if element.get("type") == "button":
                found.append((block_id, element))
    return found


async def test_every_button_the_bot_renders_works_with_slacks_payload(harness: Harness) -> None:
    clicks = 0
    for n, (name, blocks, ephemeral) in enumerate(_rendered_messages(harness.services)):
        message_ts = f"1780100000.{n:06d}"  # each rendered message is its own message in Slack
        for block_id, button in _buttons(blocks):
            harness.standin.calls.clear()
            url = harness.standin.response_url()
            payload = _click_payload(button, block_id, message_ts, ephemeral=ephemeral, response_url=url)
            payload["user"]["id"] = f"U{clicks:08d}"  # members within the rate limit
            status, text = await harness.action(payload)
            assert status == 200, (name, button["action_id"], text)
            clicks += 1
            action_id = button["action_id"]
            if "url" in button:
                await asyncio.sleep(0.05)
                assert harness.standin.calls_to("chat.postMessage") == [], (name, action_id)
                continue
            if action_id.startswith("topic:"):
                title = _title(harness, button["value"])
                if ephemeral:
                    [call] = await harness.standin.wait_for("response_url")
                    assert title in _all_text(call.params), (name, action_id)
                else:
                    [post] = await harness.posts(1)
                    assert title in _all_text(post), (name, action_id)
            elif action_id == "share":
                [post] = await harness.posts(1)
                assert "Shared by" in _all_text(post), name
            else:
                raise AssertionError(f"{name}: a button with no known action: {action_id}")
    assert clicks > 100  # every intent's links, related topics and share buttons


# --- Socket Mode envelopes through the stand-in's WebSocket ---


async def _envelope(standin: SlackStandIn, name: str) -> dict[str, Any]:
    envelope = _fill(fixture(name)["body"], standin.response_url())
    await standin.socket_send(envelope)
    for call in await standin.wait_for("socket.ack", len(standin.calls_to("socket.ack")) + 1):
        if call.params["envelope_id"] == envelope["envelope_id"]:
            return call.params
    raise AssertionError("no ack for the envelope")


async def test_socket_mode_events_api_envelope(standin: SlackStandIn, socket_services: Services) -> None:
    await _envelope(standin, "socket_events_api.json")
    event = fixture("socket_events_api.json")["body"]["payload"]["event"]
    [post] = [c.params for c in await standin.wait_for("chat.postMessage", 1)]
    assert (post["channel"], post["thread_ts"]) == (event["channel"], event["ts"])
    assert "key points" in _all_text(post).lower()


async def test_socket_mode_slash_command_envelope(standin: SlackStandIn, socket_services: Services) -> None:
    ack = await _envelope(standin, "socket_slash_commands.json")
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "appraisal" in _all_text(ack["payload"]).lower()


async def test_socket_mode_interactive_envelope(standin: SlackStandIn, socket_services: Services) -> None:
    await _envelope(standin, "socket_interactive.json")
    [post] = [c.params for c in await standin.wait_for("chat.postMessage", 1)]
    catalogue = socket_services.content.current.catalogue
    assert catalogue.get("offers_overview").title in _all_text(post)  # type: ignore[union-attr]
