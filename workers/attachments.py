"""The ``attachments`` queue: look inside each upload, build bundles; its own concurrency limit.

Parsing PDFs and decoding photos is CPU- and memory-heavy, so these jobs have their own
queue (a surge of reports is never stuck behind scans) and their own ceiling across all
worker hosts. A full limiter puts the message back without spending a retry.
"""

from __future__ import annotations

import time
from typing import Any

import dramatiq
import structlog
from dramatiq.middleware import CurrentMessage
from dramatiq.rate_limits import ConcurrentRateLimiter

from kntc import metrics
from kntc.broker import limiter_backend
from kntc.settings import Settings
from models.attachment_processing import process
from models.attachments import parse_id
from workers.context import runtime, settings, storage_for
from workers.limits import defer_current_message, slots

log = structlog.get_logger(__name__)
ACTOR = "process_attachment"
# How soon a bundle looks again at photos still being processed.
BUNDLE_RECHECK_MS = 1_000


def attachment_limiter(settings: Settings) -> ConcurrentRateLimiter:
    """A ceiling on attachment jobs at once, across all processes and hosts.

    The slot of a killed worker frees itself just after the job's own time limit.
    """
    ttl = settings.attachment_time_limit_ms + 5_000
    return ConcurrentRateLimiter(limiter_backend(), "attachments", limit=settings.attachment_concurrency, ttl=ttl)


def _look_again_later() -> None:
    message: Any = CurrentMessage.get_current_message()
    assert message is not None
    dramatiq.get_broker().enqueue(message.copy(), delay=BUNDLE_RECHECK_MS)


@dramatiq.actor(
    queue_name="attachments",
    max_retries=5,
    min_backoff=5_000,
    max_backoff=300_000,
    time_limit=settings().attachment_time_limit_ms,
)
def process_attachment(attachment_id: str) -> None:
    rt = runtime()
    aid = parse_id(attachment_id)
    if aid is None:
        log.warning("not an attachment id", attachment_id=attachment_id)
        return
    started = time.perf_counter()
    with slots({"attachments": attachment_limiter(rt.settings)}) as full:
        if full:
            defer_current_message(full)
            return
        try:
            outcome = process(rt.sessions, storage_for(rt.settings), aid, rt.settings.max_image_pixels)
        except Exception:
            metrics.worker_messages.labels(actor=ACTOR, outcome="failed").inc()
            raise
    if outcome.status == "waiting":
        _look_again_later()
        return
    elapsed = time.perf_counter() - started
    if outcome.status != "duplicate":
        metrics.attachment_processing.labels(kind=outcome.kind).observe(elapsed)
    if outcome.reason_code:
        metrics.attachments_rejected.labels(reason=outcome.reason_code).inc()
    metrics.worker_messages.labels(actor=ACTOR, outcome=outcome.status).inc()
    metrics.worker_duration.labels(actor=ACTOR).observe(elapsed)
    log.info("attachment processed", attachment_id=attachment_id, status=outcome.status, reason=outcome.reason_code)
