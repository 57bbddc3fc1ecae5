"""Engine speed (the model and the stages): microseconds per question for ordinary questions and for hostile ones
(40,000 characters, only emoji, only markup).

    .venv/bin/python bench/matcher.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot import content  # noqa: E402
from bot.command_names import Commands  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "ordinary": ["what are the key points", "recommendation 4", "how do I join the EDI network", "will it rain"],
    "40k characters": ["recommendation " * 2700],
    "emoji only": ["😀" * 5000],
    "markup only": ["<@U12345> <!here> " * 2000],
}


def main() -> None:
    content.CONTENT_CACHE = None  # time the whole validation and build, as a changed file costs
    start = time.perf_counter()
    engine = content.build_content(ROOT / "responses.yaml", Commands()).engine
    print(f"validation (all checks, Slack's included) + model training: {(time.perf_counter() - start) * 1000:.1f} ms")
    for name, questions in CASES.items():
        runs = 200
        start = time.perf_counter()
        for _ in range(runs):
            for q in questions:
                engine.answer(q)
        per = (time.perf_counter() - start) / (runs * len(questions)) * 1e6
        print(f"{name:16} {per:8.0f} µs per question")


if __name__ == "__main__":
    main()
