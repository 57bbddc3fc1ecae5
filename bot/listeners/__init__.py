"""Bolt listeners, grouped by Slack surface: each module's listeners are module-level functions, and its
register(app) attaches them. The project's services reach them through Bolt's context (bot.app's
middleware puts them under context["services"]; see common.services_of)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.command_names import Commands
from bot.listeners import actions, commands, events, home


def register(app: AsyncApp, names: Commands) -> None:
    """Every listener; `names`: the slash commands' names, which the operator may change."""
    events.register(app)
    commands.register(app, names)
    actions.register(app)
    home.register(app)
