"""What the member's Slack would show: the messages in each channel and thread, ephemeral ones marked,
and the App Home view. Built from what the bot really sent (the stand-in's recorded Web API calls and
response_url posts), as Slack would store it.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

from devtools.sandbox.payloads import CHANNEL_NAMES, DM, GENERAL
from devtools.standin import BOT_USER_ID


def as_slack_stores(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks as Slack returns them: a block sent without a block_id gets a generated one, and mrkdwn
    text objects get "verbatim": false (see tests/data/slack/README.md)."""
    stored = copy.deepcopy(blocks)
    for n, block in enumerate(stored):
        if "block_id" not in block:
            digest = hashlib.sha1(f"{n}:{block}".encode()).hexdigest()
            block["block_id"] = digest[: 3 + n % 3]
        _mark_verbatim(block)
    return stored


def _mark_verbatim(value: Any) -> None:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and "text" in value:
            value.setdefault("verbatim", False)
        for child in value.values():
            _mark_verbatim(child)
    elif isinstance(value, list):
        for child in value:
            _mark_verbatim(child)


@dataclass
class ChatMessage:
    id: int
    channel: str
    ts: str
    user: str  # the member or the bot
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None  # set on a reply in a thread (not on the thread's first message)
    ephemeral: bool = False
    deleted: bool = False
    why: dict[str, Any] | None = None  # for a reply to a question: why the bot chose it

    def as_slack(self, parent_user: str | None = None) -> dict[str, Any]:
        """The message as Slack puts it in a block_actions payload."""
        message: dict[str, Any] = {"ts": self.ts, "text": self.text, "blocks": self.blocks}
        if self.thread_ts:
            message["thread_ts"] = self.thread_ts
            message["parent_user_id"] = parent_user or self.user
        return message

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "ts": self.ts,
            "user": self.user,
            "bot": self.user == BOT_USER_ID,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "ephemeral": self.ephemeral,
            "why": self.why,
        }


class Conversation:
    """Every message shown, in order; `version` moves on every change, so the page fetches only news."""

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.channels: dict[str, str] = {DM: "Confed Member Support", GENERAL: "general"}
        self.home: dict[str, Any] | None = None
        # The modal open on top of the page (views.open), as Slack stores it, and the errors the bot
        # answered its last Save with ({block_id: message}).
        self.modal: dict[str, Any] | None = None
        self.modal_errors: dict[str, str] = {}
        self.version = 0

    def changed(self) -> None:
        self.version += 1

    def add(
        self,
        channel: str,
        ts: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
        ephemeral: bool = False,
        why: dict[str, Any] | None = None,
    ) -> ChatMessage:
        self.channels.setdefault(channel, CHANNEL_NAMES.get(channel, channel.lower()))
        message = ChatMessage(
            len(self.messages) + 1,
            channel,
            ts,
            user,
            text,
            as_slack_stores(blocks or []),
            thread_ts=thread_ts if thread_ts != ts else None,
            ephemeral=ephemeral,
            why=why,
        )
        self.messages.append(message)
        self.changed()
        return message

    def get(self, message_id: int) -> ChatMessage | None:
        if 0 < message_id <= len(self.messages):
            return self.messages[message_id - 1]
        return None

    def find(self, channel: str, ts: str) -> ChatMessage | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts and not m.ephemeral), None)

    def update(self, message: ChatMessage, text: str | None, blocks: list[dict[str, Any]] | None) -> None:
        message.text = text if text is not None else message.text
        if blocks is not None:
            message.blocks = as_slack_stores(blocks)
        self.changed()

    def delete(self, message: ChatMessage) -> None:
        message.deleted = True
        self.changed()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "channels": [{"id": k, "name": v} for k, v in self.channels.items()],
            "messages": [m.to_json() for m in self.messages if not m.deleted],
            "home": self.home,
            "modal": self.modal,
            "modal_errors": self.modal_errors,
        }
