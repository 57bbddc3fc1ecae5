"""HTTP serving with aiohttp: /slack/events into Bolt, /healthz, the body limit and the drain.

Verify first, read second. The signature and timestamp are checked on the raw bytes, with slack_sdk's
SignatureVerifier (the one Bolt's own middleware uses), before anything parses the body; a request
that fails gets 401 and one short log line that holds nothing from the body. Only a signed request
reaches Bolt, through slack_bolt's aiohttp adapter, so Bolt's own verification (which logs a failing
body in full) is switched off in bot/app.py. A signed body Bolt cannot parse gets 400, never a 500.

Slack never compresses its requests, so aiohttp's automatic decompression is off and a body with any
Content-Encoding but identity gets 415 unread. Connections are held briefly: see HANDLER_ARGS.
"""

from __future__ import annotations

import asyncio
import datetime
import hmac
import json
import logging
import re
import resource
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import hdrs, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import REFUSED_TOKEN_ERRORS, close_client
from bot.logs import request_log
from bot.services import Services
from bot.teaching import watch_labels
from bot.timeouts import bounded

log = logging.getLogger("bot.server")
MAX_BODY_BYTES = 1024 * 1024
# A client that has not sent its whole body by then is cut off (slow-body attacks hold a connection).
BODY_READ_SECONDS = 5.0
# Slack's documented window for X-Slack-Request-Timestamp.
MAX_CLOCK_SKEW_SECONDS = 60 * 5
EVENTS_PATH = "/slack/events"
# What bodies being read at once may promise in all (after the headers passed): a flood of slow bodies
# behind forged fresh headers holds at most this much memory, the rest refused at once (429).
READ_BUDGET_BYTES = 64 * MAX_BODY_BYTES
# Slack's signature: the version, then a hex HMAC-SHA256 (docs.slack.dev, "Verifying requests from Slack").
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# What /healthz says of the server software: nothing.
SERVER_NAME = "bot"
PURGE_WAIT_SECONDS = 5.0  # how often the retention purge looks for the schema before its first run
LISTENER_START_SECONDS = 0.1  # at shutdown, for listeners of acknowledged requests to start (serve)
# Slack wants an answer within 3 s of sending a request; nothing it does needs a connection held longer.
KEEPALIVE_SECONDS = 5.0
# After an early answer (401, 413, 415) aiohttp reads and discards the unsent rest of the body for this
# long, so the client sees the answer rather than a reset; then it closes the connection.
LINGER_SECONDS = 2.0
# aiohttp RequestHandler arguments (every connection), set on the Application as handler_args so that
# serve() and the tests' harness, which builds its own AppRunner around build_web_app(), get the same.
HANDLER_ARGS: dict[str, Any] = {
    # Otherwise aiohttp inflates gzip/deflate/br/zstd bodies as their bytes arrive, before any handler
    # (so before the signature check) runs. Slack never compresses and signs the bytes as sent.
    "auto_decompress": False,
    # aiohttp has no header-read time-out, but its keep-alive timer is armed when a connection opens
    # and after each response, and is not re-armed as bytes arrive: a connection still idle, or still
    # short of complete request headers, when it fires is closed. (Bodies: BODY_READ_SECONDS.)
    "keepalive_timeout": KEEPALIVE_SECONDS,
    "lingering_time": LINGER_SECONDS,
}

Readiness = Callable[[], Awaitable[bool]]


def refused(status: int, reason: str) -> web.Response:
    """The single short line a refused request costs: no header or body content, ever."""
    request_log.info(json.dumps({"kind": "refused", "status": status, "reason": reason}, separators=(",", ":")))
    return web.Response(status=status, text=reason.replace("_", " "))


def why_not_slack(headers: Any) -> str | None:
    """From the headers alone: None when they are Slack's (a fresh timestamp and a v0 signature of the
    right shape), else a short reason. Cheap, and decided before a byte of the body is read."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature:
        return "unsigned"
    if not _SIGNATURE.fullmatch(signature):
        return "bad_signature"
    try:
        stale = abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS
    except ValueError:
        return "bad_timestamp"
    return "stale_timestamp" if stale else None


class SlackEndpoint:
    """POST /slack/events: verify the raw bytes, then hand the request to Bolt."""

    def __init__(self, bolt: AsyncApp, signing_secret: str) -> None:
        self.bolt = bolt
        self.verifier = SignatureVerifier(signing_secret)
        # Bytes that bodies being read may still take (see handle).
        self.budget = READ_BUDGET_BYTES

    def why_unsigned(self, raw: bytes, headers: Any) -> str | None:
        """None when Slack signed these exact bytes within the last five minutes; else a short reason."""
        reason = why_not_slack(headers)
        if reason is not None:
            return reason
        timestamp, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
        try:
            valid = self.verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)
        except UnicodeDecodeError:  # Slack only sends UTF-8; nothing else can carry its signature
            return "bad_signature"
        return None if valid else "bad_signature"

    async def handle(self, request: web.Request) -> web.Response:
        # Decided on the headers alone: with auto_decompress off the body is never inflated, and a
        # compressed body could not carry Slack's signature anyway (Slack signs what it sends, uncompressed).
        if any(e.strip().lower() not in ("", "identity") for e in request.headers.getall(hdrs.CONTENT_ENCODING, ())):
            return refused(415, "content_encoding")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return refused(413, "body_too_large")
        # Nothing of the body is read before the headers say Slack sent it, lately: a stranger's request
        # without them, or with a stale timestamp, is answered now, whatever body it promises.
        reason = why_not_slack(request.headers)
        if reason is not None:
            return refused(401, reason)
        # Bodies being read share a budget of bytes, each taking what it promises (a chunked body, the
        # most it may be): forged headers promising big bodies exhaust it, never memory, while Slack's own
        # requests (a few kilobytes each) still fit beside them.
        promised = request.content_length if request.content_length is not None else MAX_BODY_BYTES
        if promised > self.budget:
            return refused(429, "too_many_bodies")
        self.budget -= promised
        try:
            async with asyncio.timeout(BODY_READ_SECONDS):
                raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return refused(413, "body_too_large")
        except TimeoutError:
            return refused(408, "body_too_slow")
        except (ConnectionError, web.RequestPayloadError):
            # The client went away mid-body, or sent a broken chunked body: one line, no traceback.
            return refused(400, "body_incomplete")
        finally:
            self.budget += promised
        reason = self.why_unsigned(raw, request.headers)
        if reason is not None:
            return refused(401, reason)
        try:
            # Bolt parses the body (JSON or form) and reads its context here, once.
            bolt_request = await to_bolt_request(request)
        except Exception as exc:
            log.warning("signed request Bolt could not read: %s; answered 400", type(exc).__name__)
            return web.Response(status=400, text="malformed request")
        response = await self.bolt.async_dispatch(bolt_request)
        if response.status >= 500:
            # Bolt answers 500 when a payload trips its middleware. Slack would retry a 5xx; a payload
            # that cannot be handled is the sender's error, so say 400 and move on.
            log.warning("bolt could not process a signed request (status %s); answered 400", response.status)
            return web.Response(status=400, text="malformed request")
        return await to_aiohttp_response(response)


def build_web_app(bolt: AsyncApp, services: Services, ready: Readiness | None = None) -> web.Application:
    """/healthz always; /slack/events in HTTP mode. `ready` says whether Slack traffic can arrive
    (Socket Mode: connected); without it, serving HTTP is being ready."""

    async def health(request: web.Request) -> web.Response:
        catalogue = services.content.current.catalogue
        is_ready = await ready() if ready is not None else True
        if not _may_see_details(request, services.settings.health_token):
            # A stranger (or a platform's probe) learns whether the bot is up, and nothing else.
            return web.json_response({"ok": is_ready}, status=200 if is_ready else 503)
        body = {
            "ok": is_ready,
            "intents": len(catalogue.intents),
            "content": catalogue.digest,
            # A question-log outage never stops answers; it shows here.
            "question_log": services.recorder.health(),
            # Deduplication and thread topics: "backend" says "memory" while Redis is out of reach. Still
            # 200: the bot answers correctly on one instance; alert on backend != configured instead.
            "stores": services.seen.health(),
            # Hand-offs, Saves and Home opens: "database" (every instance, across restarts) or "memory".
            "limits": services.limits.health(),
            # The model in service: how many of staff's labels it learnt from, and when it was trained.
            "model": {
                "labels": services.content.model.labels,
                "trained_at": services.content.model.trained_at.isoformat(timespec="seconds"),
                "error": services.content.model.error,
            },
        }
        return web.json_response(body, status=200 if is_ready else 503)

    async def close(_: web.Application) -> None:
        await services.recorder.stop()  # the last writes, then the database connection
        await close_client(bolt)

    async def anonymous(_: web.Request, response: web.StreamResponse) -> None:
        response.headers[hdrs.SERVER] = SERVER_NAME  # not aiohttp's "Python/3.11 aiohttp/3.x"

    web_app = web.Application(client_max_size=MAX_BODY_BYTES, handler_args=dict(HANDLER_ARGS))
    web_app.on_response_prepare.append(anonymous)
    web_app.router.add_get("/healthz", health)
    web_app.on_cleanup.append(close)  # the Web API client's session lives as long as the server
    if not services.settings.socket_mode:
        assert services.settings.signing_secret is not None  # load_settings insists on it for HTTP
        web_app.router.add_post(EVENTS_PATH, SlackEndpoint(bolt, services.settings.signing_secret).handle)
    return web_app


def _may_see_details(request: web.Request, token: str | None) -> bool:
    """Only a request carrying HEALTH_TOKEN (Authorization: Bearer ...) sees /healthz's details."""
    if token is None:
        return False
    given = request.headers.get(hdrs.AUTHORIZATION, "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


class _OneLine(logging.Filter):
    """slack_sdk logs every failed Socket Mode connection attempt with a full traceback; keep the
    first line of the message and drop the traceback, so an outage costs one line per attempt."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text:
            line = record.getMessage().splitlines()[0][:150]
            if record.exc_info and record.exc_info[1] is not None:
                line = f"{line} [{_short(record.exc_info[1])}]"
            record.msg, record.args = line, None
            record.exc_info, record.exc_text = None, None
        return True


_SOCKET_LOG = logging.getLogger("bot.socket")
_SOCKET_LOG.addFilter(_OneLine())


class SocketConnection:
    """Bolt's Socket Mode handler (slack_sdk's aiohttp client), connected in the background so the
    process answers signals and /healthz while Slack is out of reach. Once connected, the client
    pings, notices a dropped connection, asks apps.connections.open for a new address and reconnects."""

    def __init__(self, bolt: AsyncApp, services: Services, ping_interval: float = 10, max_backoff: float = 60) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        # apps.connections.open goes through a client of its own without retry handlers: the back-off
        # below decides when to try again, one log line an attempt.
        opener = AsyncWebClient(base_url=services.settings.api_url, timeout=10, retry_handlers=[])
        self.handler = AsyncSocketModeHandler(
            bolt, services.settings.app_token, logger=_SOCKET_LOG, web_client=opener, ping_interval=ping_interval
        )
        self.bolt = bolt
        self.max_backoff = max_backoff
        self.fatal: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def connected(self) -> bool:
        return await self.handler.client.is_connected()

    def start(self, on_fatal: Callable[[], None]) -> None:
        self._task = asyncio.create_task(self._connect(on_fatal))

    async def _connect(self, on_fatal: Callable[[], None]) -> None:
        client = self.handler.client
        delay = 1.0
        while client.wss_uri is None:
            try:
                client.wss_uri = await client.issue_new_wss_url()
            except SlackApiError as exc:
                error = str(exc.response.get("error"))
                if error in REFUSED_TOKEN_ERRORS:  # no retry will cure these
                    self.fatal = f"SLACK_APP_TOKEN was refused by Slack ({error}): check the app-level token"
                    on_fatal()
                    return
                log.warning("Socket Mode: Slack refused a connection (%s); retrying in %.0fs", error, delay)
            except Exception as exc:
                log.warning("Socket Mode: cannot reach Slack (%s); retrying in %.0fs", _short(exc), delay)
            else:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
        await self.handler.connect_async()
        log.info("connected to Slack in Socket Mode")

    async def stop(self, timeout: float = 3.0) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        try:
            await bounded(self.handler.close_async(), timeout)
        except (TimeoutError, Exception) as exc:  # stopping must never hang on a dead connection
            log.warning("Socket Mode connection not closed cleanly: %s", _short(exc))


async def purge_daily(services: Services) -> None:
    """Delete question-log rows older than LOG_RETENTION_DAYS: once the schema is in place, then once a
    day; a purge that fails is tried again within the hour, not the next day."""
    keep = datetime.timedelta(days=services.settings.log_retention_days)
    recorder = services.recorder
    while True:
        while not recorder.migrated:  # a fresh database, or one out of reach at start-up
            await asyncio.sleep(PURGE_WAIT_SECONDS)
        try:
            removed = await recorder.store.purge(keep)
            log.info("question log: %d rows older than %d days deleted", removed, keep.days)
            await asyncio.sleep(24 * 3600)
        except Exception as exc:
            log.warning("question log purge failed: %s", type(exc).__name__)
            await asyncio.sleep(3600)


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def raise_open_files_limit() -> None:
    """Every connection costs a file descriptor, and platforms often start a process with a soft limit
    (1024) far below the hard one: raise it to the hard limit, so a flood of connections meets the
    short time-outs in HANDLER_ARGS long before it meets the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("open files limit stays at %d: %s", soft, _short(exc))
        return
    log.info("open files limit raised from %d to %d", soft, target)


async def serve(services: Services, bolt: AsyncApp) -> int:
    """Serve until SIGTERM or SIGINT, then stop accepting, let replies in flight finish, and return
    the exit code. Signals are heard in every state, connected to Slack or not."""
    settings = services.settings
    raise_open_files_limit()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    socket = SocketConnection(bolt, services) if settings.socket_mode else None
    runner = web.AppRunner(
        build_web_app(bolt, services, socket.connected if socket else None),
        access_log=None,
        shutdown_timeout=settings.shutdown_grace_seconds,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    if socket is not None:
        socket.start(on_fatal=stop.set)
        log.info("connecting to Slack in Socket Mode; /healthz on port %s", settings.port)
    else:
        log.info("serving %s and /healthz on port %s", EVENTS_PATH, settings.port)
    await services.recorder.start()  # schema migrations
    watcher = asyncio.create_task(services.content.watch(settings.reload_interval_seconds), name="content reload")
    purger = asyncio.create_task(purge_daily(services), name="retention purge")
    labels = asyncio.create_task(watch_labels(services, settings.label_poll_seconds), name="labels poll")
    await stop.wait()
    if socket is not None and socket.fatal:
        log.error(socket.fatal)
    watcher.cancel()
    purger.cancel()
    labels.cancel()
    if socket is not None:
        await socket.stop()
    await site.stop()
    # A request acknowledged just before the signal has its listener scheduled but maybe not started (so
    # not counted yet): let scheduled tasks take their first step before counting what is in flight.
    await asyncio.sleep(LISTENER_START_SECONDS)
    log.info(
        "stopping: no new requests; waiting up to %ss for %d replies in flight",
        settings.shutdown_grace_seconds,
        services.inflight.count,
    )
    finished = await services.inflight.wait_idle(settings.shutdown_grace_seconds)
    if not finished:
        log.warning("grace period over with %d replies still in flight", services.inflight.count)
        for reply in await services.inflight.abandon():
            log.warning("reply lost at shutdown: kind=%s event_id=%s", reply.kind, reply.event_id or "-")
    await runner.cleanup()
    # The background tasks were cancelled above; a task still running now would hold the exit (asyncio.run
    # waits for it), so say which.
    _, running = await asyncio.wait({watcher, purger, labels}, timeout=2)
    for task in running:
        log.warning("background task %s still running at exit", task.get_name())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    log.info("stopped")
    return 2 if socket is not None and socket.fatal else 0
