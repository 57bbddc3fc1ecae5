"""Resident memory of the bot beside a bare Bolt AsyncApp with a fixed reply, both after start-up and
after answering the same 300 direct messages. Prints both figures and the ratio (the bar is 1.5x).

    .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import asyncio

import psutil
from _common import free_port, send_dms, spawn, wait_listening

from bot.standin import SlackStandIn

QUESTIONS = ["what are the key points", "recommendation 4", "how do I join the EDI network",
             "is the nhs over-managed?", "what's the weather like"] * 60  # fmt: skip


async def measure(args: list[str], api_url: str) -> tuple[float, float]:
    port = free_port()
    proc = spawn(args, port, api_url)
    try:
        await wait_listening(port)
        await asyncio.sleep(0.5)
        idle = psutil.Process(proc.pid).memory_info().rss / 2**20
        await send_dms(port, QUESTIONS)
        await asyncio.sleep(1.0)
        busy = psutil.Process(proc.pid).memory_info().rss / 2**20
        return idle, busy
    finally:
        proc.terminate()
        proc.wait(10)


async def main() -> None:
    standin = await SlackStandIn().start()
    try:
        bare = await measure(["bench/bare_bolt.py"], standin.api_url)
        ours = await measure(["app.py"], standin.api_url)
    finally:
        await standin.stop()
    print(f"bare Bolt AsyncApp: {bare[0]:.1f} MiB after start, {bare[1]:.1f} MiB after {len(QUESTIONS)} messages")
    print(f"member bot:         {ours[0]:.1f} MiB after start, {ours[1]:.1f} MiB after {len(QUESTIONS)} messages")
    print(
        f"ratio:              {ours[0] / bare[0]:.2f}x after start, {ours[1] / bare[1]:.2f}x after messages (bar: 1.5x)"
    )


if __name__ == "__main__":
    asyncio.run(main())
