"""Attacks on a running app.py over HTTP, beside Slack's own signed events: what they cost the server
and its log. Not a test: it prints figures.

    .venv/bin/python bench/attack_http.py [--seconds 15] [--root DIR] [--only PHASE ...]

The app runs in its own process (LOG_LEVEL=INFO, its log to a file) against a SlackStandIn in this
one, as in bench/load.py. --root runs app.py from another checkout (e.g. an older commit unpacked
with `git archive`) with this virtualenv, to compare. Phases:

  baseline         signed events only (4/s): ack latency p50/p99, acks over Slack's 3 s
  compressed flood unsigned gzip and deflate bombs (1 MB on the wire, ~1 GB inflated) at ~0.6 MB/s,
                   beside the signed events: their ack latency, statuses of the bombs
  corrupt          corrupt gzip/deflate/br bodies and unknown encodings: statuses, ERROR lines logged
  held             idle connections, headers sent a byte at a time, bodies never finished: how long
                   the server held each (capped at --hold-cap seconds)
  log cost         log lines per refused request (unsigned, corrupt, malformed HTTP)
  fd limit         a second app with RLIMIT_NOFILE 128, 300 idle connections: log lines, and the
                   signed events' statuses while (and after) it is at the limit
  promised         (issue 25) requests promising a 1 MB body and sending none: 50 with no Slack headers,
                   50 with a stale timestamp (how fast each is refused), then 1,500 with forged fresh
                   headers held open beside signed events (their statuses, the signed acks, the app's RSS)
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import itertools
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import IO

import aiohttp
from _common import ROOT, SECRET, free_port, wait_healthy

from devtools.signing import event_body, signed_headers
from devtools.standin import BOT_USER_ID, SlackStandIn

SLACK_LIMIT = 3.0
PHASES = ("baseline", "flood", "corrupt", "held", "log", "fd", "promised")
_ids = itertools.count(1)


def spawn(root: Path, port: int, api_url: str, log: IO[bytes], nofile: int | None = None) -> subprocess.Popen[bytes]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update({"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url,
                "PORT": str(port), "LOG_LEVEL": "INFO", "RATE_LIMIT_COUNT": "10000",
                "SHUTDOWN_GRACE_SECONDS": "2"})  # fmt: skip

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    return subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=log, stderr=log, preexec_fn=limit)


def bomb(encoding: str, wire_bytes: int = 1_000_000) -> bytes:
    """About `wire_bytes` of gzip or deflate that inflates about a thousandfold."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    zeros, out, size = b"\0" * (1 << 20), [], 0
    while size < wire_bytes:
        chunk = compressor.compress(zeros)
        out.append(chunk)
        size += len(chunk)
    out.append(compressor.flush())
    return b"".join(out)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class LogFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.mark = 0

    def since_mark(self) -> list[str]:
        data = self.path.read_bytes()
        lines = data[self.mark :].decode("utf-8", "replace").splitlines()
        self.mark = len(data)
        return lines


async def signed_events(url: str, rate: float, seconds: float) -> tuple[list[float], Counter[int | str]]:
    """Signed app_mention events at `rate`/s for `seconds`; each on a fresh connection, as a stranger's
    flood would find Slack's. Returns ack latencies (s) and statuses."""
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()

    async def one() -> None:
        n = next(_ids)
        event = {"type": "app_mention", "channel": f"C{n:08d}", "user": f"U{n % 500:05d}",
                 "text": f"<@{BOT_USER_ID}> key points", "ts": f"1700000000.{n:06d}"}  # fmt: skip
        body = event_body(event, f"EvATK{n:08d}")
        started = time.perf_counter()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
                async with http.post(url, data=body.encode(), headers=signed_headers(SECRET, body)) as resp:
                    await resp.read()
                    statuses[resp.status] += 1
        except Exception as exc:
            statuses[type(exc).__name__] += 1
        latencies.append(time.perf_counter() - started)

    tasks = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*tasks)
    return latencies, statuses


async def post_raw(url: str, body: bytes, headers: dict[str, str]) -> int | str:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
    except Exception as exc:
        return type(exc).__name__


def describe_acks(name: str, latencies: list[float], statuses: Counter[int | str]) -> None:
    missed = sum(1 for x in latencies if x > SLACK_LIMIT)
    print(f"  {name}: {len(latencies)} signed events, ack p50 {pct(latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {pct(latencies, 0.99) * 1000:.0f} ms, over 3 s: {missed}, statuses {dict(statuses)}")  # fmt: skip


async def compressed_flood(url: str, seconds: float, rate_mb: float) -> None:
    bodies = {"gzip": bomb("gzip"), "deflate": bomb("deflate")}
    statuses: Counter[int | str] = Counter()
    sent_bytes = 0

    async def flood() -> None:
        nonlocal sent_bytes
        tasks = []
        end = time.perf_counter() + seconds
        for encoding in itertools.cycle(bodies):
            if time.perf_counter() >= end:
                break
            body = bodies[encoding]
            headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
            tasks.append(asyncio.create_task(post_raw(url, body, headers)))
            sent_bytes += len(body)
            await asyncio.sleep(len(body) / (rate_mb * 1_000_000))
        for status in await asyncio.gather(*tasks):
            statuses[status] += 1

    (latencies, acks), _ = await asyncio.gather(signed_events(url, 4, seconds), flood())
    describe_acks("beside the flood", latencies, acks)
    print(f"  bombs sent: {sum(statuses.values())} ({sent_bytes / 1e6:.1f} MB on the wire, each ~1 GB inflated), "
          f"statuses {dict(statuses)}")  # fmt: skip


async def corrupt(url: str, log: LogFile) -> int:
    cases = {
        "corrupt gzip": ("gzip", b"\x1f\x8b\x08\x00garbage" * 100),
        "truncated gzip": ("gzip", gzip.compress(b'{"type":"event_callback"}' * 1000)[:200]),
        "corrupt deflate": ("deflate", b"not deflate at all" * 50),
        "garbage br": ("br", b"\xff\xfe\xfd" * 100),
        "unknown x-snappy": ("x-snappy", b"whatever"),
    }
    log.since_mark()
    total = 0
    for name, (encoding, body) in cases.items():
        statuses: Counter[int | str] = Counter()
        for _ in range(20):
            statuses[await post_raw(url, body, {"Content-Type": "application/json", "Content-Encoding": encoding})] += 1
        total += 20
        print(f"  {name:<17} x20: statuses {dict(statuses)}")
    await asyncio.sleep(0.3)
    lines = log.since_mark()
    errors = [x for x in lines if " ERROR " in x]
    print(f"  log: {len(lines)} lines for {total} requests ({len(errors)} ERROR, "
          f"{sum('Traceback' in x for x in lines)} tracebacks)")  # fmt: skip
    return total


async def held(port: int, cap: float, count: int = 5) -> None:
    async def hold(kind: str) -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()

        async def send() -> None:
            try:
                if kind == "slow headers":
                    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
                    while True:
                        writer.write(b"X")
                        await writer.drain()
                        await asyncio.sleep(0.5)
                elif kind == "slow body":
                    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 100000\r\n\r\n{")  # fmt: skip
                    while True:
                        writer.write(b" ")
                        await writer.drain()
                        await asyncio.sleep(0.5)
                elif kind == "refused, body unsent":
                    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
                                 b"Content-Length: 100000\r\n\r\n")  # fmt: skip
                    while True:
                        writer.write(b"\0")
                        await writer.drain()
                        await asyncio.sleep(0.5)
                else:
                    await asyncio.sleep(cap + 1)
            except (ConnectionError, RuntimeError):
                pass

        sender = asyncio.create_task(send())
        try:
            async with asyncio.timeout(cap):
                while await reader.read(65536):
                    pass
        except (TimeoutError, ConnectionError):
            pass
        sender.cancel()
        writer.close()
        return time.perf_counter() - started

    for kind in ("idle", "slow headers", "slow body", "refused, body unsent"):
        times = await asyncio.gather(*(hold(kind) for _ in range(count)))
        capped = sum(1 for t in times if t >= cap)
        print(f"  {kind:<21} x{count}: held {statistics.median(times):.1f} s median, {max(times):.1f} s max"
              + (f" ({capped} still open at the {cap:.0f} s cap)" if capped else ""))  # fmt: skip


async def log_cost(url: str, port: int, log: LogFile) -> None:
    body = event_body({"type": "message", "text": "x" * 1000}, "EvUNSIGNED")
    log.since_mark()
    results = [await post_raw(url, body.encode(), {"Content-Type": "application/json"}) for _ in range(100)]
    await asyncio.sleep(0.3)
    print(f"  unsigned x100: statuses {dict(Counter(results))}, {len(log.since_mark()) / 100:.2f} lines each")
    malformed = [b"POST /slack/events HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                 b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                 b"POST /slack/events HTTP/9.9\r\nHost: x\r\n\r\n"]  # fmt: skip
    seen: Counter[str] = Counter()
    for raw in malformed * 34:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            seen[line.split(b" ")[1].decode() if line.count(b" ") >= 2 else "closed"] += 1
        except (TimeoutError, ConnectionError):
            seen["no answer"] += 1
        writer.close()
    await asyncio.sleep(0.3)
    lines, sent = log.since_mark(), len(malformed) * 34
    print(f"  malformed HTTP x{sent}: statuses {dict(seen)}, {len(lines)} log lines ({len(lines) / sent:.2f} each), "
          f"{sum('Traceback' in x for x in lines)} tracebacks")  # fmt: skip


async def fd_limit(root: Path, standin: SlackStandIn, seconds: float) -> None:
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="attack-fd-", suffix=".log", delete=False) as sink:
        proc = spawn(root, port, standin.api_url, sink, nofile=128)
    log = LogFile(Path(sink.name))
    try:
        await wait_healthy(port, proc)
        log.since_mark()
        held: list[asyncio.StreamWriter] = []
        for _ in range(300):
            try:
                # Past the listen backlog of a server that no longer accepts, connect() would wait on
                # SYN retries for minutes.
                held.append((await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2))[1])
            except (OSError, TimeoutError):
                break
        url = f"http://127.0.0.1:{port}/slack/events"
        latencies, statuses = await signed_events(url, 4, seconds)
        lines = log.since_mark()
        print(f"  {len(held)} idle connections opened against a limit of 128 open files")
        describe_acks("while at the limit", latencies, statuses)
        size = sum(len(x) + 1 for x in lines)
        lines = [x for x in lines if " bot.requests " not in x]  # one per signed event, as always
        print(f"  log: {size / 1e6:.1f} MB, {len(lines)} lines besides the request lines in {seconds:.0f} s "
              f"({sum('out of system resource' in x for x in lines)} about accept(), "
              f"{sum('Traceback' in x for x in lines)} tracebacks)")  # fmt: skip
        for writer in held:
            writer.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        Path(sink.name).unlink(missing_ok=True)


async def promise(port: int, headers: bytes, hold: float) -> tuple[str, float]:
    """Headers promising a 1 MB body, and not one byte of it: the status line, and when it came."""
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        return type(exc).__name__, time.perf_counter() - started
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n" + headers + b"Content-Length: 1000000\r\n\r\n")
    try:
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), hold)
        return (line.split(b" ")[1].decode() if line.count(b" ") >= 2 else "closed"), time.perf_counter() - started
    except (TimeoutError, OSError) as exc:
        return type(exc).__name__, time.perf_counter() - started
    finally:
        writer.close()


async def promised(url: str, port: int, proc: subprocess.Popen[bytes], seconds: float) -> None:
    import psutil

    stale = int(time.time()) - 600
    for name, headers in (
        ("no Slack headers", b""),
        ("stale timestamp", f"X-Slack-Request-Timestamp: {stale}\r\nX-Slack-Signature: v0={'0' * 64}\r\n".encode()),
    ):
        results = await asyncio.gather(*(promise(port, headers, 10) for _ in range(50)))
        took = [t for _, t in results]
        print(f"  {name}: 50 held open: statuses {dict(Counter(s for s, _ in results))}, "
              f"all answered within {max(took):.2f} s")  # fmt: skip
    fresh = f"X-Slack-Request-Timestamp: {int(time.time())}\r\nX-Slack-Signature: v0={'0' * 64}\r\n".encode()
    before = psutil.Process(proc.pid).memory_info().rss
    slow = [asyncio.create_task(promise(port, fresh, 10)) for _ in range(1500)]
    acks = asyncio.create_task(signed_events(url, 4, seconds / 2))
    await asyncio.sleep(1)
    peak = psutil.Process(proc.pid).memory_info().rss
    results = await asyncio.gather(*slow)
    describe_acks("beside 1,500 forged fresh slow bodies", *await acks)
    print(f"  forged fresh: statuses {dict(Counter(s for s, _ in results))}; "
          f"RSS {before / 2**20:.0f} MB before, {peak / 2**20:.0f} MB during")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the flood phases")
    parser.add_argument("--rate-mb", type=float, default=0.6, help="compressed flood, MB/s on the wire")
    parser.add_argument("--hold-cap", type=float, default=30.0, help="stop watching a held connection after this")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout whose app.py to run")
    parser.add_argument("--only", nargs="+", choices=PHASES, help="run only these phases")
    args = parser.parse_args()
    standin = await SlackStandIn().start()
    port = free_port()
    with tempfile.NamedTemporaryFile(prefix="attack-", suffix=".log", delete=False) as sink:
        proc = spawn(args.root, port, standin.api_url, sink)
    log = LogFile(Path(sink.name))
    url = f"http://127.0.0.1:{port}/slack/events"
    try:
        await wait_healthy(port, proc)
        print(f"app.py from {args.root}")
        phases = args.only or PHASES
        if "baseline" in phases:
            print("baseline")
            describe_acks("alone", *await signed_events(url, 4, args.seconds / 2))
        if "flood" in phases:
            print(f"compressed flood ({args.rate_mb} MB/s of unsigned bombs for {args.seconds:.0f} s)")
            await compressed_flood(url, args.seconds, args.rate_mb)
        if "corrupt" in phases:
            print("corrupt and unknown encodings")
            await corrupt(url, log)
        if "held" in phases:
            print("connections held open")
            await held(port, args.hold_cap)
        if "log" in phases:
            print("log cost of refused requests")
            await log_cost(url, port, log)
        if "fd" in phases:
            print("file-descriptor limit")
            await fd_limit(args.root, standin, args.seconds / 2)
        if "promised" in phases:
            print("promised bodies (issue 25)")
            await promised(url, port, proc, args.seconds)
        if proc.poll() is not None:
            print(f"the app exited (code {proc.returncode})")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        await standin.stop()
        Path(sink.name).unlink(missing_ok=True)


if __name__ == "__main__":
    asyncio.run(main())
