"""Events: mentions in channels, direct messages, follow-ups in threads the bot answered, App Home."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.common import apologise, event_id_of, log_question, new_question_id, post, text_of, texts
from bot.listeners.home import publish_home
from bot.runtime import RequestRecord, Services
from bot.storage import Surface
from intents import Answer
from intents.model import CONTACT

log = logging.getLogger("bot.events")
DM_THREAD = "dm"
ANSWERED_SUBTYPES = (None, "thread_broadcast", "file_share")


@dataclass(frozen=True)
class Route:
    """Where a question came from and where its answer goes."""

    channel: str
    reply_thread: str | None  # thread_ts to reply in; None = top level of a DM
    memory_thread: str  # key for the thread's last topic


def register(app: AsyncApp, services: Services) -> None:
    @app.event("app_mention")
    @services.inflight.tracked
    async def on_mention(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await handle_message(services, client, body, event, context, mentioned=True)

    @app.event("message")
    @services.inflight.tracked
    async def on_message(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await handle_message(services, client, body, event, context, mentioned=False)

    @app.event("app_home_opened")
    @services.inflight.tracked
    async def on_home(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        record = RequestRecord(kind="app_home", event_id=event_id_of(body))
        user = event.get("user")
        if event.get("tab", "home") != "home" or not isinstance(user, str):
            record.finish("ignored")
            return
        await publish_home(services, client, user, record)
        record.emit()


def _route(bot_user_id: str | None, event: dict[str, Any], mentioned: bool) -> tuple[Route | None, str]:
    """Decide whether and where to answer. Returns (route, reason when None)."""
    channel = event.get("channel")
    ts = event.get("ts")
    if not isinstance(channel, str) or not isinstance(ts, str):
        return None, "malformed"
    thread_ts = text_of(event, "thread_ts")
    if mentioned:
        thread = thread_ts or ts
        return Route(channel, thread, thread), ""
    if event.get("channel_type") == "im":
        return Route(channel, thread_ts, thread_ts or DM_THREAD), ""
    if thread_ts is None:
        return None, "not_for_bot"
    if bot_user_id and f"<@{bot_user_id}>" in str(event.get("text", "")):
        # The same message arrives as app_mention too; that listener answers it.
        return None, "mention_handled_elsewhere"
    return Route(channel, thread_ts, thread_ts), "thread_followup"


def next_topic(answer: Answer, previous: str | None) -> str:
    """What the conversation is about after this answer: a topic answered becomes it; a fallback ends the
    old one ("" = answered, no topic, so a rephrased question in the thread is still heard); small talk
    ("thanks") keeps it."""
    if answer.intent is None:
        return ""
    return answer.intent.id if answer.intent.is_topic else (previous or "")


def wants_person(answer: Answer) -> bool:
    """A fallback, or a member asking for a person ("can a real person help?": the contact intent), gets
    the Ask a person button instead of Helpful / Not helpful."""
    return answer.is_fallback or (answer.intent is not None and answer.intent.id == CONTACT)


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
    user = event.get("user")
    # Bots (including ourselves), edits, deletions and other subtypes never get an answer; a member's
    # thread reply also sent to the channel, or a question with a file attached, does.
    if (
        event.get("subtype") not in ANSWERED_SUBTYPES
        or event.get("bot_id")
        or not isinstance(user, str)
        or user == context.bot_user_id
    ):
        record.finish("ignored")
        return
    route, reason = _route(context.bot_user_id, event, mentioned)
    if route is None:
        record.finish(f"ignored:{reason}")
        return
    previous = await services.threads.get(route.channel, route.memory_thread)
    if previous is None and event.get("channel_type") == "im" and route.memory_thread != DM_THREAD:
        # A thread opened under one of our DM answers continues that conversation's topic.
        previous = await services.threads.get(route.channel, DM_THREAD)
    if reason == "thread_followup":
        if previous is None:  # a thread the bot has not answered
            record.finish("ignored:not_our_thread")
            return
        record.kind = "thread_followup"
    elif event.get("channel_type") == "im":
        record.kind = "dm"
    # A mention in a thread is delivered as app_mention and as message: answer it once.
    if not await services.seen.first_time(f"msg:{route.channel}:{event['ts']}"):
        record.finish("duplicate")
        return
    verdict = services.limiter.check(user)
    if verdict != "ok":
        record.outcome = "rate_limited"
        if verdict == "warn":
            content = services.content.current
            notice = content.renderer.notice(texts(services).slow_down)
            await post(client, record, route.channel, route.reply_thread, notice)
        record.emit()
        return
    text = text_of(event, "text") or ""
    log.debug("question event_id=%s text=%r", record.event_id, text)
    question_id = new_question_id()
    try:
        content = services.content.current
        answer = content.engine.answer(text, previous)
        record.intent = answer.intent.id if answer.intent else None
        record.confidence = answer.confidence
        message = content.renderer.with_feedback(
            content.renderer.answer(answer),
            question_id,
            fallback=wants_person(answer),
            handoff=services.settings.handoff_channel is not None,
        )
        delivered = await post(client, record, route.channel, route.reply_thread, message)
        if delivered:
            record.outcome = "fallback" if answer.is_fallback else "answered"
            await services.threads.set(route.channel, route.memory_thread, next_topic(answer, previous))
    except Exception:
        await apologise(client, record, route.channel, route.reply_thread, texts(services).apology)
    record.emit()
    surface: Surface = {"dm": "dm", "app_mention": "mention"}.get(record.kind, "thread")  # type: ignore[assignment]
    log_question(services, question_id, surface, user, record, text, route.channel, text_of(event, "ts"))
