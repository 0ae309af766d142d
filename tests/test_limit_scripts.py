"""The worker takes the unit's and the global limiter in one Redis script, on dramatiq's keys.

So a slot held through dramatiq's own ``ConcurrentRateLimiter`` (another process, an
older worker) blocks the script, and the other way round.
"""

from __future__ import annotations

from typing import Any

from helpers import World

from workers.limits import GLOBAL_KEY, db_limiter, unit_and_global_slots, unit_limiter


def test_the_script_takes_and_gives_back_both_slots(runtime: Any, world: World, redis_client: Any) -> None:
    unit = world.unit_id("P01.X1")
    with unit_and_global_slots(runtime.settings, unit) as full:
        assert full is None
        assert (redis_client.get(f"unit:{unit}"), redis_client.get(GLOBAL_KEY)) == (b"1", b"1")
        assert 0 < redis_client.pttl(GLOBAL_KEY) <= runtime.settings.limiter_ttl_ms
        with unit_limiter(runtime.settings, unit).acquire(raise_on_failure=False) as again:
            assert again is False  # dramatiq's limiter sees the script's slot
    assert (redis_client.get(f"unit:{unit}"), redis_client.get(GLOBAL_KEY)) == (b"0", b"0")


def test_a_unit_held_by_dramatiqs_limiter_is_full_for_the_script(runtime: Any, world: World, redis_client: Any) -> None:
    unit = world.unit_id("P01.X1")
    with unit_limiter(runtime.settings, unit).acquire(raise_on_failure=False) as held:
        assert held
        with unit_and_global_slots(runtime.settings, unit) as full:
            assert full == "unit"
        assert redis_client.get(GLOBAL_KEY) in (None, b"0")  # nothing taken when a slot is full
    with unit_and_global_slots(runtime.settings, unit) as full:
        assert full is None


def test_the_global_ceiling_binds_across_units(runtime: Any, world: World, redis_client: Any) -> None:
    limit = runtime.settings.db_job_concurrency
    holders = [db_limiter(runtime.settings).acquire(raise_on_failure=False) for _ in range(limit)]
    assert all(h.__enter__() for h in holders)
    try:
        with unit_and_global_slots(runtime.settings, world.unit_id("P01.X2")) as full:
            assert full == "global"
        assert redis_client.get(f"unit:{world.unit_id('P01.X2')}") in (None, b"0")
    finally:
        for h in holders:
            h.__exit__(None, None, None)
    with unit_and_global_slots(runtime.settings, world.unit_id("P01.X2")) as full:
        assert full is None
