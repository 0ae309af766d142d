"""The ``submissions`` queue: decide each stored report against its form's identities."""

from __future__ import annotations

import time
import uuid

import dramatiq
import structlog

from kntc import metrics
from models.base import utcnow
from models.processing import process, unit_of
from workers.context import runtime, settings
from workers.limits import db_limiter, defer_current_message, slots, unit_limiter

log = structlog.get_logger(__name__)


@dramatiq.actor(
    queue_name="submissions",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=60_000,
    time_limit=settings().submission_time_limit_ms,
)
def process_submission(submission_id: str) -> None:
    started = time.perf_counter()
    rt = runtime()
    sid = uuid.UUID(submission_id)
    with rt.sessions() as session:
        unit_id = unit_of(session, sid)
    if unit_id is None:
        log.warning("submission not found", submission_id=submission_id)
        return
    limiters = {"unit": unit_limiter(rt.settings, unit_id), "global": db_limiter(rt.settings)}
    with slots(limiters) as full:
        if full:
            defer_current_message(full)
            return
        try:
            with rt.sessions() as session:
                decisions = process(session, sid, rt.forms, utcnow())
        except Exception:
            metrics.worker_messages.labels(actor="process_submission", outcome="failed").inc()
            raise
    for decision in decisions:
        metrics.worker_messages.labels(actor="process_submission", outcome=decision.status.value).inc()
    if not decisions:
        metrics.worker_messages.labels(actor="process_submission", outcome="duplicate").inc()
    metrics.worker_duration.labels(actor="process_submission").observe(time.perf_counter() - started)
