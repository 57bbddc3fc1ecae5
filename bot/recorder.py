"""Writes to the question store after the reply, off the acknowledgement path.

Listeners hand over what to write and go on; one background task writes in order. A database
outage never stops an answer, a hand-off or shutdown: every store call is bounded by a timeout,
failures are logged in one line each and shown in /healthz (health()), and nothing is lost quietly:

- the writer takes everything waiting (up to MAX_BATCH rows) and commits it in one transaction as
  soon as it is free, so a row waits for its commit no longer than the commit before it (well under
  half a second on a working database), however steady the trickle;
- a batch that fails is retried row by row when the database answers a ping; a row that fails on its
  own is kept and retried (MAX_ATTEMPTS in all) before it is given up and counted as dropped;
- when the database does not answer (locked, down, frozen), the whole batch is kept and retried with
  a back-off (RETRY_SECONDS); at most MAX_RETAINED rows are kept, the oldest given up first;
- `written` counts only rows whose commit succeeded; `stop()` writes what is left, bounded.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import secrets
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.question_log import (
    FeedbackRecord,
    HandoffOwners,
    HandoffRecord,
    HandoffTimes,
    PickRecord,
    QuestionRecord,
    QuestionStore,
    StoredLabel,
    StoredQuestion,
    Write,
)
from bot.timeouts import bounded

log = logging.getLogger("bot.recorder")
T = TypeVar("T")

MAX_QUEUED = 10_000  # rows handed over and not yet tried: beyond it the newest is dropped
MAX_RETAINED = 10_000  # rows tried, failed and kept for a retry: beyond it the oldest are given up
MAX_BATCH = 500  # rows per transaction
MAX_ATTEMPTS = 3  # tries on its own, while the database works, before a row is given up
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # back-off while the database is out (the last repeats)
# Above the stores' own timeouts (SQLite's busy wait, asyncpg's connect and command timeouts), so their
# errors come first; this only catches what they do not bound.
CALL_SECONDS = 30.0
# get_question (the hand-off): the flush and the read together. Past it the hand-off goes on without
# the stored question (no text, no permalink) rather than keep the member waiting.
READ_SECONDS = 3.0
STOP_SECONDS = 5.0


@dataclass(eq=False)
class _Pending:
    seq: int  # hand-over order
    row: Write
    attempts: int = 0
    done: bool = False


def _describe(exc: BaseException) -> str:
    """A failure in a few words: the exception's type, never its message (it could hold a password or
    a question)."""
    return "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__


class Recorder:
    def __init__(
        self,
        store: QuestionStore,
        *,
        off_reason: str | None = None,
        call_timeout: float = CALL_SECONDS,
        read_timeout: float = READ_SECONDS,
        retry_seconds: Sequence[float] = RETRY_SECONDS,
    ) -> None:
        self.store = store
        self.call_timeout = call_timeout
        self.read_timeout = read_timeout
        self.retry_seconds = tuple(retry_seconds)
        self.written = 0  # rows committed
        self.errors = 0  # failed store calls (a batch, a row, a migration)
        self.dropped = 0  # rows given up: queue full, kept too long or too many, or unsaved at shutdown
        self.read_failures = 0  # get_question calls that returned None for a failure or a timeout
        self.last_error: str | None = None
        self._off = off_reason
        self._migrated = False
        self._outage = False  # the database did not answer the last ping or migration
        self._retry_at: float | None = None  # loop time of the next retry of kept rows / the migration
        self._backoff = 0
        self._queue: collections.deque[_Pending] = collections.deque()
        self._retained: list[_Pending] = []
        self._current: list[_Pending] = []  # the batch being written
        self._handed = 0  # seq of the last row handed over
        self._settled = 0  # every row up to this seq has been tried at least once
        self._rounds_started = 0
        self._rounds_done = 0
        self._forced = False
        self._full_logged = False
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @classmethod
    def off(cls, reason: str) -> Recorder:
        """A recorder that keeps nothing, because the store cannot be used at all (say so, once)."""
        log.error("question log off: %s; the bot answers without it", reason)
        return cls(DiscardingStore(), off_reason=reason)

    # --- what listeners call: each returns at once ---

    def question(self, record: QuestionRecord) -> None:
        self._put(record)

    def feedback(self, question_id: str, member: str, helpful: bool) -> None:
        self._put(FeedbackRecord(question_id, member, helpful, datetime.datetime.now(datetime.UTC)))

    def picked(self, question_id: str, member: str, intent: str) -> None:
        """The member picked `intent` among the choices the reply to `question_id` offered."""
        self._put(PickRecord(question_id, member, intent))

    def handoff(self, question_id: str, member: str) -> None:
        self._put(HandoffRecord(question_id, member, datetime.datetime.now(datetime.UTC)))

    def member_hash(self, user: str) -> str:
        """The hash the store keeps for this Slack user id: compare with StoredQuestion.member_hash."""
        return self.store.member_hash(user)

    async def get_question(self, question_id: str, timeout: float | None = None) -> StoredQuestion | None:
        """The stored question, after every write handed over before this call; None when it is not
        there, or when the log cannot say within `timeout` (READ_SECONDS), counted in read_failures."""
        return (await self.lookup(question_id, timeout))[0]

    async def lookup(self, question_id: str, timeout: float | None = None) -> tuple[StoredQuestion | None, bool]:
        """(the stored question or None, whether the log could say): a question the log does not hold
        is (None, True); a log that is off, or failed or timed out reading, gives (None, False). A
        question still waiting to be written (a database that is slow, locked or out) is read from
        memory: the hand-off never waits on the database for it."""
        if self._off is not None:
            return None, False
        held = self._held(question_id)
        if held is not None:
            return held, True
        try:
            async with asyncio.timeout(self.read_timeout if timeout is None else timeout):
                await self.flush(self.read_timeout if timeout is None else timeout)
                return await self.store.questions.get(question_id), True
        except Exception as exc:
            self.read_failures += 1
            self._failed("read", exc)
            return None, False

    def _held(self, question_id: str) -> StoredQuestion | None:
        """The question as handed over, while it (or a hand-off of it) still waits to be written."""
        rows = [p.row for p in (*self._current, *self._retained, *self._queue) if not p.done]
        record = next((r for r in rows if isinstance(r, QuestionRecord) and r.id == question_id), None)
        if record is None:
            return None
        channel = record.channel if record.channel and record.channel[:1] in ("C", "G") else None
        return StoredQuestion(
            id=record.id,
            at=record.at,
            surface=record.surface,
            intent=record.intent,
            confidence=record.confidence,
            outcome=record.outcome,
            text=record.text,
            channel=channel,  # a DM's id is only ever kept as a token (see bot/question_log_sql.py)
            message_ts=record.message_ts,
            member_hash=self.store.member_hash(record.member),
            handed_off=any(isinstance(r, HandoffRecord) and r.question_id == question_id for r in rows),
        )

    # --- running ---

    async def start(self) -> None:
        """Start the writer, which migrates the schema first (retrying with a back-off while the
        database is out of reach). Returns at once: start-up never waits for the database."""
        if self._off is None:
            self._ensure_task()

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait (up to `timeout`) until every row handed over so far has been tried, and the kept rows
        once more; True when all of them are committed."""
        if self._off is not None:
            return True
        if not self._queue and not self._retained and not self._current and self._migrated:
            return True
        if self._stopping:  # the writer has ended: nothing more will be saved
            return self._unsaved() == 0
        self._ensure_task()
        target, need = self._handed, self._rounds_started + 1
        self._forced = True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                while self._rounds_done < need or self._settled < target:
                    await self._changed.wait()
        except TimeoutError:
            log.warning("question log: %d writes not yet saved after %.1fs", self._unsaved(), timeout)
            return False
        return not any(p.seq <= target for p in self._retained)

    async def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Write what is left (bounded by `timeout`), then close the store; rows still unsaved are
        counted as dropped, in one line."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._off is None and (self._queue or self._retained or self._current):
            await self.flush(timeout)
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            # Bounded: a cancel that lands as a store call times out can surface as that TimeoutError
            # and be taken for an ordinary failure; the writer then sees _stopping and ends, but never
            # wait on it past the deadline (SIGTERM must not hang on a frozen database).
            await asyncio.wait({self._task}, timeout=max(0.1, deadline - loop.time()))
            self._task = None
        unsaved = [p for p in self._current if not p.done] + self._retained + list(self._queue)
        self._current, self._retained = [], []
        self._queue.clear()
        if unsaved:
            self._give_up(unsaved, "not saved at shutdown")
        try:
            await bounded(self.store.close(), max(1.0, deadline - loop.time()))
        except Exception as exc:
            self._failed("close", exc)

    def health(self) -> dict[str, Any]:
        """For /healthz: `state` is "ok", "starting" (schema not migrated yet), "degraded" (writes are
        failing or waiting for a retry; `reason` says why) or "off" (no question log; `reason`)."""
        reason: str | None
        if self._off is not None:
            state, reason = "off", self._off
        elif self._outage or self._retained or (not self._migrated and self.last_error is not None):
            state, reason = "degraded", self.last_error
        elif not self._migrated:
            state, reason = "starting", None
        else:
            state, reason = "ok", None
        return {
            "state": state,
            "reason": reason,
            "written": self.written,
            "errors": self.errors,
            "dropped": self.dropped,
            "queued": len(self._queue) + len(self._current),
            "retrying": len(self._retained),
            "read_failures": self.read_failures,
            "last_error": self.last_error,
        }

    # --- the writer ---

    def _put(self, row: Write) -> None:
        if self._off is not None:
            return
        self._ensure_task()
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            if not self._full_logged:
                log.warning("question log: queue full, new writes are dropped until it drains")
                self._full_logged = True
            return
        self._full_logged = False
        self._handed += 1
        self._queue.append(_Pending(self._handed, row))
        if not self._outage:  # while the database is out, new rows wait for the next retry
            self._wake.set()

    @property
    def migrated(self) -> bool:
        """Whether the schema is in place (the retention purge waits for it)."""
        return self._migrated

    def _ensure_task(self) -> None:
        if self._stopping:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def _unsaved(self) -> int:
        return len(self._queue) + len(self._retained) + sum(not p.done for p in self._current)

    def _ready(self, now: float) -> bool:
        if self._forced:
            return True
        due = self._retry_at is not None and now >= self._retry_at
        if not self._migrated or self._outage:
            return self._retry_at is None or due
        return bool(self._queue) or (bool(self._retained) and due)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            while not self._ready(loop.time()):
                self._wake.clear()
                wait = None if self._retry_at is None else max(0.0, self._retry_at - loop.time())
                try:
                    await bounded(self._wake.wait(), wait)
                except TimeoutError:
                    pass
            self._rounds_started += 1
            try:
                await self._round(loop.time())
            finally:
                self._rounds_done += 1
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()

    async def _round(self, now: float) -> None:
        forced, self._forced = self._forced, False
        retry = forced or (self._retry_at is not None and now >= self._retry_at)
        if not self._migrated:
            if not await self._call("migrate", self.store.migrate()):
                self._outage = True
                taken = self._take(len(self._queue))
                self._keep(taken)  # tried: they wait for the schema
                self._settle(taken)
                self._back_off()
                return
            self._migrated = True
        batch = self._retained if retry else []
        if retry:
            self._retained = []
        batch += self._take(MAX_BATCH)
        if not batch:
            self._done_retrying()
            return
        self._current = batch  # if stop() cancels the write, it finds the rows not yet written here
        all_written = await self._write(batch)
        self._current = []
        self._settle(batch)
        if all_written and not self._retained:
            self._done_retrying()
        elif all_written:
            self._outage = False  # rows kept from before wait for their own retry time
        else:
            self._back_off()

    def _take(self, n: int) -> list[_Pending]:
        return [self._queue.popleft() for _ in range(min(n, len(self._queue)))]

    def _settle(self, rows: list[_Pending]) -> None:
        """These rows have been tried (written, kept or given up): flush() may stop waiting for them."""
        if rows:
            self._settled = max(self._settled, max(p.seq for p in rows))

    async def _write(self, batch: list[_Pending]) -> bool:
        """Commit the batch in one transaction, else row by row; False when rows were kept."""
        if await self._call("write", self.store.write([p.row for p in batch])):
            self._committed(batch)
            return True
        if not await self._answers():
            self._keep(batch)
            return False
        kept: list[_Pending] = []
        for n, pending in enumerate(batch):
            if await self._call("write", self.store.write([pending.row])):
                self._committed([pending])
                continue
            if not await self._answers():  # the database went away: not this row's fault
                self._keep(kept + batch[n:])
                return False
            pending.attempts += 1
            if pending.attempts >= MAX_ATTEMPTS:
                self._give_up([pending], f"failed {MAX_ATTEMPTS} times on its own")
            else:
                kept.append(pending)
        self._keep(kept)
        return not kept

    async def _answers(self) -> bool:
        """Whether the database takes a write now: tells an outage from a row that fails."""
        try:
            await bounded(self.store.ping(), self.call_timeout)
        except Exception as exc:
            self._outage = True
            self.last_error = f"ping: {_describe(exc)}"
            return False
        self._outage = False
        return True

    async def _call(self, what: str, call: Awaitable[T]) -> bool:
        try:
            await bounded(call, self.call_timeout)
            return True
        except Exception as exc:
            if self._stopping:  # stop() cancelled this call: end the writer, whatever the call raised
                raise asyncio.CancelledError from exc
            self._failed(what, exc)
            return False

    def _committed(self, rows: list[_Pending]) -> None:
        for p in rows:
            p.done = True
        self.written += len(rows)
        self._outage = False

    def _keep(self, rows: list[_Pending]) -> None:
        self._retained = self._retained + rows
        if len(self._retained) > MAX_RETAINED:
            excess = len(self._retained) - MAX_RETAINED
            self._give_up(self._retained[:excess], "too many waiting for a retry")
            self._retained = self._retained[excess:]

    def _give_up(self, rows: list[_Pending], why: str) -> None:
        for p in rows:
            p.done = True  # settled: never counted twice
        self.dropped += len(rows)
        log.warning("question log: %d write%s given up (%s)", len(rows), "" if len(rows) == 1 else "s", why)

    def _back_off(self) -> None:
        delay = self.retry_seconds[min(self._backoff, len(self.retry_seconds) - 1)]
        self._backoff += 1
        self._retry_at = asyncio.get_running_loop().time() + delay

    def _done_retrying(self) -> None:
        self._outage = False
        self._backoff = 0
        self._retry_at = None

    def _failed(self, what: str, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{what}: {_describe(exc)}"
        # One line, never the data: an outage must not flood the log or leak a question.
        log.warning("question log %s failed: %s", what, _describe(exc))


class DiscardingStore:
    """A store that keeps nothing: for wiring that has no question log (a bare Services in a test, or a
    log that is off)."""

    def __init__(self) -> None:
        self.questions = _NoQuestions()
        self.feedback = _NoFeedback()
        self.handoffs = _NoHandoffs()
        self.labels = _NoLabels()
        self.limits = _NoLimits()

    async def migrate(self) -> None:
        pass

    async def write(self, rows: Sequence[Write]) -> None:
        pass

    async def ping(self) -> None:
        pass

    def member_hash(self, member: str) -> str:
        # Never a real hash (those are 64 hex digits), and never the same twice: matches no stored row.
        return "none:" + secrets.token_hex(8)

    async def forget(self, member: str) -> int:
        return 0

    async def purge(self, older_than: datetime.timedelta) -> int:
        return 0

    async def close(self) -> None:
        pass


class _NoQuestions:
    async def record(self, record: QuestionRecord) -> None:
        pass

    async def get(self, question_id: str) -> StoredQuestion | None:
        return None

    async def since(self, since: datetime.datetime) -> list[StoredQuestion]:
        return []


class _NoFeedback:
    async def record(self, question_id: str, member: str, helpful: bool) -> None:
        pass

    async def counts_since(self, since: datetime.datetime) -> dict[str, int]:
        return {}


class _NoHandoffs:
    async def record(self, question_id: str, member: str) -> None:
        pass

    async def take(self, question_id: str, staff: str) -> HandoffOwners | None:
        raise ConnectionError("the question log is off")

    async def finish(self, question_id: str, staff: str) -> HandoffOwners | None:
        raise ConnectionError("the question log is off")

    async def since(self, since: datetime.datetime) -> list[HandoffTimes]:
        return []


class _NoLabels:
    async def add(self, texts: Sequence[str], intent: str | None, staff: str) -> list[int]:
        raise ConnectionError("the question log is off: labels cannot be stored")

    async def read(self, include_undone: bool = False) -> list[StoredLabel]:
        return []

    async def undo(self, label_id: int) -> bool:
        return False

    async def mark_exported(self, label_ids: Sequence[int]) -> None:
        pass

    async def version(self) -> str:
        return ""


class _NoLimits:
    async def hit(self, key: str, window_start: int) -> int:
        raise ConnectionError("the question log is off")
