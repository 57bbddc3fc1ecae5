"""Where a message, slash command or topic click is answered: decided here, once.

Plain data comes in (channel, channel type, ts, thread, text, ...) and a decision comes out: which thread
to answer in, which conversation memory to read and write, whether a command is a staff one. Nothing
here talks to Slack or to a store. What is answered, and whether at all, is bot/conversation.py's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from bot.question_log import Surface

# The memory key of a DM's top level: a DM is one conversation, so it has one topic.
DM_THREAD = "dm"
# Message subtypes a member's question arrives with: a thread reply also sent to the channel, a
# question with a file attached. Edits, deletions, bots and the rest get no answer.
ANSWERED_SUBTYPES = (None, "thread_broadcast", "file_share")

# --- messages: mentions, direct messages, replies in threads ---

MessageKind = Literal["app_mention", "dm", "thread_followup"]


@dataclass(frozen=True)
class IncomingMessage:
    """What routing reads of a message event. `mentioned`: it arrived as app_mention."""

    channel: str | None
    ts: str | None
    user: str | None
    text: str = ""
    channel_type: str | None = None
    thread_ts: str | None = None
    subtype: str | None = None
    from_bot: bool = False
    mentioned: bool = False

    @classmethod
    def from_event(cls, event: Mapping[str, Any], *, mentioned: bool) -> IncomingMessage:
        """From Slack's event object; anything of the wrong type reads as absent (payloads are untrusted)."""

        def text(key: str) -> str | None:
            value = event.get(key)
            return value if isinstance(value, str) else None

        subtype = event.get("subtype")
        return cls(
            channel=text("channel"),
            ts=text("ts"),
            user=text("user"),
            text=text("text") or "",
            channel_type=text("channel_type"),
            thread_ts=text("thread_ts"),
            # A subtype that is not text is no subtype we answer.
            subtype=subtype if subtype is None or isinstance(subtype, str) else "?",
            from_bot=bool(event.get("bot_id")),
            mentioned=mentioned,
        )


@dataclass(frozen=True)
class MessageRoute:
    """Where a message's answer goes and which topic it follows."""

    channel: str
    ts: str
    member: str  # who asked
    kind: MessageKind
    reply_thread: str | None  # thread_ts to answer in; None: the top level of a DM
    memory_thread: str  # the key the conversation's topic is written under after the answer
    recall: tuple[str, ...]  # the keys its earlier topic is read from, in order: the first found wins
    # A reply in a channel thread without a mention: answered only in a thread the bot answered (one
    # whose topic it remembers).
    only_known_thread: bool = False

    @property
    def surface(self) -> Surface:
        return {"dm": "dm", "app_mention": "mention"}.get(self.kind, "thread")  # type: ignore[return-value]

    @property
    def once_key(self) -> str:
        """A mention in a thread comes as app_mention and as message: both carry this key, one is answered."""
        return f"msg:{self.channel}:{self.ts}"


@dataclass(frozen=True)
class Ignore:
    """No answer; `outcome` is the request log's word for why."""

    outcome: str


def route_message(message: IncomingMessage, bot_user_id: str | None) -> MessageRoute | Ignore:
    """Whether to answer a message, in which thread, following which topic."""
    if (
        message.subtype not in ANSWERED_SUBTYPES
        or message.from_bot
        or message.user is None
        or message.user == bot_user_id
    ):
        return Ignore("ignored")  # bots (ourselves too), edits, deletions and other subtypes
    channel, ts, thread_ts, member = message.channel, message.ts, message.thread_ts, message.user
    if channel is None or ts is None:
        return Ignore("ignored:malformed")
    im = message.channel_type == "im"
    if message.mentioned:
        thread = thread_ts or ts
        route = MessageRoute(channel, ts, member, "dm" if im else "app_mention", thread, thread, (thread,))
    elif im:
        route = MessageRoute(channel, ts, member, "dm", thread_ts, thread_ts or DM_THREAD, (thread_ts or DM_THREAD,))
    elif thread_ts is None:
        return Ignore("ignored:not_for_bot")
    elif bot_user_id and f"<@{bot_user_id}>" in message.text:
        # The same message arrives as app_mention too; that one is answered.
        return Ignore("ignored:mention_handled_elsewhere")
    else:
        route = MessageRoute(
            channel, ts, member, "thread_followup", thread_ts, thread_ts, (thread_ts,), only_known_thread=True
        )
    if im and route.memory_thread != DM_THREAD:
        # A thread opened under one of our DM answers continues that conversation's topic.
        route = replace(route, recall=(route.memory_thread, DM_THREAD))
    return route


# --- topic buttons ---


@dataclass(frozen=True)
class TopicClick:
    """What routing reads of a click on a topic button under one of the bot's messages."""

    channel: str
    user: str
    action_id: str | None
    container_ts: str | None  # the clicked message's ts, as the payload's container names it
    message_ts: str | None  # the clicked message's own ts (the payload's message)
    message_thread_ts: str | None  # the thread the clicked message is in, if any
    ephemeral: bool  # the clicked message was seen by the clicker alone


@dataclass(frozen=True)
class ClickRoute:
    """Where a topic's answer goes."""

    channel: str
    reply_thread: str | None  # thread_ts to post in; None: the top level of a DM
    memory_thread: str | None  # where the topic is remembered after the answer; None: nowhere
    ephemeral: bool  # answer the clicker alone (through response_url), as the message they clicked
    once_key: str  # two clicks with this key within a short window post once


def route_topic_click(click: TopicClick) -> ClickRoute:
    """A topic answers in the clicked message's thread; under a top-level DM message, at the DM's top
    level, as the bot did. An ephemeral message is per person; a shared one is one thread for everyone."""
    thread = click.message_thread_ts or click.message_ts or click.container_ts
    if click.channel.startswith("D") and click.message_thread_ts is None:
        thread = None  # a DM is already one conversation
    who = click.user if click.ephemeral else "all"
    once_key = f"click:{click.channel}:{click.container_ts}:{click.action_id}:{who}"
    memory = None if click.ephemeral else thread
    return ClickRoute(click.channel, thread, memory, click.ephemeral, once_key)


# --- slash commands ---

_STAFF = re.compile(r"^(reload|report)(?:\s+(\S+))?$")
REPORT_DAYS = 7  # `report` with no number: the last week
MAX_REPORT_DAYS = 3650
REFUSALS = {
    "report": "Sorry, only the content team can see the question report.",
    "reload": "Sorry, only the content team can reload the bot's answers. Ask them if something looks out of date.",
}


@dataclass(frozen=True)
class StaffCommand:
    """A staff-only sub-command of the messenger command: `reload`, `report` or `report 30`."""

    name: Literal["reload", "report"]
    days: int = REPORT_DAYS  # report: how many days back
    # `report abc`: a word that is no number of days. Staff are told how to ask; from anyone else it is
    # a question ("report findings"), answered as one.
    unclear: str | None = None

    def refusal_for(self, *, staff: bool) -> str | None:
        """None when staff ask: run it. For anyone else, what they are told instead."""
        return None if staff else REFUSALS[self.name]


@dataclass(frozen=True)
class MemberCommand:
    """Any other command: answered from the content (command_reply)."""

    text: str
    keypoints: bool = False


def route_command(text: str, *, keypoints: bool = False) -> StaffCommand | MemberCommand:
    """What `/messenger <text>` (or the key points command, `keypoints`) asks for. "report on the
    review's findings" is a member's question, not the staff report."""
    if keypoints:
        return MemberCommand(text, keypoints=True)
    words = " ".join(text.lower().split())
    found = _STAFF.match(words)
    if found is None or (found.group(1) == "reload" and found.group(0) != "reload"):
        return MemberCommand(text)
    if found.group(1) == "reload":
        return StaffCommand("reload")
    argument = found.group(2)
    if argument is None:
        return StaffCommand("report")
    if argument.isdigit() and 0 < int(argument) <= MAX_REPORT_DAYS:
        return StaffCommand("report", int(argument))
    return StaffCommand("report", unclear=argument)


def report_usage(command: str) -> str:
    """What staff are told for `report abc`."""
    return (f"`{command} report` takes a number of days, 1 to {MAX_REPORT_DAYS}: `{command} report 30` "
            f"(without one, the last {REPORT_DAYS} days).")  # fmt: skip


def reload_reply(problems: list[str], path_name: str, intents: int) -> str:
    """What staff are told after `reload`: the intents in service, or why the file was refused."""
    if problems:
        lines = "\n".join(f"• `{p}`" for p in problems[:20])
        more = f"\n…and {len(problems) - 20} more" if len(problems) > 20 else ""
        return f"Reload refused: the file has errors, so I'm still using the previous version.\n{lines}{more}"
    return f"Reloaded {path_name}: {intents} intents in service."
