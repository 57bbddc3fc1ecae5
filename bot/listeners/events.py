"""Events: mentions in channels, direct messages, follow-ups in threads the bot answered, App Home."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.conversation import Heard, take_turn
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
from bot.routing import Ignore, IncomingMessage, route_message
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
    # Whether, what and how: the conversation's (bot/conversation.py). A quiet message is neither
    # answered, counted against anyone nor kept in the question log.
    heard = Heard(incoming.text, route.surface, previous=previous, bot_user_id=context.bot_user_id)
    question_id = new_question_id()
    content = services.content.current
    try:
        turn = take_turn(content, heard, question_id=question_id, handoff=services.settings.handoff_channel is not None)
    except Exception:
        await apologise(client, record, route.channel, route.reply_thread, texts(services).apology)
        record.emit()
        return
    if not turn.speak:
        record.finish(turn.outcome)
        return
    verdict = services.limiter.check(route.member)
    if verdict != "ok":
        record.outcome = "rate_limited"
        if verdict == "warn":
            notice = content.renderer.notice(texts(services).slow_down)
            await post(client, record, route.channel, route.reply_thread, notice)
        record.emit()
        return
    log.debug("question event_id=%s text=%r", record.event_id, incoming.text)
    record.intent, record.confidence = turn.intent, turn.confidence
    assert turn.message is not None
    if await post(client, record, route.channel, route.reply_thread, turn.message):
        record.outcome = turn.outcome
        if turn.remember is not None:
            await services.threads.set(route.channel, route.memory_thread, turn.remember)
    record.emit()
    log_question(services, question_id, route.surface, route.member, record, incoming.text, route.channel, route.ts)
