"""Channel etiquette: in a channel thread it answered, the bot answers what is meant for it and stays quiet
while people talk to each other. Through the signed pipeline (message events shaped as Slack documents
them, as tests/test_events.py sends them), and measured on 30 threads written blind
(tests/data/threads_blind.jsonl: never read to tune the model; see the README for how it was used)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.command_names import Commands
from bot.content import build_content
from bot.conversation import in_channel_thread, to_someone_else
from bot.settings import PROJECT_DIR
from tests.conftest import Harness, next_ts

THREADS = Path(__file__).parent / "data" / "threads_blind.jsonl"
BOT = "UBOT"


async def test_quiet_for_colleagues_and_acknowledgements_answers_the_askers_follow_up(harness: Harness) -> None:
    _, _, event = await harness.mention("what was the messenger review?")
    await harness.posts(1)
    thread = {"type": "message", "channel": event["channel"], "channel_type": "channel", "thread_ts": event["ts"]}
    for user, text in (
        ("U0COLLEAG1", "+1"),
        ("U0COLLEAG1", "Sam, can you add this to next week's agenda?"),
        ("U0COLLEAG2", "1+1"),
        ("U0000001", "ok"),
        ("U0000001", "thanks!"),
        ("U0COLLEAG2", ":pray:"),
        ("U0COLLEAG2", "the bullying findings are grim reading tbh"),
    ):
        await harness.event({**thread, "user": user, "text": text, "ts": next_ts()})
    await harness.settle(1)  # not one word for any of them
    await harness.event({**thread, "user": "U0000001", "text": "and who led it?", "ts": next_ts()})
    [_, answer] = await harness.posts(2)
    assert answer["thread_ts"] == event["ts"] and "Gordon Messenger" in json.dumps(answer)


async def test_in_a_dm_it_always_answers(harness: Harness) -> None:
    await harness.dm("+1")
    [post] = await harness.posts(1)
    text = json.dumps(post)
    assert "don't know" in text and "Recommendation 1" not in text  # a number alone is never a recommendation


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("Sam, can you add this to next week's agenda?", True),
        ("Priya: did you go to the launch?", True),
        ("Leah did you see the new template?", True),
        ("<@U0PRIYA01> have a look at this", True),
        ("Can you tell me who led it?", False),
        ("<@UBOT> who led it?", False),
        ("What about recommendation 4?", False),
    ],
)
def test_who_a_message_is_for(text: str, other: bool) -> None:
    assert to_someone_else(text, BOT) is other


def test_on_threads_written_blind_it_is_quiet_for_people_and_answers_what_is_for_it() -> None:
    content = build_content(PROJECT_DIR / "responses.yaml", Commands())
    engine = content.engine
    quiet = spoke_over = meant = answered_right = 0
    for line in THREADS.read_text(encoding="utf-8").splitlines():
        thread = json.loads(line)
        topic: str | None = None
        for n, message in enumerate(thread["messages"]):
            answer = engine.answer(message["text"].replace(f"<@{BOT}>", "").strip(), topic)
            speaks = message["mentions_bot"] or in_channel_thread(answer, message["text"], BOT).speak
            got = answer.intent.id if answer.intent else "none"
            if message["expect"] == "quiet":
                quiet += 1
                spoke_over += speaks
            elif n > 0:
                meant += 1
                answered_right += (speaks and got == message["expect"]) or (not speaks and message["expect"] == "none")
            if speaks and answer.intent is not None and answer.intent.is_topic:
                topic = answer.intent.id
    assert (quiet, meant) == (91, 58)
    assert (quiet - spoke_over) / quiet >= 0.95
    assert answered_right / meant >= 0.85


async def test_unsure_between_close_topics_it_asks_and_one_click_answers(harness: Harness) -> None:
    """ "What about the money?" could be what we asked for in 2022 or whether any came: the reply asks,
    with each topic a button, and a click answers in the same thread (topic buttons: test_actions.py)."""
    from tests.test_actions import _click

    await harness.dm("what about the money?")
    [post] = await harness.posts(1)
    settings = harness.services.content.current.catalogue.settings
    assert settings.texts.ask_back in json.dumps(post)
    buttons = [e for b in post["blocks"] for e in b.get("elements", []) if e.get("action_id", "").startswith("topic:")]
    values = [b["value"] for b in buttons]
    assert {"funding_followed", "funding_implementation"} <= set(values) and len(values) <= 3
    assert "don't know" not in json.dumps(post)
    click = {k: buttons[0][k] for k in ("action_id", "value")}
    status, _ = await harness.action(_click(harness, click, thread_ts="1700000000.000009"))
    assert status == 200
    [_, answer] = await harness.posts(2)
    title = harness.services.content.current.catalogue.get(values[0]).title  # type: ignore[union-attr]
    assert answer["thread_ts"] == "1700000000.000009" and title in json.dumps(answer)
