"""The sandbox page and its small JSON API, served by aiohttp on 127.0.0.1 only.

The page (static/: plain HTML, CSS and JavaScript, nothing fetched from elsewhere) polls
GET /sandbox/api/state?since=N for news and POSTs what the member does. The API takes JSON only: a
cross-site form cannot send that without a preflight, which this server never answers, and the Host
check keeps another site's page from reaching it through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from devtools.sandbox.session import Sandbox

DEFAULT_PORT = 3001
STATIC_FILES = {
    "sandbox.css": "text/css",
    "blockkit.js": "text/javascript",
    "sandbox.js": "text/javascript",
}
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SANDBOX_KEY = web.AppKey("sandbox", Sandbox)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _static(name: str) -> str:
    return resources.files("devtools.sandbox").joinpath("static", name).read_text(encoding="utf-8")


@web.middleware
async def local_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.url.host not in _LOCAL_HOSTS:
        return web.Response(status=403, text="the sandbox answers on 127.0.0.1 only")
    try:
        return await handler(request)
    except aiohttp.ClientError as exc:
        # The bot behind the sandbox did not answer: say so, rather than a 500 with a traceback.
        return web.Response(status=502, text=f"the bot did not answer: {type(exc).__name__}")


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="JSON only")
    try:
        data = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="not JSON") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="expected an object")
    return data


def _text(data: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise web.HTTPBadRequest(text=f"{key}: expected text")
    return value


async def page(request: web.Request) -> web.Response:
    return web.Response(text=_static("index.html"), content_type="text/html", charset="utf-8")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(text=_static(name), content_type=STATIC_FILES[name], charset="utf-8")


async def state(request: web.Request) -> web.Response:
    try:
        since = int(request.query.get("since", "-1"))
    except ValueError:
        since = -1
    return web.json_response(request.app[SANDBOX_KEY].state(since))


async def say(request: web.Request) -> web.Response:
    data = await _body(request)
    sandbox = request.app[SANDBOX_KEY]
    channel, text = _text(data, "channel"), _text(data, "text")
    assert channel is not None and text is not None
    if channel not in sandbox.conversation.channels:
        raise web.HTTPBadRequest(text="unknown channel")
    message = await sandbox.say(channel, text, _text(data, "thread_ts", required=False), bool(data.get("mention")))
    return web.json_response({"ok": True, "message": message.id if message else None})


async def click(request: web.Request) -> web.Response:
    data = await _body(request)
    sandbox = request.app[SANDBOX_KEY]
    block_id, action_id = _text(data, "block_id"), _text(data, "action_id")
    assert block_id is not None and action_id is not None
    try:
        if data.get("home"):
            result = await sandbox.click_home(block_id, action_id)
        else:
            message_id = data.get("message")
            if not isinstance(message_id, int):
                raise web.HTTPBadRequest(text="message: expected a number")
            result = await sandbox.click(message_id, block_id, action_id)
    except LookupError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    return web.json_response({"ok": True, **result})


async def home(request: web.Request) -> web.Response:
    status = await request.app[SANDBOX_KEY].open_home()
    return web.json_response({"ok": status == 200, "status": status})


async def act_as(request: web.Request) -> web.Response:
    data = await _body(request)
    request.app[SANDBOX_KEY].act_as(bool(data.get("staff")))
    return web.json_response({"ok": True})


async def submit(request: web.Request) -> web.Response:
    data = await _body(request)
    values = data.get("values")
    if not isinstance(values, dict) or not all(
        isinstance(b, str) and isinstance(v, dict) and all(isinstance(x, str) for x in (*v, *v.values()))
        for b, v in values.items()
    ):
        raise web.HTTPBadRequest(text="values: expected {block_id: {action_id: value}}")
    try:
        result = await request.app[SANDBOX_KEY].submit(values)
    except LookupError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    return web.json_response({"ok": result["status"] == 200, **result})


async def close_modal(request: web.Request) -> web.Response:
    request.app[SANDBOX_KEY].close_modal()
    return web.json_response({"ok": True})


async def learn(request: web.Request) -> web.Response:
    data = await _body(request)
    question, intent_id = _text(data, "question"), _text(data, "intent")
    assert question is not None and intent_id is not None
    ok, lines = await request.app[SANDBOX_KEY].learn(question, intent_id)
    return web.json_response({"ok": ok, "output": lines})


async def report(request: web.Request) -> web.Response:
    return web.json_response(await request.app[SANDBOX_KEY].report())


def build_page_app(sandbox: Sandbox) -> web.Application:
    app = web.Application(middlewares=[local_only], client_max_size=64 * 1024)
    app[SANDBOX_KEY] = sandbox
    app.router.add_get("/", page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/sandbox/api/state", state)
    app.router.add_post("/sandbox/api/say", say)
    app.router.add_post("/sandbox/api/click", click)
    app.router.add_post("/sandbox/api/home", home)
    app.router.add_post("/sandbox/api/learn", learn)
    app.router.add_post("/sandbox/api/as", act_as)
    app.router.add_post("/sandbox/api/submit", submit)
    app.router.add_post("/sandbox/api/close", close_modal)
    app.router.add_get("/sandbox/api/report", report)
    return app


class SandboxServer:
    """The sandbox (bot and stand-in) and the page, started and stopped together."""

    def __init__(self, responses_path: Path, port: int = DEFAULT_PORT) -> None:
        self.responses_path = responses_path
        self.port = port
        self._workdir = tempfile.TemporaryDirectory(prefix="confedbot-sandbox-", ignore_cleanup_errors=True)
        self.sandbox = Sandbox(responses_path, Path(self._workdir.name))

    async def start(self) -> str:
        try:
            await self.sandbox.start()
        except BaseException:
            self._workdir.cleanup()
            raise
        self.runner = web.AppRunner(build_page_app(self.sandbox), access_log=None)
        await self.runner.setup()
        try:
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        except OSError:
            await self.stop()
            raise
        self.port = self.runner.addresses[0][1]
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.sandbox.stop()
        self._workdir.cleanup()


async def run_sandbox(responses_path: Path, port: int = DEFAULT_PORT, out: TextIO = sys.stdout) -> None:
    # The terminal says when a save is taken up or refused (the page shows it too); nothing else of the
    # bot's request log, which would drown it.
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    content_log = logging.getLogger("bot.content")
    content_log.addHandler(handler)
    content_log.setLevel(logging.INFO)
    content_log.propagate = False
    server = SandboxServer(responses_path, port)
    url = await server.start()
    out.write(
        f"Sandbox: open {url} in your browser. The bot answers there as it would in Slack, from\n"
        f"{responses_path} (saved changes apply to the next question). Ctrl-C stops it.\n"
    )
    out.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()
        content_log.removeHandler(handler)
        content_log.propagate = True
