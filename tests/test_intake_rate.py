"""Workers stand aside while reports pour in: the web's count in Redis, the workers' wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.broker import MessageProxy
from flask.testing import FlaskClient
from helpers import World, load_submission, submission, submit
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from kntc.intake_rate import KEY, IntakeCounter, IntakeRate, hold_back_during_surge


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_web_processes_add_up_their_counts_in_redis_not_a_write_per_report(redis_client: redis.Redis) -> None:
    clock = Clock(1_000.1)
    web_a, web_b = IntakeCounter(redis_client, clock), IntakeCounter(redis_client, clock)
    for _ in range(3):
        web_a.stored()
    web_b.stored()
    assert redis_client.get(KEY.format(second=1000)) is None  # not a write per report

    clock.now = 1_000.4
    web_a.stored()
    web_b.stored()
    rate = IntakeRate(redis_client, clock)
    assert rate.per_second() == 15  # both processes, the 6 of this second's first 0.4 s as a rate
    clock.now = 1_001.3
    assert rate.per_second() == 6  # the last complete second, now that this one is quiet
    assert 0 < redis_client.ttl(KEY.format(second=1000)) <= 10


def test_a_worker_holds_a_report_back_until_its_lag_or_the_end_of_the_surge(redis_client: redis.Redis) -> None:
    clock = Clock(2_000.0)
    rate = IntakeRate(redis_client, clock)
    for second in range(1_999, 2_004):
        redis_client.set(KEY.format(second=second), 500)
    # Received 1 s ago, at most 3 s of lag: 2 s more while 500 a second arrive.
    assert hold_back_during_surge(rate, 200, 1_999.0, 3, clock, clock.sleep) == pytest.approx(2.0, abs=0.01)
    assert hold_back_during_surge(rate, 5_000, clock.now, 3, clock, clock.sleep) == 0  # below the surge rate
    assert hold_back_during_surge(rate, 0, clock.now, 3, clock, clock.sleep) == 0  # pacing off

    surge_ends = Clock(3_000.0)
    rate = IntakeRate(redis_client, surge_ends)
    for second in (2_999, 3_000):
        redis_client.set(KEY.format(second=second), 900)

    # The surge filled seconds 2,999 and 3,000: from 3,002.0 on the last complete second is
    # quiet, and the report goes ahead long before its 20 s of lag.
    assert hold_back_during_surge(rate, 200, 3_000.0, 20, surge_ends, surge_ends.sleep) == pytest.approx(2.0, abs=0.25)


def test_a_real_worker_holds_a_report_back_for_its_lag_during_a_surge(
    client: FlaskClient,
    world: World,
    runtime: Any,
    drain: Callable[..., None],
    sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_changes(surge_rate=100, max_decision_lag_seconds=2))
    before = REGISTRY.get_sample_value("kntc_worker_held_back_seconds_total") or 0.0
    now = int(time.time())
    for second in range(now - 1, now + 10):  # other web processes storing 5,000 a second
        redis_client.set(KEY.format(second=second), 5_000)
    sid = submit(client, world.tokens["x1-reporter"], submission())[1]["id"]

    drain()

    decided = load_submission(sessions, sid)
    assert decided.status == "accepted"
    assert decided.processed_at is not None
    waited = (decided.processed_at - decided.received_at).total_seconds()
    assert 1.5 <= waited <= 4  # held back until about 2 s after it arrived, then decided at once
    held = (REGISTRY.get_sample_value("kntc_worker_held_back_seconds_total") or 0.0) - before
    assert 1.0 <= held <= 2.5


def test_a_worker_shutting_down_stops_holding_back(
    runtime: Any, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.with_changes(surge_rate=100, max_decision_lag_seconds=30))
    now = int(time.time())
    for second in range(now - 1, now + 30):
        redis_client.set(KEY.format(second=second), 5_000)
    import workers  # configures the broker: after the runtime fixture
    from workers.middleware import IntakeFirst

    middleware = IntakeFirst()
    message = MessageProxy(dramatiq.Message("submissions", "process_submission", ("x",), {}, {}))
    holding = threading.Thread(target=middleware.before_process_message, args=(workers.broker, message))
    holding.start()
    time.sleep(0.5)
    assert holding.is_alive()  # held back: the surge goes on and the report is young

    middleware.before_worker_shutdown(workers.broker, None)
    holding.join(2)
    assert not holding.is_alive()
