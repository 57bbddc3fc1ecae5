"""Acknowledgement latency of the bot (app.py) with REDIS_URL set, when Redis is healthy, stopped and frozen.

    .venv/bin/python bench/redis_outage.py [--events N] [--pace SECONDS]

Redis here is a redis-server of this script's own on a free port (never a shared one):
  healthy   it answers
  stopped   REDIS_URL names a closed port: every connection is refused
  frozen    the same redis-server, SIGSTOPped: connections are accepted and never answered
For each, a fresh bot process gets N signed DM events one at a time, --pace seconds apart (each with its
own event id); the time from sending to the HTTP acknowledgement is measured from outside the process.
Every event counts, the first included: it is the one that finds Redis away. At the default pace the
run spans more than one back-off period (5 s), so the probe after it is measured too. Prints p50, p99,
max, how many acks took over 100 ms, and the bot's log lines about Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import tempfile
import time

import aiohttp
from _common import SECRET, free_port, spawn, wait_healthy

from bot.server import EVENTS_PATH
from devtools.signing import event_body, signed_headers
from devtools.standin import SlackStandIn


async def ack_latencies(port: int, events: int, tag: str, pace: float) -> list[float]:
    url = f"http://127.0.0.1:{port}{EVENTS_PATH}"
    latencies = []
    async with aiohttp.ClientSession() as http:
        for n in range(events):
            event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "key points",
                     "ts": f"1700000000.{n:06d}"}  # fmt: skip
            body = event_body(event, f"Ev{tag}{n:06d}")
            start = time.perf_counter()
            async with http.post(url, data=body.encode(), headers=signed_headers(SECRET, body)) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            latencies.append(time.perf_counter() - start)
            await asyncio.sleep(pace)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def measure(
    mode: str, redis_url: str, args: argparse.Namespace, standin: SlackStandIn
) -> tuple[list[float], list[str]]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp}/questions.sqlite3"}
        with open(f"{tmp}/out.log", "wb") as output:
            proc = spawn(["app.py"], port, standin.api_url, env, output)
            try:
                await wait_healthy(port, proc)
                latencies = await ack_latencies(port, args.events, mode, args.pace)
            finally:
                proc.terminate()
                try:
                    proc.wait(30)  # the bot drains replies in flight first
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        with open(f"{tmp}/out.log", encoding="utf-8", errors="replace") as log:
            lines = [line.strip() for line in log if "redis" in line.lower()]
    return latencies, lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--pace", type=float, default=0.03)
    args = parser.parse_args()
    redis_port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    standin = await SlackStandIn().start()
    try:
        healthy = f"redis://127.0.0.1:{redis_port}/0"
        results = {"healthy": await measure("healthy", healthy, args, standin)}
        results["stopped"] = await measure("stopped", f"redis://127.0.0.1:{free_port()}/0", args, standin)
        redis.send_signal(signal.SIGSTOP)
        results["frozen"] = await measure("frozen", healthy, args, standin)
    finally:
        redis.send_signal(signal.SIGCONT)
        redis.terminate()
        redis.wait(10)
        await standin.stop()
    print(f"ack latency, {args.events} events each, {args.pace * 1000:g} ms apart")
    for mode, (values, lines) in results.items():
        ms = [v * 1000 for v in values]
        slow = sum(1 for v in ms if v > 100)
        print(
            f"  {mode:8} p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms   "
            f"max {max(ms):7.1f} ms   over 100 ms: {slow}"
        )
        for line in lines[:3]:
            print(f"           log: {line}")
        if len(lines) > 3:
            print(f"           log: ... {len(lines) - 3} more lines about Redis")


if __name__ == "__main__":
    asyncio.run(main())
