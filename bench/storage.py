"""Question log write cost, on SQLite (a temporary file) and on PostgreSQL (a temporary schema): microseconds
per row (median and p99) committed one at a time ("one": a quiet hour) and in bursts of 20 ("20": the
cost of the transaction shared by its rows), then the recorder's throughput end to end.

    .venv/bin/python bench/storage.py [--count N]

PostgreSQL is read from BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the local test database.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.question_log import QuestionRecord, QuestionStore  # noqa: E402
from bot.question_log_sql import open_store  # noqa: E402
from bot.recorder import Recorder  # noqa: E402

POSTGRES_URL = (
    os.environ.get("BENCH_DATABASE_URL")
    or os.environ.get("TEST_DATABASE_URL")
    or "postgresql://postgres@127.0.0.1:5432/confedbot_test"
)
WARM_UP = 200
BATCH = 20  # rows per transaction in a burst: the recorder commits whatever waits, up to 500, at once


def _record(n: int) -> QuestionRecord:
    return QuestionRecord(
        id=uuid.uuid4().hex,
        at=datetime.datetime.now(datetime.UTC),
        surface="dm",
        member=f"U{n % 500:08d}",
        intent="review_overview",
        confidence=0.62,
        outcome="answered",
        text="what was the messenger review of nhs leadership about, in short? ask <@U0123ABCD> in <#C0123ABCD>",
        channel="D0123456",
        message_ts=f"1700000000.{n:06d}",
    )


async def _measure(name: str, store: QuestionStore, count: int) -> None:
    await store.migrate()
    for n in range(WARM_UP):  # connections opened, pages cached, the worker thread started
        await store.write([_record(n)])
    # A quiet hour: each question committed on its own (the recorder commits as soon as it is free).
    times = []
    for n in range(count):
        record = _record(WARM_UP + n)
        start = time.perf_counter()
        await store.write([record])
        times.append((time.perf_counter() - start) * 1e6)
    _print(f"{name} one", times)
    # A burst: BATCH questions in one transaction; the cost shared by the burst's rows.
    times = []
    for n in range(0, count, BATCH):
        rows = [_record(WARM_UP + count + n + i) for i in range(BATCH)]
        start = time.perf_counter()
        await store.write(rows)
        times.extend([(time.perf_counter() - start) * 1e6 / BATCH] * BATCH)
    _print(f"{name} {BATCH}", times)
    # The recorder end to end: `count` questions handed over at once, then flushed.
    recorder = Recorder(store)
    start = time.perf_counter()
    for n in range(count):
        recorder.question(_record(10 * count + n))
    await recorder.flush(timeout=120)
    elapsed = time.perf_counter() - start
    rate = count / elapsed
    print(f"{name + ' recorder':15} {rate:9.0f} questions/s handed over and committed ({recorder.written} written)")


def _print(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:15} median {statistics.median(ordered):7.0f} µs   p99 {p99:7.0f} µs   ({len(times)} writes)")


async def _sqlite(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(Path(folder) / "questions.sqlite3", "bench-secret")
        try:
            await _measure("SQLite", store, count)
        finally:
            await store.close()


async def _postgres(count: int) -> None:
    import asyncpg

    try:
        admin = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        print(f"PostgreSQL skipped: {POSTGRES_URL} is unreachable ({exc})")
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'create schema "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    store = open_store(f"{POSTGRES_URL}{separator}search_path={schema}", "bench-secret")
    try:
        await _measure("PostgreSQL", store, count)
    finally:
        await store.close()
        await admin.execute(f'drop schema "{schema}" cascade')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="writes measured per backend")
    args = parser.parse_args()
    asyncio.run(_sqlite(args.count))
    asyncio.run(_postgres(args.count))


if __name__ == "__main__":
    main()
