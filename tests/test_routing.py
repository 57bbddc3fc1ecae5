"""bot/routing.py's decisions, from Slack's own payloads (tests/data/slack/, each naming its documentation
page): where a message, slash command or topic click is answered, and which conversation memory it reads
and writes. The same decisions are exercised end to end through signed requests in test_events.py,
test_commands.py and test_actions.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bot.routing import (
    DM_THREAD,
    REFUSALS,
    Ignore,
    IncomingMessage,
    MemberCommand,
    MessageRoute,
    StaffCommand,
    TopicClick,
    route_command,
    route_message,
    route_topic_click,
)

SLACK = Path(__file__).parent / "data" / "slack"
BOT = "UBOT0001"  # the bot user of every fixture (tests/data/slack/README.md)


def body(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SLACK / f"{name}.json").read_text(encoding="utf-8"))
    return data["body"]


def message(name: str) -> IncomingMessage:
    """The fixture's event, as the listener for its type (app_mention or message) reads it."""
    event = body(name)["event"]
    return IncomingMessage.from_event(event, mentioned=event["type"] == "app_mention")


def routed(name: str) -> MessageRoute:
    route = route_message(message(name), BOT)
    assert isinstance(route, MessageRoute), route
    return route


def test_a_mention_in_a_channel_answers_in_its_own_thread() -> None:
    route = routed("event_app_mention")
    assert (route.channel, route.kind, route.surface) == ("C0000001", "app_mention", "mention")
    assert route.reply_thread == route.memory_thread == "1780000343.172211"  # the mention's own ts
    assert route.recall == ("1780000343.172211",) and not route.only_known_thread


def test_a_mention_inside_a_thread_answers_in_that_thread() -> None:
    route = routed("event_app_mention_in_thread")
    assert route.reply_thread == route.memory_thread == "1780001363.079877"
    assert route.recall == ("1780001363.079877",)


def test_a_direct_message_answers_at_the_top_of_the_dm_with_the_dm_memory() -> None:
    route = routed("event_message_im")
    assert (route.channel, route.kind, route.surface) == ("D0000001", "dm", "dm")
    assert route.reply_thread is None  # a DM is one conversation: no thread
    assert route.memory_thread == DM_THREAD and route.recall == (DM_THREAD,)
    assert route.member == "U0000001" and route.once_key == "msg:D0000001:1780000638.667140"


def test_a_thread_in_a_dm_follows_its_own_topic_then_the_dm_topic() -> None:
    # A member replies in the thread of one of the bot's DM answers (message.im with thread_ts, as the
    # message.im page shows for threaded messages).
    event = copy.deepcopy(body("event_message_im")["event"])
    event.update(thread_ts="1780000600.000100", parent_user_id=BOT)
    route = route_message(IncomingMessage.from_event(event, mentioned=False), BOT)
    assert isinstance(route, MessageRoute)
    assert route.reply_thread == route.memory_thread == "1780000600.000100"
    assert route.recall == ("1780000600.000100", DM_THREAD)


def test_a_reply_in_a_channel_thread_is_answered_only_in_a_thread_the_bot_answered() -> None:
    route = routed("event_message_thread_reply")
    assert (route.kind, route.surface) == ("thread_followup", "thread")
    assert route.reply_thread == route.memory_thread == "1780000777.362587"
    assert route.only_known_thread  # the caller answers only when the thread has a remembered topic


def test_a_thread_broadcast_is_a_question_like_any_thread_reply() -> None:
    assert routed("event_thread_broadcast").kind == "thread_followup"


def test_a_mention_arriving_as_a_channel_message_is_left_to_app_mention() -> None:
    # Slack sends a mention in a thread twice: as app_mention, and as message.channels with the same text.
    event = copy.deepcopy(body("event_app_mention_in_thread")["event"])
    event.update(type="message", channel_type="channel")
    assert route_message(IncomingMessage.from_event(event, mentioned=False), BOT) == Ignore(
        "ignored:mention_handled_elsewhere"
    )


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("event_bot_message", "ignored"),
        ("event_bot_own_message_im", "ignored"),
        ("event_message_changed", "ignored"),
        ("event_message_deleted", "ignored"),
    ],
)
def test_bots_edits_and_deletions_get_no_answer(name: str, outcome: str) -> None:
    assert route_message(message(name), BOT) == Ignore(outcome)


def test_a_top_level_channel_message_without_a_mention_is_not_for_the_bot() -> None:
    event = copy.deepcopy(body("event_message_thread_reply")["event"])
    del event["thread_ts"], event["parent_user_id"]
    assert route_message(IncomingMessage.from_event(event, mentioned=False), BOT) == Ignore("ignored:not_for_bot")


def _click(payload: dict[str, Any]) -> TopicClick:
    container, msg = payload["container"], payload.get("message") or {}
    return TopicClick(
        channel=container["channel_id"],
        user=payload["user"]["id"],
        action_id=payload["actions"][0]["action_id"],
        container_ts=container["message_ts"],
        message_ts=msg.get("ts"),
        message_thread_ts=msg.get("thread_ts"),
        ephemeral=container["is_ephemeral"],
    )


def test_a_topic_button_in_a_channel_thread_answers_in_that_thread_and_remembers_it() -> None:
    route = route_topic_click(_click(body("action_topic_button")["payload"]))
    assert route.channel == "C0000001" and not route.ephemeral
    assert route.reply_thread == route.memory_thread == "1780004457.282980"
    assert route.once_key.endswith(":all")  # a public message: one answer for everyone who clicks


def test_a_topic_button_on_a_dm_answer_answers_at_the_top_of_the_dm() -> None:
    # The documented block_actions payload, on the bot's top-level answer in the member's DM: the
    # container and channel name the DM (channel name "directmessage", as Slack sends for an IM), and a
    # top-level message has no thread_ts.
    payload = copy.deepcopy(body("action_topic_button")["payload"])
    payload["container"]["channel_id"] = "D0000001"
    payload["channel"] = {"id": "D0000001", "name": "directmessage"}
    del payload["container"]["thread_ts"], payload["message"]["thread_ts"], payload["message"]["parent_user_id"]
    route = route_topic_click(_click(payload))
    assert route.channel == "D0000001" and route.reply_thread is None
    assert route.memory_thread is None  # as the bot has always done: the DM's topic is not moved by a click


def test_a_topic_button_on_an_ephemeral_answer_answers_the_clicker_alone() -> None:
    payload = body("action_topic_button_ephemeral")["payload"]
    route = route_topic_click(_click(payload))
    assert route.ephemeral and route.memory_thread is None
    assert route.once_key.endswith(f":{payload['user']['id']}")  # per person


def _command_text(name: str) -> str:
    return str(body(name)["text"])


def test_a_members_question_by_command_is_answered_from_the_content() -> None:
    assert route_command(_command_text("command_messenger_question")) == MemberCommand(
        "how do I join the action learning sets?"
    )
    assert route_command(_command_text("command_keypoints"), keypoints=True) == MemberCommand(
        _command_text("command_keypoints"), keypoints=True
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("report", StaffCommand("report", 7)),
        ("report 30", StaffCommand("report", 30)),
        ("  Report   30 ", StaffCommand("report", 30)),
        ("reload", StaffCommand("reload")),
        ("report on the review's findings", MemberCommand("report on the review's findings")),
        ("reload 3", MemberCommand("reload 3")),
        # A word that is no number of days: staff are told how to ask, anyone else gets it as a question.
        ("report abc", StaffCommand("report", unclear="abc")),
        ("report 0", StaffCommand("report", unclear="0")),
    ],
)
def test_staff_sub_commands_are_told_from_members_questions(text: str, expected: object) -> None:
    assert route_command(text) == expected
    assert route_command(text, keypoints=True) == MemberCommand(text, keypoints=True)


@pytest.mark.parametrize("name", ["report", "reload"])
def test_a_staff_sub_command_is_refused_to_a_member_and_run_for_staff(name: str) -> None:
    route = route_command(name)
    assert isinstance(route, StaffCommand)
    assert route.refusal_for(staff=False) == REFUSALS[name]
    assert route.refusal_for(staff=True) is None


def test_report_with_a_word_tells_staff_how_to_ask_and_is_a_members_question(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`/messenger report abc` once answered with the Chris Ham report. Through `bot ask`, as in Slack."""
    from bot.__main__ import main

    def ask(*flags: str) -> str:
        assert main(["ask", *flags, "/messenger report abc"]) == 0
        return capsys.readouterr().out

    assert "takes a number of days, 1 to 3650" in ask("--staff")
    assert "takes a number of days" not in ask() and "only the content team" not in ask()
