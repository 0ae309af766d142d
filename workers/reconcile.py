"""The ``maintenance`` queue: compare accepted submissions with their units' records (sent by ``kntc scheduler``)."""

from __future__ import annotations

import time

import dramatiq
import structlog

from kntc import metrics
from models.reconciliation import RECONCILE_BATCH, reconcile_pending
from workers.context import runtime

log = structlog.get_logger(__name__)
QUEUE = "maintenance"
ACTOR = "reconcile_submissions"
# Batches follow one another within a run until none is left or this budget is spent (under
# the time limit); the rest waits for the next run.
BUDGET_SECONDS = 200


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=3, min_backoff=5_000, time_limit=300_000)
def reconcile_submissions() -> None:
    """Store the differences of the newly accepted submissions, batch after batch; idempotent."""
    started = time.perf_counter()
    rt = runtime()
    compared, batch = 0, RECONCILE_BATCH
    with metrics.periodic_job(ACTOR):
        while batch == RECONCILE_BATCH and time.perf_counter() - started < BUDGET_SECONDS:
            with rt.sessions() as session:
                batch = reconcile_pending(session, rt.forms)
            compared += batch
    if compared:
        log.info("submissions reconciled", compared=compared)
