"""The ``maintenance`` queue: flag overdue and stuck petitions (sent by ``kntc scheduler``)."""

from __future__ import annotations

import datetime as dt

import dramatiq
import structlog

from kntc import metrics
from models.base import utcnow
from models.overdue import flag
from workers.context import runtime

log = structlog.get_logger(__name__)
QUEUE = "maintenance"
ACTOR = "flag_overdue"


@dramatiq.actor(actor_name=ACTOR, queue_name=QUEUE, max_retries=3, min_backoff=5_000, time_limit=300_000)
def flag_overdue() -> None:
    """Set and clear the overdue and stuck flags of every petition; idempotent."""
    rt = runtime()
    idle = dt.timedelta(days=rt.settings.stuck_days)
    with metrics.periodic_job(ACTOR), rt.sessions() as session:
        result = flag(session, utcnow(), idle)
        session.commit()
    log.info("overdue and stuck flags updated", **result.__dict__)
