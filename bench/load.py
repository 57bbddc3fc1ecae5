"""Load: the bot (app.py) beside a bare Bolt AsyncApp that posts one fixed reply (bench/bare_bolt.py),
measured from outside both processes in the same run. Each app gets its own SlackStandIn over real HTTP
and the same signed app_mention events. Both run side by side, but only one is loaded at a time: each phase
alternates between them round by round, so drift on a shared machine falls on both alike; and
the load generator and stand-in run in this process.

    .venv/bin/python bench/load.py [--events N] [--quick]

Per app, after a warm-up:
  CPU per event    user+system CPU time of the app process across the CPU phase, divided by its events
                   (sent one at a time, each waiting for its reply)
  reply latency    p50 and p99 at concurrency 1: from sending the signed request to the stand-in
                   receiving the chat.postMessage for that event
  throughput       events/s completed (reply received) with 50 concurrent senders
  RSS              resident memory after start and after all the load
  start-up         process start to GET /healthz answering 200, median of 3 runs (bare and ours alternate)

--events N sets the events in each measured phase (default 400 for CPU, 300 for latency, 1000 for
throughput); --quick is a fast smoke run with smaller counts and one start-up run each.
Bars, ours/bare (issue 19, with the scikit-learn model): CPU per event <= 2.5x, p99 latency <= 2.5x, RSS <= 4.5x,
start-up <= 6x.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO

import aiohttp
import psutil
from _common import SECRET, free_port, spawn, wait_healthy

from devtools.signing import event_body, signed_headers
from devtools.standin import BOT_USER_ID, TEAM_ID, SlackStandIn

BARE = ["bench/bare_bolt.py"]
OURS = ["app.py"]
# Ours must never throttle the load; the many distinct users below would keep it from doing so anyway.
OURS_ENV = {"RATE_LIMIT_COUNT": "10000"}
QUESTIONS = (
    "what are the key points?",
    "recommendation 4",
    "how do I join the EDI network?",
    "is the NHS over-managed?",
    "what does the review say about leadership?",
    "which recommendations are about data?",
)
USERS = 500
REPLY_TIMEOUT = 10.0  # seconds to wait for one event's reply before counting it missing
CONCURRENCY = 50
CPU_ROUNDS = 5
BARS = {"cpu": 2.5, "p99": 2.5, "rss": 4.5, "startup": 6.0}


@dataclass(frozen=True)
class Plan:
    warmup: int = 50
    cpu: int = 400
    latency: int = 300
    throughput: int = 1000
    startup_runs: int = 3


@dataclass
class Figures:
    name: str
    startup: list[float] = field(default_factory=list)  # seconds, one per run
    rss_start: float = 0.0  # MiB
    rss_after: float = 0.0
    cpu_ms: float = 0.0  # per event
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    throughput: float = 0.0  # events/s
    sent: int = 0
    missing: int = 0  # events whose reply never reached the stand-in
    refused: int = 0  # events the app did not answer 200


class Replies:
    """The chat.postMessage calls a stand-in receives, by channel, handed to whoever waits for them.
    Every event goes to a channel of its own, so the channel names the event a reply belongs to."""

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin
        self.read = 0  # calls looked at so far
        self.posts = 0
        self.arrived: dict[str, float] = {}  # channel -> perf_counter when the stand-in received the reply
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            try:
                await self.standin.wait_for("chat.postMessage", self.posts + 1, timeout=3600)
            except TimeoutError:
                continue
            calls = self.standin.calls
            for call in calls[self.read :]:
                if call.method != "chat.postMessage":
                    continue
                self.posts += 1
                channel = str(call.params.get("channel"))
                self.arrived.setdefault(channel, call.at)
                waiter = self.waiting.pop(channel, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(call.at)
            self.read = len(calls)

    async def wait(self, channel: str, timeout: float = REPLY_TIMEOUT) -> float | None:
        """When the reply for `channel` arrived (perf_counter), or None if it did not within `timeout`."""
        if channel in self.arrived:
            return self.arrived[channel]
        waiter = asyncio.get_running_loop().create_future()
        self.waiting[channel] = waiter
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self.waiting.pop(channel, None)
            return None

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


class Sender:
    """Signed app_mention events to one app; each a new channel, ts, event_id, and one of USERS users."""

    def __init__(self, port: int, http: aiohttp.ClientSession, replies: Replies, figures: Figures) -> None:
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self.http = http
        self.replies = replies
        self.figures = figures
        self.numbers = itertools.count(1)

    def _event(self) -> tuple[str, bytes]:
        n = next(self.numbers)
        channel = f"C{n:09d}"
        ts = f"1700000000.{n:06d}"
        event = {"type": "app_mention", "user": f"U{n % USERS:08d}", "team": TEAM_ID, "channel": channel,
                 "text": f"<@{BOT_USER_ID}> {QUESTIONS[n % len(QUESTIONS)]}", "ts": ts, "event_ts": ts}  # fmt: skip
        return channel, event_body(event, f"Ev{n:010d}").encode()

    async def one(self) -> tuple[float, float] | None:
        """Send one event and wait for its reply: (when sent, when the stand-in received the reply), or None."""
        channel, body = self._event()
        self.figures.sent += 1
        started = time.perf_counter()
        async with self.http.post(self.url, data=body, headers=signed_headers(SECRET, body.decode())) as resp:
            await resp.read()
            if resp.status != 200:
                self.figures.refused += 1
                return None
        arrived = await self.replies.wait(channel)
        if arrived is None:
            self.figures.missing += 1
            return None
        return started, arrived

    async def many(self, count: int, concurrency: int) -> list[tuple[float, float]]:
        """`count` events from `concurrency` senders, each waiting for its reply before sending the next;
        (sent, reply received) for every event answered."""
        left = iter(range(count))
        answered: list[tuple[float, float]] = []

        async def worker() -> None:
            for _ in left:
                times = await self.one()
                if times is not None:
                    answered.append(times)

        await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
        return answered


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def rss_mib(proc: psutil.Process) -> float:
    return float(proc.memory_info().rss) / 2**20


def cpu_seconds(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait without blocking the loop: the stand-in here must keep answering replies in flight."""
    proc.terminate()
    try:
        await asyncio.to_thread(proc.wait, 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        await asyncio.to_thread(proc.wait, 5)


def tail(log: IO[bytes], lines: int = 15) -> str:
    log.flush()
    log.seek(0)
    return "\n".join(log.read().decode("utf-8", "replace").splitlines()[-lines:])


async def start(args: list[str], api_url: str, log: IO[bytes]) -> tuple[subprocess.Popen[bytes], int, float]:
    """Start an app; return it, its port, and seconds from process start to /healthz answering 200."""
    port = free_port()
    began = time.perf_counter()
    proc = spawn(args, port, api_url, OURS_ENV if args == OURS else None, output=log)
    try:
        await wait_healthy(port, proc)
    except Exception as exc:
        await stop(proc)
        raise RuntimeError(f"{' '.join(args)} did not start: {exc}\n{tail(log)}") from exc
    return proc, port, time.perf_counter() - began


async def startups(runs: int, figures: dict[str, Figures]) -> None:
    """Start-up of each app, alternating bare and ours so drift on the machine hits both alike."""
    standin = await SlackStandIn().start()
    try:
        for _ in range(runs):
            for args, name in ((BARE, "bare"), (OURS, "ours")):
                with tempfile.TemporaryFile() as log:
                    proc, _, seconds = await start(args, standin.api_url, log)
                    await stop(proc)
                figures[name].startup.append(seconds)
    finally:
        await standin.stop()


class Running:
    """One app, started with its own stand-in, that the phases below load in turn."""

    def __init__(self, args: list[str], figures: Figures) -> None:
        self.args = args
        self.figures = figures
        self.log = tempfile.TemporaryFile()

    async def __aenter__(self) -> Running:
        self.standin = await SlackStandIn().start()
        self.replies = Replies(self.standin)
        self.proc, port, _ = await start(self.args, self.standin.api_url, self.log)
        self.app = psutil.Process(self.proc.pid)
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY * 2))
        self.sender = Sender(port, self.http, self.replies, self.figures)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()
        await stop(self.proc)
        await self.replies.close()
        await self.standin.stop()
        if self.figures.missing or self.figures.refused:
            progress(f"{self.figures.name}: its output ends:\n{tail(self.log)}")
        self.log.close()

    async def cpu_round(self, events: int) -> float:
        before = cpu_seconds(self.app)
        await self.sender.many(events, 1)
        await asyncio.sleep(0.05)  # the listener's bookkeeping after its post
        return (cpu_seconds(self.app) - before) * 1000 / events

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{' '.join(self.args)} exited during the load:\n{tail(self.log)}")


async def load(plan: Plan, bare_figures: Figures, ours_figures: Figures) -> None:
    """Both apps run side by side, idle but for the one being loaded: each phase alternates between
    them round by round, so the drift of a shared machine falls on both alike."""
    async with Running(BARE, bare_figures) as bare, Running(OURS, ours_figures) as ours:
        both = (bare, ours)
        await asyncio.sleep(0.5)
        for app in both:
            app.figures.rss_start = rss_mib(app.app)
            progress(f"{app.figures.name}: warm-up {plan.warmup}")
            await app.sender.many(plan.warmup, 1)

        rounds: dict[str, list[float]] = {app.figures.name: [] for app in both}
        for n in range(CPU_ROUNDS):
            progress(f"CPU over {plan.cpu} events, round {n + 1} of {CPU_ROUNDS}")
            for app in both:
                rounds[app.figures.name].append(await app.cpu_round(plan.cpu))
        for app in both:
            app.figures.cpu_ms = statistics.median(rounds[app.figures.name])

        progress(f"latency over {plan.latency} events at concurrency 1")
        latencies: dict[str, list[float]] = {app.figures.name: [] for app in both}
        chunk = max(1, plan.latency // 6)
        for start_at in range(0, plan.latency, chunk):
            for app in both:
                times = await app.sender.many(min(chunk, plan.latency - start_at), 1)
                latencies[app.figures.name] += [arrived - sent for sent, arrived in times]
        for app in both:
            app.figures.p50_ms = percentile(latencies[app.figures.name], 50) * 1000
            app.figures.p99_ms = percentile(latencies[app.figures.name], 99) * 1000

        for app in both:
            progress(f"{app.figures.name}: throughput over {plan.throughput} events at concurrency {CONCURRENCY}")
            began = time.perf_counter()
            done = await app.sender.many(plan.throughput, CONCURRENCY)
            if done:
                app.figures.throughput = len(done) / (max(arrived for _, arrived in done) - began)

        await asyncio.sleep(1.0)
        for app in both:
            app.figures.rss_after = rss_mib(app.app)
            app.check_alive()


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def report(plan: Plan, bare: Figures, ours: Figures) -> None:
    def row(label: str, b: float, o: float, fmt: str, bar: float | None = None) -> None:
        ratio = o / b if b else float("nan")
        verdict = "" if bar is None else f"{f'<= {bar:g}x':<9}{'PASS' if ratio <= bar else 'OVER'}"
        print(f"{label:<32}{b:>12{fmt}}{o:>12{fmt}}{ratio:>11.2f}x   {verdict}".rstrip())

    print()
    print(
        f"load: {plan.warmup} warm-up events, then {CPU_ROUNDS} rounds of {plan.cpu} for CPU (median) and "
        f"{plan.latency} for latency at concurrency 1, alternating between the apps; {plan.throughput} at "
        f"concurrency {CONCURRENCY}; start-up median of {plan.startup_runs}"
    )
    print(f"{'':<32}{'bare Bolt':>12}{'member bot':>12}{'ours/bare':>12}   bar")
    row("CPU per event (ms)", bare.cpu_ms, ours.cpu_ms, ".2f", BARS["cpu"])
    row("reply latency p50, c=1 (ms)", bare.p50_ms, ours.p50_ms, ".1f")
    row("reply latency p99, c=1 (ms)", bare.p99_ms, ours.p99_ms, ".1f", BARS["p99"])
    row(f"throughput, c={CONCURRENCY} (events/s)", bare.throughput, ours.throughput, ".0f")
    row("RSS after start (MiB)", bare.rss_start, ours.rss_start, ".1f", BARS["rss"])
    row("RSS after load (MiB)", bare.rss_after, ours.rss_after, ".1f", BARS["rss"])
    row(
        "start-up to /healthz 200 (s)",
        statistics.median(bare.startup),
        statistics.median(ours.startup),
        ".2f",
        BARS["startup"],
    )
    for f in (bare, ours):
        runs = ", ".join(f"{s:.2f}" for s in f.startup)
        print(f"{f.name}: {f.sent} events sent, {f.missing} replies missing, {f.refused} not answered 200; "
              f"start-up runs {runs} s")  # fmt: skip


async def main(plan: Plan) -> None:
    figures = {"bare": Figures("bare Bolt"), "ours": Figures("member bot")}
    progress(f"start-up, {plan.startup_runs} run(s) each")
    await startups(plan.startup_runs, figures)
    await load(plan, figures["bare"], figures["ours"])
    report(plan, figures["bare"], figures["ours"])


def parse_plan(argv: list[str] | None = None) -> Plan:
    parser = argparse.ArgumentParser(description="CPU, latency, throughput, memory and start-up vs bare Bolt")
    parser.add_argument("--events", type=int, metavar="N", help="events in each measured phase")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run with small counts")
    options = parser.parse_args(argv)
    plan = Plan(warmup=10, cpu=100, latency=100, throughput=200, startup_runs=1) if options.quick else Plan()
    if options.events is not None:
        if options.events < 1:
            parser.error("--events must be at least 1")
        n = options.events
        plan = Plan(warmup=plan.warmup, cpu=n, latency=n, throughput=n, startup_runs=plan.startup_runs)
    return plan


if __name__ == "__main__":
    asyncio.run(main(parse_plan()))
