"""The sandbox (make sandbox) through its JSON API, as the page drives it: a question reaches the real bot
as a signed Slack request and comes back rendered, with why; a related-topic button answers its topic;
a saved content file changes the next answer, and a broken one shows the check's file:line:column."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.server import EVENTS_PATH
from devtools.sandbox.payloads import DM, GENERAL
from devtools.sandbox.web import SandboxServer
from devtools.standin import BOT_USER_ID
from tests.conftest import copy_content

QUESTION = "tell me about the action learning sets"
ALS = "offer_action_learning_sets"


class Page:
    """What the page does, over HTTP."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http
        self.version = -1

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(f"{self.url}sandbox/api/{path}", json=body) as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data

    async def state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.url}sandbox/api/state") as resp:
            data: dict[str, Any] = await resp.json()
            return data

    async def wait(self, check: Any, timeout: float = 10.0) -> dict[str, Any]:
        """Poll the state, as the page does, until `check(state)` is true."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            state = await self.state()
            if check(state):
                return state
            assert asyncio.get_running_loop().time() < deadline, "timed out waiting for the sandbox"
            await asyncio.sleep(0.1)

    async def reply_to(self, count_before: int, channel: str = DM) -> dict[str, Any]:
        state = await self.wait(lambda s: len(_bot(s, channel)) > count_before)
        return _bot(state, channel)[count_before]


def _bot(state: dict[str, Any], channel: str) -> list[dict[str, Any]]:
    return [m for m in state["messages"] if m["bot"] and m["channel"] == channel]


def _header(message: dict[str, Any]) -> str:
    return next(b["text"]["text"] for b in message["blocks"] if b["type"] == "header")


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[tuple[SandboxServer, Page, Path]]:
    path = copy_content(tmp_path)
    server = SandboxServer(path, port=0)
    url = await server.start()
    # One connection per request: the server shares this event loop, so reusing a connection just as its
    # keep-alive timer fires (after a slow step) can reset it.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        yield server, Page(url, http), path
    await server.stop()


async def test_a_question_is_answered_rendered_with_why(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    server, page, _ = sandbox
    catalogue = server.sandbox.services.content.current.catalogue
    await page.post("say", {"channel": DM, "text": QUESTION})
    reply = await page.reply_to(0)
    assert _header(reply) == catalogue.get(ALS).title  # type: ignore[union-attr]
    types = [b["type"] for b in reply["blocks"]]
    assert types[:2] == ["header", "section"] and "actions" in types and "context" in types
    # Stored as Slack stores a message: every block has an id, mrkdwn is marked verbatim false.
    assert all(b.get("block_id") for b in reply["blocks"])
    assert reply["blocks"][1]["text"]["verbatim"] is False
    why = reply["why"]
    assert why["intent"] == ALS and why["confidence"] >= why["threshold"]
    assert why["best_example"]["intent_id"] == ALS
    assert why["best_example"]["text"] in catalogue.get(ALS).examples  # type: ignore[union-attr]
    assert why["best_example"]["line"] > 0
    assert len(why["alternatives"]) >= 1 and all(a["intent"] != ALS for a in why["alternatives"])


async def test_every_request_is_signed_and_goes_through_slack_events(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    server, page, _ = sandbox
    await page.post("say", {"channel": DM, "text": QUESTION})
    await page.post("say", {"channel": GENERAL, "text": "what are the key points?", "mention": True})
    await page.post("say", {"channel": GENERAL, "text": "/messenger offers"})
    await page.post("home", {})
    await page.wait(lambda s: s["home"] is not None and len(_bot(s, GENERAL)) >= 2)
    kinds = [d.kind for d in server.sandbox.sent]
    assert kinds == ["message_im", "app_mention", "message_channel", "slash_command", "app_home_opened"]
    assert all(d.status == 200 for d in server.sandbox.sent)
    # The same endpoint refuses a request without Slack's signature, so every one above was signed.
    async with page.http.post(server.sandbox.bot_url + EVENTS_PATH, data=b'{"type":"event_callback"}') as resp:
        assert resp.status == 401
    state = await page.state()
    mention_reply = next(m for m in _bot(state, GENERAL) if not m["ephemeral"])
    mention = next(m for m in state["messages"] if m["channel"] == GENERAL and not m["bot"])
    assert mention["text"].startswith(f"<@{BOT_USER_ID}>")
    assert mention_reply["thread_ts"] == mention["ts"]  # a mention is answered in its thread
    command_reply = next(m for m in _bot(state, GENERAL) if m["ephemeral"])
    assert any(b.get("block_id") == "share" for b in command_reply["blocks"])
    assert state["home"]["type"] == "home" and state["home"]["blocks"]


async def test_a_related_topic_button_answers_that_topic(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    server, page, _ = sandbox
    await page.post("say", {"channel": DM, "text": QUESTION})
    reply = await page.reply_to(0)
    related = next(b for b in reply["blocks"] if b.get("block_id") == "related")
    button = related["elements"][0]
    result = await page.post("click", {"message": reply["id"], "block_id": "related", "action_id": button["action_id"]})
    assert result["status"] == 200 and result["url"] is None
    topic = await page.reply_to(1)
    assert _header(topic) == button["text"]["text"]
    assert topic["why"] == {"kind": "button", "intent": button["value"], "title": button["text"]["text"],
                            "path": "responses.yaml"}  # fmt: skip


async def test_share_in_channel_replaces_the_ephemeral_answer(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    _, page, _ = sandbox
    await page.post("say", {"channel": GENERAL, "text": "/messenger " + QUESTION})
    ephemeral = await page.reply_to(0, GENERAL)
    assert ephemeral["ephemeral"] and ephemeral["why"]["intent"] == ALS
    share = next(b for b in ephemeral["blocks"] if b.get("block_id") == "share")["elements"][0]
    await page.post("click", {"message": ephemeral["id"], "block_id": "share", "action_id": share["action_id"]})
    state = await page.wait(lambda s: all(m["id"] != ephemeral["id"] for m in s["messages"]))
    shared = [m for m in _bot(state, GENERAL) if not m["ephemeral"]]
    assert len(shared) == 1 and _header(shared[0]) == _header(ephemeral)


async def test_a_saved_change_shows_in_the_next_answer_and_a_broken_save_shows_its_problems(
    sandbox: tuple[SandboxServer, Page, Path],
) -> None:
    server, page, path = sandbox
    title = server.sandbox.services.content.current.catalogue.get(ALS).title  # type: ignore[union-attr]
    text = path.read_text(encoding="utf-8")
    assert text.count(f"title: {title}\n") == 1
    path.write_text(text.replace(f"title: {title}\n", "title: Action learning sets, edited by staff\n"), "utf-8")
    await page.wait(lambda s: any(i["title"] == "Action learning sets, edited by staff" for i in s["intents"]))
    await page.post("say", {"channel": DM, "text": QUESTION})
    assert _header(await page.reply_to(0)) == "Action learning sets, edited by staff"

    broken = text.replace(f"title: {title}\n", 'title: "never closed\n')
    path.write_text(broken, "utf-8")
    state = await page.wait(lambda s: bool(s["problems"]))
    line = broken.split("\n").index('    title: "never closed') + 1
    assert any(p.startswith(f"{path}:{line}:") and "is never closed" in p for p in state["problems"]), state["problems"]
    await page.post("say", {"channel": DM, "text": QUESTION})
    assert _header(await page.reply_to(1)) == "Action learning sets, edited by staff"  # the last good version

    path.write_text(text, "utf-8")
    state = await page.wait(lambda s: not s["problems"])
    await page.post("say", {"channel": DM, "text": QUESTION})
    assert _header(await page.reply_to(2)) == title


async def test_learn_adds_the_question_to_the_sandbox_content_file(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    _, page, path = sandbox
    question = "is there a peer group for people running provider collaboratives"
    await page.post("say", {"channel": DM, "text": question})
    await page.reply_to(0)
    async with page.http.get(f"{page.url}sandbox/api/report") as resp:
        logged = await resp.json()
    assert logged["report"]["questions"] == 1
    result = await page.post("learn", {"question": question, "intent": ALS})
    assert result["ok"], result
    assert f"added as an example of '{ALS}'" in result["output"][0]
    assert f"- {question}" in path.read_text(encoding="utf-8")
    refused = await page.post("learn", {"question": question, "intent": "no_such_intent"})
    assert not refused["ok"] and refused["output"]


async def test_the_page_and_its_files_are_served_from_the_package(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    _, page, _ = sandbox
    async with page.http.get(page.url) as resp:
        html = await resp.text()
    assert resp.status == 200 and "/static/sandbox.js" in html and "http" not in html.replace("http-equiv", "")
    # Teach here teaches the sandbox's own log, which `bot labels list` does not read: the page says so.
    assert "<code>python -m bot labels list</code> reads the bot's log, not this one" in html
    for name in ("sandbox.js", "blockkit.js", "sandbox.css"):
        async with page.http.get(f"{page.url}static/{name}") as resp:
            assert resp.status == 200
            assert "//cdn" not in (await resp.text())
    async with page.http.get(f"{page.url}static/../session.py") as resp:
        assert resp.status == 404
    # JSON only, from this machine only.
    async with page.http.post(f"{page.url}sandbox/api/say", data={"channel": DM, "text": "hi"}) as resp:
        assert resp.status == 415
    async with page.http.get(f"{page.url}sandbox/api/state", headers={"Host": "evil.example"}) as resp:
        assert resp.status == 403


async def test_commands_as_slack_handles_them(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    """An unknown command is answered by Slack itself (nothing reaches the bot); a staff sub-command is
    shown as one, never as a question to teach the bot."""
    server, page, _ = sandbox
    await page.post("say", {"channel": GENERAL, "text": "/mesenger offers"})
    notice = await page.reply_to(0, GENERAL)
    assert notice["ephemeral"] and "/mesenger is not a valid command" in notice["text"]
    assert server.sandbox.sent == []
    await page.post("say", {"channel": GENERAL, "text": "/messenger reload"})
    assert [d.kind for d in server.sandbox.sent] == ["slash_command"]
    refused = await page.reply_to(1, GENERAL)
    assert "only the content team can reload" in refused["text"]
    assert refused["why"]["kind"] == "command" and refused["why"]["what"] == "reload (staff only)"


async def test_a_mention_is_explained_and_taught_as_the_bot_reads_it(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    """The why panel and Learn use the question without the @-mention, as the listener matches it; two
    questions sent one after the other each keep their own explanation."""
    _, page, path = sandbox
    question = "is there a peer group for people running provider collaboratives"
    await page.post("say", {"channel": GENERAL, "text": question, "mention": True})
    reply = await page.reply_to(0, GENERAL)
    assert reply["why"]["question"] == question
    result = await page.post("learn", {"question": reply["why"]["question"], "intent": ALS})
    assert result["ok"], result
    await page.post("say", {"channel": DM, "text": "what are the key points?"})
    await page.post("say", {"channel": DM, "text": QUESTION})
    first, second = await page.reply_to(0), await page.reply_to(1)
    assert first["why"]["intent"] == "key_points" and second["why"]["intent"] == ALS


async def test_a_link_button_on_the_home_tab_reaches_the_bot_as_slack_sends_it(
    sandbox: tuple[SandboxServer, Page, Path],
) -> None:
    """The Home tab's buttons have no block_id of their own: as in Slack, the stored view gets generated
    ones, and a click reaches the bot as block_actions from a view (acknowledged, nothing posted). The
    shipped offers have no sign-up, so the link clicked is one made for this test."""
    server, page, path = sandbox
    # The EDI programme confirmed open today, with its own page as its sign-up.
    text = path.read_text(encoding="utf-8")
    edi = text.index("  - id: offer_edi_programme")
    opened = (
        text[edi:]
        .replace("      state: unknown\n", "      state: open\n", 1)
        .replace(
            "    links:\n",
            "    signup:\n      label: Join\n"
            "      url: https://www.nhsconfed.org/supporting-members/equality-diversity-inclusion\n    links:\n",
            1,
        )
    )
    path.write_text(text[:edi] + opened, encoding="utf-8")
    assert await server.sandbox.services.content.reload() == []
    await page.post("home", {})
    state = await page.wait(lambda s: s["home"] is not None)
    block = next(b for b in state["home"]["blocks"] if (b.get("accessory") or {}).get("url"))
    assert block["block_id"]
    result = await page.post(
        "click", {"home": True, "block_id": block["block_id"], "action_id": block["accessory"]["action_id"]}
    )
    assert result["status"] == 200 and result["url"] == block["accessory"]["url"]
    assert [d.kind for d in server.sandbox.sent] == ["app_home_opened", "block_actions"]


async def test_why_lists_the_stages_reasons(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    _, page, _ = sandbox
    await page.post("say", {"channel": DM, "text": "what's the weather like in Leeds tomorrow?"})
    why = (await page.reply_to(0))["why"]
    assert why["intent"] is None
    assert [stage for stage, _ in why["reasons"]] == ["classify", "fallback"]
    assert why["reasons"][1][1].startswith("off-topic")


async def test_simultaneous_learn_clicks_each_keep_their_example(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    """Learn calls at once: each that says ok has its example in the file (an attack saw 8 of 30 kept)."""
    _, page, path = sandbox
    questions = [f"is there a peer group number {n} for people running provider collaboratives" for n in range(6)]
    results = await asyncio.gather(*(page.post("learn", {"question": q, "intent": ALS}) for q in questions))
    text = path.read_text(encoding="utf-8")
    saved = [q for q in questions if f"- {q}\n" in text]
    said_ok = [q for q, r in zip(questions, results, strict=True) if r["ok"]]
    assert said_ok == questions
    assert saved == questions


async def test_a_bot_that_does_not_answer_is_a_502_not_a_crash(sandbox: tuple[SandboxServer, Page, Path]) -> None:
    """With the bot behind the sandbox gone, the page is told so in one line."""
    server, page, _ = sandbox
    await server.sandbox.runner.cleanup()
    async with page.http.post(f"{page.url}sandbox/api/say", json={"channel": DM, "text": "hello"}) as resp:
        assert resp.status == 502
        assert (await resp.text()).startswith("the bot did not answer")


async def test_staff_teach_a_question_on_the_staff_home_and_the_bot_answers_it(
    sandbox: tuple[SandboxServer, Page, Path],
) -> None:
    """View as staff: the staff Home, Teach opens the modal (views.open), Save sends Slack's
    view_submission; the bot closes the modal, re-publishes the Home and answers the question as taught."""
    server, page, _ = sandbox
    question, taught = "where can I park my bike at the conference venue", "contact"
    await page.post("say", {"channel": DM, "text": question})
    await page.reply_to(0)
    await page.post("home", {})
    member_home = (await page.wait(lambda s: s["home"] is not None))["home"]
    assert not any((b.get("accessory") or {}).get("action_id") == "teach" for b in member_home["blocks"])

    await page.post("as", {"staff": True})
    await page.post("home", {})
    state = await page.wait(lambda s: s["staff"] and s["home"] is not None)
    block = next(b for b in state["home"]["blocks"] if (b.get("accessory") or {}).get("action_id") == "teach")
    assert "bike" in block["text"]["text"]
    await page.post("click", {"home": True, "block_id": block["block_id"], "action_id": "teach"})
    modal = (await page.wait(lambda s: s["modal"] is not None))["modal"]
    select = next(b for b in modal["blocks"] if b["type"] == "input")
    assert select["element"]["type"] == "static_select" and modal["submit"]["text"] == "Save"

    published = len(server.sandbox.standin.calls_to("views.publish"))
    result = await page.post("submit", {"values": {select["block_id"]: {select["element"]["action_id"]: taught}}})
    assert result == {"ok": True, "status": 200, "errors": {}}
    await server.sandbox.standin.wait_for("views.publish", published + 1, timeout=15)
    state = await page.wait(lambda s: s["modal"] is None and "Taught 1 question" in str(s["home"]))
    assert [d.kind for d in server.sandbox.sent][-3:] == ["app_home_opened", "block_actions", "view_submission"]

    await page.post("as", {"staff": False})
    before = len(_bot(await page.state(), DM))
    await page.post("say", {"channel": DM, "text": question})
    reply = await page.reply_to(before)
    assert _header(reply) == server.sandbox.services.content.current.catalogue.get(taught).title  # type: ignore[union-attr]


async def test_a_save_the_bot_refuses_keeps_the_modal_open_with_its_errors(
    sandbox: tuple[SandboxServer, Page, Path],
) -> None:
    server, page, _ = sandbox
    await page.post("as", {"staff": True})
    await page.post("say", {"channel": DM, "text": "where can I park my bike at the conference venue"})
    await page.reply_to(0)
    await page.post("home", {})
    state = await page.wait(lambda s: s["home"] is not None)
    block = next(b for b in state["home"]["blocks"] if (b.get("accessory") or {}).get("action_id") == "teach")
    await page.post("click", {"home": True, "block_id": block["block_id"], "action_id": "teach"})
    modal = (await page.wait(lambda s: s["modal"] is not None))["modal"]
    select = next(b for b in modal["blocks"] if b["type"] == "input")
    result = await page.post("submit", {"values": {select["block_id"]: {"intent": "no_such_intent"}}})
    assert result["errors"] == {"intent": "Choose an answer from the list."}
    state = await page.state()
    assert state["modal"] is not None and state["modal_errors"] == result["errors"]
    await page.post("close", {})
    assert (await page.state())["modal"] is None
