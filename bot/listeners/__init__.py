"""Bolt listeners, grouped by Slack surface; each module has a register(app, services) function."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, events, home
from bot.runtime import Services


def register(app: AsyncApp, services: Services) -> None:
    events.register(app, services)
    commands.register(app, services)
    actions.register(app, services)
    home.register(app, services)
