"""Question log write cost: microseconds per record_question (median and p99), one question at a time as
the listeners write them, on SQLite (a temporary file) and on PostgreSQL (a temporary schema).

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

from bot.storage import QuestionRecord, QuestionStore  # noqa: E402
from bot.storage_sql import open_store  # noqa: E402

POSTGRES_URL = (
    os.environ.get("BENCH_DATABASE_URL")
    or os.environ.get("TEST_DATABASE_URL")
    or "postgresql://postgres@127.0.0.1:5432/confedbot_test"
)
WARM_UP = 200

BATCH = 20  # writes per commit in SQLite: a burst the recorder gathers in its quarter-second wait


def _record(n: int) -> QuestionRecord:
    return QuestionRecord(
        id=uuid.uuid4().hex,
        at=datetime.datetime.now(datetime.UTC),
        surface="dm",
        member=f"U{n % 500:08d}",
        intent="review_overview",
        confidence=0.62,
        outcome="answered",
        text="what was the messenger review of nhs leadership about, in short?",
        channel="D0123456",
        message_ts=f"1700000000.{n:06d}",
    )


async def _measure(store: QuestionStore, count: int) -> list[float]:
    await store.migrate()
    for n in range(WARM_UP):  # connections opened, pages cached, the thread pool started
        await store.record_question(_record(n))
    commit = getattr(store, "commit", None)  # SQLite batches appends until the recorder commits
    if commit is not None:
        await commit()
    times = []
    for n in range(count):
        record = _record(WARM_UP + n)
        start = time.perf_counter()
        await store.record_question(record)
        if commit is not None and n % BATCH == BATCH - 1:
            await commit()  # the recorder commits a burst once; its cost is shared by the burst's writes
        times.append((time.perf_counter() - start) * 1e6)
    if commit is not None:
        total = sum(times)
        print(f"(SQLite: one commit every {BATCH} writes, as a burst would be; mean {total / count:.0f} µs a write)")
    return times


def _print(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:10} median {statistics.median(ordered):7.0f} µs   p99 {p99:7.0f} µs   ({len(times)} writes)")


async def _sqlite(count: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/questions.sqlite3", "bench-secret")
        try:
            _print("SQLite", await _measure(store, count))
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
        _print("PostgreSQL", await _measure(store, count))
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
