"""The ``submissions`` queue: decide each stored report against its form's identities."""

from __future__ import annotations

import functools
import time
import uuid

import dramatiq
import sqlalchemy as sa
import structlog

from kntc import metrics
from models.base import utcnow
from models.processing import Decision, process, unit_of
from workers.context import Runtime, direct_connections, runtime, settings
from workers.limits import defer_current_message, unit_and_global_slots

log = structlog.get_logger(__name__)


@functools.cache
def _autocommit(engine: sa.Engine) -> sa.Engine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _process(rt: Runtime, sid: uuid.UUID, version: int | None) -> list[Decision]:
    # Autocommit: each of process()'s two statements is its own transaction. On PostgreSQL
    # they go to a connection of the worker thread's own: through SQLAlchemy's Connection
    # (checkout, autocommit, result objects) a quarter of the actor's CPU went around them.
    direct = direct_connections(rt.engine)
    if direct is not None:
        return process(direct, sid, rt.forms, utcnow(), version=version)
    with _autocommit(rt.engine).connect() as conn:
        return process(conn, sid, rt.forms, utcnow(), version=version)


@dramatiq.actor(
    queue_name="submissions",
    max_retries=10,
    min_backoff=1_000,
    max_backoff=60_000,
    time_limit=settings().submission_time_limit_ms,
)
def process_submission(submission_id: str, unit_id: int | None = None, version: int | None = None) -> None:
    """Decide a submission. The intake's message names its unit and version; the relay's only its id."""
    started = time.perf_counter()
    rt = runtime()
    sid = uuid.UUID(submission_id)
    if unit_id is None:
        with rt.sessions() as session:
            unit_id = unit_of(session, sid)
        if unit_id is None:
            log.warning("submission not found", submission_id=submission_id)
            return
    with unit_and_global_slots(rt.settings, unit_id) as full:
        if full:
            defer_current_message(full)
            return
        try:
            decisions = _process(rt, sid, version)
        except Exception:
            metrics.worker_messages.labels(actor="process_submission", outcome="failed").inc()
            raise
    for decision in decisions:
        metrics.worker_messages.labels(actor="process_submission", outcome=decision.status.value).inc()
    if not decisions:
        metrics.worker_messages.labels(actor="process_submission", outcome="duplicate").inc()
    metrics.worker_duration.labels(actor="process_submission").observe(time.perf_counter() - started)
