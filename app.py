"""Entry point: read settings, build the app, serve HTTP (or Socket Mode). Nothing else.

Without any Slack credentials, `make run` (python -m bot run) starts local mode instead;
app.py itself, as run by the Procfile, insists on real credentials.
"""

from __future__ import annotations

import asyncio
import gc
import sys

from bot.app import build_bolt_app, check_token
from bot.logs import configure
from bot.runtime import assemble
from bot.server import serve
from bot.settings import SettingsError, load_settings
from intents import ContentError


async def run() -> int:
    settings = load_settings()
    configure(settings.log_level, settings.secrets())
    services = assemble(settings)
    # Content, indexes and imports live as long as the process: keep them out of the cyclic garbage
    # collector's scans, which otherwise walk them again and again while requests come and go.
    gc.freeze()
    refused = await check_token(settings)
    if refused is not None:
        print(f"error: {refused}", file=sys.stderr)
        return 2
    return await serve(services, build_bolt_app(services))


def main() -> int:
    try:
        return asyncio.run(run())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ContentError as exc:
        print("error: the content file has problems; fix them and start again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
