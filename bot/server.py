"""HTTP serving with aiohttp: /slack/events into Bolt, /healthz, body limits and graceful shutdown.

Bolt's own aiohttp adapter turns any body it cannot parse into a 500; here a request that is not
signed gets 401 and a signed one Slack could never send gets 400, before Bolt dispatches it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.runtime import Bot

log = logging.getLogger("bot.server")
MAX_BODY_BYTES = 1024 * 1024
EVENTS_PATH = "/slack/events"


# Keys Bolt and our listeners read at any level of a payload, and the types Slack sends them as.
_OBJECT_KEYS = ("enterprise", "team", "user", "channel", "view", "container", "message", "previous_message",
                "item", "assistant_thread", "bot_profile", "state")  # fmt: skip
_STRING_KEYS = ("type", "event_id", "team_id", "user_id", "channel_id", "enterprise_id", "api_app_id", "text", "ts",
                "thread_ts", "channel_type", "subtype", "bot_id", "tab", "command", "response_url", "trigger_id",
                "action_id", "block_id", "value", "user_team", "context_team_id", "context_enterprise_id")  # fmt: skip


def _check_level(obj: dict[str, Any], where: str) -> str | None:
    for key in _STRING_KEYS:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            return f"{where}{key} is not text"
    for key in _OBJECT_KEYS:
        value = obj.get(key)
        if value is not None and not isinstance(value, dict | str):
            return f"{where}{key} has the wrong type"
        if isinstance(value, dict):
            for inner in ("id", "team_id", "enterprise_id", "ts", "thread_ts", "channel_id", "message_ts"):
                if value.get(inner) is not None and not isinstance(value[inner], str | int | float):
                    return f"{where}{key}.{inner} has the wrong type"
    return None


def _looks_valid(body: Any) -> str | None:
    """A shape check of a parsed Slack payload before Bolt reads it. Returns why it is wrong, or None.
    Slack never sends these shapes; Bolt's context extraction would raise on them."""
    if not isinstance(body, dict):
        return "payload is not an object"
    if not body:
        return "empty payload"
    problem = _check_level(body, "")
    if problem:
        return problem
    if "event" in body:
        event = body["event"]
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return "event is not an object with a type"
        problem = _check_level(event, "event.")
        for key in ("message", "previous_message", "item", "assistant_thread"):
            if problem is None and isinstance(event.get(key), dict):
                problem = _check_level(event[key], f"event.{key}.")
        if problem:
            return problem
    authorizations = body.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(a, dict) for a in authorizations)
    ):
        return "authorizations is not a list of objects"
    if "actions" in body:
        actions = body["actions"]
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            return "actions is not a list of objects"
        for action in actions:
            if not isinstance(action.get("action_id"), str):
                return "an action has no action_id"
            problem = _check_level(action, "action.")
            if problem:
                return problem
    if body.get("type") in ("block_actions", "interactive_message") and "actions" not in body:
        return "block_actions without actions"
    return None


class SlackHTTP:
    def __init__(self, bolt: AsyncApp, bot: Bot) -> None:
        self.bolt = bolt
        self.bot = bot
        # In Socket Mode there is no signing secret and no /slack/events route to verify.
        self.verifier = SignatureVerifier(bot.settings.signing_secret) if bot.settings.signing_secret else None

    def _signed(self, raw: bytes, request: web.Request) -> bool:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return False  # Slack only sends UTF-8; the verifier cannot even read anything else
        if self.verifier is None:
            return False
        return self.verifier.is_valid(
            body=raw,
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
        )

    async def events(self, request: web.Request) -> web.Response:
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413, text="request body too large")
        try:
            # Bolt parses the body once, as JSON or form data; its context extraction raises on
            # shapes Slack never sends, and _looks_valid catches the ones it lets through.
            bolt_request = AsyncBoltRequest(
                body=raw.decode("utf-8"), query=request.query_string, headers=dict(request.headers)
            )
            problem = _looks_valid(bolt_request.body)
        except Exception as exc:  # not UTF-8, not JSON or form data, or an unreadable shape
            problem = f"unreadable body: {type(exc).__name__}"
        if problem is not None:
            if not self._signed(raw, request):
                return web.Response(status=401, text="invalid signature")
            log.warning("rejected signed request: %s", problem)
            return web.Response(status=400, text="malformed request")
        response = await self.bolt.async_dispatch(bolt_request)
        if response.status >= 500:
            # Bolt answers 500 when its middleware trips over a payload it did not expect. Slack would
            # retry a 5xx; a payload it cannot handle is the sender's error, so say 400 and move on.
            log.warning("bolt could not process a signed request (status %s); answered 400", response.status)
            return web.Response(status=400, text="malformed request")
        return await to_aiohttp_response(response)

    async def health(self, request: web.Request) -> web.Response:
        catalogue = self.bot.content.current.catalogue
        return web.json_response({"ok": True, "intents": len(catalogue.intents), "content": catalogue.digest})


def build_web_app(bolt: AsyncApp, bot: Bot) -> web.Application:
    http = SlackHTTP(bolt, bot)
    web_app = web.Application(client_max_size=MAX_BODY_BYTES)
    web_app.router.add_get("/healthz", http.health)
    if not bot.settings.socket_mode:
        web_app.router.add_post(EVENTS_PATH, http.events)
    return web_app


def socket_mode_handler(bolt: AsyncApp, bot: Bot, ping_interval: float = 10) -> Any:
    """Bolt's Socket Mode handler (slack_sdk's aiohttp client): it pings, notices a dropped or
    closed connection, asks apps.connections.open for a new address and reconnects by itself."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    return AsyncSocketModeHandler(bolt, bot.settings.app_token, ping_interval=ping_interval)


async def serve(bot: Bot, bolt: AsyncApp) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting, let replies in flight finish, and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(build_web_app(bolt, bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, bot.settings.host, bot.settings.port, shutdown_timeout=bot.settings.shutdown_grace_seconds
    )
    await site.start()
    socket_handler = None
    if bot.settings.socket_mode:
        socket_handler = socket_mode_handler(bolt, bot)
        await socket_handler.connect_async()
        log.info("connected to Slack in Socket Mode; /healthz on port %s", bot.settings.port)
    else:
        log.info("serving %s and /healthz on port %s", EVENTS_PATH, bot.settings.port)
    watcher = asyncio.create_task(bot.content.watch(bot.settings.reload_interval_seconds))
    await stop.wait()
    log.info(
        "stopping: no new requests; waiting up to %ss for %d replies in flight",
        bot.settings.shutdown_grace_seconds,
        bot.inflight.count,
    )
    watcher.cancel()
    if socket_handler is not None:
        await socket_handler.disconnect_async()
    await site.stop()
    finished = await bot.inflight.wait_idle(bot.settings.shutdown_grace_seconds)
    if not finished:
        log.warning("grace period over with %d replies still in flight", bot.inflight.count)
    await runner.cleanup()
    log.info("stopped")
