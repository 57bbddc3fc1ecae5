"""manifest.json declares what the bot uses: events, commands, interactivity and scopes."""

from __future__ import annotations

import json
import re

from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import PROJECT_DIR, Settings

# The bot token scope each Web API method needs (None: none), from its page in Slack's method reference
# (https://docs.slack.dev/reference/methods/).
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_getPermalink": None,
    "chat_postEphemeral": "chat:write",
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "usergroups_users_list": "usergroups:read",
    "views_open": None,
    "views_publish": None,
    "views_update": None,
}
MANIFEST = json.loads((PROJECT_DIR / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_events_commands_and_scopes_match_the_code() -> None:
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "app_home_opened", "message.im", "message.channels"} <= events
    commands = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    defaults = Settings(bot_token="xoxb-x", signing_secret="x" * 32)
    assert commands == {defaults.messenger_command, defaults.keypoints_command}
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "channels:history"} <= scopes
    # Every Web API method the bot calls, found in the code, needs the scope Slack's reference gives it.
    source = "\n".join(p.read_text(encoding="utf-8") for p in (PROJECT_DIR / "bot").rglob("*.py"))
    calls = {m for m in re.findall(r"\bclient\.([a-z]+(?:_[A-Za-z]+)+)\(", source) if hasattr(AsyncWebClient, m)}
    unknown = calls - METHOD_SCOPES.keys()
    assert not unknown, f"the code calls {sorted(unknown)}: add each to METHOD_SCOPES with its scope"
    assert {"chat_postMessage", "chat_update", "views_publish", "usergroups_users_list", "views_open"} <= calls
    assert {METHOD_SCOPES[c] for c in calls if METHOD_SCOPES[c]} <= scopes
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
