"""Helpers for the benchmark scripts: start a process, wait for its port, send signed events."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


SECRET = "benchsecret0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(
    args: list[str], port: int, api_url: str, extra_env: dict[str, str] | None = None, output: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    """Start `python *args` in the project folder with bench credentials; its stdout and stderr go to
    `output` (a file, so a chatty process never blocks on a full pipe) or nowhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url,
                "PORT": str(port), "LOG_LEVEL": "WARNING"})  # fmt: skip
    env.update(extra_env or {})
    sink: IO[bytes] | int = subprocess.DEVNULL if output is None else output
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=sink, stderr=sink)


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


async def wait_healthy(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30.0) -> float:
    """Seconds until GET /healthz answers 200; raises if `proc` exits first or time runs out."""
    start = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.perf_counter() - start < timeout:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"process exited with code {proc.returncode} before /healthz answered")
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    await resp.read()
                    if resp.status == 200:
                        return time.perf_counter() - start
            except (aiohttp.ClientError, OSError):  # refused, reset or timed out: not up yet
                pass
            await asyncio.sleep(0.01)
    raise TimeoutError(f"/healthz on {port} did not answer 200 within {timeout:g} s")
