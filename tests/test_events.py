"""Mentions, DMs and thread follow-ups, through signed HTTP requests and the stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

from devtools.standin import BOT_ID, BOT_USER_ID
from tests.conftest import Harness, next_ts


def _all_text(post: dict[str, Any]) -> str:
    """Every string in a posted message, blocks included."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(post)
    return "\n".join(out)


def _buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in post.get("blocks", []):
        found += [e for e in block.get("elements", []) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
    return found


def _assert_plain_fallback(post: dict[str, Any]) -> None:
    """The "I don't know" reply, with no "Did you mean" topic buttons."""
    assert "don't know" in _all_text(post)
    assert [b for b in _buttons(post) if b["action_id"].startswith("topic:")] == []


async def test_mention_is_answered_in_the_thread_of_the_mention(harness: Harness) -> None:
    status, _, event = await harness.mention("what are the key points?")
    assert status == 200
    [post] = await harness.posts(1)
    assert post["channel"] == event["channel"]
    assert post["thread_ts"] == event["ts"]
    assert "Our key points" in _all_text(post)
    assert post["text"]  # plain fallback for notifications
    await harness.settle(1)


async def test_mention_inside_a_thread_replies_in_that_thread(harness: Harness) -> None:
    await harness.mention("who led the review?", thread_ts="1699999999.000001")
    [post] = await harness.posts(1)
    assert post["thread_ts"] == "1699999999.000001"
    assert "Gordon Messenger" in _all_text(post)


async def test_direct_message_is_answered_in_the_dm(harness: Harness) -> None:
    await harness.dm("Is the NHS over-managed?")
    [post] = await harness.posts(1)
    assert post["channel"] == "D0000001"
    assert post.get("thread_ts") is None
    assert "under-managed" in _all_text(post)


async def test_reply_blocks_have_summary_links_related_and_source(harness: Harness) -> None:
    await harness.dm("tell me about the EDI programme")
    [post] = await harness.posts(1)
    kinds = [b["type"] for b in post["blocks"]]
    assert kinds[0] == "header" and "section" in kinds and kinds[-3:] == ["context", "actions", "actions"]
    buttons = _buttons(post)
    # Its status is unknown: its page is a plain link, never a sign-up button, and a person is offered.
    assert not [b for b in buttons if b.get("style") == "primary"]
    assert "https://www.nhsconfed.org/supporting-members/equality-diversity-inclusion" in [
        b.get("url") for b in buttons
    ]
    related = [b for b in buttons if b["action_id"].startswith("topic:")]
    assert {b["value"] for b in related} >= {"rec_edi", "offers_overview"}
    assert post["blocks"][-3]["elements"][0]["text"].startswith("Source:")
    feedback, handoff = post["blocks"][-2:]
    assert feedback["block_id"] == "feedback" and handoff["block_id"] == "handoff"
    assert [e["text"]["text"] for e in feedback["elements"]] == ["Helpful", "Not helpful"]
    assert len(post["blocks"]) <= 50


async def test_thread_followup_without_mention_uses_the_threads_topic(harness: Harness) -> None:
    _, _, event = await harness.mention("what is the leadership programme with the Forward Institute?")
    [first] = await harness.posts(1)
    assert "Forward Institute" in _all_text(first)
    followup = {
        "type": "message",
        "channel": event["channel"],
        "channel_type": "channel",
        "user": "U0000002",
        "text": "how do I sign up?",
        "ts": next_ts(),
        "thread_ts": event["ts"],
    }
    assert (await harness.event(followup))[0] == 200
    second = (await harness.posts(2))[1]
    assert second["thread_ts"] == event["ts"]
    # That offer's status is unknown: what we said in 2022, that our sources stop there, and a person.
    assert not [b for b in _buttons(second) if b.get("style") == "primary"]
    assert "Leadership programme for system leaders" in _all_text(second)
    assert "do not say whether this offer still runs" in _all_text(second)
    assert "Ask a person" in [b["text"]["text"] for b in _buttons(second)]


async def test_tell_me_more_and_where_to_read_follow_the_topic(harness: Harness) -> None:
    _, _, event = await harness.mention("recommendation 4")
    await harness.posts(1)
    thread = {"type": "message", "channel": event["channel"], "channel_type": "channel", "user": "U0000003"}
    await harness.event({**thread, "text": "tell me more", "ts": next_ts(), "thread_ts": event["ts"]})
    more = (await harness.posts(2))[1]
    assert "appraisal" in _all_text(more).lower()
    await harness.event({**thread, "text": "where can I read it?", "ts": next_ts(), "thread_ts": event["ts"]})
    read = (await harness.posts(3))[2]
    assert "https://www.parallelparliament.co.uk/question/1917" in [b.get("url") for b in _buttons(read)]


async def test_a_new_question_in_a_thread_is_not_forced_onto_the_old_topic(harness: Harness) -> None:
    _, _, event = await harness.mention("recommendation 4")
    await harness.posts(1)
    await harness.event(
        {"type": "message", "channel": event["channel"], "channel_type": "channel", "user": "U1",
         "text": "and what about non-executive directors?", "ts": next_ts(), "thread_ts": event["ts"]}
    )  # fmt: skip
    second = (await harness.posts(2))[1]
    assert "non-executive" in _all_text(second).lower()


async def test_threads_the_bot_did_not_answer_and_top_level_chatter_are_left_alone(harness: Harness) -> None:
    base = {"type": "message", "channel": "C0000009", "channel_type": "channel", "user": "U0000004"}
    await harness.event({**base, "text": "recommendation 4", "ts": next_ts(), "thread_ts": "1600000000.000001"})
    await harness.event({**base, "text": "what are the key points", "ts": next_ts()})
    await harness.settle(0)


async def test_bot_messages_edits_and_own_posts_are_ignored(harness: Harness) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0000001", "text": "key points", "ts": next_ts()}
    await harness.event({**dm, "bot_id": "B0OTHER", "user": "U0000005"})
    await harness.event({**dm, "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": next_ts()})
    await harness.event({**dm, "subtype": "message_changed", "ts": next_ts(), "message": {"text": "key points"}})
    await harness.event({**dm, "subtype": "bot_message", "ts": next_ts()})
    await harness.settle(0)


async def test_a_mention_delivered_as_app_mention_and_as_message_gets_one_reply(harness: Harness) -> None:
    ts = next_ts()
    text = f"<@{BOT_USER_ID}> what did the review find?"
    message = {"type": "message", "channel": "C0000001", "channel_type": "channel", "user": "U1", "text": text,
               "ts": ts, "thread_ts": "1690000000.000001"}  # fmt: skip
    mention = {"type": "app_mention", "channel": "C0000001", "user": "U1", "text": text, "ts": ts,
               "thread_ts": "1690000000.000001"}  # fmt: skip
    # The thread is one the bot answered, so the plain message would be answered on its own too.
    await harness.services.threads.set("C0000001", "1690000000.000001", "key_points")
    results = await asyncio.gather(harness.event(message), harness.event(mention))
    assert [r[0] for r in results] == [200, 200]
    await harness.posts(1)
    await harness.settle(1)


async def test_broadcasts_and_mentions_in_the_question_are_never_echoed(harness: Harness) -> None:
    await harness.mention("<!channel> <!here> <@U0BADBAD> <!subteam^S123|@team> @everyone recommendation 2 please")
    await harness.dm("<!everyone> <@U0BADBAD> zzzz qqqq")  # a fallback reply
    posts = await harness.posts(2)
    for post in posts:
        text = _all_text(post)
        for bad in ("<!channel>", "<!here>", "<!everyone>", "<@U0BADBAD>", "<!subteam", "@everyone"):
            assert bad not in text
    assert "Recommendation 2" in _all_text(posts[0])


async def test_fallback_says_it_does_not_know_offers_suggestions_and_contact(harness: Harness) -> None:
    # A stricter threshold makes a weak right answer a near miss: under the threshold, above the floor.
    text = harness.content_path.read_text(encoding="utf-8")
    harness.content_path.write_text(text.replace("confidence_threshold: 0.3", "confidence_threshold: 0.99"))
    assert await harness.services.content.reload() == []
    await harness.dm("practice managers")
    [post] = await harness.posts(1)
    text = _all_text(post)
    assert "don't know" in text
    assert "get in touch" in text
    suggestions = [b for b in _buttons(post) if b["action_id"].startswith("topic:")]
    assert 1 <= len(suggestions) <= 3


async def test_fallback_with_nothing_near_has_no_suggestions(harness: Harness) -> None:
    await harness.dm("what's the weather like")
    [post] = await harness.posts(1)
    _assert_plain_fallback(post)


async def test_small_talk_missed_by_the_topic_matcher_gets_its_reply(harness: Harness) -> None:
    # "how are you doing, ai" is only 'ai' to the topic matcher; read again with every word, it is a greeting.
    greeting = harness.services.content.current.catalogue.get("greeting")
    assert greeting is not None
    await harness.dm("how are you doing, ai")
    [post] = await harness.posts(1)
    assert greeting.summary.split("!")[0] in _all_text(post) and "don't know" not in _all_text(post)


async def test_an_off_topic_fallback_offers_no_small_talk_and_no_far_fetched_topic(harness: Harness) -> None:
    # Each once came with a "Did you mean" button: Hello, and Talk to a person.
    await harness.dm("hello in spanish")
    await harness.posts(1)
    await harness.dm("i need to speak to customer service about my flight")
    posts = await harness.posts(2)
    assert len(posts) == 2
    for post in posts:
        _assert_plain_fallback(post)


async def test_another_reviews_recommendations_get_the_fallback_not_messengers(harness: Harness) -> None:
    # Another body's review is not ours, though it shares our words.
    await harness.dm("Hewitt review recommendations")
    [post] = await harness.posts(1)
    assert "don't know" in _all_text(post)


async def test_another_named_review_gets_the_fallback_not_our_findings(harness: Harness) -> None:
    # "the Cass review" is no review of ours: its findings are not the Messenger review's.
    await harness.dm("Key findings of the Cass review?")
    [post] = await harness.posts(1)
    assert "don't know" in _all_text(post)


async def test_a_request_to_write_something_gets_the_fallback_and_no_word_in_a_channel_thread(harness: Harness) -> None:
    await harness.dm("Can you draft a letter to our MP about regulating NHS managers?")
    [post] = await harness.posts(1)
    assert "don't know" in _all_text(post)
    _, _, event = await harness.mention("what are the seven recommendations")
    await harness.posts(2)
    await harness.event(
        {"type": "message", "channel": event["channel"], "channel_type": "channel", "user": "U0000004",
         "text": "write up where I can read more", "ts": next_ts(), "thread_ts": event["ts"]}
    )  # fmt: skip
    # Nobody addressed the bot in that channel thread: it never posts "I don't know" there.
    await harness.settle(2)


async def test_app_home_shows_key_points_offers_and_how_to_ask(harness: Harness) -> None:
    status, _ = await harness.event(
        {"type": "app_home_opened", "user": "U0000007", "channel": "D0000007", "tab": "home"}
    )
    assert status == 200
    [call] = await harness.standin.wait_for("views.publish")
    assert call.params["user_id"] == "U0000007"
    view = call.params["view"]
    text = _all_text(view)
    assert view["type"] == "home"
    assert "Our key points" in text and "How to ask" in text and "/messenger help" in text
    # No offer is open: each is listed with where it stands and a button to its own answer.
    assert "our sources do not say whether it still runs" in text
    assert "offer_edi_programme" in {b.get("value") for b in _buttons(view)}
    assert not [b for b in _buttons(view) if b.get("url", "").endswith("equality-diversity-inclusion")]


async def test_a_thread_reply_also_sent_to_the_channel_is_answered(harness: Harness) -> None:
    _, _, event = await harness.mention("recommendation 4")
    await harness.posts(1)
    await harness.event({"type": "message", "subtype": "thread_broadcast", "channel": event["channel"], "channel_type": "channel",
                         "user": "U0000009", "text": "tell me more", "ts": next_ts(), "thread_ts": event["ts"]})  # fmt: skip
    second = (await harness.posts(2))[1]
    assert second["thread_ts"] == event["ts"] and "appraisal" in _all_text(second).lower()


def test_the_engine_knows_nothing_of_slack() -> None:
    import ast
    from pathlib import Path

    for path in (Path(__file__).parent.parent / "intents").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("slack_bolt", "slack_sdk", "bot", "aiohttp") for n in names), (
                path,
                names,
            )


async def test_a_thread_under_a_dm_answer_keeps_the_dm_topic(harness: Harness) -> None:
    await harness.dm("tell me about the EDI programme")
    [first] = await harness.posts(1)
    await harness.dm("how do I sign up?", thread_ts="1700000999.000001")
    second = (await harness.posts(2))[1]
    assert second["thread_ts"] == "1700000999.000001"
    assert [b["url"] for b in _buttons(second) if "url" in b][0] == (
        "https://www.nhsconfed.org/supporting-members/equality-diversity-inclusion"
    )
    assert "do not say whether this offer still runs" in _all_text(second)


async def test_the_passport_conversation_gets_the_fallback_in_a_dm(harness: Harness) -> None:
    # A fallback ends the topic, and a message with a topic of its own is a new question, whatever it
    # opens with: "how do I renew my passport?" is not "how do I sign up?" for the EDI programme.
    texts = (
        "tell me about the EDI programme",
        "what's the weather like in Leeds tomorrow?",
        "how do I renew my passport?",
    )
    for n, text in enumerate(texts, 1):
        await harness.dm(text)
        await harness.posts(n)  # each answered (and the topic moved on) before the next is asked
    posts = await harness.posts(3)
    assert "don't know" in _all_text(posts[1]) and "don't know" in _all_text(posts[2])
    assert "sign up" not in _all_text(posts[2]).lower()


async def test_the_passport_question_in_a_channel_thread_gets_no_word(harness: Harness) -> None:
    """Unaddressed in a channel thread, a question the bot cannot answer gets no "I don't know"; the
    thread keeps its topic, so the asker's "how do I sign up?" after it still gets the EDI sign-up."""
    _, _, event = await harness.mention("tell me about the EDI programme")
    await harness.posts(1)
    thread = {"type": "message", "channel": event["channel"], "channel_type": "channel", "user": "U0000005"}
    await harness.event({**thread, "text": "how do I renew my passport?", "ts": next_ts(), "thread_ts": event["ts"]})
    await harness.event({**thread, "text": "how do I sign up?", "ts": next_ts(), "thread_ts": event["ts"]})
    posts = await harness.posts(2)
    await harness.settle(2)
    assert "don't know" not in _all_text(posts[1]) and "EDI" in _all_text(posts[1])


async def test_sign_up_right_after_a_topic_still_gets_its_link_in_a_dm(harness: Harness) -> None:
    await harness.dm("tell me about the EDI programme")
    await harness.posts(1)
    await harness.dm("how do I sign up?")
    second = (await harness.posts(2))[1]
    assert "https://www.nhsconfed.org/supporting-members/equality-diversity-inclusion" in [
        b.get("url") for b in _buttons(second)
    ]


async def test_asking_for_a_real_person_gets_the_handoff_in_a_dm_and_a_thread(harness: Harness) -> None:
    await harness.dm("can a real person help?")
    [dm] = await harness.posts(1)
    assert "Ask a person" in [b["text"]["text"] for b in _buttons(dm)]
    _, _, event = await harness.mention("what are the seven recommendations?")
    await harness.posts(2)
    await harness.event({"type": "message", "channel": event["channel"], "channel_type": "channel",
                         "user": "U0000006", "text": "can a real person help?", "ts": next_ts(),
                         "thread_ts": event["ts"]})  # fmt: skip
    thread = (await harness.posts(3))[2]
    assert thread["thread_ts"] == event["ts"]
    assert "Ask a person" in [b["text"]["text"] for b in _buttons(thread)]
