"""Helpers for the benchmark scripts: start a process, wait for its port, send signed events."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.signing import event_body, signed_headers  # noqa: E402

SECRET = "benchsecret0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args: list[str], port: int, api_url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url,
                "PORT": str(port), "LOG_LEVEL": "WARNING"})  # fmt: skip
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


async def wait_listening(port: int, timeout: float = 20.0) -> float:
    """Seconds until the port accepts a connection."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return time.perf_counter() - start
        except OSError:
            await asyncio.sleep(0.01)
    raise TimeoutError(f"nothing listening on {port}")


async def send_dms(port: int, questions: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        for n, text in enumerate(questions):
            event = {"type": "message", "channel_type": "im", "channel": "D1", "user": f"U{n % 50:04d}",
                     "text": text, "ts": f"1700000000.{n:06d}"}  # fmt: skip
            body = event_body(event, f"EvBench{port}{n:06d}")
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body.encode(),
                                 headers=signed_headers(SECRET, body)) as resp:  # fmt: skip
                await resp.read()
