"""The AsyncApp factory: one Bolt app wired to our listeners, Web API client and stores."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import listeners
from bot.command_names import Commands
from bot.listeners.common import SERVICES
from bot.logs import RequestRecord
from bot.services import Services
from bot.settings import Settings

log = logging.getLogger("bot.app")

# slack_sdk's own retry handlers: Retry-After on 429, back-off on 5xx and dropped connections.
MAX_RETRIES = 3
# Time-outs count as connection errors too: a call that hung almost never reached Slack, and a
# member who gets no answer is worse off than one who, rarely, sees it twice.
CONNECTION_ERRORS: list[type[Exception]] = [ServerConnectionError, ServerDisconnectedError, ClientOSError, TimeoutError]


def build_client(services: Services) -> AsyncWebClient:
    """The Web API client. It keeps one aiohttp session, so calls reuse kept-alive connections to Slack
    instead of opening (and, for slack.com, handshaking TLS) a new one per reply. Must be built
    inside the running event loop; close_client() closes it."""
    return AsyncWebClient(
        token=services.settings.bot_token,
        base_url=services.settings.api_url,
        # slack_sdk applies its own time-out only to sessions it creates; this one carries it itself.
        session=aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=services.settings.api_timeout_seconds)),
        timeout=services.settings.api_timeout_seconds,  # type: ignore[arg-type]  # aiohttp takes a float
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES, error_types=CONNECTION_ERRORS),
            AsyncRateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ],
    )


# auth.test answers with these when the token itself is wrong; no retry will cure them.
REFUSED_TOKEN_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "account_inactive", "not_allowed_token_type")


async def check_token(settings: Settings) -> str | None:
    """Ask Slack once (auth.test) whether the bot token works. Returns why not when Slack refuses it;
    None when it works or Slack cannot be reached (then the bot starts and the retry handlers cope)."""
    client = AsyncWebClient(token=settings.bot_token, base_url=settings.api_url, timeout=5, retry_handlers=[])
    try:
        await client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in REFUSED_TOKEN_ERRORS:
            return f"SLACK_BOT_TOKEN was refused by Slack ({error}): check the bot token on your app's OAuth page"
        log.warning("auth.test failed (%s); starting anyway", error)
    except Exception as exc:
        log.warning("could not reach Slack to check the bot token (%s); starting anyway", type(exc).__name__)
    return None


async def close_client(bolt: AsyncApp) -> None:
    session = bolt.client.session
    if session is not None and not session.closed:
        await session.close()


def build_bolt_app(services: Services, client: AsyncWebClient | None = None) -> AsyncApp:
    app = AsyncApp(
        client=client or build_client(services),
        signing_secret=services.settings.signing_secret,
        # bot/server.py verifies every HTTP request on its raw bytes before Bolt sees it; Bolt's own
        # check would verify twice and, on failure, log the whole unverified body. Socket Mode
        # connections are authenticated by the app token: there is nothing to sign.
        request_verification_enabled=False,
        logger=logging.getLogger("bot.bolt"),
    )

    @app.middleware
    async def provide_services(context: AsyncBoltContext, next: Any) -> BoltResponse | None:
        """Every listener finds the project's services in its context (listeners.common.services_of)."""
        context[SERVICES] = services
        return await next()

    @app.middleware
    async def drop_redeliveries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Slack redelivers an event (same event_id, X-Slack-Retry-Num) when it thinks we missed it.
        Bolt does not deduplicate; we answer the first delivery only."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not await services.seen.first_time(f"event:{event_id}"):
            RequestRecord(kind="event", event_id=event_id, outcome="redelivery_ignored").emit()
            return BoltResponse(status=200, body="")
        return await next()

    listeners.register(app, Commands(services.settings.messenger_command, services.settings.keypoints_command))
    return app
