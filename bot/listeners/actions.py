"""Button clicks: topic buttons post that topic's answer; "Share in channel" posts an ephemeral answer
for everyone; link buttons open in the browser and only need an ack."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import (
    DONE_ACTION,
    FEEDBACK_ACTION,
    HANDOFF_ACTION,
    LINK_ACTION,
    SECTION_LIMIT,
    SHARE_ACTION,
    TAKE_ACTION,
    TOPIC_ACTION,
    Message,
)
from bot.conversation import Heard, picked_for, take_turn
from bot.listeners.common import (
    apologise,
    is_staff,
    log_question,
    new_question_id,
    object_of,
    post,
    respond_safely,
    services_of,
    text_of,
    texts,
    tracked,
)
from bot.logs import RequestRecord
from bot.question_log import HandoffOwners, StoredQuestion
from bot.routing import TopicClick, route_topic_click
from bot.safety import escape
from bot.services import Services
from bot.timeouts import bounded
from intents import Answer
from intents.model import OFFERS_OVERVIEW, ContentSettings, Mode

log = logging.getLogger("bot.actions")
# Two clicks on the same button within this many seconds post one answer.
CLICK_WINDOW_SECONDS = 30.0
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
SHAREABLE_MODES: tuple[Mode, ...] = ("full", "signup", "read", "more")
HANDOFF_LOCK_SECONDS = 30.0
# Take it / Done wait this long for the question log, then say it could not be recorded.
OWNER_SECONDS = 5.0
# Room for the quoted question in one section block (Slack's limit is 3,000 characters).
QUOTE_LIMIT = 2800
_PERMALINK = re.compile(r"^https://[^\s<>|]+$")


def _container(body: dict[str, Any]) -> tuple[str | None, str | None, bool]:
    container = object_of(body, "container")
    channel = text_of(container, "channel_id") or text_of(object_of(body, "channel"), "id")
    return channel, text_of(container, "message_ts"), bool(container.get("is_ephemeral"))


def _user(body: dict[str, Any]) -> str | None:
    return text_of(object_of(body, "user"), "id")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def _permalink(client: AsyncWebClient, stored: StoredQuestion | None) -> str | None:
    # Only a channel's id is kept as it is (C... public, G... private); a DM's is kept as a token, and
    # staff could not open a member's DM anyway.
    if stored is None or not stored.channel or not stored.message_ts or stored.channel[:1] not in ("C", "G"):
        return None
    try:
        result = await client.chat_getPermalink(channel=stored.channel, message_ts=stored.message_ts)
    except Exception as exc:
        log.warning("no permalink for the hand-off: %r", exc)
        return None
    link = result.get("permalink")
    return link if isinstance(link, str) else None


def handoff_message(user: str, stored: StoredQuestion | None, permalink: str | None, question_id: str) -> Message:
    """The staff channel's message. Everything the member wrote is escaped the way Slack escapes text
    (never parsed for mentions) and quoted whole, line by line, in a block of its own, so no line of it
    can pass for the bot's own lines below it."""
    header = f"*Question from <@{user}>*" if _USER_ID.match(user) else "*A member's question*"
    if stored is None:
        quoted = "_(the question could not be read: the question log is out of reach; ask the member)_"
        guess = "unknown"
    else:
        quoted = _quote(stored.text) if stored.text is not None else "_(not kept: QUESTION_LOG is off)_"
        guess = f"`{stored.intent}`" if stored.intent else "none (it fell back)"
        guess += f" at {stored.confidence:.2f}" if stored.confidence is not None else ""
    if permalink is not None and _PERMALINK.match(permalink):
        where = f"<{permalink}|Open the member's thread>"
    elif stored is None:
        where = "No link: the question log is out of reach."
    elif stored.channel and stored.message_ts and stored.channel[:1] in ("C", "G"):
        where = "No link: Slack did not give one for the member's message."
    else:
        where = "No link: it was asked by slash command, a button or in a direct message."
    blocks: list[dict[str, Any]] = [
        _section(header),
        # verbatim: Slack parses nothing in it, not even a plain @channel (the message's link_names and
        # parse options do the same for the text; this holds for the block).
        {"type": "section", "text": {"type": "mrkdwn", "text": quoted, "verbatim": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Best guess: {guess}"}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": where}]},
        *owner_blocks(question_id, None),
    ]
    return Message(text=f"{header}\n{quoted}"[:SECTION_LIMIT], blocks=blocks)


# The hand-off message's last blocks, which Take it and Done replace: who has it, and what is left to do.
OWNER_BLOCK = "handoff_owner"
OWNER_ACTIONS = "handoff_actions"


def owner_blocks(question_id: str, owners: HandoffOwners | None) -> list[dict[str, Any]]:
    """Nobody yet: Take it and Done. Taken: who has it, and Done. Done: who took it and who closed it."""
    taken = owners.taken_by if owners is not None else None
    done = owners.done_by if owners is not None else None

    def button(action_id: str, label: str, style: str | None = None) -> dict[str, Any]:
        b = {
            "type": "button",
            "action_id": action_id,
            "value": question_id,
            "text": {"type": "plain_text", "text": label},
        }
        return {**b, "style": style} if style else b

    if done is not None:
        status = f"Done by {_person(done)}" + (f" (taken by {_person(taken)})" if taken and taken != done else "")
        return [{"type": "context", "block_id": OWNER_BLOCK, "elements": [{"type": "mrkdwn", "text": status}]}]
    status = f"Taken by {_person(taken)}" if taken else "Nobody has taken this yet."
    actions = (
        [button(DONE_ACTION, "Done")]
        if taken
        else [button(TAKE_ACTION, "Take it", "primary"), button(DONE_ACTION, "Done")]
    )
    return [
        {"type": "context", "block_id": OWNER_BLOCK, "elements": [{"type": "mrkdwn", "text": status}]},
        {"type": "actions", "block_id": OWNER_ACTIONS, "elements": actions},
    ]


def _person(user: str) -> str:
    # Ids only from our own database, written from Slack's own payloads; anything else is named plainly.
    return f"<@{user}>" if _USER_ID.match(user) else "a former member of staff"


def _quote(text: str) -> str:
    """Escaped and quoted, every line; cut (with a mark) to fit one section block."""
    quoted = "\n".join("> " + escape(line) for line in (text.splitlines() or [""]))
    if len(quoted) <= QUOTE_LIMIT:
        return quoted
    cut = quoted[:QUOTE_LIMIT]
    entity = cut.rfind("&", len(cut) - 4)  # never end inside &amp; &lt; or &gt;
    if entity != -1 and ";" not in cut[entity:]:
        cut = cut[:entity]
    return cut.rstrip("\n") + " …"


async def _rate_limited(services: Services, user: str, record: RequestRecord, respond: AsyncRespond) -> bool:
    """Clicks that post an answer count against the member's limit, like questions: one note, then silence."""
    verdict = services.limiter.check(user)
    if verdict == "ok":
        return False
    if verdict == "warn":
        await respond_safely(respond, record, response_type="ephemeral", replace_original=False,
                                 text=texts(services).slow_down)  # fmt: skip
    record.finish("rate_limited")
    return True


async def _pass_on(
    services: Services,
    client: AsyncWebClient,
    respond: AsyncRespond,
    record: RequestRecord,
    settings: ContentSettings,
    question_id: str,
    user: str,
    stored: StoredQuestion | None,
) -> None:
    """Post the hand-off to the staff channel; only once it is there is it recorded as handed off."""
    channel = services.settings.handoff_channel
    assert channel is not None
    message = handoff_message(user, stored, await _permalink(client, stored), question_id)
    try:
        await client.chat_postMessage(
            channel=channel,
            text=message.text,
            blocks=message.blocks,
            unfurl_links=False,
            unfurl_media=False,
            link_names=False,  # no name in the text becomes a mention, whatever it says
            parse="none",
        )
    except Exception as exc:
        record.outcome = "post_failed"
        log.error("hand-off not posted: channel=%s error=%s", channel, _short(exc))
        await respond_safely(respond, record, response_type="ephemeral", replace_original=False,
                             text=settings.contact_text)  # fmt: skip
        record.emit()
        return
    services.recorder.handoff(question_id, user)
    await respond_safely(respond, record, response_type="ephemeral", replace_original=False, text=settings.handoff_text)
    record.finish("handed_off")


def _handoff(services: Services) -> bool:
    """Whether Ask a person posts to a staff channel (HANDOFF_CHANNEL set), or opens the contact page."""
    return services.settings.handoff_channel is not None


def _short(exc: BaseException) -> str:
    """Slack's error code, or the exception's type: never a message that could hold member text."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def register(app: AsyncApp) -> None:
    app.action(re.compile(rf"^{LINK_ACTION}:"))(on_link)
    app.action(re.compile(rf"^{TOPIC_ACTION}:"))(on_topic)
    app.action(re.compile(rf"^{FEEDBACK_ACTION}:(helpful|not_helpful)$"))(on_feedback)
    app.action(HANDOFF_ACTION)(on_handoff)
    app.action(TAKE_ACTION)(on_owner)
    app.action(DONE_ACTION)(on_owner)
    app.action(SHARE_ACTION)(on_share)


@tracked
async def on_link(ack: AsyncAck, context: AsyncBoltContext) -> None:
    await ack()  # URL buttons open in the browser; Slack still tells us, and wants an ack
    RequestRecord(kind="link_click", outcome="acked").emit()


@tracked
async def on_topic(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    services = services_of(context)
    record = RequestRecord(kind="block_actions")
    channel, message_ts, ephemeral = _container(body)
    user = _user(body)
    content = services.content.current
    intent = content.catalogue.get(text_of(action, "value"))
    if intent is None or channel is None or user is None:
        record.finish("ignored:unknown_topic")
        return
    record.intent = intent.id
    message_obj = object_of(body, "message")
    route = route_topic_click(
        TopicClick(
            channel=channel,
            user=user,
            action_id=text_of(action, "action_id"),
            container_ts=message_ts,
            message_ts=text_of(message_obj, "ts"),
            message_thread_ts=text_of(message_obj, "thread_ts"),
            ephemeral=ephemeral,
        )
    )
    if await _rate_limited(services, user, record, respond):
        return
    asked = picked_for(text_of(action, "block_id"))
    if asked is not None:
        # A choice the bot offered (a question back, "did you mean"): kept with the question as the
        # member's own pick, for staff to see in Teach; the store keeps only the asker's. Kept even when
        # someone else's click on the same choices already posted the answer.
        services.recorder.picked(asked, user, intent.id)
    if not await services.seen.first_time(route.once_key, CLICK_WINDOW_SECONDS):
        record.finish("duplicate")
        return
    thread_ts = route.reply_thread
    question_id = new_question_id()
    heard = Heard(intent.title, "button", picked=intent, shareable=ephemeral)
    try:
        turn = take_turn(content, heard, question_id=question_id, handoff=_handoff(services))
        assert turn.message is not None
        message = turn.message
        if ephemeral:
            if await respond_safely(
                respond, record, response_type="ephemeral", replace_original=False,
                text=message.text, blocks=message.blocks,
            ):  # fmt: skip
                record.outcome = turn.outcome
        elif await post(client, record, channel, thread_ts, message):
            if route.memory_thread is not None and turn.remember is not None:
                await services.threads.set(channel, route.memory_thread, turn.remember)
            record.outcome = turn.outcome
    except Exception:
        await apologise(client, record, None if ephemeral else channel, thread_ts, texts(services).apology)
    record.emit()
    log_question(services, question_id, "button", user, record, intent.title, channel, message_ts)


@tracked
async def on_feedback(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """One vote per member per answer (a later click changes it), acknowledged only to the voter."""
    await ack()
    services = services_of(context)
    record = RequestRecord(kind="feedback")
    question_id, user = text_of(action, "value"), _user(body)
    if not question_id or user is None:
        record.finish("ignored:bad_feedback")
        return
    if await _rate_limited(services, user, record, respond):  # each vote is a row and a reply
        return
    question, known = await services.recorder.lookup(question_id)
    if question is None and known:
        # No answer of ours carries this id: a made-up click. Nothing is stored or counted.
        record.finish("ignored:unknown_question")
        return
    helpful = text_of(action, "action_id") == f"{FEEDBACK_ACTION}:helpful"
    services.recorder.feedback(question_id, user, helpful)
    renderer = services.content.current.renderer
    wording = texts(services)
    if helpful:
        blocks = [_section(wording.thanks_helpful)]
        text = wording.thanks_helpful
    else:
        blocks = [
            _section(wording.sorry_not_helpful),
            renderer.handoff_block(question_id, handoff=_handoff(services)),
        ]
        text = wording.sorry_not_helpful
    await respond_safely(respond, record, response_type="ephemeral", replace_original=False, text=text, blocks=blocks)
    record.finish("helpful" if helpful else "not_helpful")


@tracked
async def on_handoff(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Ask a person: the question, the member, the bot's best guess and a link to the thread go to the
    staff channel; the member is told, in the content's words, who will reply. Only the member who
    asked may pass a question on, once, and a few times an hour at most."""
    await ack()
    services = services_of(context)
    record = RequestRecord(kind="handoff")
    question_id, user = text_of(action, "value"), _user(body)
    settings = services.content.current.catalogue.settings
    wording = settings.texts
    if not question_id or user is None or not services.settings.handoff_channel:
        record.finish("ignored:no_handoff")
        return

    async def tell(text: str, outcome: str) -> None:
        await respond_safely(respond, record, response_type="ephemeral", replace_original=False, text=text)
        record.finish(outcome)

    # Refusals cost a read of the log: every click counts against the member's limit, like a question.
    if await _rate_limited(services, user, record, respond):
        return
    stored, known = await services.recorder.lookup(question_id)
    if stored is None and known:  # a made-up id, or a question past its retention
        await tell(f"{wording.handoff_unknown} {settings.contact_text}", "refused:unknown_question")
        return
    # With the log out of reach (stored None, not known) the member still reaches a person: staff get
    # who asked and no text, so a click on a question not theirs would give away nothing.
    if stored is not None and stored.member_hash != services.recorder.member_hash(user):
        await tell(wording.handoff_not_yours, "refused:not_the_asker")
        return
    if stored is not None and stored.handed_off:  # the log holds it (or holds it waiting to be written)
        await tell(wording.already_handed_off, "duplicate")
        return
    if not await services.may_hand_off(user):
        await tell(f"{wording.handoff_too_many} {settings.contact_text}", "rate_limited")
        return
    # Two clicks arriving together, on this instance or another sharing Redis: one passes. The mark
    # is short-lived: a hand-off that fails can be tried again, and one that succeeds is in the log.
    passing = services.handing_off
    if question_id in passing or not await services.seen.first_time(f"handoff:{question_id}", HANDOFF_LOCK_SECONDS):
        await tell(wording.already_handed_off, "duplicate")
        return
    passing.add(question_id)
    try:
        await _pass_on(services, client, respond, record, settings, question_id, user, stored)
    finally:
        passing.discard(question_id)


@tracked
async def on_owner(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Take it and Done on the staff channel's hand-off message. Whoever clicks must be staff (the lists
    in settings, checked here whatever the payload says), in the hand-off channel; the first to take
    it has it, on any instance; the message then shows who."""
    await ack()
    services = services_of(context)
    take = text_of(action, "action_id") == TAKE_ACTION
    record = RequestRecord(kind="handoff_take" if take else "handoff_done")
    question_id, user = text_of(action, "value"), _user(body)
    channel, message_ts, _ = _container(body)

    async def tell(text: str, outcome: str) -> None:
        await respond_safely(respond, record, response_type="ephemeral", replace_original=False, text=text)
        record.finish(outcome)

    if not question_id or user is None or channel is None or message_ts is None:
        record.finish("ignored:bad_click")
        return
    if await _rate_limited(services, user, record, respond):
        return
    if not services.settings.handoff_channel or channel != services.settings.handoff_channel:
        await tell("Hand-offs are taken in the staff channel only.", "refused:wrong_channel")
        return
    if not await is_staff(services, client, user):
        await tell("Only staff can take or close a hand-off.", "refused:not_staff")
        return
    store = services.recorder.store
    try:
        change = store.handoffs.take if take else store.handoffs.finish
        owners = await bounded(change(question_id, user), OWNER_SECONDS)
        if owners is None:  # the hand-off may still be waiting in the recorder's queue
            await services.recorder.flush(OWNER_SECONDS)
            owners = await bounded(change(question_id, user), OWNER_SECONDS)
    except Exception as exc:
        log.warning("hand-off %s not recorded: %s", record.kind, _short(exc))
        await tell("That could not be recorded: the question log is out of reach. Try again in a minute.",
                   "store_failed")  # fmt: skip
        return
    if owners is None:
        await tell("The question log holds no hand-off of this question.", "refused:unknown_handoff")
        return
    if take and owners.taken_by != user:
        await tell(f"{_person(owners.taken_by or '')} already has this one.", "refused:taken")
        return
    if not take and owners.done_by != user:
        await tell(f"{_person(owners.done_by or '')} already closed this one.", "refused:done")
        return
    record.extra["staff"] = services.recorder.member_hash(user)[:12]
    blocks = [b for b in (object_of(body, "message").get("blocks") or []) if isinstance(b, dict)]
    kept = [b for b in blocks if b.get("block_id") not in (OWNER_BLOCK, OWNER_ACTIONS)]
    text = text_of(object_of(body, "message"), "text") or "A member's question"
    try:
        # As the message was first posted: nothing in the member's words becomes a mention.
        await client.chat_update(channel=channel, ts=message_ts, text=text, link_names=False, parse="none",
                                 blocks=[*kept, *owner_blocks(question_id, owners)])  # fmt: skip
    except Exception as exc:
        log.error("hand-off message not updated: error=%s", _short(exc))
        record.finish("recorded:update_failed")
        return
    record.finish("taken" if take else "done")


@tracked
async def on_share(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    services = services_of(context)
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
    if await _rate_limited(services, user, record, respond):
        return
    if intent is None:
        message = content.renderer.offers(content.catalogue.settings.texts.offers_intro)
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
        await respond_safely(respond, record, response_type="ephemeral", replace_original=False,
                             text=texts(services).cannot_post)  # fmt: skip
    record.emit()
