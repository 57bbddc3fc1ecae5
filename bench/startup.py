"""Start-up time: from launching app.py to /slack/events accepting connections (bar: under 2 s).

.venv/bin/python bench/startup.py [RUNS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from _common import free_port, spawn, wait_listening


async def once() -> float:
    port = free_port()
    start = time.perf_counter()
    proc = spawn(["app.py"], port, "http://127.0.0.1:9/api/")
    try:
        await wait_listening(port)
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(10)


async def main(runs: int) -> None:
    times = [await once() for _ in range(runs)]
    print(f"start-up to serving over {runs} runs: median {statistics.median(times):.2f} s, max {max(times):.2f} s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
