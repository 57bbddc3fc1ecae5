"""The second attack round on what staff read and the limits around it: each test here failed before its
fix. Through the signed HTTP path with Slack's payload shapes (tests/data/slack/) and the stand-in, or on
the real question-log store where the limit lives there."""

from __future__ import annotations

import asyncio
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.limits import SharedLimits
from bot.question_log_sql import open_store
from bot.recorder import Recorder
from bot.services import HOME_OPENS_PER_MINUTE
from bot.settings import PROJECT_DIR
from tests.conftest import MEMBER_SECRET, Harness
from tests.test_slack_corpus import fixture

STAFF = "USTAFF001"
GROUP_STAFF = "USTAFF002"
GROUP = "S0CONTENT1"
MEMBER = "U0000001"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"staff_user_ids": (STAFF,), "staff_usergroup_ids": (GROUP,), "rate_limit_count": 100}


async def _home(harness: Harness, user: str, n: int) -> int:
    body = copy.deepcopy(fixture("event_app_home_opened_with_view.json")["body"])
    body["event"]["user"] = user
    body["event_id"] = f"EvHOMEATTACK{n:05d}"
    status, _ = await harness.post_signed(json.dumps(body))
    return status


async def _started(path: Path) -> Recorder:
    recorder = Recorder(open_store(path, MEMBER_SECRET))
    await recorder.start()
    for _ in range(100):
        if recorder.migrated:
            break
        await asyncio.sleep(0.05)
    return recorder


# --- limits that hold across instances and restarts ---


async def test_a_limit_holds_across_two_instances_and_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "questions.sqlite3"
    one, two = await _started(path), await _started(path)
    first, second = SharedLimits(lambda: one), SharedLimits(lambda: two)
    allowed = [await (first if n % 2 else second).allow("handoff", MEMBER, 5, 3600) for n in range(8)]
    assert allowed == [True] * 5 + [False] * 3  # five in all, whichever instance the click reached
    assert first.health() == {"backend": "database"}
    await one.stop()
    await two.stop()
    again = await _started(path)  # a restart: the count is in the database, not in the process
    assert await SharedLimits(lambda: again).allow("handoff", MEMBER, 5, 3600) is False
    assert await SharedLimits(lambda: again).allow("handoff", "U0SOMEONE2", 5, 3600) is True
    await again.stop()


async def test_with_no_question_log_each_process_counts_and_says_so() -> None:
    limits = SharedLimits(lambda: Recorder.off("no log here"))
    assert [await limits.allow("save", STAFF, 2, 60) for _ in range(3)] == [True, True, False]
    assert limits.health() == {"backend": "memory"}


async def test_home_opens_are_limited_and_a_user_group_is_asked_once(harness: Harness) -> None:
    harness.standin.usergroups[GROUP] = [GROUP_STAFF]
    statuses = await asyncio.gather(*(_home(harness, GROUP_STAFF, n) for n in range(50)))
    assert set(statuses) == {200}
    await harness.standin.wait_for("views.publish", HOME_OPENS_PER_MINUTE, timeout=20)
    await asyncio.sleep(0.5)
    assert len(harness.standin.calls_to("views.publish")) == HOME_OPENS_PER_MINUTE
    assert len(harness.standin.calls_to("usergroups.users.list")) == 1


async def test_a_failed_user_group_lookup_keeps_staff_their_view(harness: Harness) -> None:
    harness.standin.usergroups[GROUP] = [GROUP_STAFF]
    await _home(harness, GROUP_STAFF, 1)
    [first] = await harness.standin.wait_for("views.publish", 1, timeout=10)
    assert "Staff view" in json.dumps(first.params["view"])
    harness.services.usergroups[GROUP] = (0.0, harness.services.usergroups[GROUP][1])  # long stale
    harness.standin.errors["usergroups.users.list"] = "ratelimited"
    await _home(harness, GROUP_STAFF, 2)
    calls = await harness.standin.wait_for("views.publish", 2, timeout=10)
    assert "Staff view" in json.dumps(calls[-1].params["view"])


# --- /healthz tells a stranger only whether the bot is up ---


async def test_healthz_without_the_token_says_only_whether_the_bot_is_up(harness: Harness) -> None:
    async with aiohttp.ClientSession() as http, http.get(harness.url + "/healthz") as resp:
        assert resp.status == 200 and await resp.json() == {"ok": True}
        assert "aiohttp" not in resp.headers.get("Server", "") and "Python" not in resp.headers.get("Server", "")
    headers = {"Authorization": "Bearer not-the-token"}
    async with aiohttp.ClientSession() as http, http.get(harness.url + "/healthz", headers=headers) as resp:
        assert await resp.json() == {"ok": True}
    async with harness.http.get(harness.url + "/healthz") as resp:  # the harness carries the token
        details = await resp.json()
    assert details["limits"] == {"backend": "database"} or details["limits"] == {"backend": "memory"}
    assert "question_log" in details


# --- votes count only on answers we gave ---


async def test_a_vote_on_a_made_up_question_is_neither_stored_nor_counted(harness: Harness) -> None:
    await harness.services.recorder.start()
    payload = copy.deepcopy(fixture("action_topic_button.json")["body"]["payload"])
    payload["response_url"] = harness.standin.response_url()
    payload["actions"] = [{"action_id": "feedback:helpful", "block_id": "feedback", "type": "button",
                           "value": "0123456789abcdef", "text": {"type": "plain_text", "text": "Helpful"},
                           "action_ts": "1780009999.000001"}]  # fmt: skip
    status, _ = await harness.action(payload)
    assert status == 200
    await asyncio.sleep(0.3)
    await harness.services.recorder.flush()
    import datetime

    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    counts = await harness.services.recorder.store.feedback.counts_since(since)
    assert counts.get("helpful", 0) == 0
    assert harness.standin.calls_to("response_url") == []  # no "thanks" for a vote on nothing


# --- a member's text is inert where staff read it ---

LURE = (
    "```\n<!channel> <https://evil.example/login|Your Slack session expired: sign in again> "
    "\x1b]52;c;ZXZpbA==\x07 what is the parking policy"
)


async def test_the_slack_report_keeps_a_members_link_broadcast_and_fence_inert(harness: Harness) -> None:
    await harness.dm(LURE)
    await harness.posts(1)
    await harness.services.recorder.flush()
    await harness.command("/messenger", "report 7", user=STAFF)
    [call] = await harness.standin.wait_for("response_url", 1, timeout=10)
    text = call.params["text"]
    assert text.startswith("```") and text.endswith("```") and text.count("```") == 2  # the fence holds
    assert "<!channel>" not in text and "<https://" not in text and "&lt;!channel&gt;" in text
    assert "\x1b" not in text and "\x07" not in text


async def test_teach_learns_only_what_staff_were_shown(harness: Harness) -> None:
    """Six members' questions that open like a real one and end with the weather, taught as the EDI
    programme: the weather question is still off-topic afterwards, since its words were never shown."""
    from bot.safety import QUESTION_CHARS
    from bot.teaching import teach

    await harness.services.recorder.store.migrate()
    weather = "will it rain in London tomorrow"
    opening = "I'm looking at the Confederation's page about its equality, diversity and inclusion programme and "
    poisoned = [(opening + "x" * QUESTION_CHARS)[:QUESTION_CHARS] + f" {n} " + weather * 5 for n in range(6)]
    engine = harness.services.content.current.engine
    assert engine.answer(weather).is_fallback
    await teach(harness.services, poisoned, "offer_edi_programme", STAFF)
    labels = await harness.services.recorder.store.labels.read()
    assert labels and all("rain" not in label.text and len(label.text) <= QUESTION_CHARS for label in labels)
    assert harness.services.content.current.engine.answer(weather).is_fallback


def test_labels_list_prints_no_terminal_escapes(tmp_path: Path) -> None:
    import sqlite3

    database = tmp_path / "questions.sqlite3"
    env = {"DATABASE_URL": f"sqlite:///{database}", "MEMBER_HASH_SECRET": MEMBER_SECRET, "PATH": "/usr/bin:/bin"}
    migrated = subprocess.run([sys.executable, "-m", "bot", "migrate"], cwd=PROJECT_DIR, env=env, capture_output=True)
    assert migrated.returncode == 0, migrated.stderr
    conn = sqlite3.connect(database)
    conn.execute(
        "insert into labels (text, intent, made_by, made_at) values (?, null, 'x', '2026-12-08T00:00:00.000000+00:00')",
        ("\x1b]52;c;ZXZpbA==\x07 hello \x1b[31mred\x9b2J",),
    )
    conn.commit()
    conn.close()
    listed = subprocess.run([sys.executable, "-m", "bot", "labels", "list"], cwd=PROJECT_DIR, env=env,
                            capture_output=True, text=True)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert "hello" in listed.stdout and not any(ch in listed.stdout for ch in "\x1b\x07\x9b")
