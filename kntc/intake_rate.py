"""How fast reports are arriving, shared through Redis: the web counts, the workers read.

At a deadline the web and the workers share cores (and PostgreSQL). Measured with
``bench/intake.py`` on 2 cores: with the workers deciding while the surge arrives, the
web spent 1.6-1.9 ms of CPU per report and took 350-450 reports/s; with the workers
standing aside until it was over, 1.0 ms and 1,085/s, and the workers then decided the
20,000 in 19.5 s (1.1 ms each instead of 1.3). Interleaved, each side evicts the
other's caches and waits on the other's locks. So while reports arrive faster than
``KNTC_SURGE_RATE`` a second, a worker holds each report back until it is
``KNTC_MAX_DECISION_LAG_SECONDS`` old or the surge has passed (``hold_back_during_surge``,
from the workers' ``IntakeFirst`` middleware).

Each web process counts the reports it stores and adds its count to the key of the
current second at most ten times a second (not once per report); workers read it at most
ten times a second per process, so a surge shows within a few tenths of a second. Redis
trouble only turns the pacing off: a report's intake never waits for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis
import structlog

log = structlog.get_logger(__name__)

KEY = "kntc:intake:reports:{second}"
KEPT_SECONDS = 10
POLL_SECONDS = 0.1


def _key(second: int) -> str:
    return KEY.format(second=second)


class IntakeCounter:
    """The reports this process stored, added to Redis at most every tenth of a second."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._added_at = clock()
        self._count = 0
        self._lock = threading.Lock()  # gthread workers and the embedded server share a process

    def stored(self) -> None:
        now = self._clock()
        with self._lock:
            self._count += 1
            if now - self._added_at < POLL_SECONDS:
                return
            count, self._count, self._added_at = self._count, 0, now
        self._add(int(now), count)

    def _add(self, second: int, count: int) -> None:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.incrby(_key(second), count)
                pipe.expire(_key(second), KEPT_SECONDS)
                pipe.execute()
        except redis.RedisError as error:
            log.debug("intake count not shared", error=str(error))


class IntakeRate:
    """Reports a second over all web processes: the more of the last complete second and the
    current one so far as a rate, read at most every tenth of a second."""

    def __init__(self, client: redis.Redis, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._read_at = -1.0
        self._rate = 0
        self._lock = threading.Lock()

    def per_second(self) -> int:
        now = self._clock()
        with self._lock:
            if now - self._read_at >= POLL_SECONDS:
                self._read_at = now
                self._rate = self._read(now)
            return self._rate

    def _read(self, now: float) -> int:
        second = int(now)
        try:
            previous, current = (int(n or 0) for n in self._client.mget(_key(second - 1), _key(second)))
        except redis.RedisError as error:
            log.debug("intake rate unknown", error=str(error))
            return 0
        # The current second so far, as a rate: a surge shows within a tenth of a second.
        return max(previous, int(current / max(now - second, 0.25)))


def hold_back_during_surge(
    rate: IntakeRate,
    surge_rate: int,
    received_at: float,
    max_lag: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], bool | None] = time.sleep,
) -> float:
    """Wait while reports arrive faster than ``surge_rate`` a second, until the report
    (received at ``received_at``, epoch seconds) is ``max_lag`` seconds old; returns the
    seconds waited. ``surge_rate`` 0 never waits; ``sleep`` returning true ends the wait
    (a worker shutting down)."""
    waited = 0.0
    while surge_rate > 0 and rate.per_second() >= surge_rate:
        left = received_at + max_lag - clock()
        if left <= 0:
            break
        pause = min(POLL_SECONDS, left)
        stop = sleep(pause)
        waited += pause
        if stop:
            break
    return waited
