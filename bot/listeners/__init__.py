"""Bolt listeners, grouped by Slack surface; each module has a register(app, bot) function."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, events
from bot.runtime import Bot


def register(app: AsyncApp, bot: Bot) -> None:
    events.register(app, bot)
    commands.register(app, bot)
    actions.register(app, bot)
