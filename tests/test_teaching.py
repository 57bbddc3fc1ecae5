"""Staff's labels teach the model: the instance where staff saved retrains at once, every other instance
sharing the database within its poll, and a training that fails keeps the model in service."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import bot.content
from bot.app import build_bolt_app
from bot.command_names import Commands
from bot.content import validate_file
from bot.server import EVENTS_PATH, build_web_app
from bot.services import Services, assemble
from bot.settings import PROJECT_DIR
from bot.teaching import refresh, teach, watch_labels
from devtools.signing import event_body, signed_headers
from devtools.standin import SlackStandIn
from tests.conftest import HEALTH_HEADERS, MEMBER_SECRET, SECRET, Harness, dm_event, make_settings

# A question the shipped content does not answer (the fallback), and the intent staff teach it as.
QUESTION = "where can I park my bike at the conference venue"
TAUGHT = "contact"
STAFF = "U0STAFF0001"


def _answered(services: Services, post: dict[str, Any], intent_id: str) -> bool:
    intent = services.content.current.catalogue.get(intent_id)
    assert intent is not None
    return intent.title in json.dumps(post)


async def _health(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz", headers=HEALTH_HEADERS) as resp:
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body


async def test_a_taught_question_gets_the_taught_answer_at_once(harness: Harness) -> None:
    services = harness.services
    await services.recorder.store.migrate()
    assert services.content.current.engine.answer(QUESTION).is_fallback
    assert (await _health(harness.url))["model"]["labels"] == 0

    ids = await teach(services, [QUESTION], TAUGHT, STAFF)

    assert len(ids) == 1
    await harness.dm(QUESTION)
    (post,) = await harness.posts(1)
    assert _answered(services, post, TAUGHT)
    model = (await _health(harness.url))["model"]
    assert model["labels"] == 1 and model["error"] is None
    (label,) = await services.recorder.store.labels.read()
    assert (label.text, label.intent, label.made_by) == (QUESTION, TAUGHT, services.recorder.member_hash(STAFF))


async def test_an_unknown_intent_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    await harness.services.recorder.store.migrate()
    with pytest.raises(ValueError, match="no intent 'made_up'"):
        await teach(harness.services, [QUESTION], "made_up", STAFF)
    assert await harness.services.recorder.store.labels.read() == []


async def test_an_undone_label_is_unlearnt_and_off_topic_is_a_label_too(harness: Harness) -> None:
    services = harness.services
    await services.recorder.store.migrate()
    (label,) = await teach(services, [QUESTION], TAUGHT, STAFF)
    assert services.content.current.engine.match(QUESTION).intent_id == TAUGHT
    assert await services.recorder.store.labels.undo(label)
    await refresh(services)
    assert services.content.current.engine.answer(QUESTION).is_fallback
    # Teaching that a question the bot answers is off-topic sends it to the fallback.
    answered = "tell me about the key points"
    assert services.content.current.engine.match(answered).intent_id == "key_points"
    await teach(services, [answered], None, STAFF)
    assert services.content.current.engine.answer(answered).is_fallback


async def test_a_training_that_fails_keeps_the_model_in_service(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = harness.services
    await services.recorder.store.migrate()
    before = services.content.current

    def broken(*_: object) -> None:
        raise MemoryError("no room to train")

    monkeypatch.setattr(bot.content, "new_engine", broken)
    await teach(services, [QUESTION], TAUGHT, STAFF)  # stored; the retraining fails

    assert services.content.current is before
    assert (await _health(harness.url))["model"]["error"] == "MemoryError"
    monkeypatch.undo()
    await refresh(services)
    assert services.content.current.engine.match(QUESTION).intent_id == TAUGHT
    assert (await _health(harness.url))["model"]["error"] is None


async def test_labels_out_of_reach_leave_the_model_alone(harness: Harness) -> None:
    """No labels table yet (the migration has not run): the poll logs once and keeps trying."""
    services = harness.services
    before = services.content.current
    poll = asyncio.create_task(watch_labels(services, 0.05))
    await asyncio.sleep(0.3)
    assert services.content.current is before
    await services.recorder.store.migrate()
    await services.recorder.store.labels.add([QUESTION], TAUGHT, STAFF)
    for _ in range(100):
        if services.content.model.labels == 1:
            break
        await asyncio.sleep(0.1)
    poll.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await poll
    assert services.content.current.engine.match(QUESTION).intent_id == TAUGHT


# --- two instances sharing PostgreSQL ---


@contextlib.asynccontextmanager
async def _instance(
    standin: SlackStandIn, content_path: Path, database_url: str
) -> AsyncIterator[tuple[str, Services]]:
    """One instance as deployed: its own process state, the shared database, its label poll."""
    services = assemble(make_settings(standin, content_path, database_url=database_url, label_poll_seconds=0.2))
    runner = web.AppRunner(build_web_app(build_bolt_app(services), services), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    await services.recorder.start()
    poll = asyncio.create_task(watch_labels(services, services.settings.label_poll_seconds))
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", services
    finally:
        poll.cancel()
        await asyncio.gather(poll, return_exceptions=True)
        await runner.cleanup()


async def test_two_instances_on_postgres_answer_a_taught_question_alike(
    standin: SlackStandIn, content_path: Path, postgres_url: str
) -> None:
    import asyncpg

    schema = f"teach_{uuid.uuid4().hex[:10]}"
    database_url = f"{postgres_url}?options=-csearch_path%3D{schema}"
    try:
        async with (
            _instance(standin, content_path, database_url) as (_, first),
            _instance(standin, content_path, database_url) as (second_url, second),
        ):
            await first.recorder.flush()
            assert second.content.current.engine.answer(QUESTION).is_fallback

            await teach(first, [QUESTION], TAUGHT, STAFF)

            for _ in range(100):  # the poll is 0.2 s here (15 s by default, under the minute asked for)
                if second.content.model.labels == 1:
                    break
                await asyncio.sleep(0.1)
            body = event_body(dm_event(QUESTION, user="U0MEMBER001", channel="D0MEMBER01"), "Ev-teach-1")
            async with (
                aiohttp.ClientSession() as http,
                http.post(second_url + EVENTS_PATH, data=body.encode(), headers=signed_headers(SECRET, body)) as resp,
            ):
                assert resp.status == 200
            (call,) = await standin.wait_for("chat.postMessage", 1)
            assert _answered(second, call.params, TAUGHT)
            assert (await _health(second_url))["model"]["labels"] == 1
    finally:
        conn = await asyncpg.connect(postgres_url)
        await conn.execute(f'drop schema if exists "{schema}" cascade')
        await conn.close()


# --- python -m bot labels list | undo | export ---


def _labels_cli(harness: Harness, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=harness.services.settings.database_url or "", MEMBER_HASH_SECRET=MEMBER_SECRET)
    return subprocess.run([sys.executable, "-m", "bot", "labels", *args], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


async def test_labels_are_listed_undone_and_exported_into_the_content(harness: Harness) -> None:
    services, path = harness.services, harness.content_path
    await services.recorder.store.migrate()
    training = path.parent / "training"
    before = path.read_bytes()
    [kept, undone] = await teach(services, [QUESTION, "is the bot on holiday"], TAUGHT, STAFF)
    [off_topic] = await teach(services, ["can I book a desk in the office"], None, STAFF)

    listed = _labels_cli(harness, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["id"], r["intent"]) for r in rows] == [(kept, TAUGHT), (undone, TAUGHT), (off_topic, None)]
    assert _labels_cli(harness, "undo", str(undone)).returncode == 0
    again = _labels_cli(harness, "undo", str(undone))
    assert again.returncode == 1 and f"no label {undone} to undo" in again.stderr
    assert "is the bot on holiday" not in _labels_cli(harness, "list").stdout

    exported = _labels_cli(harness, "export", "--path", str(path))

    assert exported.returncode == 0, exported.stderr
    assert "exported 2 label(s)" in exported.stdout
    after = path.read_text(encoding="utf-8")
    # One line added, in the taught intent's examples; every other byte as it was.
    added = [line for line in after.splitlines() if line not in before.decode("utf-8").splitlines()]
    assert added == [f"      - {QUESTION}"] or [a.strip() for a in added] == [f"- {QUESTION}"]
    assert len(after) == len(before.decode("utf-8")) + len(added[0]) + 1
    assert (training / "labels.tsv").read_text(encoding="utf-8").endswith("can I book a desk in the office\tnone\n")
    assert validate_file(path, Commands(), advice=False).errors == []  # what `bot check` fails on
    labels = await services.recorder.store.labels.read()
    assert all(label.exported_at is not None for label in labels)
    assert "nothing to export" in _labels_cli(harness, "export", "--path", str(path)).stdout
    # The running bot reloads the exported file and still answers as taught: an exported label stays in
    # the database, and keeps its weight there.
    assert await services.content.reload() == []
    assert services.content.current.engine.match(QUESTION).intent_id == TAUGHT


async def test_a_members_broadcast_or_comment_mark_never_blocks_an_export(harness: Harness) -> None:
    """A label keeps a member's words, and members write anything: a broadcast is removed from the
    example (check would refuse it, and every later export with it), and an off-topic label starting
    with '#' is written as a line, not as a comment that reads as exported but teaches nothing."""
    services, path = harness.services, harness.content_path
    await services.recorder.store.migrate()
    await teach(services, ["#general is down again, who do I ask"], None, STAFF)
    await teach(services, ["<!channel> @here " + QUESTION], TAUGHT, STAFF)
    exported = _labels_cli(harness, "export", "--path", str(path))
    assert exported.returncode == 0 and "exported 2 label(s)" in exported.stdout, exported.stderr
    after = path.read_text(encoding="utf-8")
    assert "<!channel>" not in after and "@here" not in after and QUESTION in after
    tsv = (path.parent / "training" / "labels.tsv").read_text(encoding="utf-8")
    assert tsv.endswith("\ngeneral is down again, who do I ask\tnone\n")
    assert validate_file(path, Commands(), advice=False).errors == []  # what `bot check` fails on
    assert all(label.exported_at is not None for label in await services.recorder.store.labels.read())
