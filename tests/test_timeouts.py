"""A task told to stop, stops: a cancellation that lands just as the awaited call finishes is not lost
(Python 3.11's asyncio.wait_for loses it, and a watcher loop cancelled at shutdown then runs for ever)."""

from __future__ import annotations

import asyncio

import pytest

from bot.timeouts import bounded


async def test_a_cancel_as_the_call_finishes_is_not_lost() -> None:
    loop = asyncio.get_running_loop()
    call: asyncio.Future[int] = loop.create_future()
    task = asyncio.create_task(bounded(call, 10))
    await asyncio.sleep(0)  # the task now waits on the call
    call.set_result(1)  # the call ends (a worker thread's result arriving) ...
    task.cancel()  # ... as shutdown cancels the task
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_limit_raises_timeout_and_a_result_comes_back() -> None:
    with pytest.raises(TimeoutError):
        await bounded(asyncio.sleep(10), 0.01)
    assert await bounded(asyncio.sleep(0, result="done"), 1) == "done"
    assert await bounded(asyncio.sleep(0, result="no limit"), None) == "no limit"
