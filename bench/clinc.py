"""The bot against a public intent benchmark it was never written for: CLINC150 (Larson et al., 2019).

Every one of CLINC150's 150 intents (banking, travel, cooking, a phone's settings...) is off-topic for
this bot, and so are its out-of-scope queries. A few of its intents are small talk the bot should
recognise: greetings, thanks and "what can you ask me". This prints, for one split:

- small talk recognised: greeting -> greeting, thank_you -> thanks, what_can_i_ask_you -> help (and,
  on their own lines, goodbye -> goodbye and are_you_a_bot -> help);
- the out-of-scope queries that get the fallback;
- CLINC's other intents (all off-topic here) that get the fallback.

The data is not in this repository (CC BY 3.0; fetch it yourself): data/data_full.json from
https://github.com/clinc/oos-eval. Tune on "train" or "val" only; "test" is for reporting.

    .venv/bin/python bench/clinc.py path/to/data_full.json [--split test] [--show 20]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.command_names import Commands  # noqa: E402
from bot.content import build_content  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SMALL_TALK = {"greeting": "greeting", "thank_you": "thanks", "what_can_i_ask_you": "help"}
ALSO = {"goodbye": "goodbye", "are_you_a_bot": "help"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="CLINC150's data_full.json")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--path", type=Path, default=ROOT / "responses.yaml")
    parser.add_argument("--show", type=int, default=0, help="print this many misses of each kind")
    args = parser.parse_args()
    data = json.loads(args.data.read_text())
    engine = build_content(args.path, Commands()).engine

    def got(question: str) -> str:
        answer = engine.answer(question)
        return answer.intent.id if answer.intent else "none"

    recognised: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: list[str] = []
    off_topic_ok = off_topic = 0
    grabbed: Counter[str] = Counter()
    for question, label in data[args.split]:
        wanted = SMALL_TALK.get(label) or ALSO.get(label)
        answer = got(question)
        if wanted is not None:
            total[label] += 1
            recognised[label] += answer == wanted
            if answer != wanted:
                misses.append(f"  {label}: {question!r} -> {answer}")
            continue
        off_topic += 1
        off_topic_ok += answer == "none"
        if answer != "none":
            grabbed[answer] += 1
    oos = [(q, got(q)) for q, _ in data[f"oos_{args.split}"]]
    oos_ok = sum(answer == "none" for _, answer in oos)

    small_ok = sum(recognised[label] for label in SMALL_TALK)
    small_n = sum(total[label] for label in SMALL_TALK)
    print(f"CLINC150 {args.split} split, content {args.path.name}")
    print(f"small talk recognised (greeting, thanks, what can I ask): {small_ok / small_n:.1%} ({small_ok}/{small_n})")
    for label in [*SMALL_TALK, *ALSO]:
        print(f"  {label:20} {recognised[label]:3}/{total[label]}")
    print(f"out-of-scope queries to the fallback: {oos_ok / len(oos):.1%} ({oos_ok}/{len(oos)})")
    share = off_topic_ok / off_topic
    print(f"its other intents (off-topic here) to the fallback: {share:.1%} ({off_topic_ok}/{off_topic})")
    print("  answered instead as: " + ", ".join(f"{i} {n}" for i, n in grabbed.most_common(6)))
    if args.show:
        print("misses:")
        print("\n".join(misses[: args.show]))
        print("\n".join(f"  oos: {q!r} -> {a}" for q, a in oos if a != "none")[: 120 * args.show])


if __name__ == "__main__":
    main()
