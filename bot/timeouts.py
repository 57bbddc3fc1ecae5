"""Awaiting with a time limit, without losing a cancellation.

Python 3.11's `asyncio.wait_for` returns the result, and drops the cancellation, when a task is cancelled
just as the call it waits on finishes (a database call ending in its worker thread as shutdown cancels
the task). A loop that was told to stop then goes on for ever, and whoever waits for it hangs. Python
3.12 rebuilt `wait_for` on `asyncio.timeout`, which tells its own cancellation from anyone else's; this
is that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")

# How long a call to the question log may take, by who waits for it (one place, one name each):
# - a read on the way to a reply that Slack wants within 3 seconds (the staff Home, Teach's Save);
REPLY_STORE_SECONDS = 2.0
# - work nobody waits on at once: the label poll and a label write (tried again at the next poll).
BACKGROUND_STORE_SECONDS = 5.0


async def bounded(call: Awaitable[T], seconds: float | None) -> T:
    """`await call`, raising TimeoutError after `seconds` (None: no limit)."""
    async with asyncio.timeout(seconds):
        return await call
