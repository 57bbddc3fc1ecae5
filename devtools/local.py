"""Local mode (`make run` without Slack credentials): the bot and the Slack stand-in on this machine,
and a terminal prompt. Each line you type reaches the bot as a signed DM event (or, starting with /,
as a slash command) and the reply is printed as readable text."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from bot.app import build_bolt_app
from bot.server import EVENTS_PATH, build_web_app
from bot.services import LOCAL_SECRET, assemble
from bot.settings import Settings, ToolSettings
from bot.teaching import watch_labels
from bot.terminal import to_plain_text
from devtools.signing import command_body, event_body, signed_headers
from devtools.standin import SlackStandIn

INTRO = """Local mode: no Slack credentials found, so the bot is talking to a local Slack stand-in.
Type a question and press Enter (it arrives as a direct message). Start a line with / for a slash
command, e.g. {keypoints} or {messenger} recommendation 4. Ctrl-D or 'quit' ends.
{who}
To connect a real workspace, create the app from manifest.json, then set SLACK_BOT_TOKEN and
SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode) and run `make run` again. See docs/operator-guide.md.
"""


MEMBER = "ULOCAL01"  # who types: a member, or staff with --staff
LOCAL_RATE_LIMIT = 10_000  # answers a window in local mode (Slack's members: RATE_LIMIT_COUNT, 10)
AS_MEMBER = "You are a member; `python -m bot run --staff` acts as staff ({messenger} report, reload)."
AS_STAFF = "You are staff (--staff): {messenger} report and {messenger} reload work."


class LocalSession:
    def __init__(self, tools: ToolSettings, out: TextIO, *, staff: bool = False) -> None:
        self.tools = tools
        self.responses_path = tools.responses_path
        self.port = tools.port
        self.out = out
        self.staff = staff
        self.standin = SlackStandIn()
        self.secret = secrets.token_hex(16)
        self.counter = 0

    async def start(self) -> None:
        await self.standin.start()
        self.settings = Settings(
            bot_token="xoxb-local-stand-in",
            signing_secret=self.secret,
            port=self.port,
            host="127.0.0.1",
            api_url=self.standin.api_url,
            responses_path=self.responses_path,
            # The same key `python -m bot forget` uses without Slack credentials.
            member_hash_secret=LOCAL_SECRET,
            # .data/questions.sqlite3 unless DATABASE_URL says otherwise, as for the bot.
            database_url=self.tools.database_url,
            messenger_command=self.tools.messenger_command,
            keypoints_command=self.tools.keypoints_command,
            staff_user_ids=(MEMBER,) if self.staff else (),
            # One person at a terminal, who may paste a list of questions: no member's limit applies.
            rate_limit_count=LOCAL_RATE_LIMIT,
        )
        self.services = assemble(self.settings)
        self.runner = web.AppRunner(build_web_app(build_bolt_app(self.services), self.services), access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.port = self.runner.addresses[0][1]
        self.watcher = asyncio.create_task(self.services.content.watch(self.settings.reload_interval_seconds))
        self.labels = asyncio.create_task(watch_labels(self.services, self.settings.label_poll_seconds))
        # A fresh connection per request: the bot shares this event loop, so after a long step (a retrain)
        # its 5 s keep-alive timer and our reuse of the idle connection can fire together and reset it.
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))

    async def stop(self) -> None:
        self.watcher.cancel()
        self.labels.cancel()
        await self.http.close()
        await self.runner.cleanup()
        await self.standin.stop()

    async def _send(self, body: str, content_type: str) -> tuple[int, str]:
        headers = signed_headers(self.secret, body, content_type=content_type)
        url = f"http://127.0.0.1:{self.port}{EVENTS_PATH}"
        async with self.http.post(url, data=body.encode(), headers=headers) as resp:
            return resp.status, await resp.text()

    async def ask(self, line: str) -> str:
        self.counter += 1
        if line.startswith("/"):
            command, _, text = line.partition(" ")
            before = len(self.standin.calls_to("response_url"))
            body = command_body(command, text, MEMBER, "DLOCAL01", self.standin.response_url())
            status, reply = await self._send(body, "application/x-www-form-urlencoded")
            if status != 200:
                return f"(the bot answered HTTP {status}: {reply})"
            shown = _render_json(reply)
            if shown:
                return shown
            # Replies that take longer than Slack's 3 seconds (reload, for one) come through response_url.
            try:
                calls = await self.standin.wait_for("response_url", before + 1, timeout=10)
            except TimeoutError:
                return "(no reply)"
            return "\n".join(_render_payload(c.params) for c in calls[before:])
        before = len(self.standin.calls_to("chat.postMessage"))
        event = {
            "type": "message",
            "channel_type": "im",
            "channel": "DLOCAL01",
            "user": MEMBER,
            "text": line,
            "ts": f"1700000000.{self.counter:06d}",
        }
        status, reply = await self._send(event_body(event, f"EvLOCAL{self.counter:06d}"), "application/json")
        if status != 200:
            return f"(the bot answered HTTP {status}: {reply})"
        try:
            calls = await self.standin.wait_for("chat.postMessage", before + 1, timeout=10)
        except TimeoutError:
            return "(no reply)"
        params = calls[before].params
        return to_plain_text(params.get("blocks") or [], values=False) or str(params.get("text", ""))


def _render_json(text: str) -> str:
    try:
        data: dict[str, Any] = json.loads(text)
    except ValueError:
        return text
    return _render_payload(data)


def _render_payload(data: dict[str, Any]) -> str:
    return to_plain_text(data.get("blocks") or [], values=False) or str(data.get("text", ""))


async def run_local(
    tools: ToolSettings, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, *, staff: bool = False
) -> None:
    session = LocalSession(tools, out, staff=staff)
    await session.start()
    names = {"keypoints": session.settings.keypoints_command, "messenger": session.settings.messenger_command}
    out.write(INTRO.format(**names, who=(AS_STAFF if staff else AS_MEMBER).format(**names)))
    loop = asyncio.get_running_loop()
    try:
        while True:
            out.write("\nyou> ")
            out.flush()
            line = await loop.run_in_executor(None, stdin.readline)
            if not line or line.strip().lower() in ("quit", "exit"):
                break
            if not line.strip():
                continue
            out.write("\n" + await session.ask(line.strip()) + "\n")
    finally:
        await session.stop()
