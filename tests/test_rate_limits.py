"""A full rate limiter defers the message without spending a retry, then it is processed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from helpers import World, load_submission, queued_messages, submission, submit
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from workers.limits import unit_limiter


def deferrals(limiter: str) -> float:
    return REGISTRY.get_sample_value("kntc_rate_limit_deferrals_total", {"limiter": limiter}) or 0.0


def wait_for(condition: Callable[[], bool], timeout_s: float = 20) -> bool:
    """Poll until the condition holds (bounded); True when it did."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_held_unit_slot_defers_without_spending_retries(
    client: FlaskClient,
    world: World,
    runtime: Any,
    workers_running: Callable[..., Any],
    sessions: sessionmaker[Session],
    redis_client: Any,
) -> None:
    import workers

    assert runtime.settings.unit_concurrency == 1
    sid = submit(client, world.tokens["x1-reporter"], submission())[1]["id"]
    [sent] = queued_messages(redis_client)
    before = deferrals("unit")

    with unit_limiter(runtime.settings, world.unit_id("P01.X1")).acquire(raise_on_failure=False) as held:
        assert held
        with workers_running():
            assert wait_for(lambda: deferrals("unit") - before >= 2), "the worker never tried the message"
        # The worker is stopped: whatever it held went back to Redis.
        assert load_submission(sessions, sid).status == "queued"
        [deferred] = queued_messages(redis_client)

    assert deferred.message_id == sent.message_id
    assert deferred.args == (sid,)
    assert "retries" not in deferred.options  # the Retries middleware never counted a failure
    assert "retries" not in sent.options

    with workers_running():
        workers.broker.join("submissions", timeout=20_000)
    decided = load_submission(sessions, sid)
    assert decided.status == "accepted"
    assert queued_messages(redis_client) == []


def test_other_units_are_not_held_up_by_a_busy_one(
    client: FlaskClient,
    world: World,
    runtime: Any,
    workers_running: Callable[..., Any],
    sessions: sessionmaker[Session],
) -> None:
    busy = submit(client, world.tokens["p01-reporter"], submission(unit="P01.X1"))[1]["id"]
    free = submit(client, world.tokens["p01-reporter"], submission(unit="P01.X2"))[1]["id"]

    with (
        unit_limiter(runtime.settings, world.unit_id("P01.X1")).acquire(raise_on_failure=False) as held,
        workers_running(),
    ):
        assert held
        assert wait_for(lambda: load_submission(sessions, free).status == "accepted")
        assert load_submission(sessions, busy).status == "queued"


def test_the_limiter_allows_one_holder_per_unit(runtime: Any, world: World) -> None:
    unit = world.unit_id("P01.X1")
    first = unit_limiter(runtime.settings, unit)
    second = unit_limiter(runtime.settings, unit)
    with first.acquire(raise_on_failure=False) as a, second.acquire(raise_on_failure=False) as b:
        assert (a, b) == (True, False)
    with second.acquire(raise_on_failure=False) as c:
        assert c is True
