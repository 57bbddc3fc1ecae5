"""Helpers every listener uses: the services from Bolt's context, posting with one clear failure line, the
apology, shared texts, who is staff."""

from __future__ import annotations

import datetime
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Message
from bot.logs import RequestRecord
from bot.question_log import QuestionRecord, Surface
from bot.services import Services
from intents.model import Texts

log = logging.getLogger("bot.listeners")
SERVICES = "services"
# A staff user group's members, as Slack last gave them: asked again after this long (a failed ask, after
# USERGROUP_RETRY_SECONDS, meanwhile keeping the last list).
USERGROUP_SECONDS = 60.0
USERGROUP_RETRY_SECONDS = 10.0  # the context key bot.app's middleware puts the Services under


def services_of(context: AsyncBoltContext) -> Services:
    """The project's services, which a global middleware (bot.app) puts in every request's context."""
    return cast(Services, context[SERVICES])


def tracked(listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Count a listener as in flight from its first line (Services.inflight, see InFlight.tracked). The
    listener must take `context`; Bolt passes arguments by name, and functools.wraps keeps the signature
    it reads to choose them."""

    @functools.wraps(listener)
    async def run(**kwargs: Any) -> None:
        await services_of(kwargs["context"]).inflight.tracked(listener)(**kwargs)

    return run


# Member-facing wordings live in responses.yaml (settings.texts); these read the ones in service.


def texts(services: Services) -> Texts:
    return services.content.current.catalogue.settings.texts


async def post(
    client: AsyncWebClient, record: RequestRecord, channel: str, thread_ts: str | None, message: Message
) -> bool:
    """Post a reply; slack_sdk's retry handlers already retried 429s, 5xx and dropped connections.
    If it still fails, log one clear line and carry on: the process keeps serving."""
    try:
        await client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
        )
        return True
    except SlackApiError as exc:
        record.outcome = "post_failed"
        log.error(
            "reply not delivered: event_id=%s method=chat.postMessage error=%s status=%s",
            record.event_id,
            exc.response.get("error"),
            exc.response.status_code,
        )
    except Exception as exc:  # connection errors and time-outs after retries
        record.outcome = "post_failed"
        log.error("reply not delivered: event_id=%s method=chat.postMessage error=%r", record.event_id, exc)
    return False


async def apologise(
    client: AsyncWebClient, record: RequestRecord, channel: str | None, thread_ts: str | None, apology: str
) -> None:
    """A listener raised: tell the member instead of leaving silence, and log it with the event id."""
    log.exception("listener failed: event_id=%s kind=%s", record.event_id, record.kind)
    record.outcome = "error"
    if channel is None:
        return
    try:
        await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=apology)
    except Exception as exc:
        log.error("apology not delivered: event_id=%s error=%r", record.event_id, exc)


def text_of(obj: Any, key: str) -> str | None:
    """obj[key] when obj is an object and the value is text; None otherwise. Payloads are untrusted."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def object_of(obj: Any, key: str) -> dict[str, Any]:
    """obj[key] when it is an object; an empty one otherwise."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def event_id_of(body: dict[str, Any]) -> str | None:
    return text_of(body, "event_id")


async def respond_safely(respond: Any, record: RequestRecord, **kwargs: Any) -> bool:
    """Reply through response_url; a missing or unreachable one is logged, never raised."""
    try:
        await respond(**kwargs)
        return True
    except Exception as exc:
        record.outcome = "respond_failed"
        log.warning("response_url reply failed: kind=%s error=%r", record.kind, exc)
        return False


def new_question_id() -> str:
    """Chosen before the reply is posted, so the reply's feedback buttons can carry it."""
    return secrets.token_hex(8)


def log_question(
    services: Services,
    question_id: str,
    surface: Surface,
    member: str,
    record: RequestRecord,
    text: str | None,
    channel: str | None,
    message_ts: str | None,
) -> None:
    """Hand the question to the question log, after the reply: the write happens in the background."""
    services.recorder.question(
        QuestionRecord(
            id=question_id,
            at=datetime.datetime.now(datetime.UTC),
            surface=surface,
            member=member,
            intent=record.intent,
            confidence=record.confidence,
            outcome=record.outcome,
            text=text if services.settings.question_log else None,
            channel=channel,
            message_ts=message_ts,
        )
    )


async def is_staff(services: Services, client: AsyncWebClient, user: str) -> bool:
    """Whether `user` is staff: in STAFF_USER_IDS, or in a user group of STAFF_USERGROUP_IDS. A group's
    members are asked of Slack at most once a USERGROUP_SECONDS (a burst of Home opens costs one call),
    and when Slack cannot answer, the last list it gave stands: staff keep their staff view through an
    outage. The operator's settings, never the content file's."""
    settings = services.settings
    if user in settings.staff_user_ids:
        return True
    for group in settings.staff_usergroup_ids:
        if user in await _group_members(services, client, group):
            return True
    return False


async def _group_members(services: Services, client: AsyncWebClient, group: str) -> frozenset[str]:
    cached = services.usergroups.get(group)
    if cached is not None and time.monotonic() - cached[0] < USERGROUP_SECONDS:
        return cached[1]
    async with services.usergroup_lock:  # a burst of clicks waits for one answer, not one call each
        return await _ask_group(services, client, group)


async def _ask_group(services: Services, client: AsyncWebClient, group: str) -> frozenset[str]:
    now = time.monotonic()
    cached = services.usergroups.get(group)
    if cached is not None and now - cached[0] < USERGROUP_SECONDS:
        return cached[1]
    try:
        result = await client.usergroups_users_list(usergroup=group)
        members = frozenset(u for u in result.get("users") or [] if isinstance(u, str))
    except Exception as exc:
        log.warning("could not read user group %s: %r", group, exc)
        if cached is not None:
            # Ask again after a short while, not on every click, and keep the last answer meanwhile.
            services.usergroups[group] = (now - USERGROUP_SECONDS + USERGROUP_RETRY_SECONDS, cached[1])
        return cached[1] if cached is not None else frozenset()
    services.usergroups[group] = (now, members)
    return members
