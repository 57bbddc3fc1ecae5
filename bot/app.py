"""The AsyncApp factory: one Bolt app wired to our listeners, Web API client and stores."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientOSError, ServerConnectionError, ServerDisconnectedError
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import listeners
from bot.runtime import Bot, RequestRecord

# slack_sdk's own retry handlers: Retry-After on 429, back-off on 5xx and dropped connections.
MAX_RETRIES = 3
# Time-outs count as connection errors too: a call that hung almost never reached Slack, and a
# member who gets no answer is worse off than one who, rarely, sees it twice.
CONNECTION_ERRORS: list[type[Exception]] = [ServerConnectionError, ServerDisconnectedError, ClientOSError, TimeoutError]


def build_client(bot: Bot) -> AsyncWebClient:
    return AsyncWebClient(
        token=bot.settings.bot_token,
        base_url=bot.settings.api_url,
        timeout=bot.settings.api_timeout_seconds,  # type: ignore[arg-type]  # aiohttp takes a float
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES, error_types=CONNECTION_ERRORS),
            AsyncRateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
        ],
    )


def build_app(bot: Bot, client: AsyncWebClient | None = None) -> AsyncApp:
    app = AsyncApp(
        client=client or build_client(bot),
        signing_secret=bot.settings.signing_secret,
        # Socket Mode connections are authenticated by the app token; there is nothing to sign.
        request_verification_enabled=not bot.settings.socket_mode,
        logger=logging.getLogger("bot.bolt"),
    )

    @app.middleware
    async def drop_redeliveries(body: dict[str, Any], next: Any) -> BoltResponse | None:
        """Slack redelivers an event (same event_id, X-Slack-Retry-Num) when it thinks we missed it.
        Bolt does not deduplicate; we answer the first delivery only."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if isinstance(event_id, str) and not await bot.seen.first_time(f"event:{event_id}"):
            RequestRecord(kind="event", event_id=event_id, outcome="redelivery_ignored").emit()
            return BoltResponse(status=200, body="")
        return await next()

    listeners.register(app, bot)
    return app
