"""Every surface that makes the bot post or work counts against a member's limit: topic-button clicks
and the staff-only commands too (an attack found both skipped it). Only `report` or `report N` is the
staff report; a question that starts with "report" is a member's question."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.test_actions import _click
from tests.test_events import _all_text

SLOW = "faster than I can answer"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_count": 3, "rate_limit_seconds": 60}


async def test_topic_button_clicks_share_the_limit(harness: Harness) -> None:
    for n in range(8):  # each click on its own message, so none is a double click
        payload = _click(
            harness, {"action_id": "topic:key_points", "value": "key_points"}, thread_ts=f"17000001{n:02d}.1"
        )
        payload["container"]["message_ts"] = payload["message"]["ts"] = f"17000002{n:02d}.1"
        status, _ = await harness.action(payload)
        assert status == 200
    await harness.posts(3)
    await harness.settle(3)
    [note] = await harness.standin.wait_for("response_url", 1)
    assert SLOW in note.params["text"] and note.params["response_type"] == "ephemeral"


async def test_staff_only_commands_share_the_limit(harness: Harness) -> None:
    replies = [(await harness.command("/messenger", "reload", user="UFLOOD03"))[1] for _ in range(6)]
    assert sum(SLOW in _all_text(r) for r in replies) == 1
    refusals = await harness.standin.wait_for("response_url", 3)
    assert all("only the content team" in c.params["text"] for c in refusals)
    await harness.settle(0)
    assert len(harness.standin.calls_to("response_url")) == 3  # the rest got nothing at all


@pytest.mark.parametrize("text", ["report on the review's findings", "reports about leadership", "report me"])
async def test_a_question_that_starts_with_report_is_answered(harness: Harness, text: str) -> None:
    status, reply = await harness.command("/messenger", text)
    assert status == 200 and reply.get("response_type") == "ephemeral"
    assert "only the content team" not in _all_text(reply)
    assert harness.standin.calls_to("response_url") == []


@pytest.mark.parametrize("text", ["report", "report 30", "Report  7"])
async def test_the_staff_report_still_refuses_members(harness: Harness, text: str) -> None:
    await harness.command("/messenger", text)
    [refusal] = await harness.standin.wait_for("response_url", 1)
    assert "only the content team can see the question report" in refusal.params["text"]
