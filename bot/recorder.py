"""Writes to the question store after the reply, off the acknowledgement path.

Listeners hand over what to write and go on; one background task writes in order. A database
outage never stops an answer: a failed write is logged in one line and counted in /healthz, and a
full queue drops the newest write rather than grow without bound.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.storage import QuestionRecord, QuestionStore, StoredQuestion

log = logging.getLogger("bot.recorder")
MAX_QUEUED = 10_000
COMMIT_AFTER_SECONDS = 0.25  # how long written rows may wait for their commit (flush() commits at once)
Write = Callable[[QuestionStore], Awaitable[Any]]


class Recorder:
    def __init__(self, store: QuestionStore) -> None:
        self.store = store
        self.written = 0
        self.errors = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._queue: asyncio.Queue[Write] | None = None
        self._task: asyncio.Task[None] | None = None
        self._migrated = False

    # --- what listeners call: each returns at once ---

    def question(self, record: QuestionRecord) -> None:
        self._put(lambda store: store.record_question(record))

    def feedback(self, question_id: str, member: str, helpful: bool) -> None:
        self._put(lambda store: store.record_feedback(question_id, member, helpful))

    def handoff(self, question_id: str, member: str) -> None:
        self._put(lambda store: store.record_handoff(question_id, member))

    async def get_question(self, question_id: str) -> StoredQuestion | None:
        """The stored question, after every write handed over before this call."""
        await self.flush()
        try:
            return await self.store.get_question(question_id)
        except Exception as exc:
            self._failed("read", exc)
            return None

    # --- running ---

    async def start(self) -> None:
        """Run the schema migrations now (start-up) rather than before the first write."""
        await self._migrate()
        self._ensure_task()

    async def flush(self, timeout: float = 5.0) -> None:
        """Every write handed over so far, written and committed."""
        if self._queue is not None:
            try:
                await asyncio.wait_for(self._queue.join(), timeout)
            except TimeoutError:
                log.warning("question log: %d writes still queued after %.0fs", self._queue.qsize(), timeout)
        await self._commit()

    async def _commit(self) -> None:
        commit = getattr(self.store, "commit", None)  # stores that batch writes (SQLite) commit here
        if commit is not None:
            try:
                await commit()
            except Exception as exc:
                self._failed("commit", exc)

    async def stop(self, timeout: float = 5.0) -> None:
        await self.flush(timeout)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            await self.store.close()
        except Exception as exc:
            self._failed("close", exc)

    def health(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "errors": self.errors,
            "dropped": self.dropped,
            "queued": self._queue.qsize() if self._queue is not None else 0,
            "last_error": self.last_error,
        }

    def _put(self, write: Write) -> None:
        self._ensure_task()
        assert self._queue is not None
        try:
            self._queue.put_nowait(write)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("question log: queue full, a write was dropped")

    def _ensure_task(self) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue(MAX_QUEUED)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    async def _migrate(self) -> None:
        if self._migrated:
            return
        try:
            await self.store.migrate()
            self._migrated = True
        except Exception as exc:
            self._failed("migrate", exc)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            write = await self._queue.get()
            try:
                await self._migrate()
                await write(self.store)
                self.written += 1
            except Exception as exc:
                self._failed("write", exc)
            finally:
                self._queue.task_done()
            if self._queue.empty():
                # Let a burst gather, then commit it once: a commit per question costs more than the
                # question's own write.
                await asyncio.sleep(COMMIT_AFTER_SECONDS)
                if self._queue.empty():
                    await self._commit()

    def _failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{what}: {type(exc).__name__}"
        # One line, never the data: an outage must not flood the log or leak a question.
        log.warning("question log %s failed: %s", what, type(exc).__name__)


class DiscardingStore:
    """A store that keeps nothing: for wiring that has no question log (a bare Services in a test)."""

    async def migrate(self) -> None:
        pass

    async def record_question(self, record: QuestionRecord) -> None:
        pass

    async def record_feedback(self, question_id: str, member: str, helpful: bool) -> None:
        pass

    async def record_handoff(self, question_id: str, member: str) -> None:
        pass

    async def get_question(self, question_id: str) -> StoredQuestion | None:
        return None

    async def forget(self, member: str) -> int:
        return 0

    async def purge(self, older_than: datetime.timedelta) -> int:
        return 0

    async def questions_since(self, since: datetime.datetime) -> list[StoredQuestion]:
        return []

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        return {}

    async def close(self) -> None:
        pass
