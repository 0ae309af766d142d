"""The ``reports`` queue: compute report requests, a few at a time across every worker host.

A national report aggregates a large share of the database, so these jobs have their own
queue (a deadline's submissions never wait behind them) and their own global ceiling
(``KNTC_REPORT_CONCURRENCY``): a full limiter puts the message back without spending a
retry. The job itself is idempotent (``models.report_jobs.run``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import dramatiq
import structlog
from dramatiq.rate_limits import ConcurrentRateLimiter

from kntc import metrics
from kntc.broker import limiter_backend
from kntc.settings import Settings
from models.report_jobs import JobSettings, run
from models.report_requests import ACTOR, QUEUE, Outcome
from workers.context import runtime, settings, storage_for
from workers.limits import defer_current_message, slots

log = structlog.get_logger(__name__)
# The slot and the claim of a killed worker free themselves this long after its time limit.
SLACK_MS = 5_000


def report_limiter(settings: Settings) -> ConcurrentRateLimiter:
    """A ceiling on report jobs at once, across all processes and hosts."""
    ttl = settings.report_time_limit_ms + SLACK_MS
    return ConcurrentRateLimiter(limiter_backend(), "reports", limit=settings.report_concurrency, ttl=ttl)


def job_settings(settings: Settings) -> JobSettings:
    return JobSettings(
        storage=storage_for(settings),
        lease=dt.timedelta(milliseconds=settings.report_time_limit_ms + SLACK_MS),
        keep=dt.timedelta(days=settings.report_keep_days),
    )


@dramatiq.actor(
    actor_name=ACTOR,
    queue_name=QUEUE,
    max_retries=3,
    min_backoff=5_000,
    max_backoff=120_000,
    time_limit=settings().report_time_limit_ms,
)
def compute_report(request_id: str) -> None:
    try:
        rid = uuid.UUID(request_id)
    except ValueError:
        log.warning("not a report request id", request_id=request_id)
        return
    rt = runtime()
    started = time.perf_counter()
    with slots({"reports": report_limiter(rt.settings)}) as full:
        if full:
            defer_current_message(full)
            return
        try:
            outcome = run(rt.sessions, rt.forms, rid, job_settings(rt.settings))
        except Exception:
            metrics.worker_messages.labels(actor=ACTOR, outcome="failed").inc()
            raise
    metrics.worker_messages.labels(actor=ACTOR, outcome=outcome.value).inc()
    if outcome is Outcome.DONE:
        metrics.worker_duration.labels(actor=ACTOR).observe(time.perf_counter() - started)
    log.info("report request handled", request_id=request_id, outcome=outcome.value)
