"""What every listener shares: settings, content, stores, the in-flight tracker and request logging."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from bot.blocks import Commands
from bot.content import ContentHolder
from bot.recorder import DiscardingStore, Recorder
from bot.settings import Settings
from bot.stores import MemorySeenStore, MemoryThreadMemory, RateLimiter, SeenStore, ThreadMemory
from bot.timeouts import bounded

request_log = logging.getLogger("bot.requests")
# Hand-offs per member in an hour, on top of once per question: each one pages a person.
HANDOFFS_PER_HOUR = 5
# Teach's Saves per staff member in a minute: each one retrains.
SAVES_PER_MINUTE = 10


@dataclass(eq=False)
class PendingReply:
    """What shutdown can say about a reply still being worked on: never the member's text."""

    kind: str
    event_id: str | None
    task: asyncio.Task[Any] | None


class InFlight:
    """Counts replies being worked on, so shutdown can wait for them to finish, and names the ones it
    gives up on when the grace period ends."""

    def __init__(self) -> None:
        self._pending: set[PendingReply] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def count(self) -> int:
        return len(self._pending)

    @asynccontextmanager
    async def track(self, kind: str = "reply", event_id: str | None = None) -> AsyncIterator[None]:
        reply = PendingReply(kind, event_id, asyncio.current_task())
        self._pending.add(reply)
        self._idle.clear()
        try:
            yield
        finally:
            self._pending.discard(reply)
            if not self._pending:
                self._idle.set()

    def tracked(self, listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """Count a Bolt listener as in flight from its first line, before any store or Web API call:
        Slack does not redeliver an event it saw acknowledged, so shutdown must wait for all of it.
        functools.wraps keeps the signature Bolt reads to choose the listener's arguments."""

        @functools.wraps(listener)
        async def run(*args: object, **kwargs: object) -> None:
            async with self.track(*_describe(listener, kwargs)):
                await listener(*args, **kwargs)

        return run

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await bounded(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def abandon(self, timeout: float = 1.0) -> list[PendingReply]:
        """Cancel the replies still in flight and return them, so each can be named in the log
        (otherwise asyncio cancels them silently as the loop closes). Waits up to `timeout` for them
        to unwind."""
        lost = list(self._pending)
        tasks = [r.task for r in lost if r.task is not None and r.task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        return lost


def _describe(listener: Callable[..., Awaitable[None]], kwargs: dict[str, object]) -> tuple[str, str | None]:
    """A listener's kind and event id from the payload Bolt hands it: the event type (message,
    app_mention...), the payload type (block_actions...) or "command"; else the listener's name."""
    body, kind, event_id = kwargs.get("body"), None, None
    if isinstance(body, dict):
        event = body.get("event")
        kind = event.get("type") if isinstance(event, dict) else body.get("type")
        event_id = body.get("event_id")
    if not isinstance(kind, str) and isinstance(kwargs.get("command"), dict):
        kind = "command"
    kind = kind if isinstance(kind, str) else getattr(listener, "__name__", "reply")
    # Slack's own identifiers, clipped all the same: they go into a log line.
    return kind[:40], event_id[:40] if isinstance(event_id, str) else None


@dataclass
class Services:
    settings: Settings
    content: ContentHolder
    seen: SeenStore = field(default_factory=MemorySeenStore)
    threads: ThreadMemory = field(default_factory=MemoryThreadMemory)
    inflight: InFlight = field(default_factory=InFlight)
    recorder: Recorder = field(default_factory=lambda: Recorder(DiscardingStore()))
    limiter: RateLimiter = field(init=False)  # questions, commands and clicks per member
    handoff_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(HANDOFFS_PER_HOUR, 3600.0))
    save_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(SAVES_PER_MINUTE, 60.0))
    handing_off: set[str] = field(default_factory=set)  # question ids this instance is handing off right now

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(self.settings.rate_limit_count, self.settings.rate_limit_seconds)


def assemble(settings: Settings) -> Services:
    """Settings, content, stores: the one wiring that app.py, local mode and the tests share.
    Raises ContentError when the content file has errors."""
    commands = Commands(settings.messenger_command, settings.keypoints_command)
    services = Services(settings, ContentHolder(settings.responses_path, commands))
    from bot.storage_sql import StoreUnavailable, derive_secret, open_store

    try:
        services.recorder = Recorder(open_store(settings.database_url, derive_secret(settings)))
    except StoreUnavailable as exc:
        # An unusable SQLite path: one line, and the bot answers without a question log (/healthz says
        # "off"). A database out of reach is not known here: the recorder retries it in the background.
        services.recorder = Recorder.off(str(exc))
    if settings.redis_url:
        from bot.redis_stores import redis_stores

        # Keys in Redis are hashed with the member-hash secret: Redis never names a member or channel.
        services.seen, services.threads = redis_stores(settings.redis_url, secret=derive_secret(settings))
    return services


@dataclass
class RequestRecord:
    """One structured INFO line per handled request. Never the member's text: that is DEBUG only."""

    kind: str
    event_id: str | None = None
    intent: str | None = None
    confidence: float | None = None
    outcome: str = "ok"
    started: float = field(default_factory=time.perf_counter)
    extra: dict[str, Any] = field(default_factory=dict)

    def finish(self, outcome: str) -> None:
        self.outcome = outcome
        self.emit()

    def emit(self) -> None:
        if not request_log.isEnabledFor(logging.INFO):
            return  # LOG_LEVEL=WARNING: no line, so no JSON to build on every request
        fields = {
            "event_id": self.event_id,
            "kind": self.kind,
            "intent": self.intent,
            "confidence": self.confidence,
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 1),
            "outcome": self.outcome,
            **self.extra,
        }
        request_log.info(json.dumps(fields, separators=(",", ":")))
