"""Slash commands: the key points command and the messenger command with its sub-commands.

Answers are ephemeral and go back in the ack itself, well within Slack's 3 seconds: matching takes
well under a millisecond. Each carries a "Share in channel" button.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.command_names import Commands
from bot.conversation import Heard, take_turn
from bot.listeners.common import (
    is_staff,
    log_question,
    new_question_id,
    respond_safely,
    services_of,
    text_of,
    texts,
    tracked,
)
from bot.logs import RequestRecord
from bot.routing import MemberCommand, StaffCommand, reload_reply, report_usage, route_command
from bot.services import Services
from bot.timeouts import bounded

log = logging.getLogger("bot.commands")
# Reading and building the staff report: a frozen question log gets this long, then staff are told.
REPORT_SECONDS = 10.0


async def refused_unless_staff(
    services: Services,
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: Any,
    record: RequestRecord,
    route: StaffCommand,
) -> bool:
    """True, after telling the member why, when `user` is not staff (settings ids or user groups)."""
    staff = isinstance(user, str) and await is_staff(services, client, user)
    refusal = route.refusal_for(staff=staff)
    if refusal is None:
        return False
    record.outcome = "refused"
    await respond_safely(respond, record, response_type="ephemeral", text=refusal)
    record.emit()
    return True


def register(app: AsyncApp, commands: Commands) -> None:
    app.command(commands.keypoints)(on_keypoints)
    app.command(commands.messenger)(on_messenger)


@tracked
async def on_keypoints(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await handle(services_of(context), ack, command, respond, client, keypoints=True)


@tracked
async def on_messenger(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    await handle(services_of(context), ack, command, respond, client, keypoints=False)


async def handle(
    services: Services,
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
    *,
    keypoints: bool,
) -> None:
    record = RequestRecord(kind="command")
    user = command.get("user_id")
    text = text_of(command, "text") or ""
    log.debug("command %s text=%r", command.get("command"), text)
    # Every command counts against the member's limit, staff ones too: a refusal still costs a
    # user-group lookup, and a reload rebuilds the content.
    verdict = services.limiter.check(str(user))
    if verdict != "ok":
        record.outcome = "rate_limited"
        if verdict == "warn":
            await ack(text=texts(services).slow_down, response_type="ephemeral")
        else:
            await ack()  # an empty 200: Slack shows nothing
        record.emit()
        return
    route = route_command(text, keypoints=keypoints)
    if isinstance(route, StaffCommand) and route.unclear is not None:
        # `report findings` from a member is a question; from staff, a report asked for wrongly.
        if not (isinstance(user, str) and await is_staff(services, client, user)):
            route = MemberCommand(text)
    if isinstance(route, StaffCommand):
        await ack()
        if route.name == "reload":
            await reload(services, client, respond, user, record, route)
        else:
            await staff_report(services, client, respond, user, record, route)
        return
    question_id = new_question_id()
    handoff = services.settings.handoff_channel is not None
    turn = take_turn(services.content.current, Heard(text, "command", command=route), question_id=question_id,
                   handoff=handoff)  # fmt: skip
    assert turn.message is not None
    record.intent = turn.what
    await ack(response_type="ephemeral", text=turn.message.text, blocks=turn.message.blocks)
    record.finish(turn.outcome)
    if isinstance(user, str):
        question = f"{command.get('command')} {text}".strip()
        log_question(services, question_id, "command", user, record, question, text_of(command, "channel_id"), None)


async def reload(
    services: Services,
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: Any,
    record: RequestRecord,
    route: StaffCommand,
) -> None:
    """Staff-only: reload responses.yaml now and say what happened, errors included."""
    record.intent = "reload"
    if await refused_unless_staff(services, client, respond, user, record, route):
        return
    problems = await services.content.reload()
    count = len(services.content.current.catalogue.intents)
    text = reload_reply([str(p) for p in problems], services.content.path.name, count)
    record.outcome = "reload_refused" if problems else "reloaded"
    await respond_safely(respond, record, response_type="ephemeral", text=text[:3000])
    record.emit()


async def staff_report(
    services: Services,
    client: AsyncWebClient,
    respond: AsyncRespond,
    user: Any,
    record: RequestRecord,
    route: StaffCommand,
) -> None:
    """Staff-only: what members asked in the last N days (default 7), as `python -m bot report` prints it."""
    from bot.report import build_report, format_report
    from bot.safety import for_code_block

    record.intent = "report"
    if await refused_unless_staff(services, client, respond, user, record, route):
        return
    if route.unclear is not None:
        text = report_usage(services.settings.messenger_command)
        await respond_safely(respond, record, response_type="ephemeral", text=text)
        record.finish("usage")
        return
    await services.recorder.flush(1.0)
    try:
        # Slack keeps a slash command's response_url for 30 minutes; a frozen database gets a few seconds.
        report = await bounded(
            build_report(services.recorder.store, services.content.current.engine, route.days), REPORT_SECONDS
        )
    except Exception as exc:
        log.warning("report: question log not read: %s", type(exc).__name__)
        text = "The question log is out of reach, so there is no report for now. Try again in a minute."
        await respond_safely(respond, record, response_type="ephemeral", text=text)
        record.finish("store_unavailable")
        return
    body = format_report(report, shown=for_code_block)
    await respond_safely(respond, record, response_type="ephemeral", text=f"```{body[:2900]}```")
    record.finish("reported")
