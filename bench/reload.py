"""Hot reload: seconds from saving responses.yaml to the new version answering /healthz, with app.py
running as deployed (default RELOAD_INTERVAL_SECONDS). The bar is 2 s, retraining included: each save also
adds a labelled question to training/, so the model is fitted again every time.

    .venv/bin/python bench/reload.py [RUNS]
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import ROOT, free_port, spawn, wait_listening


def _digest(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
        return json.loads(resp.read())["content"]


async def main(runs: int) -> None:
    folder = Path(tempfile.mkdtemp())
    content = folder / "responses.yaml"
    shutil.copy(ROOT / "responses.yaml", content)
    shutil.copytree(ROOT / "training", folder / "training")
    extra = folder / "training" / "bench.tsv"
    os.environ["RESPONSES_PATH"] = str(content)
    port = free_port()
    proc = spawn(["app.py"], port, "http://127.0.0.1:9/api/")
    times = []
    try:
        await wait_listening(port)
        for n in range(runs):
            before = _digest(port)
            questions = "".join(f"bench question number {k} about the weather\tnone\n" for k in range(n + 1))
            extra.write_text(questions, encoding="utf-8")
            content.write_text(content.read_text(encoding="utf-8") + f"\n# edit {n}\n", encoding="utf-8")
            start = time.perf_counter()
            while _digest(port) == before:
                await asyncio.sleep(0.01)
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder)
    print(
        f"save to in service over {runs} saves: median {statistics.median(times):.2f} s, "
        f"max {max(times):.2f} s (bar: 2 s)"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
