"""The in-memory stores on their own: bounded in size and time; the rate limiter's one note."""

from __future__ import annotations

from bot.state import MemorySeenStore, MemoryThreadMemory, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_seen_store_is_bounded_in_time_and_size() -> None:
    clock = Clock()
    seen = MemorySeenStore(max_items=3, ttl=10, clock=clock)
    assert await seen.first_time("a") and not await seen.first_time("a")
    clock.now += 11
    assert await seen.first_time("a")  # expired, so new again
    for key in "bcde":
        await seen.first_time(key)
    assert len(seen) <= 3
    assert await seen.first_time("short", ttl=1) and not await seen.first_time("short", ttl=1)
    clock.now += 2
    assert await seen.first_time("short", ttl=1)


async def test_a_long_lived_key_outlasts_short_ones_rotating_by() -> None:
    """A hand-off is refused a second time for a day, however many hour-long event keys come and go."""
    clock = Clock()
    seen = MemorySeenStore(ttl=3600, clock=clock)
    assert await seen.first_time("handoff:q1:U1", 24 * 3600)
    for hour in range(23):
        clock.now += 3600
        assert await seen.first_time(f"event:{hour}")
        assert not await seen.first_time("handoff:q1:U1", 24 * 3600)
    clock.now += 2 * 3600
    assert await seen.first_time("handoff:q1:U1", 24 * 3600)


async def test_a_flood_of_event_keys_never_pushes_out_a_hand_off() -> None:
    seen = MemorySeenStore(max_items=100, ttl=3600, clock=Clock())
    assert await seen.first_time("handoff:q1:U1", 24 * 3600)
    for n in range(10_000):
        await seen.first_time(f"event:{n}")
    assert not await seen.first_time("handoff:q1:U1", 24 * 3600)
    assert len(seen) <= 101


async def test_a_key_set_just_before_a_rotation_keeps_its_full_time() -> None:
    clock = Clock()
    seen = MemorySeenStore(ttl=100, clock=clock)
    clock.now += 99
    assert await seen.first_time("event:late")
    clock.now += 51  # a rotation: the key moves to the older generation
    assert await seen.first_time("event:other")
    clock.now += 48  # 99 after it was set
    assert not await seen.first_time("event:late")
    clock.now += 2  # 101 after: expired
    assert await seen.first_time("event:late")


async def test_thread_memory_keeps_a_topic_half_its_ttl_at_least_and_its_ttl_at_most() -> None:
    clock = Clock()
    threads = MemoryThreadMemory(ttl=60, clock=clock)
    await threads.set("C1", "1.0", "rec_edi")
    clock.now += 29
    assert await threads.get("C1", "1.0") == "rec_edi"
    await threads.set("C1", "2.0", "rec_appraisal")
    clock.now += 2  # a rotation: both are now in the older generation
    assert await threads.get("C1", "1.0") == "rec_edi" and await threads.get("C1", "2.0") == "rec_appraisal"
    await threads.set("C1", "2.0", "key_points")  # set again: young again
    clock.now += 30  # the next rotation drops what was not set since the last one
    assert await threads.get("C1", "1.0") is None
    assert await threads.get("C1", "2.0") == "key_points"
    clock.now += 61
    assert await threads.get("C1", "2.0") is None


async def test_thread_memory_is_bounded_in_size() -> None:
    threads = MemoryThreadMemory(max_items=10, ttl=60, clock=Clock())
    for n in range(100):
        await threads.set("C1", f"{n}.0", "rec_edi")
    assert len(threads) <= 10
    assert await threads.get("C1", "99.0") == "rec_edi"


def test_rate_limiter_answers_then_warns_once_then_drops_then_recovers() -> None:
    clock = Clock()
    limiter = RateLimiter(count=3, seconds=10, clock=clock)
    verdicts = [limiter.check("U1") for _ in range(6)]
    assert verdicts == ["ok", "ok", "ok", "warn", "drop", "drop"]
    assert limiter.check("U2") == "ok"  # other members are unaffected
    clock.now += 11
    assert limiter.check("U1") == "ok"


async def test_memory_stores_report_their_backend_for_healthz() -> None:
    for store in (MemorySeenStore(), MemoryThreadMemory()):
        health = store.health()
        assert health["backend"] == "memory" and health["configured"] == "memory"
        assert health["since"].endswith("Z") and health["fallbacks"] == 0 and health["last_error"] is None
