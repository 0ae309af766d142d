"""The ``maintenance`` queue: keep the stored unit figures of current periods fresh (sent by ``kntc scheduler``)."""

from __future__ import annotations

import time

import dramatiq
import structlog

from kntc import metrics
from models.form_refresh import refresh
from models.workflow import today
from workers.context import runtime

log = structlog.get_logger(__name__)
QUEUE = "maintenance"
ACTOR = "refresh_form_figures"


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=3, min_backoff=5_000, time_limit=900_000)
def refresh_form_figures() -> None:
    """Compact the change log and compute what changed in current periods; idempotent."""
    started = time.perf_counter()
    rt = runtime()
    with metrics.periodic_job(ACTOR), rt.sessions() as session:
        done = refresh(session, rt.forms, today())
    log.info(
        "form figures refreshed",
        changes=done.compaction.changes,
        dropped=done.compaction.dropped,
        forms=len(done.computed),
        skipped=done.skipped,
        seconds=round(time.perf_counter() - started, 1),
    )
