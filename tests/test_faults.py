"""Exactly one right reply under redelivery, Web API faults, failing listeners and floods."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest

from bot.logs import configure
from tests.conftest import SECRET, TOKEN, Harness, dm_event, next_ts
from tests.test_events import _all_text


async def test_a_redelivered_event_gets_no_second_reply(harness: Harness) -> None:
    event = dm_event()
    assert (await harness.event(event, event_id="EvSAME0001"))[0] == 200
    await harness.posts(1)
    status, _ = await harness.event(
        event, "EvSAME0001", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert status == 200  # acknowledged, so Slack stops retrying
    status, _ = await harness.event(
        event, "EvSAME0001", **{"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"}
    )
    assert status == 200
    await harness.settle(1)


async def test_concurrent_redeliveries_still_get_one_reply(harness: Harness) -> None:
    event = {"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@UBOT0001> key points", "ts": next_ts()}
    results = await asyncio.gather(
        *(harness.event(event, event_id="EvSAME0002", **{"X-Slack-Retry-Num": str(n)}) for n in range(4))
    )
    assert {r[0] for r in results} == {200}
    await harness.posts(1)
    await harness.settle(1)


@pytest.mark.parametrize("kind", ["429", "500"])
async def test_reply_is_delivered_through_rate_limits_and_server_errors(harness: Harness, kind: str) -> None:
    harness.standin.fail_next("chat.postMessage", 2, kind, retry_after=1)
    await harness.dm("recommendation 4")
    [post] = await harness.posts(1, timeout=15)
    assert "appraisal" in _all_text(post).lower()
    assert len(harness.standin.calls_to(f"chat.postMessage!{kind}")) == 2


class TestTimeouts:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"api_timeout_seconds": 1.0}

    async def test_reply_is_delivered_after_a_time_out(self, harness: Harness) -> None:
        harness.standin.fail_next("chat.postMessage", 1, "timeout")
        await harness.dm("who led the review?")
        [post] = await harness.posts(1, timeout=15)
        assert "Gordon Messenger" in _all_text(post)
        assert len(harness.standin.calls_to("chat.postMessage!timeout")) == 1


async def test_exhausted_retries_log_one_line_and_the_bot_keeps_serving(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.standin.fail_next("chat.postMessage", 4, "500")
    caplog.set_level(logging.INFO)
    event = dm_event()
    await harness.event(event, event_id="EvDOOMED01")
    await harness.standin.wait_for("chat.postMessage!500", 4, timeout=20)
    await asyncio.sleep(0.3)
    failures = [r for r in caplog.records if "reply not delivered" in r.getMessage()]
    assert len(failures) == 1
    assert "event_id=EvDOOMED01" in failures[0].getMessage() and "internal_error" in failures[0].getMessage()
    await harness.dm("key points")
    await harness.posts(1)


async def test_a_failing_listener_apologises_and_logs_the_event_id(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("matcher exploded")

    monkeypatch.setattr(harness.services.content.current.engine, "answer", broken)
    caplog.set_level(logging.INFO)
    event = dm_event()
    assert (await harness.event(event, event_id="EvBROKEN01"))[0] == 200
    [post] = await harness.posts(1)
    assert post["text"].startswith("Sorry, something went wrong")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "EvBROKEN01" in r.getMessage()]
    assert errors and "matcher exploded" in (errors[0].exc_text or str(errors[0].exc_info))
    monkeypatch.undo()
    await harness.dm("key points")
    assert "Our key points" in _all_text((await harness.posts(2))[1])


class TestRateLimit:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"rate_limit_count": 3, "rate_limit_seconds": 60}

    async def test_a_flood_from_one_member_gets_answers_then_one_note(self, harness: Harness) -> None:
        for _ in range(12):
            await harness.dm("key points", user="UFLOOD01")
        await harness.dm("recommendation 4", user="UCALM001")
        posts = await harness.posts(5)
        await harness.settle(5)
        notes = [p for p in posts if "faster than I can answer" in p["text"]]
        assert len(notes) == 1
        assert sum("Our key points" in _all_text(p) for p in posts) == 3
        assert any("appraisal" in _all_text(p).lower() for p in posts)  # other members are unaffected

    async def test_commands_share_the_limit(self, harness: Harness) -> None:
        replies = [(await harness.command("/keypoints", "", user="UFLOOD02"))[1] for _ in range(6)]
        assert sum("Our key points" in _all_text(r) for r in replies) == 3
        assert sum("faster than I can answer" in _all_text(r) for r in replies) == 1


async def test_request_log_is_one_structured_line_without_the_question(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.requests")
    event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "my secret question about appraisals",
             "ts": next_ts()}  # fmt: skip
    await harness.event(event, event_id="EvLOG00001")
    await harness.posts(1)
    await asyncio.sleep(0.1)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.requests" and "EvLOG00001" in r.getMessage()]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event_id"] == "EvLOG00001" and record["kind"] == "dm" and record["outcome"] == "answered"
    assert record["intent"] == "rec_appraisal" and 0 < record["confidence"] <= 1 and record["latency_ms"] >= 0
    assert "secret question" not in caplog.text


async def test_secrets_never_reach_the_log_even_at_debug(harness: Harness) -> None:
    stream = io.StringIO()
    handler = configure("DEBUG", [TOKEN, SECRET], stream=stream)
    try:
        logging.getLogger("probe").debug("token is %s and secret %s", TOKEN, SECRET)
        await harness.dm("key points")
        await harness.command("/messenger", "recommendations")
        await harness.posts(1)
        await asyncio.sleep(0.2)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
    text = stream.getvalue()
    assert "chat.postMessage" in text  # DEBUG really was on, with slack_sdk's request logs
    assert TOKEN not in text and SECRET not in text
    assert "[redacted]" in text
