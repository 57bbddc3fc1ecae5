"""The staff App Home and the Teach modal, through the signed HTTP path with Slack's own payload shapes
(tests/data/slack/action_teach_button_home.json and view_submission_teach.json): staff see the last
weeks and the questions the bot could not answer, Teach opens a modal, Save teaches the bot at once;
a member who forges a click or a Save is refused and nothing changes."""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.models.views import View

from bot import staff_figures, staff_home
from bot.blocks import TEACH_ACTION
from bot.question_log import UnansweredGroup
from bot.server import EVENTS_PATH
from devtools.signing import event_body, signed_headers
from devtools.standin import SlackStandIn
from tests.conftest import SECRET, Harness, dm_event
from tests.test_slack_corpus import fixture
from tests.test_teaching import _instance

STAFF = "USTAFF001"
MEMBER = "U0000001"
# A question the shipped content does not answer (the fallback), and what staff teach it as.
QUESTION = "where can I park my bike at the conference venue"
TAUGHT = "contact"
# A member's question that tries to ping everyone and to pass for markup.
HOSTILE = "<!channel> can I cancel my gym membership <@U0000002> & my *car* <https://evil.example|here>"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"staff_user_ids": (STAFF,)}


async def _open_home(harness: Harness, user: str) -> dict[str, Any]:
    body = copy.deepcopy(fixture("event_app_home_opened_with_view.json")["body"])
    body["event"]["user"] = user
    body["event_id"] = f"EvHOME{len(harness.standin.calls):06d}"
    before = len(harness.standin.calls_to("views.publish"))
    status, _ = await harness.post_signed(json.dumps(body))
    assert status == 200
    calls = await harness.standin.wait_for("views.publish", before + 1, timeout=10)
    assert calls[-1].params["user_id"] == user
    view: dict[str, Any] = calls[-1].params["view"]
    return view


def _teach_buttons(view: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (b["block_id"] if "block_id" in b else f"b{n}", b["accessory"])
        for n, b in enumerate(view["blocks"])
        if b.get("accessory", {}).get("action_id") == TEACH_ACTION
    ]


def _group_text(view: dict[str, Any], button: dict[str, Any]) -> str:
    return next(b["text"]["text"] for b in view["blocks"] if b.get("accessory") is button)


async def _click_teach(harness: Harness, user: str, value: str, view: dict[str, Any]) -> tuple[int, str]:
    payload = copy.deepcopy(fixture("action_teach_button_home.json")["body"]["payload"])
    payload["user"]["id"] = user
    payload["actions"][0]["value"] = value
    payload["view"] = {**payload["view"], "blocks": view["blocks"]}
    payload["response_url"] = harness.standin.response_url()
    return await harness.action(payload)


def _submission(user: str, modal: dict[str, Any], intent: str | None) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("view_submission_teach.json")["body"]["payload"])
    payload["user"]["id"] = user
    payload["view"].update(blocks=modal["blocks"], private_metadata=modal["private_metadata"])
    select = next(b for b in modal["blocks"] if b["type"] == "input")["element"]
    option = next((o for o in select["options"] if o["value"] == intent), None)
    state = payload["view"]["state"]["values"]["intent"]["intent"]
    state["selected_option"] = (
        option if option is not None else {"text": {"type": "plain_text", "text": "x"}, "value": intent}
    )
    return payload


async def _ask(harness: Harness, *questions: str) -> None:
    for text in questions:
        await harness.dm(text)
    await harness.posts(len(questions))
    await harness.services.recorder.flush()


async def _modal_for(harness: Harness, question: str) -> dict[str, Any]:
    view = await _open_home(harness, STAFF)
    [value] = [b["value"] for _, b in _teach_buttons(view) if question.split()[-1] in _group_text(view, b)]
    status, _ = await _click_teach(harness, STAFF, value, view)
    assert status == 200
    # Slack's trigger_id lasts 3 s: the modal opens at once, then views.update fills it in.
    [opened] = await harness.standin.wait_for("views.open", timeout=10)
    assert "Reading the questions" in json.dumps(opened.params["view"])
    [call] = await harness.standin.wait_for("views.update", timeout=10)
    assert call.params["view_id"] == "VMODAL0001"
    modal: dict[str, Any] = call.params["view"]
    return modal


async def test_staff_home_shows_the_weeks_and_what_waits_to_be_taught(harness: Harness) -> None:
    await _ask(harness, QUESTION, QUESTION, "what are the key points of the review?", HOSTILE)
    view = await _open_home(harness, STAFF)
    text = json.dumps(view, ensure_ascii=False)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "Staff view" in text and "Questions a day" in text and "busiest day" in text
    assert "Answered" in text and "(was " in text and "Least helpful" in text and "due for review" in text
    # What members see follows, unchanged.
    content = harness.services.content.current
    member = content.renderer.home(content.catalogue.get("key_points"))["blocks"]
    assert view["blocks"][-len(member) :] == member
    buttons = _teach_buttons(view)
    assert len(buttons) >= 2
    shown = [_group_text(view, b) for _, b in buttons]
    # One member asked it twice: counted as one member, not two.
    assert any(f"*1 member* (2 messages): “{QUESTION}”" in s for s in shown)
    # The member's text is escaped: no mention, broadcast or link can form, and the section is verbatim.
    hostile = next(s for s in shown if "gym" in s)
    assert "<" not in hostile and "&lt;!channel&gt;" in hostile and "&amp;" in hostile and "&lt;https://" in hostile
    assert all(
        b["text"].get("verbatim") for b in view["blocks"] if b.get("accessory", {}).get("action_id") == TEACH_ACTION
    )
    # A button carries a key, never the question.
    assert all(len(b["value"]) == 16 and "park" not in b["value"] for _, b in buttons)


async def test_a_member_keeps_the_members_home(harness: Harness) -> None:
    await _ask(harness, QUESTION)
    view = await _open_home(harness, MEMBER)
    content = harness.services.content.current
    assert view == content.renderer.home(content.catalogue.get("key_points"))
    assert "Staff view" not in json.dumps(view) and not _teach_buttons(view)


async def test_teach_opens_a_modal_and_save_teaches_the_bot(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    await _ask(harness, QUESTION, QUESTION)
    assert harness.services.content.current.engine.answer(QUESTION).is_fallback
    modal = await _modal_for(harness, QUESTION)
    View(**modal).validate_json()  # Slack's limits, as slack_sdk knows them
    assert modal["callback_id"] == "teach" and modal["submit"]["text"] == "Save"
    assert QUESTION in json.dumps(modal) and len(modal["private_metadata"]) <= 3000
    select = next(b for b in modal["blocks"] if b["type"] == "input")["element"]
    assert select["type"] == "static_select"
    values = [o["value"] for o in select["options"]]
    catalogue = harness.services.content.current.catalogue
    assert values == [staff_home.OFF_TOPIC, *(i.id for i in catalogue.intents)]
    suggested = harness.services.content.current.engine.closest_topic(
        harness.services.content.current.engine.answer(QUESTION)
    )
    if suggested is None:
        assert "initial_option" not in select
    else:
        assert select["initial_option"]["value"] == suggested

    caplog.set_level(logging.INFO, logger="bot.requests")
    publishes = len(harness.standin.calls_to("views.publish"))
    status, body = await harness.action(_submission(STAFF, modal, TAUGHT))
    assert status == 200 and body == ""  # an empty 200 closes the modal
    calls = await harness.standin.wait_for("views.publish", publishes + 1, timeout=15)
    home = calls[-1].params
    assert home["user_id"] == STAFF and "Taught 1 question as *How to reach the team*" in json.dumps(home["view"])
    assert not any(QUESTION in _group_text(home["view"], b) for _, b in _teach_buttons(home["view"]))
    [label] = await harness.services.recorder.store.labels.read()
    assert (label.text, label.intent) == (QUESTION, TAUGHT)
    line = next(json.loads(r.getMessage()) for r in caplog.records if '"kind":"teach"' in r.getMessage())
    assert line["outcome"] == "taught" and line["intent"] == TAUGHT and line["questions"] == 1
    assert "park" not in caplog.text  # who, what and how many: never the question

    await harness.dm(QUESTION)
    posts = await harness.posts(3)
    assert catalogue.get(TAUGHT).title in json.dumps(posts[-1])  # type: ignore[union-attr]


async def test_off_topic_is_a_choice_too(harness: Harness) -> None:
    await _ask(harness, QUESTION)
    modal = await _modal_for(harness, QUESTION)
    status, body = await harness.action(_submission(STAFF, modal, staff_home.OFF_TOPIC))
    assert (status, body) == (200, "")
    await harness.standin.wait_for("views.publish", 2, timeout=15)
    [label] = await harness.services.recorder.store.labels.read()
    assert label.intent is None


async def test_a_member_forging_teach_or_save_is_refused_and_nothing_changes(harness: Harness) -> None:
    await _ask(harness, QUESTION)
    staff_view = await _open_home(harness, STAFF)
    [(_, button)] = [(i, b) for i, b in _teach_buttons(staff_view) if "bike" in _group_text(staff_view, b)]
    modal = await _modal_for(harness, QUESTION)
    harness.standin.calls.clear()

    status, _ = await _click_teach(harness, MEMBER, button["value"], staff_view)
    assert status == 200
    [call] = await harness.standin.wait_for("views.open")
    assert "only the content team" in json.dumps(call.params["view"]) and "submit" not in call.params["view"]

    status, body = await harness.action(_submission(MEMBER, modal, TAUGHT))
    assert status == 200
    assert json.loads(body) == {
        "response_action": "errors",
        "errors": {"intent": "Sorry, only the content team can teach the bot."},
    }
    assert await harness.services.recorder.store.labels.read() == []
    assert harness.standin.calls_to("views.publish") == []
    assert harness.services.content.current.engine.answer(QUESTION).is_fallback


@pytest.mark.parametrize(
    "change, error",
    [
        ("metadata", "not one the bot opened"),
        ("unknown_hash", "taught already"),
        ("intent", "Choose an answer"),
    ],
)
async def test_a_forged_or_stale_save_from_staff_stores_nothing(harness: Harness, change: str, error: str) -> None:
    await _ask(harness, QUESTION)
    modal = await _modal_for(harness, QUESTION)
    payload = _submission(STAFF, modal, TAUGHT)
    if change == "metadata":
        payload["view"]["private_metadata"] = json.dumps({"q": ["not a hash"]})
    elif change == "unknown_hash":
        # A question that is not in the log: its hash names nothing Save may teach.
        payload["view"]["private_metadata"] = json.dumps({"q": [staff_home.text_hash("a question nobody asked")]})
    else:
        payload = _submission(STAFF, modal, "made_up_intent")
    status, body = await harness.action(payload)
    assert status == 200
    reply = json.loads(body)
    assert reply["response_action"] == "errors" and error in reply["errors"]["intent"]
    assert await harness.services.recorder.store.labels.read() == []


async def test_a_group_taught_meanwhile_says_so(harness: Harness) -> None:
    await _ask(harness, QUESTION)
    modal = await _modal_for(harness, QUESTION)
    assert (await harness.action(_submission(STAFF, modal, TAUGHT)))[1] == ""
    await harness.standin.wait_for("views.publish", 2, timeout=15)
    status, body = await harness.action(_submission(STAFF, modal, TAUGHT))  # a second Save of the same modal
    assert "taught already" in json.loads(body)["errors"]["intent"]
    assert len(await harness.services.recorder.store.labels.read()) == 1


# --- the pieces, without Slack ---


def test_sparkline_marks_every_day_with_a_question() -> None:
    assert staff_home.sparkline([0, 0, 0]) == "▁▁▁"
    line = staff_home.sparkline([0, 1, 7, 14])
    assert line[0] == "▁" and line[1] != "▁" and line[-1] == "█" and len(line) == 4


def test_review_due_follows_bot_checks_rule(harness: Harness) -> None:
    catalogue = harness.services.content.current.catalogue
    reviewed = [i for i in catalogue.intents if i.reviewed is not None]
    assert reviewed
    latest = max(i.reviewed for i in reviewed)  # type: ignore[type-var]
    limit = datetime.timedelta(days=catalogue.settings.review_after_days)
    assert staff_home.review_due(catalogue, latest + limit) == [
        (i, i.reviewed + limit)
        for i in sorted(reviewed, key=lambda i: (i.reviewed, i.id))
        if i.reviewed < latest  # type: ignore[operator]
    ]
    assert len(staff_home.review_due(catalogue, latest + limit + datetime.timedelta(days=1))) == len(reviewed)


def test_a_long_question_is_cut_before_it_is_escaped() -> None:
    text = "&" * 400
    shown = staff_home.shown_question(text)
    # Cut to exactly what Teach learns (taught_text), then the ellipsis.
    assert shown.endswith("…") and shown.count("&amp;") == staff_home.QUESTION_CHARS


def test_many_long_wordings_fit_slacks_limits(harness: Harness) -> None:
    """A big group: the modal's metadata stays under 3,000 characters and its text under a section's
    limit; a Home with many groups stays under 100 blocks. slack_sdk checks the rest."""
    texts = tuple(f"question number {n} " + "x" * 500 for n in range(300))
    group = staff_figures.Group(
        UnansweredGroup(texts[0], 900, TAUGHT), staff_figures.group_key(texts[0]), texts, (3,) * 300
    )
    catalogue = harness.services.content.current.catalogue
    modal = staff_home.teach_view(group, catalogue)
    View(**modal).validate_json()
    assert len(modal["private_metadata"]) <= 3000
    assert all(len(b["text"]["text"]) <= 3000 for b in modal["blocks"] if b["type"] == "section")
    dashboard = staff_figures.Dashboard(start=datetime.date(2026, 11, 7), per_day=[5] * 28, groups=[group] * 40)
    home = staff_home.staff_home(harness.services.content.current, dashboard, "note")
    assert len(home["blocks"]) <= 100
    View(**home).validate_json()


# --- the whole loop: Home, Teach, Save on one instance; the answer on another, on PostgreSQL ---


class TestTwoInstancesOnPostgres:
    SCHEMA = f"home_{uuid.uuid4().hex[:10]}"

    @pytest.fixture
    def settings_overrides(self, postgres_url: str) -> dict[str, Any]:
        return {
            "staff_user_ids": (STAFF,),
            "database_url": f"{postgres_url}?options=-csearch_path%3D{self.SCHEMA}",
        }

    @pytest.fixture(autouse=True)
    async def postgres(self, postgres_url: str) -> AsyncIterator[None]:
        yield
        import asyncpg

        conn = await asyncpg.connect(postgres_url)
        await conn.execute(f'drop schema if exists "{self.SCHEMA}" cascade')
        await conn.close()

    async def test_staff_teach_on_one_instance_and_another_answers_so(
        self, harness: Harness, standin: SlackStandIn, content_path: Path
    ) -> None:
        await harness.services.recorder.start()  # migrations, as at start-up
        async with _instance(standin, content_path, harness.services.settings.database_url or "") as (url, second):
            await _ask(harness, QUESTION)
            assert second.content.current.engine.answer(QUESTION).is_fallback
            modal = await _modal_for(harness, QUESTION)
            status, _ = await harness.action(_submission(STAFF, modal, TAUGHT))
            assert status == 200
            # The other instance polls every 0.2 s here (LABEL_POLL_SECONDS, 15 by default): well within a minute.
            for _ in range(600):
                if second.content.model.labels == 1:
                    break
                await asyncio.sleep(0.1)
            body = event_body(dm_event(QUESTION, user="U0MEMBER002", channel="D0MEMBER02"), "Ev-home-teach-1")
            before = len(standin.calls_to("chat.postMessage"))
            async with (
                aiohttp.ClientSession() as http,
                http.post(url + EVENTS_PATH, data=body.encode(), headers=signed_headers(SECRET, body)) as resp,
            ):
                assert resp.status == 200
            calls = await standin.wait_for("chat.postMessage", before + 1)
            title = second.content.current.catalogue.get(TAUGHT).title  # type: ignore[union-attr]
            assert title in json.dumps(calls[-1].params)


async def test_a_members_pick_among_the_choices_is_kept_and_shown_in_teach(harness: Harness) -> None:
    """The member is asked back ("what about the money?"), picks a choice, and staff see that pick in Teach,
    ready as the answer to save. A click on the same choices by someone else is no pick of the asker's."""
    question = "what about the money?"
    await harness.dm(question)
    [post] = await harness.posts(1)
    [choices] = [b for b in post["blocks"] if b.get("block_id", "").startswith("did_you_mean:")]
    picked = choices["elements"][1]["value"]
    for user in ("U0OTHER01", MEMBER):  # as Slack sends a click on the DM's message (its documented shape)
        payload = copy.deepcopy(fixture("action_did_you_mean_button.json")["body"]["payload"])
        payload["user"]["id"] = user
        payload["message"] = {**payload["message"], "blocks": post["blocks"], "ts": "1700000100.000001"}
        payload["container"]["message_ts"] = "1700000100.000001"
        payload["actions"] = [{**payload["actions"][0], **{k: choices["elements"][1][k] for k in ("action_id", "value")},
                               "block_id": choices["block_id"]}]  # fmt: skip
        payload["response_url"] = harness.standin.response_url()
        status, _ = await harness.action(payload)
        assert status == 200
    await harness.posts(2)  # one answer: two clicks on one message within seconds post once
    await harness.services.recorder.flush()
    since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    [asked] = [q for q in await harness.services.recorder.store.questions.since(since) if q.text == question]
    assert asked.outcome == "asked" and asked.picked == picked  # the asker's pick, not the other member's

    modal = await _modal_for(harness, "money?")
    title = harness.services.content.current.catalogue.get(picked).title  # type: ignore[union-attr]
    assert f"Members' own pick: {title} (1)" in json.dumps(modal, ensure_ascii=False)
    select = next(b for b in modal["blocks"] if b["type"] == "input")["element"]
    assert select["initial_option"]["value"] == picked
