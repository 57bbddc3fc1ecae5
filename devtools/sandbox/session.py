"""The sandbox's Slack: the real bot beside the stand-in, wired as local mode wires it, and a member who
types and clicks. Each thing the member does becomes the request Slack would send (payloads.py), signed
with the bot's throwaway secret and POSTed over HTTP to the bot's /slack/events; whatever the bot sends
back (Web API calls to the stand-in, response_url posts, a slash command's reply) becomes the
conversation the page shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import build_bolt_app
from bot.conversation import Heard, take_turn
from bot.learn import learn_example
from bot.routing import (
    IncomingMessage,
    MessageRoute,
    StaffCommand,
    TopicClick,
    route_command,
    route_message,
    route_topic_click,
)
from bot.server import EVENTS_PATH, build_web_app
from bot.services import Services, assemble
from bot.settings import Settings
from bot.state import recall
from bot.teaching import watch_labels
from devtools.sandbox import payloads
from devtools.sandbox.conversation import ChatMessage, Conversation, as_slack_stores
from devtools.sandbox.payloads import DM, MEMBER, STAFF, USER_NAMES
from devtools.signing import signed_headers
from devtools.standin import BOT_USER_ID, Call, SlackStandIn
from intents import Answer, Intent
from intents.explain import Example, explain

log = logging.getLogger("devtools.sandbox")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# How often the sandbox looks at the content file: a saved change shows on the next question.
RELOAD_INTERVAL_SECONDS = 0.5


@dataclass(frozen=True)
class Delivery:
    """One request the sandbox sent the bot, and the status the bot answered."""

    kind: str
    status: int


@dataclass
class ReplyTarget:
    """Where posts to one response_url go: the channel and thread of the message (or command) it
    belongs to, that message itself (for replace_original / delete_original), and why."""

    channel: str
    thread_ts: str | None
    source: ChatMessage | None
    why: dict[str, Any] | None = None


def _example(example: Example | None, titles: dict[str, str]) -> dict[str, Any] | None:
    if example is None:
        return None
    return {**asdict(example), "title": titles.get(example.intent_id)}


class Sandbox:
    def __init__(self, responses_path: Path, workdir: Path) -> None:
        self.responses_path = responses_path
        self.workdir = workdir
        self.standin = SlackStandIn()
        self.secret = secrets.token_hex(16)
        self.conversation = Conversation()
        self.clock = payloads.Clock()
        self.sent: list[Delivery] = []
        self._consumed = 0  # stand-in calls already turned into messages
        self._replies: dict[str, ReplyTarget] = {}  # response_url name -> its target
        self._pending_why: dict[tuple[str, str | None], dict[str, Any]] = {}
        self._problems: list[str] = []
        self._digest = ""
        self.user = MEMBER  # who the page acts as: the member, or the staff member ("View as staff")
        self._homes: dict[str, dict[str, Any]] = {}  # the Home view published for each of them

    # --- life cycle ---

    async def start(self) -> None:
        await self.standin.start()
        self.settings = Settings(
            bot_token="xoxb-sandbox-stand-in",
            signing_secret=self.secret,
            port=0,
            host="127.0.0.1",
            api_url=self.standin.api_url,
            responses_path=self.responses_path,
            reload_interval_seconds=RELOAD_INTERVAL_SECONDS,
            # A throwaway question log: what staff type here never mixes with members' questions.
            database_url=f"sqlite:///{self.workdir / 'questions.sqlite3'}",
            member_hash_secret=secrets.token_hex(16),
            staff_user_ids=(STAFF,),
        )
        try:
            self.services: Services = assemble(self.settings)
            self.runner = web.AppRunner(build_web_app(build_bolt_app(self.services), self.services), access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        except BaseException:
            await self.standin.stop()
            raise
        self.bot_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        await self.services.recorder.start()
        self.watcher = asyncio.create_task(self.services.content.watch(RELOAD_INTERVAL_SECONDS))
        self.labels = asyncio.create_task(watch_labels(self.services, self.settings.label_poll_seconds))
        # A fresh connection per request: the bot shares this event loop, so after a long step (a retrain)
        # its 5 s keep-alive timer and our reuse of the idle connection can fire together and reset it.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
        self._digest = self.services.content.current.catalogue.digest

    async def stop(self) -> None:
        self.watcher.cancel()
        self.labels.cancel()
        # Bounded: a stop must never hang on a task that goes on (see bot/timeouts.py).
        await asyncio.wait({self.watcher, self.labels}, timeout=5)
        await self.http.close()
        await self.runner.cleanup()
        await self.standin.stop()

    # --- what the member does ---

    async def _send(self, kind: str, body: str, content_type: str) -> tuple[int, str]:
        """POST one signed request to the bot, exactly as Slack does."""
        headers = signed_headers(self.secret, body, content_type=content_type)
        async with self.http.post(self.bot_url + EVENTS_PATH, data=body.encode(), headers=headers) as resp:
            self.sent.append(Delivery(kind, resp.status))
            return resp.status, await resp.text()

    async def say(
        self, channel: str, text: str, thread_ts: str | None = None, mention: bool = False
    ) -> ChatMessage | None:
        """The member posts `text` in `channel` (in a thread when `thread_ts`); a line starting with / is a
        slash command. In a channel, `mention` makes it an @-mention of the bot."""
        # A file saved a moment ago answers this question, without waiting for the next poll.
        await self.services.content.reload_if_changed()
        text = text.strip()
        if text.startswith("/"):
            await self.command(channel, text)
            return None
        ts = self.clock.ts()
        parent = self.conversation.find(channel, thread_ts) if thread_ts else None
        parent_user = parent.user if parent else self.user
        shown = f"<@{BOT_USER_ID}> {text}" if mention and channel != DM else text
        message = self.conversation.add(channel, ts, self.user, shown, thread_ts=thread_ts)
        if channel == DM:
            kinds = ["message_im"]
        elif mention:
            # Slack sends a mention twice: as app_mention and as a message.channels event.
            kinds = ["app_mention", "message_channel"]
        else:
            kinds = ["message_channel"]
        # Where the bot answers and which topic it follows, as the bot decides it.
        channel_type = "im" if channel == DM else "channel"
        mentioned = kinds[0] == "app_mention"
        incoming = IncomingMessage(channel, ts, self.user, shown, channel_type, thread_ts, mentioned=mentioned)
        route = route_message(incoming, BOT_USER_ID)
        key = (channel, route.reply_thread) if isinstance(route, MessageRoute) else None
        if isinstance(route, MessageRoute):  # explained as the bot reads it (it strips the mention first)
            self._pending_why[(channel, route.reply_thread)] = await self._why_question(text, route)
        for kind in kinds:
            event = payloads.message_event(kind, shown, channel, ts, thread_ts, parent_user, self.user)
            await self._send(kind, json.dumps(event), JSON)
        if key is not None:
            await self._settle(key)
        return message

    async def _settle(self, key: tuple[str, str | None], timeout: float = 3.0) -> None:
        """Wait for the reply that takes the pending explanation, so the member's next message (two quick
        DM questions) cannot take its place; a question the bot leaves unanswered drops it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while key in self._pending_why and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
            self.sync()  # take up what the bot has posted so far
        self._pending_why.pop(key, None)

    async def command(self, channel: str, line: str) -> None:
        """A slash command. As in Slack, the command itself is not shown; its reply is (only to the member,
        unless the bot says in_channel)."""
        name, _, text = line.partition(" ")
        if name not in (self.settings.messenger_command, self.settings.keypoints_command):
            # Slack answers an unknown command itself: nothing reaches the app.
            known = f"{self.settings.messenger_command} or {self.settings.keypoints_command}"
            self._notice(channel, None, f"{name} is not a valid command. This bot's commands are {known}.")
            return
        reply_to = ReplyTarget(channel, None, None, self._why_command(name, text))
        url = self._response_url(reply_to)
        body = payloads.slash_command(name, text, channel, url, self.user)
        status, raw = await self._send("slash_command", body, FORM)
        if status != 200:
            self._notice(channel, None, f'{name} failed with the error "http_service_error" (HTTP {status})')
        elif raw.strip():
            self._reply(reply_to, _json_or_text(raw))

    async def click(self, message_id: int, block_id: str, action_id: str) -> dict[str, Any]:
        """The member clicks a button on a message; returns the button's url when it is a link."""
        message = self.conversation.get(message_id)
        if message is None:
            raise LookupError("no such message")
        await self.services.content.reload_if_changed()
        element = _element(message.blocks, block_id, action_id)
        thread_ts = message.thread_ts
        why = self._why_button(element)
        target = ReplyTarget(message.channel, thread_ts, message, why if message.ephemeral else None)
        url = self._response_url(target)
        parent = self.conversation.find(message.channel, thread_ts) if thread_ts else None
        if not message.ephemeral and why is not None:
            # Where the bot posts a topic, as it decides it: in the message's thread, or at the top of a DM.
            route = route_topic_click(
                TopicClick(message.channel, self.user, action_id, message.ts, message.ts, thread_ts, ephemeral=False)
            )
            self._pending_why[(message.channel, route.reply_thread)] = why
            pending: tuple[str, str | None] | None = (message.channel, route.reply_thread)
        else:
            pending = None
        body = payloads.block_actions(
            element,
            block_id,
            url,
            message=message.as_slack(parent.user if parent else None),
            channel=message.channel,
            ephemeral=message.ephemeral,
            user=self.user,
        )
        status, _ = await self._send("block_actions", body, FORM)
        if pending is not None:
            await self._settle(pending)
        return {"status": status, "url": element.get("url")}

    async def click_home(self, block_id: str, action_id: str) -> dict[str, Any]:
        home = self.conversation.home
        if home is None:
            raise LookupError("the Home tab has not been published")
        element = _element(home.get("blocks") or [], block_id, action_id)
        url = self._response_url(ReplyTarget(DM, None, None))
        body = payloads.block_actions(element, block_id, url, view=home, user=self.user)
        status, _ = await self._send("block_actions", body, FORM)
        return {"status": status, "url": element.get("url")}

    async def open_home(self) -> int:
        event = payloads.home_opened(self._homes.get(self.user), self.user)
        status, _ = await self._send("app_home_opened", json.dumps(event), JSON)
        return status

    def act_as(self, staff: bool) -> None:
        """Who the page acts as from now on: the staff member (named staff in the sandbox's settings) or
        the member. Each has their own Home, published when they open it."""
        self.user = STAFF if staff else MEMBER
        self.conversation.home = self._homes.get(self.user)
        self.conversation.modal, self.conversation.modal_errors = None, {}
        self.conversation.changed()

    async def submit(self, chosen: dict[str, dict[str, str]]) -> dict[str, Any]:
        """Save on the open modal: a view_submission, as Slack sends it. The bot's answer decides what
        happens, as in Slack: errors keep the modal open with them under their inputs; an empty
        answer closes it."""
        modal = self.conversation.modal
        if modal is None:
            raise LookupError("no modal is open")
        await self.services.content.reload_if_changed()
        status, raw = await self._send("view_submission", payloads.view_submission(modal, chosen, self.user), FORM)
        answer = _json_or_text(raw) if raw.strip() else {}
        errors = answer.get("errors") if answer.get("response_action") == "errors" else None
        if status == 200 and isinstance(errors, dict):
            self.conversation.modal_errors = {str(k): str(v) for k, v in errors.items()}
        elif status == 200:
            self.conversation.modal, self.conversation.modal_errors = None, {}
        self.conversation.changed()
        return {"status": status, "errors": errors or {}}

    def close_modal(self) -> None:
        """Cancel: Slack closes the modal and tells the app nothing (the bot asks for no view_closed)."""
        self.conversation.modal, self.conversation.modal_errors = None, {}
        self.conversation.changed()

    async def learn(self, question: str, intent_id: str) -> tuple[bool, list[str]]:
        """What `python -m bot learn QUESTION INTENT_ID` does and says, on the sandbox's content file."""
        path, commands = self.responses_path, self.services.content.commands
        learned = await asyncio.to_thread(learn_example, path, question, intent_id, commands)
        lines = list(learned.problems)
        if learned.line is not None:
            lines.append(
                f"{path}:{learned.line}: added as an example of '{intent_id}'; the running bot reloads it itself"
            )
        lines.extend(learned.warnings)
        return learned.line is not None, lines

    async def report(self, days: int = 1) -> dict[str, Any]:
        """`python -m bot report` over the sandbox's own question log."""
        from bot.report import build_report, format_report, report_json

        await self.services.recorder.flush()
        report = await build_report(self.services.recorder.store, self.services.content.current.engine, days)
        return {"text": format_report(report), "report": report_json(report)}

    # --- why the bot answered as it did ---

    def _titles(self) -> dict[str, str]:
        return {i.id: i.title for i in self.services.content.current.catalogue.intents}

    def _explained(self, answer: Answer, kind: str) -> dict[str, Any]:
        content = self.services.content.current
        found = explain(content.engine, answer)
        titles = self._titles()
        return {
            "kind": kind,
            "question": found.question,
            "intent": found.intent_id,
            "title": titles.get(found.intent_id or ""),
            "mode": found.mode,
            "followup": found.followup,
            "confidence": found.confidence,
            "threshold": found.threshold,
            "alternatives": [{"intent": i, "title": titles.get(i), "score": s} for i, s in found.alternatives],
            "offered": list(found.offered),
            "best_example": _example(found.best_example, titles),
            "best_of_intent": _example(found.best_of_intent, titles),
            "reasons": [list(r) for r in found.reasons],
            "path": self.responses_path.name,
        }

    async def _why_question(self, text: str, route: MessageRoute) -> dict[str, Any]:
        """The conversation's turn on the same text with the same thread topic, before the bot moves it on."""
        previous = await recall(self.services.threads, route.channel, route.recall)
        heard = Heard(text, route.surface, previous=previous, bot_user_id=BOT_USER_ID)
        turn = take_turn(self.services.content.current, heard)
        assert turn.answer is not None
        why = self._explained(turn.answer, "question")
        return {**why, "outcome": turn.outcome} if turn.speak else {**why, "outcome": turn.outcome, "quiet": True}

    def _why_command(self, name: str, text: str) -> dict[str, Any]:
        route = route_command(text, keypoints=name == self.settings.keypoints_command)
        if isinstance(route, StaffCommand):
            return {"kind": "command", "command": f"{name} {text}".strip(), "what": f"{route.name} (staff only)"}
        turn = take_turn(self.services.content.current, Heard(text, "command", command=route))
        if turn.answer is not None:
            return self._explained(turn.answer, "question")  # `/messenger <any question>`: matched
        what = turn.what or ""
        return {"kind": "command", "command": f"{name} {text}".strip(), "what": what, "title": self._titles().get(what)}

    def _why_button(self, element: dict[str, Any]) -> dict[str, Any] | None:
        value = element.get("value")
        intent: Intent | None = self.services.content.current.catalogue.get(value if isinstance(value, str) else None)
        if intent is None or not str(element.get("action_id", "")).startswith("topic:"):
            return None
        return {"kind": "button", "intent": intent.id, "title": intent.title, "path": self.responses_path.name}

    # --- what the bot sent back ---

    def _response_url(self, target: ReplyTarget) -> str:
        name = f"sandbox{len(self._replies) + 1}"
        self._replies[name] = target
        return self.standin.response_url(name)

    def _reply(self, target: ReplyTarget, payload: dict[str, Any]) -> None:
        """A response_url post (or a slash command's reply), as Slack applies it."""
        source = target.source
        if payload.get("delete_original") and source is not None:
            self.conversation.delete(source)
            return
        if payload.get("replace_original") is True and source is not None:
            self.conversation.update(source, payload.get("text"), payload.get("blocks"))
            return
        why, target.why = target.why, None
        self.conversation.add(
            target.channel,
            self.clock.ts(),
            BOT_USER_ID,
            str(payload.get("text") or ""),
            payload.get("blocks") or [],
            thread_ts=target.thread_ts,
            ephemeral=payload.get("response_type") != "in_channel",
            why=why,
        )

    def _notice(self, channel: str, thread_ts: str | None, text: str) -> None:
        self.conversation.add(channel, self.clock.ts(), BOT_USER_ID, text, thread_ts=thread_ts, ephemeral=True)

    def _apply(self, call: Call) -> None:
        params = call.params
        channel = str(params.get("channel") or "")
        if call.method in ("chat.postMessage", "chat.postEphemeral") and call.response:
            thread_ts = params.get("thread_ts") or None
            self.conversation.add(
                channel,
                str(call.response["ts"]),
                BOT_USER_ID,
                str(params.get("text") or ""),
                params.get("blocks") or [],
                thread_ts=thread_ts,
                ephemeral=call.method == "chat.postEphemeral",
                why=self._pending_why.pop((channel, thread_ts), None),
            )
        elif call.method in ("chat.update", "chat.delete"):
            found = self.conversation.find(channel, str(params.get("ts")))
            if found is not None and call.method == "chat.delete":
                self.conversation.delete(found)
            elif found is not None:
                self.conversation.update(found, params.get("text"), params.get("blocks"))
        elif call.method == "views.publish" and call.response:
            view = call.response.get("view")
            if isinstance(view, dict):
                # As Slack stores it: blocks sent without a block_id get one, which its clicks carry.
                view = {**view, "blocks": as_slack_stores(view.get("blocks") or [])}
                self._homes[str(params.get("user_id"))] = view
            self.conversation.home = self._homes.get(self.user)
            self.conversation.changed()
        elif call.method in ("views.open", "views.update") and call.response:
            view = call.response.get("view")
            if isinstance(view, dict):
                self.conversation.modal = {**view, "blocks": as_slack_stores(view.get("blocks") or [])}
                self.conversation.modal_errors = {}
                self.conversation.changed()
        elif call.method == "response_url":
            target = self._replies.get(call.path.rsplit("/", 1)[-1])
            if target is not None:
                self._reply(target, params)

    def sync(self) -> None:
        """Turn the bot's new calls into messages, and notice a content reload or a refused save."""
        calls = self.standin.calls
        while self._consumed < len(calls):
            self._apply(calls[self._consumed])
            self._consumed += 1
        problems = [str(p) for p in self.services.content.problems]
        digest = self.services.content.current.catalogue.digest
        if problems != self._problems or digest != self._digest:
            self._problems, self._digest = problems, digest
            self.conversation.changed()

    def state(self, since: int = -1) -> dict[str, Any]:
        self.sync()
        if since == self.conversation.version:
            return {"version": since}
        catalogue = self.services.content.current.catalogue
        return {
            **self.conversation.to_json(),
            "problems": self._problems,
            "path": str(self.responses_path),
            "intents": [{"id": i.id, "title": i.title} for i in catalogue.intents],
            "users": {BOT_USER_ID: "Confed Member Support", **USER_NAMES},
            "staff": self.user == STAFF,
        }


def _element(blocks: list[dict[str, Any]], block_id: str, action_id: str) -> dict[str, Any]:
    """The button the member clicked, from the message as the bot sent it (never from the page)."""
    for block in blocks:
        if block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or []) + ([block["accessory"]] if block.get("accessory") else [])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    raise LookupError("no such button")


def _json_or_text(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {"text": raw, "response_type": "ephemeral"}
    return data if isinstance(data, dict) else {"text": raw}
