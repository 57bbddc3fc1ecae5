"""The App Home (members' Home, or the staff Home for the content team) and the Teach modal.

Who is staff is decided on the server every time (settings.staff_user_ids / staff_usergroup_ids, as
for `/messenger report`): a member who forges a Teach click or a Save gets a refusal, and nothing is
read or stored for them. A Teach click counts against the clicker's rate limit like a question; Saves
have a limit of their own per staff member.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot import staff_figures, staff_home
from bot.blocks import TEACH_ACTION, TEACH_VIEW
from bot.listeners.common import is_staff, object_of, services_of, text_of, tracked
from bot.logs import RequestRecord
from bot.services import Services
from bot.teaching import teach
from intents.model import KEY_POINTS

log = logging.getLogger("bot.home")
NOT_STAFF = "Sorry, only the content team can teach the bot."
GONE = (
    "These questions were taught already, or are older than four weeks now. Open the Home tab again to see what "
    "is waiting."
)
LOADING = "Reading the questions members asked…"
OUT_OF_REACH = "The question log is out of reach, so nothing was saved. Try again in a minute."


async def publish_home(
    services: Services, client: AsyncWebClient, user: str, record: RequestRecord, notice: str | None = None
) -> None:
    """Publish the user's Home: the staff Home for the content team, the members' Home for anyone else."""
    content = services.content.current
    try:
        if await is_staff(services, client, user):
            record.extra["home"] = "staff"
            view = staff_home.staff_home(services.content.current, await staff_figures.gather(services), notice)
        else:
            view = content.renderer.home(content.catalogue.get(KEY_POINTS))
        await client.views_publish(user_id=user, view=view)
    except Exception as exc:
        record.outcome = "post_failed"
        log.error("home tab not published: event_id=%s error=%r", record.event_id, exc)


async def _open(
    client: AsyncWebClient, trigger_id: str | None, view: dict[str, Any], record: RequestRecord
) -> str | None:
    """Open a modal; its view id, or None when it could not be opened (logged)."""
    if trigger_id is None:
        return None
    try:
        response = await client.views_open(trigger_id=trigger_id, view=view)
    except Exception as exc:
        record.outcome = "post_failed"
        log.error("modal not opened: kind=%s error=%r", record.kind, exc)
        return None
    opened = response.get("view")
    view_id = opened.get("id") if isinstance(opened, dict) else None
    return view_id if isinstance(view_id, str) else ""


async def _update(client: AsyncWebClient, view_id: str, view: dict[str, Any], record: RequestRecord) -> bool:
    """Replace the modal just opened (views.update by its id)."""
    try:
        await client.views_update(view_id=view_id, view=view)
        return True
    except Exception as exc:
        record.outcome = "post_failed"
        log.error("modal not updated: kind=%s error=%r", record.kind, exc)
        return False


def register(app: AsyncApp) -> None:
    app.action(TEACH_ACTION)(on_teach)
    app.view(TEACH_VIEW)(on_save)


@tracked
async def on_teach(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Teach on the staff Home: open the modal for that group, read again from the question log."""
    await ack()
    services = services_of(context)
    record = RequestRecord(kind="teach_open")
    user = text_of(object_of(body, "user"), "id")
    trigger_id = text_of(body, "trigger_id")
    if user is None:
        record.finish("ignored:no_user")
        return
    # Before the staff check: a refusal costs a user-group lookup and a modal.
    if services.limiter.check(user) != "ok":
        record.finish("rate_limited")
        return
    if not await is_staff(services, client, user):
        await _open(client, trigger_id, staff_home.notice_view("Teach the bot", NOT_STAFF), record)
        record.finish("refused:not_staff")
        return
    key = staff_home.valid_key(text_of(action, "value"))
    if key is None:
        record.finish("ignored:bad_key")
        return
    # The trigger_id lasts 3 seconds: open the modal at once, then fill it in when the group is read.
    view_id = await _open(client, trigger_id, staff_home.notice_view("Teach the bot", LOADING), record)
    if view_id is None:
        record.finish(record.outcome)
        return
    try:
        group = await staff_figures.find_group(services, key)
    except Exception as exc:
        log.warning("teach: question log not read: %s", type(exc).__name__)
        await _update(client, view_id, staff_home.notice_view("Teach the bot", OUT_OF_REACH), record)
        record.finish("store_unavailable")
        return
    catalogue = services.content.current.catalogue
    if group is None:
        await _update(client, view_id, staff_home.notice_view("Teach the bot", GONE), record)
        record.finish("gone")
        return
    record.intent = group.group.suggested
    opened = await _update(client, view_id, staff_home.teach_view(group, catalogue), record)
    record.extra["questions"] = len(group.texts)
    record.finish("opened" if opened else record.outcome)


@tracked
async def on_save(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Save in the Teach modal. Everything is checked again (staff, the intent, which questions) before
    the modal closes; then the labels are stored and this instance retrains, and the Home shows it."""
    services = services_of(context)
    record = RequestRecord(kind="teach")
    user = text_of(object_of(body, "user"), "id")
    view = object_of(body, "view")

    async def refuse(message: str, outcome: str) -> None:
        await ack(response_action="errors", errors={staff_home.INTENT_BLOCK: message})
        record.finish(outcome)

    if user is None or not await is_staff(services, client, user):
        await refuse(NOT_STAFF, "refused:not_staff")
        return
    if not await services.may_save(user):
        await refuse("That is a lot of saves in a minute: wait a moment, then Save again.", "rate_limited")
        return
    catalogue = services.content.current.catalogue
    valid, intent = staff_home.chosen_intent(view, catalogue)
    hashes = staff_home.read_metadata(view.get("private_metadata"))
    if not valid:
        await refuse("Choose an answer from the list.", "refused:bad_intent")
        return
    if hashes is None:
        await refuse("This form is not one the bot opened: close it and click Teach again.", "refused:bad_metadata")
        return
    try:
        key = staff_home.read_key(view.get("private_metadata"))
        texts = await staff_figures.chosen_texts(services, key, hashes)
    except Exception as exc:
        log.warning("teach: question log not read: %s", type(exc).__name__)
        await refuse(OUT_OF_REACH, "store_unavailable")
        return
    if not texts:
        await refuse(GONE, "gone")
        return
    await ack()  # closes the modal: storing and retraining may take longer than Slack waits
    record.intent = intent or "off-topic"
    record.extra.update(questions=len(texts), staff=services.recorder.member_hash(user)[:12])
    chosen = catalogue.get(intent)
    title = chosen.title if chosen is not None else "off-topic"
    try:
        await teach(services, texts, intent, user)
        record.outcome = "taught"
        notice = f":white_check_mark: Taught {len(texts)} question{'s' if len(texts) != 1 else ''} as *{title}*."
    except ValueError:  # the intent went in a reload between the check and now
        record.outcome = "refused:bad_intent"
        notice = f":warning: Not saved: *{title}* is no longer in the content file."
    except Exception as exc:
        record.outcome = "store_unavailable"
        log.error("teach: labels not stored: %s", type(exc).__name__)
        notice = f":warning: Not saved: {OUT_OF_REACH}"
    await publish_home(services, client, user, record, notice)
    record.emit()
