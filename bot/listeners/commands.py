"""Slash commands: the key points command and the messenger command with its sub-commands.

Answers are ephemeral and go back in the ack itself, well within Slack's 3 seconds: matching takes
well under a millisecond. Each carries a "Share in channel" button.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Message
from bot.content import Content
from bot.listeners.common import log_question, new_question_id, respond_safely, text_of, texts
from bot.runtime import RequestRecord, Services
from intents import Answer
from intents.model import HELP, KEY_POINTS, OFFERS_OVERVIEW, RECOMMENDATIONS

log = logging.getLogger("bot.commands")

_REC = re.compile(r"^(?:recommendation|rec)\s*(?:no\.?|number|#)?\s*(\S+)$")
FALLBACK = "fallback"
# Replies that answer nothing a member could rate: a list to choose from, or a usage note.
NOT_ANSWERS = frozenset({"signup_list", "recommendation_unknown"})
REFUSE_REPORT = "Sorry, only the content team can see the question report."
REFUSE_RELOAD = "Sorry, only the content team can reload the bot's answers. Ask them if something looks out of date."


def _intent_answer(content: Content, intent_id: str, question: str) -> Answer | None:
    intent = content.catalogue.get(intent_id)
    if intent is None:
        return None
    return Answer.chosen(intent, question=question)


def offers_intro(content: Content) -> str:
    return content.catalogue.settings.texts.offers_intro


_STAFF = re.compile(r"^(reload|report)(?:\s+\d{1,4})?$")


def staff_subcommand(text: str) -> str | None:
    """'reload' or 'report' when `/messenger <text>` is one of the staff-only sub-commands (`reload`,
    `report`, `report 30`), else None: "report on the review's findings" is a member's question."""
    found = _STAFF.match(" ".join(text.lower().split()))
    if found is None or (found.group(1) == "reload" and found.group(0) != "reload"):
        return None
    return found.group(1)


def route_command(content: Content, text: str, *, keypoints: bool = False) -> tuple[str, Message]:
    """Map a slash command's text to (what it was, the ephemeral reply)."""
    renderer = content.renderer
    words = text.strip().lower()
    fixed = {
        "": HELP,
        "help": HELP,
        "key-points": KEY_POINTS,
        "keypoints": KEY_POINTS,
        "key points": KEY_POINTS,
        "recommendations": RECOMMENDATIONS,
        "recs": RECOMMENDATIONS,
    }
    if keypoints:
        words = "key-points"
    if words == "offers":
        return OFFERS_OVERVIEW, renderer.offers(offers_intro(content), shareable=True)
    if words in fixed:
        answer = _intent_answer(content, fixed[words], text)
        if answer is not None:
            return fixed[words], renderer.answer(answer, shareable=True)
    if _REC.match(words):
        target = content.engine.recommendation_named(words)
        answer = _intent_answer(content, target.id, text) if target else None
        if answer is not None:
            return answer.intent.id, renderer.answer(answer, shareable=True)  # type: ignore[union-attr]
        count = content.engine.recommendation_count
        return "recommendation_unknown", renderer.notice(
            f"There are {count} recommendations: try `recommendation 1` to `recommendation {count}`."
        )
    if words in ("signup", "sign up", "sign-up") or words.startswith(("signup ", "sign up ", "sign-up ")):
        offer_text = re.sub(r"^sign[\s-]?up\s*", "", words)
        offer = content.engine.signup_offer(offer_text)
        if offer is None:
            wording = content.catalogue.settings.texts
            intro = wording.offers_unclear if offer_text else wording.offers_intro
            return "signup_list", renderer.offers(intro)
        answer = Answer.chosen(offer, "signup", text)
        return offer.id, renderer.answer(answer, shareable=True)
    answer = content.engine.answer(text)
    return answer.intent.id if answer.intent else FALLBACK, renderer.answer(answer, shareable=True)


async def is_staff(services: Services, client: AsyncWebClient, user: str) -> bool:
    """Whether `user` is staff: in STAFF_USER_IDS, or in a user group of STAFF_USERGROUP_IDS (asked of
    Slack each time). The operator's settings, never the content file's."""
    settings = services.settings
    if user in settings.staff_user_ids:
        return True
    for group in settings.staff_usergroup_ids:
        try:
            result = await client.usergroups_users_list(usergroup=group)
        except Exception as exc:
            log.warning("could not read user group %s: %r", group, exc)
            continue
        if user in (result.get("users") or []):
            return True
    return False


async def refused_unless_staff(
    services: Services, client: AsyncWebClient, respond: AsyncRespond, user: Any, record: RequestRecord, refusal: str
) -> bool:
    """True, after telling the member `refusal`, when `user` is not staff (settings ids or user groups)."""
    if isinstance(user, str) and await is_staff(services, client, user):
        return False
    record.outcome = "refused"
    await respond_safely(respond, record, response_type="ephemeral", text=refusal)
    record.emit()
    return True


def register(app: AsyncApp, services: Services) -> None:
    settings = services.settings

    async def handle(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, *, keypoints: bool
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
        staff = None if keypoints else staff_subcommand(text)
        if staff == "reload":
            await ack()
            await reload(services, client, respond, user, record)
            return
        if staff == "report":
            await ack()
            await staff_report(services, client, respond, user, record, text)
            return
        content = services.content.current
        what, message = route_command(content, text, keypoints=keypoints)
        record.intent = what
        question_id = new_question_id()
        if what not in NOT_ANSWERS:
            handoff = services.settings.handoff_channel is not None
            message = content.renderer.with_feedback(message, question_id, fallback=what == FALLBACK, handoff=handoff)
        elif message.handoff:  # a list of offers none of which is open: the team knows what runs now
            handoff = services.settings.handoff_channel is not None
            message = Message(
                message.text, [*message.blocks, content.renderer.handoff_block(question_id, handoff=handoff)]
            )
        await ack(response_type="ephemeral", text=message.text, blocks=message.blocks)
        record.finish("fallback" if what == FALLBACK else "answered")
        if isinstance(user, str):
            question = f"{command.get('command')} {text}".strip()
            log_question(services, question_id, "command", user, record, question, text_of(command, "channel_id"), None)

    @app.command(settings.keypoints_command)
    @services.inflight.tracked
    async def on_keypoints(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await handle(ack, command, respond, client, keypoints=True)

    @app.command(settings.messenger_command)
    @services.inflight.tracked
    async def on_messenger(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await handle(ack, command, respond, client, keypoints=False)


async def reload(
    services: Services, client: AsyncWebClient, respond: AsyncRespond, user: Any, record: RequestRecord
) -> None:
    """Staff-only: reload responses.yaml now and say what happened, errors included."""
    record.intent = "reload"
    if await refused_unless_staff(services, client, respond, user, record, REFUSE_RELOAD):
        return
    problems = await services.content.reload()
    if problems:
        lines = "\n".join(f"• `{p}`" for p in problems[:20])
        more = f"\n…and {len(problems) - 20} more" if len(problems) > 20 else ""
        text = f"Reload refused: the file has errors, so I'm still using the previous version.\n{lines}{more}"
        record.outcome = "reload_refused"
    else:
        count = len(services.content.current.catalogue.intents)
        text = f"Reloaded {services.content.path.name}: {count} intents in service."
        record.outcome = "reloaded"
    await respond_safely(respond, record, response_type="ephemeral", text=text[:3000])
    record.emit()


async def staff_report(
    services: Services, client: AsyncWebClient, respond: AsyncRespond, user: Any, record: RequestRecord, text: str
) -> None:
    """Staff-only: what members asked in the last N days (default 7), as `python -m bot report` prints it."""
    from bot.report import build_report, format_report

    record.intent = "report"
    if await refused_unless_staff(services, client, respond, user, record, REFUSE_REPORT):
        return
    words = text.split()
    days = int(words[1]) if len(words) > 1 and words[1].isdigit() and 0 < int(words[1]) <= 3650 else 7
    await services.recorder.flush()
    report = await build_report(services.recorder.store, services.content.current.engine, days)
    body = format_report(report)
    await respond_safely(respond, record, response_type="ephemeral", text=f"```{body[:2900]}```")
    record.finish("reported")
