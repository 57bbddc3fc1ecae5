"""SIGTERM, as Procfile platforms send it: stop accepting, finish replies in flight, exit 0."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp
import pytest

from bot.settings import PROJECT_DIR
from devtools.standin import SlackStandIn
from tests.conftest import HEALTH_HEADERS, SECRET, TOKEN, dm_event, post_event_to
from tests.test_cli import free_port


async def _wait_up(port: int) -> None:
    for _ in range(300):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise AssertionError("app did not start")


async def test_sigterm_finishes_the_reply_in_flight_then_exits_zero(standin: SlackStandIn) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": standin.api_url,
                "PORT": str(port), "SHUTDOWN_GRACE_SECONDS": "10"})  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=PROJECT_DIR, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await _wait_up(port)
        standin.slow_seconds = 2.0
        standin.fail_next("chat.postMessage", 1, "slow")
        event = dm_event()
        assert await post_event_to(port, event, "EvSIGTERM1") == 200
        await standin.wait_for("chat.postMessage!slow", 1, timeout=10)  # the reply is now in flight
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        # No new requests are accepted while the reply finishes...
        refused = False
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
        except OSError:
            refused = True
        assert refused
        # ...the reply in flight is delivered, and the process exits 0.
        await standin.wait_for("chat.postMessage", 1, timeout=10)
        code = await asyncio.wait_for(proc.wait(), 15)
        assert code == 0
        stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        assert "waiting up to 10.0s for 1 replies in flight" in stderr
        assert "stopped" in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_the_served_app_reloads_a_saved_file_by_itself(standin: SlackStandIn, content_path) -> None:  # type: ignore[no-untyped-def]
    """app.py as deployed: edit the file on disk, and within 2 s members get the new text."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": standin.api_url,
                "PORT": str(port), "RESPONSES_PATH": str(content_path)})  # fmt: skip
    proc = await asyncio.create_subprocess_exec(sys.executable, "app.py", cwd=PROJECT_DIR, env=env)
    try:
        await _wait_up(port)
        text = content_path.read_text(encoding="utf-8")
        edited = text.replace("Our key points on the Messenger review", "Key points, freshly edited")
        async with aiohttp.ClientSession() as http:
            before = (await (await http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS)).json())[
                "content"
            ]
            content_path.write_text(edited, encoding="utf-8")
            for _ in range(200):  # wait for the new version to be in service (bench/reload.py times it)
                if (await (await http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS)).json())[
                    "content"
                ] != before:
                    break
                await asyncio.sleep(0.05)
        event = dm_event()
        assert await post_event_to(port, event, "EvRELOAD01") == 200
        [call] = await standin.wait_for("chat.postMessage", 1, timeout=10)
        assert "Key points, freshly edited" in str(call.params["blocks"])
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)


def _env(port: int, api_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url,
                "PORT": str(port), "SHUTDOWN_GRACE_SECONDS": "15", **extra})  # fmt: skip
    return env


async def test_sigterm_waits_for_a_reply_whose_listener_is_stuck_on_a_paused_redis(
    standin: SlackStandIn, redis_server: str
) -> None:
    """The listener is counted in flight from its first line: with Redis frozen (SIGSTOP), an event
    already acknowledged is still answered after SIGTERM, once the stores time out and fail open."""
    redis_port = free_port()
    redis = await asyncio.create_subprocess_exec(
        redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=PROJECT_DIR, stderr=asyncio.subprocess.PIPE,
        env=_env(port, standin.api_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"),
    )  # fmt: skip
    try:
        await _wait_up(redis_port)
        await _wait_up(port)
        redis.send_signal(signal.SIGSTOP)
        assert await post_event_to(port, dm_event(), "EvFROZEN1") == 200  # acknowledged: Slack won't resend
        proc.send_signal(signal.SIGTERM)
        [post] = await standin.wait_for("chat.postMessage", 1, timeout=20)
        assert "key points" in str(post.params["blocks"]).lower()
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        # Counted after LISTENER_START_SECONDS, so that a listener scheduled but not started yet counts: by
        # then this one may have finished (Redis's circuit breaker opened on the redelivery check), or not.
        assert re.search(r"waiting up to [\d.]+s for [01] replies in flight", stderr), stderr
    finally:
        redis.send_signal(signal.SIGCONT)
        redis.terminate()
        await redis.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_socket_mode_with_slack_unreachable_is_not_ready_and_stops_when_told() -> None:
    port = free_port()
    env = _env(port, "http://127.0.0.1:9/", SLACK_APP_TOKEN="xapp-1-A1-socket", SHUTDOWN_GRACE_SECONDS="5")
    del env["SLACK_SIGNING_SECRET"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=PROJECT_DIR, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await _wait_up(port)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS) as resp:
                assert resp.status == 503
                assert (await resp.json())["ok"] is False
        await asyncio.sleep(3)  # a few failed attempts
        for sig in (signal.SIGTERM, signal.SIGINT):
            if proc.returncode is None:
                started = asyncio.get_running_loop().time()
                proc.send_signal(sig)
                assert await asyncio.wait_for(proc.wait(), 10) == 0
                assert asyncio.get_running_loop().time() - started < 5
        stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
        assert "Traceback" not in stderr
        failures = [line for line in stderr.splitlines() if "cannot reach Slack" in line]
        assert 1 <= len(failures) <= 4, stderr  # one line an attempt, backing off
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("socket_mode", [False, True])
async def test_a_refused_token_is_one_clear_line_and_exit_2(standin: SlackStandIn, socket_mode: bool) -> None:
    extra = {"SLACK_APP_TOKEN": "xapp-1-A1-socket"} if socket_mode else {}
    standin.errors["apps.connections.open" if socket_mode else "auth.test"] = "invalid_auth"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=PROJECT_DIR, env=_env(free_port(), standin.api_url, **extra),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    # A bound, not a timing: a cold start on a busy machine trains the model first.
    assert await asyncio.wait_for(proc.wait(), 60) == 2
    stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    refused = [line for line in stderr.splitlines() if "was refused by Slack (invalid_auth)" in line]
    assert len(refused) == 1, stderr
    assert ("SLACK_APP_TOKEN" if socket_mode else "SLACK_BOT_TOKEN") in refused[0]
    assert "Traceback" not in stderr


async def test_replies_still_waiting_when_the_grace_ends_are_each_logged(standin: SlackStandIn) -> None:
    """Slack is slow past the grace period: each reply given up on is one line (its kind and event id,
    never the member's text), beside the summary, and the process still exits 0."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "app.py", cwd=PROJECT_DIR, stderr=asyncio.subprocess.PIPE,
        env=_env(port, standin.api_url, SHUTDOWN_GRACE_SECONDS="1"),
    )  # fmt: skip
    try:
        await _wait_up(port)
        standin.slow_seconds = 60.0  # far past the grace; the stand-in lets go when the test ends
        standin.fail_next("chat.postMessage", 2, "slow")
        marker = "SECRET-MEMBER-TEXT key points"
        assert await post_event_to(port, dm_event(text=marker), "EvLOST0001") == 200
        mention = {"type": "app_mention", "channel": "C1", "user": "U1", "text": f"<@UBOT0001> {marker}", "ts": "1.1"}
        assert await post_event_to(port, mention, "EvLOST0002") == 200
        await standin.wait_for("chat.postMessage!slow", 2, timeout=10)  # both replies are in flight
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        stderr = (await proc.stderr.read()).decode()  # type: ignore[union-attr]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "grace period over with 2 replies still in flight" in stderr
    lost = [line for line in stderr.splitlines() if "reply lost" in line]
    assert len(lost) == 2, stderr
    assert any("kind=message" in line and "event_id=EvLOST0001" in line for line in lost), lost
    assert any("kind=app_mention" in line and "event_id=EvLOST0002" in line for line in lost), lost
    assert "SECRET-MEMBER-TEXT" not in stderr
    assert "Traceback" not in stderr
    assert len(standin.calls_to("chat.postMessage")) == 0
