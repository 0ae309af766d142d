"""Rate limits shared by every worker process and host, and deferral that spends no retry.

Stock dramatiq raises ``RateLimitExceeded`` and the Retries middleware counts each one
as a failed attempt (dramatiq issue #257), so a busy deadline night would exhaust the
retries of healthy messages. Here a full limiter puts the message back on its queue with
a short, jittered delay and its options (retry count included) untouched.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import dramatiq
from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits import ConcurrentRateLimiter

from kntc import metrics
from kntc.broker import limiter_backend
from kntc.settings import Settings

DEFER_MIN_MS = 100
DEFER_MAX_MS = 500


def unit_limiter(settings: Settings, unit_id: int) -> ConcurrentRateLimiter:
    """One submission at a time per unit, so its versions are processed in order."""
    return ConcurrentRateLimiter(
        limiter_backend(), f"unit:{unit_id}", limit=settings.unit_concurrency, ttl=settings.limiter_ttl_ms
    )


def db_limiter(settings: Settings) -> ConcurrentRateLimiter:
    """A ceiling on database-heavy jobs at once, across all processes and hosts."""
    return ConcurrentRateLimiter(
        limiter_backend(), "db-jobs", limit=settings.db_job_concurrency, ttl=settings.limiter_ttl_ms
    )


@contextmanager
def slots(limiters: dict[str, ConcurrentRateLimiter]) -> Iterator[str | None]:
    """Hold every limiter's slot; yields None when all were taken, else the name of the full one."""
    with ExitStack() as stack:
        for name, limiter in limiters.items():
            if not stack.enter_context(limiter.acquire(raise_on_failure=False)):
                yield name
                return
        yield None


def defer_current_message(limiter: str) -> None:
    """Put the message being handled back on its queue for a moment, retries untouched."""
    message = CurrentMessage.get_current_message()
    assert message is not None, "defer_current_message() outside an actor"
    metrics.rate_limit_deferrals.labels(limiter=limiter).inc()
    dramatiq.get_broker().enqueue(message.copy(), delay=random.randint(DEFER_MIN_MS, DEFER_MAX_MS))
