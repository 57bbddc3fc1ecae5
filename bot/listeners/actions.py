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
from bot.listeners.common import apologise, post, respond_safely
from bot.runtime import Bot, RequestRecord
from intents import Answer

log = logging.getLogger("bot.actions")
# Two clicks on the same button within this many seconds post one answer.
CLICK_WINDOW_SECONDS = 30.0
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
CANNOT_POST = "I can't post in this channel. Invite me with `/invite @` and my name, then try again."


def _container(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    channel = container.get("channel_id")
    if not isinstance(channel, str):
        channel_obj = body.get("channel") if isinstance(body.get("channel"), dict) else {}
        channel = channel_obj.get("id") if isinstance(channel_obj.get("id"), str) else None
    message_ts = container.get("message_ts") if isinstance(container.get("message_ts"), str) else None
    return channel, message_ts, bool(container.get("is_ephemeral"))


def _user(body: dict[str, Any]) -> str | None:
    user = body.get("user") if isinstance(body.get("user"), dict) else {}
    value = user.get("id")
    return value if isinstance(value, str) else None


def register(app: AsyncApp, bot: Bot) -> None:
    @app.action(re.compile(rf"^{LINK_ACTION}:"))
    async def on_link(ack: AsyncAck) -> None:
        await ack()  # URL buttons open in the browser; Slack still tells us, and wants an ack
        RequestRecord(kind="link_click", outcome="acked").emit()

    @app.action(re.compile(rf"^{TOPIC_ACTION}:"))
    async def on_topic(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        record = RequestRecord(kind="block_actions")
        channel, message_ts, ephemeral = _container(body)
        user = _user(body)
        content = bot.content.current
        intent = content.catalogue.get(action.get("value") if isinstance(action.get("value"), str) else None)
        if intent is None or channel is None or user is None:
            record.outcome = "ignored:unknown_topic"
            record.emit()
            return
        record.intent = intent.id
        # Ephemeral messages are per person; a shared message is one thread for everyone.
        who = user if ephemeral else "all"
        if not await bot.seen.first_time(
            f"click:{channel}:{message_ts}:{action.get('action_id')}:{who}", CLICK_WINDOW_SECONDS
        ):
            record.outcome = "duplicate"
            record.emit()
            return
        answer = Answer(intent.title, intent, 1.0, (), "full")
        message_obj = body.get("message") if isinstance(body.get("message"), dict) else {}
        thread_ts = message_obj.get("thread_ts") or message_obj.get("ts") or message_ts
        try:
            async with bot.inflight.track():
                if ephemeral:
                    message = content.renderer.answer(answer, shareable=True)
                    if await respond_safely(
                        respond, record, response_type="ephemeral", replace_original=False,
                        text=message.text, blocks=message.blocks,
                    ):  # fmt: skip
                        record.outcome = "answered"
                elif await post(client, record, channel, thread_ts, content.renderer.answer(answer)):
                    if isinstance(thread_ts, str):
                        await bot.threads.set(channel, thread_ts, intent.id)
                    record.outcome = "answered"
        except Exception:
            await apologise(client, record, None if ephemeral else channel, thread_ts)
        record.emit()

    @app.action(SHARE_ACTION)
    async def on_share(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        record = RequestRecord(kind="share")
        channel, message_ts, _ = _container(body)
        user = _user(body)
        try:
            ref = json.loads(action.get("value") or "{}")
        except (TypeError, ValueError):
            ref = {}
        content = bot.content.current
        intent = content.catalogue.get(ref.get("intent") if isinstance(ref, dict) else None)
        mode = ref.get("mode") if isinstance(ref, dict) and ref.get("mode") in ("full", "signup", "read") else "full"
        if intent is None or channel is None or user is None:
            record.outcome = "ignored:bad_share"
            record.emit()
            return
        record.intent = intent.id
        if not await bot.seen.first_time(f"share:{channel}:{message_ts}:{user}", CLICK_WINDOW_SECONDS):
            record.outcome = "duplicate"
            record.emit()
            return
        message = content.renderer.answer(Answer(intent.title, intent, 1.0, (), mode))
        blocks = list(message.blocks)
        if _USER_ID.match(user):  # an id from Slack's own payload, never from member text
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Shared by <@{user}>"}]})
        try:
            async with bot.inflight.track():
                await client.chat_postMessage(channel=channel, text=message.text, blocks=blocks, unfurl_links=False)
                record.outcome = "shared"
                await respond_safely(respond, record, delete_original=True)
        except SlackApiError as exc:
            record.outcome = "post_failed"
            log.error("share not posted: channel=%s error=%s", channel, exc.response.get("error"))
            await respond_safely(respond, record, response_type="ephemeral", replace_original=False, text=CANNOT_POST)
        record.emit()
