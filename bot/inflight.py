"""Replies being worked on: shutdown waits for them, and names each one it gives up on."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bot.timeouts import bounded


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
