"""The baseline for bench/load.py: a bare Bolt AsyncApp that gives one fixed reply to
every message and mention, served by Bolt's own aiohttp server with a GET /healthz added.

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=... PORT=... .venv/bin/python bench/bare_bolt.py
"""

import logging
import os

from aiohttp import web
from slack_bolt.async_app import AsyncApp, AsyncSay
from slack_sdk.web.async_client import AsyncWebClient

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())

app = AsyncApp(
    client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
)


@app.event("message")
async def reply(say: AsyncSay) -> None:
    await say("Thanks for your message.")


@app.event("app_mention")
async def reply_to_mention(say: AsyncSay) -> None:
    await say("Thanks for your message.")


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


if __name__ == "__main__":
    server = app.server(port=int(os.environ["PORT"]))
    server.web_app.router.add_get("/healthz", healthz)
    server.start()
