"""Button clicks: topic buttons post that topic's answer; "Share in channel" posts an ephemeral answer
for everyone; link buttons open in the browser and only need an ack."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import LINK_ACTION, SHARE_ACTION, TOPIC_ACTION
from bot.listeners.commands import offers_intro
from bot.listeners.common import apologise, object_of, post, respond_safely, text_of
from bot.runtime import RequestRecord, Services
from intents import Answer
from intents.model import OFFERS_OVERVIEW, Mode

log = logging.getLogger("bot.actions")
# Two clicks on the same button within this many seconds post one answer.
CLICK_WINDOW_SECONDS = 30.0
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
SHAREABLE_MODES: tuple[Mode, ...] = ("full", "signup", "read", "more")
CANNOT_POST = "I can't post in this channel. Invite me with `/invite @` and my name, then try again."


def _container(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    container = object_of(body, "container")
    channel = text_of(container, "channel_id") or text_of(object_of(body, "channel"), "id")
    return channel, text_of(container, "message_ts"), bool(container.get("is_ephemeral"))


def _user(body: dict[str, Any]) -> str | None:
    return text_of(object_of(body, "user"), "id")


def register(app: AsyncApp, services: Services) -> None:
    @app.action(re.compile(rf"^{LINK_ACTION}:"))
    @services.inflight.tracked
    async def on_link(ack: AsyncAck) -> None:
        await ack()  # URL buttons open in the browser; Slack still tells us, and wants an ack
        RequestRecord(kind="link_click", outcome="acked").emit()

    @app.action(re.compile(rf"^{TOPIC_ACTION}:"))
    @services.inflight.tracked
    async def on_topic(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        record = RequestRecord(kind="block_actions")
        channel, message_ts, ephemeral = _container(body)
        user = _user(body)
        content = services.content.current
        intent = content.catalogue.get(text_of(action, "value"))
        if intent is None or channel is None or user is None:
            record.finish("ignored:unknown_topic")
            return
        record.intent = intent.id
        # Ephemeral messages are per person; a shared message is one thread for everyone.
        who = user if ephemeral else "all"
        if not await services.seen.first_time(
            f"click:{channel}:{message_ts}:{action.get('action_id')}:{who}", CLICK_WINDOW_SECONDS
        ):
            record.finish("duplicate")
            return
        answer = Answer.chosen(intent)
        message_obj = object_of(body, "message")
        thread_ts = text_of(message_obj, "thread_ts") or text_of(message_obj, "ts") or message_ts
        if channel.startswith("D") and text_of(message_obj, "thread_ts") is None:
            thread_ts = None  # a DM is already one conversation: answer at its top level, as the bot did
        try:
            if ephemeral:
                message = content.renderer.answer(answer, shareable=True)
                if await respond_safely(
                    respond, record, response_type="ephemeral", replace_original=False,
                    text=message.text, blocks=message.blocks,
                ):  # fmt: skip
                    record.outcome = "answered"
            elif await post(client, record, channel, thread_ts, content.renderer.answer(answer)):
                if thread_ts is not None:
                    await services.threads.set(channel, thread_ts, intent.id)
                record.outcome = "answered"
        except Exception:
            await apologise(client, record, None if ephemeral else channel, thread_ts)
        record.emit()

    @app.action(SHARE_ACTION)
    @services.inflight.tracked
    async def on_share(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        record = RequestRecord(kind="share")
        channel, message_ts, ephemeral = _container(body)
        user = _user(body)
        if not ephemeral:
            # Only ephemeral answers carry the button. A public one is already in the channel: posting
            # it again would double-post, and delete_original would remove it for everyone.
            record.finish("ignored:already_public")
            return
        try:
            ref = json.loads(action.get("value") or "{}")
        except (TypeError, ValueError):
            ref = {}
        content = services.content.current
        intent = content.catalogue.get(text_of(ref, "intent"))
        mode = text_of(ref, "mode")
        if (intent is None and mode != "offers") or channel is None or user is None:
            record.finish("ignored:bad_share")
            return
        record.intent = intent.id if intent is not None else OFFERS_OVERVIEW
        if not await services.seen.first_time(f"share:{channel}:{message_ts}:{user}", CLICK_WINDOW_SECONDS):
            record.finish("duplicate")
            return
        if intent is None:
            message = content.renderer.offers(offers_intro(content))
        else:
            message = content.renderer.answer(Answer.chosen(intent, mode if mode in SHAREABLE_MODES else "full"))
        blocks = list(message.blocks)
        if _USER_ID.match(user):  # an id from Slack's own payload, never from member text
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Shared by <@{user}>"}]})
        try:
            await client.chat_postMessage(channel=channel, text=message.text, blocks=blocks, unfurl_links=False)
            record.outcome = "shared"
            await respond_safely(respond, record, delete_original=True)
        except SlackApiError as exc:
            record.outcome = "post_failed"
            log.error("share not posted: channel=%s error=%s", channel, exc.response.get("error"))
            await respond_safely(respond, record, response_type="ephemeral", replace_original=False, text=CANNOT_POST)
        record.emit()
