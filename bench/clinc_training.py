"""Write training/clinc150.tsv: a small, fixed sample of CLINC150's *train* split as labelled questions,
so the model learns what everyday assistant requests look like and sends them to the fallback.

CLINC150 (Larson et al., 2019, https://github.com/clinc/oos-eval, CC BY 3.0) has 150 intents of a
general assistant (banking, travel, cooking, a phone's settings...), all off-topic for this bot, and
out-of-scope queries. The sample: PER_INTENT questions of each of those intents and 3 x PER_INTENT of
the out-of-scope ones, labelled "none"; SMALL_TALK questions of each small-talk intent this bot has,
labelled with it. Seeded, so the same data gives the same file. Only "train" is sampled: bench/clinc.py
reports on "test", which nothing here has seen.

    .venv/bin/python bench/clinc_training.py path/to/data_full.json > training/clinc150.tsv
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

PER_INTENT = 3
SMALL_TALK = 60
SEED = 0
# CLINC's small-talk intents and the intent of ours that answers each.
OURS = {
    "greeting": "greeting",
    "thank_you": "thanks",
    "goodbye": "goodbye",
    "what_can_i_ask_you": "help",
    "are_you_a_bot": "help",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="CLINC150's data_full.json")
    args = parser.parse_args()
    data = json.loads(args.data.read_text(encoding="utf-8"))
    by_intent: dict[str, list[str]] = defaultdict(list)
    for question, intent in data["train"] + data["oos_train"]:
        by_intent[intent].append(" ".join(question.split()))
    rng = random.Random(SEED)
    out = sys.stdout
    out.write(
        "# clinc150.tsv: written by bench/clinc_training.py from CLINC150's train split (Larson et al., 2019,\n"
        "# https://github.com/clinc/oos-eval, CC BY 3.0). Everyday assistant requests, off-topic here (none),\n"
        f"# {PER_INTENT} per intent and {3 * PER_INTENT} out-of-scope; and {SMALL_TALK} of each small-talk intent,\n"
        "# labelled with ours. Do not edit by hand: run the script again.\n"
    )
    for intent in sorted(by_intent):
        questions = sorted(by_intent[intent])
        if intent in OURS:
            picked, label = rng.sample(questions, SMALL_TALK), OURS[intent]
        else:
            picked, label = rng.sample(questions, 3 * PER_INTENT if intent == "oos" else PER_INTENT), "none"
        for question in picked:
            out.write(f"{question}\t{label}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
