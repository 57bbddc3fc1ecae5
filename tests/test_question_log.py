"""The question log, feedback and "Ask a person", through the signed pipeline and the stand-in, against
SQLite and against the local PostgreSQL: what is kept, what is never kept, and what staff see."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_DIR
from tests.conftest import MEMBER_SECRET, Harness
from tests.test_events import _all_text
from tests.test_slack_corpus import fixture

MEMBER = "U0QLOG0001"
HANDOFF_CHANNEL = "C0HANDOFF1"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings_overrides(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    # Hand-offs go to a staff channel, and one member of staff: the operator's settings.
    access = {"handoff_channel": HANDOFF_CHANNEL, "staff_user_ids": ("USTAFF001",)}
    if request.param == "sqlite":
        return access
    postgres_url: str = request.getfixturevalue("postgres_url")  # started only for the PostgreSQL runs
    # A schema of its own per test, so tests never see each other's rows.
    return {**access, "database_url": f"{postgres_url}?options=-csearch_path%3Dt{uuid.uuid4().hex[:12]}"}


async def _stored(harness: Harness) -> list[Any]:
    await harness.services.recorder.flush()
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    return await harness.services.recorder.store.questions.since(since)


def _click(
    harness: Harness, button: dict[str, Any], *, message: dict[str, Any] | None, user: str = MEMBER
) -> dict[str, Any]:
    """Slack's block_actions payload for a click on one of the bot's buttons (shape from the corpus)."""
    payload = copy.deepcopy(fixture("action_topic_button.json")["body"]["payload"])
    payload["user"]["id"] = user
    payload["response_url"] = harness.standin.response_url()
    action = {k: button[k] for k in ("action_id", "text", "value", "url") if k in button}
    payload["actions"] = [{**action, "block_id": "feedback", "type": "button", "action_ts": "1780009999.000001"}]
    if message is not None:
        payload["message"] = {**payload["message"], **message}
        payload["container"].update(channel_id=message["channel"], message_ts=message["ts"])
        payload["channel"]["id"] = message["channel"]
    return payload


def _button(post: dict[str, Any], action_id: str) -> dict[str, Any]:
    return next(e for b in post["blocks"] for e in b.get("elements", []) if e.get("action_id") == action_id)


async def test_each_question_is_kept_with_its_outcome_and_never_the_raw_user_id(harness: Harness) -> None:
    await harness.dm("what are the key points?", user=MEMBER)
    await harness.dm("what's the weather in Leeds tomorrow", user=MEMBER)
    await harness.posts(2)
    rows = sorted(await _stored(harness), key=lambda r: r.text)
    assert [(r.surface, r.intent, r.outcome) for r in rows] == [("dm", "key_points", "answered"),
                                                               ("dm", None, "fallback")]  # fmt: skip
    assert rows[0].text == "what are the key points?"
    dump = json.dumps([r.__dict__ for r in rows], default=str)
    assert MEMBER not in dump
    sqlite = harness.content_path.parent / "questions.sqlite3"
    if sqlite.exists():
        assert MEMBER.encode() not in sqlite.read_bytes()


async def test_feedback_is_one_vote_per_member_that_can_change_without_a_new_post(harness: Harness) -> None:
    await harness.dm("tell me about recommendation 4", user=MEMBER)
    [post] = await harness.posts(1)
    message = {"channel": post["channel"], "ts": "1780000000.000100", "text": post["text"]}
    for action_id in ("feedback:helpful", "feedback:not_helpful"):
        status, _ = await harness.action(_click(harness, _button(post, action_id), message=message))
        assert status == 200
    calls = await harness.standin.wait_for("response_url", 2)
    assert [c.params["response_type"] for c in calls] == ["ephemeral", "ephemeral"]
    assert "Thanks" in _all_text(calls[0].params)
    assert "Ask a person" in json.dumps(calls[1].params["blocks"])  # not helpful offers a person
    await harness.settle(1)  # acknowledged without a new post
    await harness.services.recorder.flush()
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    counts = await harness.services.recorder.store.feedback.counts_since(since)
    assert (counts.get("helpful", 0), counts.get("not_helpful", 0)) == (0, 1)  # the vote was changed


async def test_ask_a_person_reaches_the_handoff_channel_with_a_permalink(harness: Harness) -> None:
    # In a channel: its id is kept as it is, so the hand-off can link to the member's message. (A DM's id
    # is kept only as a token, and its permalink would not open for staff anyway.)
    status, _, event = await harness.mention("can I get a parking permit for the hospital site?", user=MEMBER)
    [fallback] = await harness.posts(1)
    message = {"channel": fallback["channel"], "ts": "1780000000.000200", "text": fallback["text"]}
    status, _ = await harness.action(_click(harness, _button(fallback, "handoff"), message=message))
    assert status == 200
    [_, handoff] = await harness.posts(2)
    assert handoff["channel"] == HANDOFF_CHANNEL
    assert f"<@{MEMBER}>" in handoff["text"] and "parking permit" in handoff["text"]
    shown = _all_text(handoff)  # the text, and the blocks Slack shows: the best guess and the link
    assert "Best guess:" in shown
    [permalink] = harness.standin.calls_to("chat.getPermalink")
    assert permalink.params["message_ts"] == event["ts"]
    assert f"/archives/{event['channel']}/p{event['ts'].replace('.', '')}|" in shown
    [told] = await harness.standin.wait_for("response_url", 1)
    handoff_text = harness.services.content.current.catalogue.settings.handoff_text
    assert told.params["text"] == handoff_text


async def test_without_a_handoff_channel_ask_a_person_links_to_the_contact_page(harness: Harness) -> None:
    harness.services.settings = dataclasses.replace(harness.services.settings, handoff_channel=None)
    await harness.dm("can I get a parking permit for the hospital site?", user=MEMBER)
    [fallback] = await harness.posts(1)
    button = _button(fallback, "link:handoff")
    assert button["url"].startswith("https://")


def _cli(harness: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=harness.services.settings.database_url or "", MEMBER_HASH_SECRET=MEMBER_SECRET,
               RESPONSES_PATH=str(harness.content_path))  # fmt: skip
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT_DIR, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


async def test_report_counts_what_was_asked_and_clicked_and_forget_erases_a_member(harness: Harness) -> None:
    await harness.dm("what are the key points?", user=MEMBER)
    await harness.dm("what's the weather in Leeds tomorrow", user=MEMBER)
    await harness.dm("what's the weather in Leeds tomorrow", user="U0OTHER001")
    status, reply = await harness.command("/messenger", "recommendation 4", user="U0OTHER001")
    [answer, *_] = await harness.posts(3)
    message = {"channel": answer["channel"], "ts": "1780000000.000300", "text": answer["text"]}
    await harness.action(_click(harness, _button(answer, "feedback:helpful"), message=message))
    await harness.standin.wait_for("response_url", 1)
    await harness.services.recorder.flush()
    result = _cli(harness, "report", "--days", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["questions"], report["answered"], report["fallback"]) == (4, 2, 2)
    assert report["feedback"] == {"helpful": 1, "not_helpful": 0}
    assert report["by_intent"]["key_points"] == 1 and report["by_intent"]["rec_appraisal"] == 1
    [weather] = [u for u in report["unanswered"] if "weather" in u["text"]]
    assert (weather["members"], weather["messages"]) == (2, 2)
    forgotten = _cli(harness, "forget", "--user", MEMBER)
    assert forgotten.returncode == 0, forgotten.stderr
    rows = await _stored(harness)
    assert len(rows) == 2  # the other member's two questions remain
    after = json.loads(_cli(harness, "report", "--days", "1", "--json").stdout)
    assert after["questions"] == 2 and after["feedback"]["helpful"] == 0


class TestWithoutTheText:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        return {"question_log": False}

    async def test_question_log_off_keeps_counts_only(self, harness: Harness) -> None:
        await harness.dm("what are the key points?", user=MEMBER)
        await harness.posts(1)
        [row] = await _stored(harness)
        assert row.text is None and row.intent == "key_points"


class TestDatabaseOutage:
    @pytest.fixture
    def settings_overrides(self, tmp_path: Path) -> dict[str, Any]:
        return {"database_url": "postgresql://nobody@127.0.0.1:9/nothing"}

    async def test_an_unreachable_database_never_stops_an_answer(self, harness: Harness) -> None:
        await harness.dm("what are the key points?", user=MEMBER)
        [post] = await harness.posts(1)
        assert "key points" in _all_text(post).lower()
        await harness.services.recorder.flush()
        async with harness.http.get(harness.url + "/healthz") as resp:
            health = await resp.json()
        assert resp.status == 200 and health["question_log"]["errors"] >= 1
        assert health["question_log"]["state"] == "degraded" and health["question_log"]["reason"]


async def test_other_members_ids_and_the_dm_are_kept_only_as_tokens_and_forget_erases_them(harness: Harness) -> None:
    other, channel = "U0NAMED0001", "C0ROOM0001"
    await harness.dm(f"can <@{other}> or <@W0HELPER01|sam> in <#{channel}|general> help? ask {other}", user=MEMBER)
    await harness.posts(1)
    [row] = await _stored(harness)
    assert row.channel is not None and row.channel.startswith("d:")  # the DM's id is one member's
    assert row.text is not None and other not in row.text and "W0HELPER01" not in row.text
    assert channel not in row.text and "general" not in row.text and "<@u:" in row.text
    forgotten = _cli(harness, "forget", "--user", other)
    assert forgotten.returncode == 0, forgotten.stderr
    [kept] = await _stored(harness)  # the asker's question stays, without the forgotten member in it
    assert (
        kept.text is not None
        and kept.text.startswith("can <@u:erased> or <@u:")
        and kept.text.endswith("ask @u:erased")
    )
    sqlite = harness.content_path.parent / "questions.sqlite3"
    if sqlite.exists():
        data = b"".join(p.read_bytes() for p in sqlite.parent.glob("questions.sqlite3*"))
        assert other.encode() not in data and b"D0000001" not in data


async def test_staff_see_the_report_in_slack_and_members_do_not(harness: Harness) -> None:
    await harness.dm("what's the weather in Leeds tomorrow", user=MEMBER)
    await harness.posts(1)
    await harness.command("/messenger", "report", user=MEMBER)
    await harness.command("/messenger", "report 30", user="USTAFF001")
    calls = await harness.standin.wait_for("response_url", 2)
    texts = [c.params["text"] for c in calls]
    assert any("only the content team" in t for t in texts)
    [report] = [t for t in texts if "only the content team" not in t]
    assert "weather in Leeds" in report and "fallback:    1" in report
