"""Socket Mode against the stand-in's WebSocket: events arrive, are acked and answered, and after the
connection drops Bolt's handler fetches a new address and reconnects by itself."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.services import Services
from devtools.standin import SlackStandIn
from tests.conftest import HEALTH_HEADERS, next_ts
from tests.test_events import _all_text


def _envelope(envelope_id: str, text: str) -> dict[str, Any]:
    event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": text, "ts": next_ts()}
    return {
        "envelope_id": envelope_id,
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "payload": {
            "type": "event_callback",
            "team_id": "T0000001",
            "api_app_id": "A0000001",
            "event_id": f"Ev{envelope_id}",
            "event": event,
        },  # fmt: skip
    }


async def test_socket_mode_answers_and_reconnects_after_a_drop(
    standin: SlackStandIn, socket_services: Services
) -> None:
    await standin.wait_for("socket.connect", 1)
    await standin.socket_send(_envelope("env-1", "recommendation 4"))
    [ack] = await standin.wait_for("socket.ack", 1)
    assert ack.params["envelope_id"] == "env-1"
    [post] = [c.params for c in await standin.wait_for("chat.postMessage", 1)]
    assert "appraisal" in _all_text(post).lower()

    await standin.socket_drop()
    await standin.wait_for("socket.connect", 2, timeout=15)
    assert len(standin.calls_to("apps.connections.open")) >= 2  # a fresh address was asked for
    await asyncio.sleep(0.2)
    await standin.socket_send(_envelope("env-2", "what are the key points"))
    acks = await standin.wait_for("socket.ack", 2, timeout=10)
    assert acks[1].params["envelope_id"] == "env-2"
    posts = await standin.wait_for("chat.postMessage", 2, timeout=10)
    assert "Our key points" in _all_text(posts[1].params)


async def test_app_in_socket_mode_connects_and_still_serves_healthz(standin: SlackStandIn) -> None:
    import os
    import signal
    import sys

    import aiohttp

    from bot.settings import PROJECT_DIR
    from tests.test_cli import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": "xoxb-1-socket", "SLACK_APP_TOKEN": "xapp-1-A1-socket", "SLACK_API_URL": standin.api_url,
                "PORT": str(port)})  # fmt: skip
    proc = await asyncio.create_subprocess_exec(sys.executable, "app.py", cwd=PROJECT_DIR, env=env)
    try:
        await standin.wait_for("socket.connect", 1, timeout=15)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz", headers=HEALTH_HEADERS) as resp:
                assert resp.status == 200
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=b"{}") as resp:
                assert resp.status in (404, 405)  # no HTTP events endpoint in Socket Mode
        await standin.socket_send(_envelope("env-3", "who led the review"))
        await standin.wait_for("chat.postMessage", 1, timeout=10)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_reconnecting_while_slack_refuses_costs_short_lines_without_tracebacks(
    standin: SlackStandIn, socket_services: Services
) -> None:
    """The real reconnect path (slack_sdk's client, logging through bot.socket) with Slack refusing
    apps.connections.open: every attempt fails, each failure is at most one short line (slack_sdk puts
    Slack's answer on a second line of its message), and repeats are thinned out by bot.logs."""
    from tests.test_http_attacks import configured_log

    with configured_log() as stream:
        await standin.wait_for("socket.connect", 1)
        standin.errors["apps.connections.open"] = "internal_error"
        await standin.socket_drop()
        await standin.wait_for("apps.connections.open", 5, timeout=15)  # several failed attempts (0.5 s apart)
        await asyncio.sleep(0.5)
        del standin.errors["apps.connections.open"]
        await standin.wait_for("socket.connect", 2, timeout=15)  # and it still reconnects by itself
    lines = stream.getvalue().splitlines()
    assert "Traceback" not in stream.getvalue()
    assert all(len(line) < 400 and line[:4].isdigit() for line in lines), lines  # one line per record
    failures = [line for line in lines if "Failed to" in line]
    assert 1 <= len(failures) <= 4, lines  # a line or two for the first attempt; later ones thinned
