"""A local Slack stand-in: an aiohttp server answering the Web API methods the bot calls and
receiving response_url posts, recording every call. Tests and local mode use it; it can be told to
make a method answer 429 with Retry-After, 500, or hang, for the next N calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from bot.timeouts import bounded

BOT_USER_ID = "UBOT0001"
BOT_ID = "BBOT0001"
TEAM_ID = "T0000001"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.perf_counter)  # when the stand-in received it
    path: str = ""  # the request's path: which response_url a post went to
    response: dict[str, Any] | None = None  # what a Web API method answered (the ts it gave a message)


@dataclass
class Fault:
    kind: str  # "429", "500", "timeout" (hang, then fail) or "slow" (answer after a delay)
    remaining: int
    retry_after: int = 1


@dataclass
class SlackStandIn:
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    # method -> Slack error code it answers with ({"ok": false, "error": ...}), e.g. a revoked token
    errors: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 30.0
    slow_seconds: float = 1.5

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._changed = asyncio.Condition()
        self._ts = 0
        self._views = 0
        self._stopping = asyncio.Event()
        self.sockets: list[web.WebSocketResponse] = []

    # --- control, for tests ---

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/"

    def response_url(self, name: str = "r1") -> str:
        return f"http://{self.host}:{self.port}/response/{name}"

    def fail_next(self, method: str, count: int, kind: str, retry_after: int = 1) -> None:
        if kind not in ("429", "500", "timeout", "slow"):
            raise ValueError("kind is 429, 500, timeout or slow")
        self.faults[method] = Fault(kind, count, retry_after)

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until `method` has been called `count` times; return those calls."""

        async def enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.calls_to(method)) >= count)

        await bounded(enough(), timeout)
        return self.calls_to(method)

    # --- server ---

    async def start(self) -> SlackStandIn:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        for ws in self.sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        if request.content_type == "application/json" and raw:
            return json.loads(raw)
        params: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw).items()}
        params.update(request.query)
        for key in ("blocks", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        fault = self.faults.get(method)
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            await self._record(Call(f"{method}!{fault.kind}", params, dict(request.headers)))
            if fault.kind == "429":
                return web.json_response(
                    {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(fault.retry_after)}
                )
            if fault.kind == "500":
                return web.json_response({"ok": False, "error": "internal_error"}, status=500)
            if fault.kind == "timeout":
                # Hang past the client's time-out; the call never counts as delivered.
                await self._pause(self.hang_seconds)
                return web.json_response({"ok": False, "error": "timeout"}, status=504)
            await self._pause(self.slow_seconds)
        if method in self.errors:
            await self._record(Call(method, params, dict(request.headers), path=request.path))
            return web.json_response({"ok": False, "error": self.errors[method]})
        answer = self._answer(method, params)
        await self._record(Call(method, params, dict(request.headers), path=request.path, response=answer))
        return web.json_response(answer)

    async def _pause(self, seconds: float) -> None:
        try:
            await bounded(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "team_id": TEAM_ID, "user": "memberbot"}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            self._ts += 1
            ts = f"{int(time.time())}.{self._ts:06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"text": params.get("text")}}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts"), "text": params.get("text")}
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {"ok": True, "channel": params.get("channel"),
                    "permalink": f"https://confed-test.slack.com/archives/{params.get('channel')}/p{ts}"}  # fmt: skip
        if method == "views.publish":
            return {"ok": True, "view": {"id": "V0000001", **(params.get("view") or {})}}
        if method == "views.open":
            self._views += 1
            return {"ok": True, "view": {"id": f"VMODAL{self._views:04d}", **(params.get("view") or {})}}
        if method == "views.update":
            return {"ok": True, "view": {"id": params.get("view_id"), **(params.get("view") or {})}}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://{self.host}:{self.port}/socket"}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(params.get("usergroup")), [])}
        return {"ok": True}

    # --- Socket Mode: a WebSocket peer that says hello, sends envelopes and records acks ---

    @property
    def open_sockets(self) -> list[web.WebSocketResponse]:
        return [ws for ws in self.sockets if not ws.closed]

    async def socket_send(self, envelope: dict[str, Any]) -> None:
        await self.open_sockets[-1].send_json(envelope)

    async def socket_drop(self) -> None:
        """Close every open connection from the server side, as Slack does when it rotates them."""
        for ws in self.open_sockets:
            await ws.close()

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await self._record(Call("socket.connect", {}, dict(request.headers)))
        await ws.send_json({"type": "hello", "num_connections": len(self.open_sockets), "debug_info": {}})
        async for message in ws:
            if message.type.name == "TEXT":
                await self._record(Call("socket.ack", json.loads(message.data), {}))
        return ws

    async def _response_url(self, request: web.Request) -> web.Response:
        payload = await request.json()
        await self._record(Call("response_url", payload, dict(request.headers), path=request.path))
        return web.Response(text="ok")
