"""The staff views under a full question log: how long the staff Home and `/messenger report 28` take to
publish, and how long a member's DM waits for its acknowledgement meanwhile.

    .venv/bin/python bench/staff_views.py [--sizes 1000,10000,100000] [--members 300]

For each size, a fresh SQLite question log holds that many distinct unanswered questions (fallbacks)
from --members members over the last four weeks; the bot (app.py) starts on it against the local Slack
stand-in. Then, from outside the process: a signed app_home_opened from a staff member, and 50 ms later a
signed DM from a member; then the same with `/messenger report 28`. Printed per size: the Home's time to
views.publish, the report's time to its response_url, and the DM's acknowledgement time in each case.
The bars (issue 25): the Home and the report published in 3 s or less with 4,000 questions, the DM acked
in 0.5 s or less.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import random
import tempfile
import time
from pathlib import Path

import aiohttp
from _common import ROOT, SECRET, free_port, spawn, wait_healthy

from bot.question_log import QuestionRecord
from bot.question_log_sql import open_store
from bot.server import EVENTS_PATH
from devtools.signing import command_body, event_body, signed_headers
from devtools.standin import SlackStandIn

STAFF = "USTAFF0001"
WORDS = "parking badge canteen rota locker wifi printer laptop expenses holiday payslip lanyard".split()


async def fill(path: Path, size: int, members: int) -> None:
    store = open_store(path, "bench-secret")
    await store.migrate()
    rng = random.Random(size)
    now = datetime.datetime.now(datetime.UTC)
    rows = []
    for n in range(size):
        words = " ".join(rng.choice(WORDS) for _ in range(4))
        at = now - datetime.timedelta(seconds=rng.randrange(27 * 24 * 3600))
        rows.append(QuestionRecord(f"q{n}", at, "dm", f"U{rng.randrange(members):08d}", None, 0.1, "fallback",
                                   f"where is my {words} number {n}?", "D0BENCH", f"1700000000.{n:06d}"))  # fmt: skip
    for start in range(0, len(rows), 5000):
        await store.write(rows[start : start + 5000])
    await store.close()


async def signed(http: aiohttp.ClientSession, port: int, body: str, content_type: str) -> float:
    started = time.perf_counter()
    headers = signed_headers(SECRET, body, content_type=content_type)
    async with http.post(f"http://127.0.0.1:{port}{EVENTS_PATH}", data=body.encode(), headers=headers) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - started


async def dm_during(http: aiohttp.ClientSession, port: int, n: int) -> float:
    await asyncio.sleep(0.05)
    event = {"type": "message", "channel_type": "im", "channel": "D1", "user": "U1", "text": "key points",
             "ts": f"1700000001.{n:06d}"}  # fmt: skip
    return await signed(http, port, event_body(event, f"EvBENCHDM{n:06d}"), "application/json")


async def measure(size: int, members: int) -> tuple[float, float, float, float]:
    standin = await SlackStandIn().start()
    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "questions.sqlite3"
        await fill(database, size, members)
        port = free_port()
        env = {"DATABASE_URL": f"sqlite:///{database}", "STAFF_USER_IDS": STAFF, "RATE_LIMIT_COUNT": "1000"}
        proc = spawn([str(ROOT / "app.py")], port, standin.api_url, env)
        try:
            await wait_healthy(port, proc, timeout=60)
            async with aiohttp.ClientSession() as http:
                home = {"type": "app_home_opened", "user": STAFF, "channel": "D0STAFF", "tab": "home",
                        "event_ts": "1700000002.000001"}  # fmt: skip
                started = time.perf_counter()
                _, dm_ack = await asyncio.gather(
                    signed(http, port, event_body(home, f"EvBENCHHOME{size}"), "application/json"),
                    dm_during(http, port, 1),
                )
                await standin.wait_for("views.publish", 1, timeout=120)
                home_seconds = standin.calls_to("views.publish")[0].at - started
                started = time.perf_counter()
                body = command_body("/messenger", "report 28", STAFF, "C0BENCH", standin.response_url())
                _, report_dm_ack = await asyncio.gather(
                    signed(http, port, body, "application/x-www-form-urlencoded"), dm_during(http, port, 2)
                )
                await standin.wait_for("response_url", 1, timeout=120)
                report_seconds = next(c for c in standin.calls if c.method == "response_url").at - started
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            await standin.stop()
    return home_seconds, dm_ack, report_seconds, report_dm_ack


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,4000,10000,100000")
    parser.add_argument("--members", type=int, default=300)
    args = parser.parse_args()
    print(f"{'questions':>10}  {'Home':>7}  {'DM ack':>7}  {'report':>7}  {'DM ack':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        home, ack, report, ack2 = await measure(size, args.members)
        print(f"{size:>10}  {home:>6.2f}s  {ack:>6.3f}s  {report:>6.2f}s  {ack2:>6.3f}s", flush=True)
    print(json.dumps({"bars": {"publish_seconds": 3.0, "ack_seconds": 0.5}}))


if __name__ == "__main__":
    asyncio.run(main())
