"""Entry point: read settings, build the app, serve HTTP (or Socket Mode). Nothing else.

Without any Slack credentials, `make run` (python -m bot run) starts local mode (devtools/) instead;
app.py itself, as run by the Procfile, insists on real credentials. `--socket-mode` (the Procfile's
worker) also insists on SLACK_APP_TOKEN: a worker has no web port routed to it, so without Socket
Mode it would wait for requests that can never arrive.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys

from bot.app import build_bolt_app, check_token
from bot.logs import configure
from bot.server import serve
from bot.services import assemble
from bot.settings import SettingsError, load_settings
from intents import ContentError


async def run(socket_mode: bool = False) -> int:
    settings = load_settings()
    if socket_mode and not settings.socket_mode:
        raise SettingsError(
            "SLACK_APP_TOKEN is not set: --socket-mode (the Procfile's worker) needs the app-level token, xapp-..."
        )
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="app.py", description="Serve the bot: HTTP, or Socket Mode with SLACK_APP_TOKEN."
    )
    parser.add_argument("--socket-mode", action="store_true", help="refuse to start without SLACK_APP_TOKEN")
    args = parser.parse_args([] if argv is None else argv)
    try:
        return asyncio.run(run(args.socket_mode))
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ContentError as exc:
        print("error: the content file has problems; fix them and start again:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
