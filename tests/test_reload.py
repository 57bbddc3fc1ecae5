"""Hot reload through the running app: a saved file is in service within 2 s; a broken one is refused,
the last good content keeps serving, and requests in flight never fail."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Harness
from tests.test_events import _all_text

OLD = "Our key points on the Messenger review"
NEW = "Our key points on the Messenger review, as updated by staff"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def _key_points(harness: Harness, count: int) -> str:
    await harness.dm("what are the key points")
    return _all_text((await harness.posts(count))[-1])


async def test_a_saved_file_goes_into_service_by_itself(harness: Harness) -> None:
    """The watcher picks the change up with no restart (bench/reload.py measures how fast)."""
    assert OLD in await _key_points(harness, 1)
    before = harness.services.content.current.catalogue.digest
    watcher = asyncio.create_task(harness.services.content.watch(0.2))
    try:
        _edit(harness.content_path, OLD, NEW)
        for _ in range(200):  # a liveness guard, not a speed assertion
            if harness.services.content.current.catalogue.digest != before:
                break
            await asyncio.sleep(0.05)
        assert NEW in await _key_points(harness, 2)
    finally:
        watcher.cancel()


async def test_a_broken_file_is_refused_and_the_last_good_content_serves(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.content")
    watcher = asyncio.create_task(harness.services.content.watch(0.2))
    try:
        before = harness.services.content.current
        _edit(harness.content_path, "  - id: key_points\n", "  - id: key_points\n    colour: red\n")
        for _ in range(40):
            if any("reload refused" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        refused = [r.getMessage() for r in caplog.records if "reload refused" in r.getMessage()]
        assert refused and f"{harness.content_path}:" in refused[0] and "unknown field 'colour'" in refused[0]
        assert harness.services.content.current is before
        assert OLD in await _key_points(harness, 1)
    finally:
        watcher.cancel()


async def test_requests_in_flight_never_fail_during_reloads(harness: Harness) -> None:
    async def reload_repeatedly() -> None:
        for n in range(10):
            _edit(harness.content_path, OLD if n == 0 else f"review v{n - 1}", f"review v{n}")
            assert await harness.services.content.reload() == []
            await asyncio.sleep(0.02)

    async def ask(n: int) -> int:
        status, _, _ = await harness.dm("what are the key points", user=f"U{n:07d}")
        return status

    results = await asyncio.gather(reload_repeatedly(), *(ask(n) for n in range(40)))
    assert set(results[1:]) == {200}
    posts = await harness.posts(40, timeout=10)
    assert all("key points" in _all_text(p).lower() for p in posts)


class TestReloadCommand:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"staff_user_ids": ("USTAFF01",), "staff_usergroup_ids": ("SCONTENT1",)}

    @pytest.fixture(autouse=True)
    def staff(self, harness: Harness) -> None:
        harness.standin.usergroups["SCONTENT1"] = ["UGROUP01"]

    async def _reload(self, harness: Harness, user: str) -> dict[str, Any]:
        before = len(harness.standin.calls_to("response_url"))
        status, _ = await harness.command("/messenger", "reload", user=user)
        assert status == 200
        calls = await harness.standin.wait_for("response_url", before + 1)
        return calls[before].params

    async def test_staff_by_user_id_reload_and_see_the_result(self, harness: Harness) -> None:
        _edit(harness.content_path, OLD, NEW)
        reply = await self._reload(harness, "USTAFF01")
        assert reply["response_type"] == "ephemeral"
        assert "Reloaded responses.yaml" in reply["text"]
        assert NEW in await _key_points(harness, 1)

    async def test_staff_by_user_group_can_reload(self, harness: Harness) -> None:
        reply = await self._reload(harness, "UGROUP01")
        assert "Reloaded" in reply["text"]

    async def test_errors_are_reported_and_nothing_changes(self, harness: Harness) -> None:
        _edit(harness.content_path, "    title: Our key points on the review\n", "    title: [broken\n")
        reply = await self._reload(harness, "USTAFF01")
        assert "Reload refused" in reply["text"] and "is never closed" in reply["text"]
        assert f"{harness.content_path}:" in reply["text"]
        assert OLD in await _key_points(harness, 1)

    async def test_anyone_else_gets_a_polite_refusal(self, harness: Harness) -> None:
        _edit(harness.content_path, OLD, NEW)
        reply = await self._reload(harness, "UMEMBER1")
        assert reply["text"].startswith("Sorry, only the content team can reload")
        assert OLD in await _key_points(harness, 1)
