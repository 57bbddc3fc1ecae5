"""manifest.json declares what the bot uses: events, commands, interactivity and scopes."""

from __future__ import annotations

import json
import re

from bot.settings import PROJECT_DIR, Settings

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
    # Every Web API method the bot calls needs a scope the manifest asks for.
    source = "\n".join(p.read_text(encoding="utf-8") for p in (PROJECT_DIR / "bot").rglob("*.py"))
    calls = set(re.findall(r"client\.(chat_postMessage|views_publish|views_open|usergroups_users_list)", source))
    # views.open needs no scope, only the trigger_id of the click that asks for the modal.
    needs = {"chat_postMessage": "chat:write", "views_publish": None, "views_open": None,
             "usergroups_users_list": "usergroups:read"}  # fmt: skip
    assert {needs[c] for c in calls if needs[c]} <= scopes
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
