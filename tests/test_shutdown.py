"""SIGTERM, as Procfile platforms send it: stop accepting, finish replies in flight, exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp

from bot.settings import PROJECT_DIR
from bot.standin import SlackStandIn
from tests.conftest import SECRET, TOKEN, dm_event, post_event_to
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
            before = (await (await http.get(f"http://127.0.0.1:{port}/healthz")).json())["content"]
            content_path.write_text(edited, encoding="utf-8")
            for _ in range(200):  # wait for the new version to be in service (bench/reload.py times it)
                if (await (await http.get(f"http://127.0.0.1:{port}/healthz")).json())["content"] != before:
                    break
                await asyncio.sleep(0.05)
        event = dm_event()
        assert await post_event_to(port, event, "EvRELOAD01") == 200
        [call] = await standin.wait_for("chat.postMessage", 1, timeout=10)
        assert "Key points, freshly edited" in str(call.params["blocks"])
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 15)
