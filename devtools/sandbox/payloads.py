"""The requests Slack would send for what a staff member does on the page, built from Slack's own payload
shapes (payloads.json, copied from tests/data/slack/, each naming its documentation page).

Only the parts a real request varies are filled in: the text, the member's rich_text block, ids, times
and the response_url. Everything else stays exactly as Slack's documentation shows it.
"""

from __future__ import annotations

import copy
import json
import secrets
import string
import time
import uuid
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from devtools.standin import BOT_USER_ID

MEMBER = "U0000001"
# The sandbox's staff member: the sandbox's settings name them staff, so "View as staff" shows the staff
# Home and its Teach modal without touching settings.staff_user_ids in the content file.
STAFF = "USTAFF001"
USER_NAMES = {MEMBER: "member", STAFF: "staff"}
DM = "D0000001"
GENERAL = "C0000001"
CHANNEL_NAMES = {DM: "directmessage", GENERAL: "general"}
_ID_CHARS = string.ascii_uppercase + string.digits


@cache
def _templates() -> dict[str, Any]:
    text = resources.files("devtools.sandbox").joinpath("payloads.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def template(name: str) -> dict[str, Any]:
    """A fresh copy of one payload shape's body."""
    body: dict[str, Any] = copy.deepcopy(_templates()[name]["body"])
    return body


def new_event_id() -> str:
    return "Ev" + "".join(secrets.choice(_ID_CHARS) for _ in range(10))


def new_trigger_id() -> str:
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


class Clock:
    """Message times as Slack writes them ("1780000343.172211"), unique and increasing."""

    def __init__(self) -> None:
        self._last = 0.0

    def ts(self) -> str:
        now = max(time.time(), self._last + 0.000001)
        self._last = now
        return f"{now:.6f}"


def rich_text(text: str, mention: bool) -> list[dict[str, Any]]:
    """The rich_text block Slack adds to a member's message: a user element for the mention, then the
    text, which starts with a space after a mention."""
    elements: list[dict[str, Any]] = []
    if mention:
        elements.append({"type": "user", "user_id": BOT_USER_ID})
        text = f" {text}"
    elements.append({"type": "text", "text": text})
    block_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(4))
    return [
        {"type": "rich_text", "block_id": block_id, "elements": [{"type": "rich_text_section", "elements": elements}]}
    ]


def message_event(
    kind: str,
    text: str,
    channel: str,
    ts: str,
    thread_ts: str | None = None,
    parent_user_id: str | None = None,
    user: str = MEMBER,
) -> dict[str, Any]:
    """An Events API body: kind is message_im (a DM), app_mention or message_channel (message.channels)."""
    body = template(kind)
    event = body["event"]
    mention = kind == "app_mention" or text.startswith(f"<@{BOT_USER_ID}>")
    plain = text.removeprefix(f"<@{BOT_USER_ID}>").lstrip() if mention else text
    event.update(
        text=f"<@{BOT_USER_ID}> {plain}" if mention else text,
        ts=ts,
        event_ts=ts,
        channel=channel,
        user=user,
        client_msg_id=str(uuid.uuid4()),
        blocks=rich_text(plain, mention),
    )
    event.pop("thread_ts", None)
    event.pop("parent_user_id", None)
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or MEMBER
    return _wrapped(body)


def home_opened(view: dict[str, Any] | None, user: str = MEMBER) -> dict[str, Any]:
    """app_home_opened; Slack includes the Home view once one was published for the member."""
    body = template("app_home_opened")
    event = body["event"]
    event["user"] = user
    event["event_ts"] = Clock().ts()
    if view is None:
        event.pop("view", None)
    else:
        event["view"] = {**event["view"], **view}
    return _wrapped(body)


def _wrapped(body: dict[str, Any]) -> dict[str, Any]:
    body["event_id"] = new_event_id()
    body["event_time"] = int(time.time())
    return body


def slash_command(command: str, text: str, channel: str, response_url: str, user: str = MEMBER) -> str:
    """A slash command's form-encoded fields."""
    fields = template("slash_command")
    fields.update(
        command=command,
        text=text,
        channel_id=channel,
        channel_name=CHANNEL_NAMES.get(channel, channel.lower()),
        user_id=user,
        user_name=USER_NAMES.get(user, user.lower()),
        response_url=response_url,
        trigger_id=new_trigger_id(),
    )
    return urlencode(fields)


def block_actions(
    element: dict[str, Any],
    block_id: str,
    response_url: str,
    *,
    message: dict[str, Any] | None = None,
    channel: str | None = None,
    ephemeral: bool = False,
    view: dict[str, Any] | None = None,
    user: str = MEMBER,
) -> str:
    """A button click, form-encoded as Slack sends it. On a message: `container` names it, and `message`
    is the message as Slack stores it (left out for an ephemeral one, as Slack does). On the Home
    tab: the container is the view."""
    action: dict[str, Any] = {k: element[k] for k in ("action_id", "text", "value", "url", "style") if k in element}
    action.update(block_id=block_id, type="button", action_ts=Clock().ts())
    if view is not None:
        payload = template("block_actions_view")
        payload["view"] = {**payload["view"], **view}
        payload["container"]["view_id"] = payload["view"]["id"]
    else:
        assert message is not None and channel is not None
        payload = template("block_actions")
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        payload["container"] = container
        payload["channel"] = {"id": channel, "name": CHANNEL_NAMES.get(channel, channel.lower())}
        if ephemeral:
            del payload["message"]
        else:
            payload["message"] = {**payload["message"], **message}
            if not message.get("thread_ts"):
                payload["message"].pop("thread_ts", None)
                payload["message"].pop("parent_user_id", None)
    payload.update(response_url=response_url, trigger_id=new_trigger_id(), actions=[action])
    _as_user(payload, user)
    return urlencode({"payload": json.dumps(payload)})


def _as_user(payload: dict[str, Any], user: str) -> None:
    name = USER_NAMES.get(user, user.lower())
    payload["user"] = {**payload["user"], "id": user, "username": name, "name": name}


def view_submission(view: dict[str, Any], chosen: dict[str, dict[str, str]], user: str = MEMBER) -> str:
    """Save on a modal, form-encoded as Slack sends it: the modal as Slack stored it, and the state of its
    inputs. `chosen` is {block_id: {action_id: value}}; a static_select's state is the option chosen, as
    the modal offered it (a value it did not offer is sent as it is, which Slack never does)."""
    payload = template("view_submission")
    stored = {k: view[k] for k in ("id", "blocks", "private_metadata", "callback_id", "title", "close", "submit")
              if k in view}  # fmt: skip
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") or {}
        if block.get("type") != "input" or element.get("type") != "static_select":
            continue
        value = chosen.get(block.get("block_id", ""), {}).get(element.get("action_id", ""))
        options = list(element.get("options") or [])
        for group in element.get("option_groups") or []:
            options.extend(group.get("options") or [])
        option = next((o for o in options if o.get("value") == value), None)
        if option is None and value is not None:
            option = {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
        values.setdefault(block["block_id"], {})[element["action_id"]] = {
            "type": "static_select",
            "selected_option": option,
        }
    payload["view"] = {**payload["view"], **stored, "root_view_id": view.get("id"), "state": {"values": values}}
    payload["trigger_id"] = new_trigger_id()
    _as_user(payload, user)
    return urlencode({"payload": json.dumps(payload)})
