"""The baseline for bench/memory.py: a bare Bolt AsyncApp that gives one fixed reply to every message."""

import os

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

app = AsyncApp(
    client=AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
)


@app.event("message")
async def reply(event, say):
    await say("Thanks for your message.")


if __name__ == "__main__":
    app.start(port=int(os.environ["PORT"]))
