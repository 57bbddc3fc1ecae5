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

from bot.blocks import FEEDBACK_ACTION, HANDOFF_ACTION, LINK_ACTION, SHARE_ACTION, TOPIC_ACTION
from bot.listeners.commands import offers_intro
from bot.listeners.common import apologise, log_question, new_question_id, object_of, post, respond_safely, text_of
from bot.runtime import RequestRecord, Services
from bot.safety import clean
from bot.storage import StoredQuestion
from intents import Answer
from intents.model import OFFERS_OVERVIEW, Mode

log = logging.getLogger("bot.actions")
# Two clicks on the same button within this many seconds post one answer.
CLICK_WINDOW_SECONDS = 30.0
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
SHAREABLE_MODES: tuple[Mode, ...] = ("full", "signup", "read", "more")
THANKS_HELPFUL = "Thanks for letting us know it helped."
SORRY_NOT_HELPFUL = "Sorry that didn't help. You can ask a person from the team instead:"
ALREADY_HANDED_OFF = "You've already asked the team about this one; they'll reply here."
CANNOT_POST = "I can't post in this channel. Invite me with `/invite @` and my name, then try again."


def _container(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    container = object_of(body, "container")
    channel = text_of(container, "channel_id") or text_of(object_of(body, "channel"), "id")
    return channel, text_of(container, "message_ts"), bool(container.get("is_ephemeral"))


def _user(body: dict[str, Any]) -> str | None:
    return text_of(object_of(body, "user"), "id")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def _permalink(client: AsyncWebClient, stored: StoredQuestion | None) -> str | None:
    if stored is None or not stored.channel or not stored.message_ts:
        return None
    try:
        result = await client.chat_getPermalink(channel=stored.channel, message_ts=stored.message_ts)
    except Exception as exc:
        log.warning("no permalink for the hand-off: %r", exc)
        return None
    link = result.get("permalink")
    return link if isinstance(link, str) else None


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
        question_id = new_question_id()
        try:
            message = content.renderer.answer(answer, shareable=ephemeral)
            message = content.renderer.with_feedback(message, question_id, fallback=False)
            if ephemeral:
                if await respond_safely(
                    respond, record, response_type="ephemeral", replace_original=False,
                    text=message.text, blocks=message.blocks,
                ):  # fmt: skip
                    record.outcome = "answered"
            elif await post(client, record, channel, thread_ts, message):
                if thread_ts is not None:
                    await services.threads.set(channel, thread_ts, intent.id)
                record.outcome = "answered"
        except Exception:
            await apologise(client, record, None if ephemeral else channel, thread_ts)
        record.emit()
        log_question(services, question_id, "button", user, record, intent.title, channel, message_ts)

    @app.action(re.compile(rf"^{FEEDBACK_ACTION}:(helpful|not_helpful)$"))
    @services.inflight.tracked
    async def on_feedback(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        """One vote per member per answer (a later click changes it), acknowledged only to the voter."""
        await ack()
        record = RequestRecord(kind="feedback")
        question_id, user = text_of(action, "value"), _user(body)
        if not question_id or user is None:
            record.finish("ignored:bad_feedback")
            return
        helpful = text_of(action, "action_id") == f"{FEEDBACK_ACTION}:helpful"
        services.recorder.feedback(question_id, user, helpful)
        renderer = services.content.current.renderer
        if helpful:
            blocks = [_section(THANKS_HELPFUL)]
            text = THANKS_HELPFUL
        else:
            blocks = [_section(SORRY_NOT_HELPFUL), renderer.handoff_block(question_id)]
            text = SORRY_NOT_HELPFUL
        await respond_safely(
            respond, record, response_type="ephemeral", replace_original=False, text=text, blocks=blocks
        )
        record.finish("helpful" if helpful else "not_helpful")

    @app.action(HANDOFF_ACTION)
    @services.inflight.tracked
    async def on_handoff(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        """Ask a person: the question, the member, the bot's best guess and a link to the thread go to the
        staff channel; the member is told, in the content's words, who will reply."""
        await ack()
        record = RequestRecord(kind="handoff")
        question_id, user = text_of(action, "value"), _user(body)
        settings = services.content.current.catalogue.settings
        if not question_id or user is None or not settings.handoff_channel:
            record.finish("ignored:no_handoff")
            return
        if not await services.seen.first_time(f"handoff:{question_id}:{user}", 24 * 3600):
            await respond_safely(respond, record, response_type="ephemeral", replace_original=False,
                                 text=ALREADY_HANDED_OFF)  # fmt: skip
            record.finish("duplicate")
            return
        stored = await services.recorder.get_question(question_id)
        permalink = await _permalink(client, stored)
        lines = [f"*Question from <@{user}>*" if _USER_ID.match(user) else "*A member's question*"]
        if stored is not None and stored.text:
            lines.append(f"> {clean(stored.text)[:1500]}")
        elif stored is not None:
            lines.append("_(the question's text is not kept: QUESTION_LOG is off)_")
        if stored is not None:
            guess = f"`{stored.intent}`" if stored.intent else "none (it fell back)"
            confidence = f" at {stored.confidence:.2f}" if stored.confidence is not None else ""
            lines.append(f"Best guess: {guess}{confidence}")
        lines.append(
            f"<{permalink}|Open the member's thread>" if permalink else "No link: it was asked by slash command."
        )
        try:
            await client.chat_postMessage(channel=settings.handoff_channel, text="\n".join(lines), unfurl_links=False)
        except Exception as exc:
            record.outcome = "post_failed"
            log.error("hand-off not posted: channel=%s error=%r", settings.handoff_channel, exc)
            await respond_safely(respond, record, response_type="ephemeral", replace_original=False,
                                 text=services.content.current.catalogue.settings.contact_text)  # fmt: skip
            record.emit()
            return
        services.recorder.handoff(question_id, user)
        await respond_safely(respond, record, response_type="ephemeral", replace_original=False,
                             text=settings.handoff_text)  # fmt: skip
        record.finish("handed_off")

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
