"""Events: mentions in channels, direct messages, follow-ups in threads the bot answered, App Home."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation import in_channel_thread
from bot.listeners.common import (
    apologise,
    event_id_of,
    log_question,
    new_question_id,
    post,
    services_of,
    texts,
    tracked,
)
from bot.listeners.home import publish_home
from bot.logs import RequestRecord
from bot.routing import Ignore, IncomingMessage, next_topic, offers_person, route_message
from bot.services import Services
from bot.state import recall

log = logging.getLogger("bot.events")


def register(app: AsyncApp) -> None:
    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
    app.event("app_home_opened")(on_home)


@tracked
async def on_mention(
    body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await handle_message(services_of(context), client, body, event, context, mentioned=True)


@tracked
async def on_message(
    body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await handle_message(services_of(context), client, body, event, context, mentioned=False)


@tracked
async def on_home(
    body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    record = RequestRecord(kind="app_home", event_id=event_id_of(body))
    user = event.get("user")
    if event.get("tab", "home") != "home" or not isinstance(user, str):
        record.finish("ignored")
        return
    services = services_of(context)
    if not await services.may_open_home(user):
        # The Home keeps the view published last: nothing is looked up or built again.
        record.finish("rate_limited")
        return
    await publish_home(services, client, user, record)
    record.emit()


async def handle_message(
    services: Services,
    client: AsyncWebClient,
    body: dict[str, Any],
    event: dict[str, Any],
    context: AsyncBoltContext,
    *,
    mentioned: bool,
) -> None:
    record = RequestRecord(kind="app_mention" if mentioned else "message", event_id=event_id_of(body))
    incoming = IncomingMessage.from_event(event, mentioned=mentioned)
    route = route_message(incoming, context.bot_user_id)
    if isinstance(route, Ignore):
        record.finish(route.outcome)
        return
    previous = await recall(services.threads, route.channel, route.recall)
    if route.only_known_thread and previous is None:  # a thread the bot has not answered
        record.finish("ignored:not_our_thread")
        return
    record.kind = route.kind
    if not await services.seen.first_time(route.once_key):
        record.finish("duplicate")
        return
    user = route.member
    content = services.content.current
    answer = None
    if route.kind == "thread_followup":
        # Nobody addressed the bot: it speaks only when the message is plainly for it (bot/conversation.py).
        # A quiet message is neither answered, counted against anyone nor kept in the question log.
        answer = content.engine.answer(incoming.text, previous)
        etiquette = in_channel_thread(answer, incoming.text, context.bot_user_id)
        if not etiquette.speak:
            record.finish(etiquette.why)
            return
    verdict = services.limiter.check(user)
    if verdict != "ok":
        record.outcome = "rate_limited"
        if verdict == "warn":
            notice = content.renderer.notice(texts(services).slow_down)
            await post(client, record, route.channel, route.reply_thread, notice)
        record.emit()
        return
    text = incoming.text
    log.debug("question event_id=%s text=%r", record.event_id, text)
    question_id = new_question_id()
    try:
        answer = answer or content.engine.answer(text, previous)
        record.intent = answer.intent.id if answer.intent else None
        record.confidence = answer.confidence
        message = content.renderer.with_feedback(
            content.renderer.answer(answer),
            question_id,
            fallback=offers_person(answer.intent.id if answer.intent else None),
            handoff=services.settings.handoff_channel is not None,
        )
        delivered = await post(client, record, route.channel, route.reply_thread, message)
        if delivered:
            record.outcome = "fallback" if answer.is_fallback else "answered"
            await services.threads.set(route.channel, route.memory_thread, next_topic(answer, previous))
    except Exception:
        await apologise(client, record, route.channel, route.reply_thread, texts(services).apology)
    record.emit()
    log_question(services, question_id, route.surface, user, record, text, route.channel, route.ts)
