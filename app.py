"""Entry point: read settings, build the app, serve HTTP (or Socket Mode). Nothing else.

Without any Slack credentials, `make run` (python -m bot run) starts local mode instead;
app.py itself, as run by the Procfile, insists on real credentials.
"""

from __future__ import annotations

import asyncio
import sys

from bot.app import build_app
from bot.blocks import Commands
from bot.content import ContentHolder
from bot.logs import configure
from bot.runtime import Bot
from bot.server import serve
from bot.settings import SettingsError, load_settings
from intents import ContentError


def main() -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure(settings.log_level, settings.secrets())
    commands = Commands(settings.messenger_command, settings.keypoints_command)
    try:
        content = ContentHolder(settings.responses_path, commands)
    except ContentError as exc:
        print(f"error: {settings.responses_path} has problems; fix them and start again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    bot = Bot(settings, content)
    if settings.redis_url:
        from bot.redis_stores import redis_stores

        bot.seen, bot.threads = redis_stores(settings.redis_url)
    asyncio.run(serve(bot, build_app(bot)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
