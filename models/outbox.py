"""The outbox relay: whatever is still owed to the broker after its delay is sent again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.db import is_postgres
from models.submissions import OutboxEntry

# Each further attempt waits twice as long, up to this many times the base delay, so a
# long outage is not answered with a storm of re-sends.
MAX_BACKOFF_FACTOR = 16

Send = Callable[[str, str, tuple[str, ...]], None]


def relay_once(session: Session, send: Send, now: dt.datetime, delay: dt.timedelta, batch: int = 500) -> int:
    """Re-send one batch of due entries; returns how many were sent."""
    query = sa.select(OutboxEntry).where(OutboxEntry.next_attempt_at <= now).order_by(OutboxEntry.next_attempt_at)
    if is_postgres(session.get_bind().engine):
        query = query.with_for_update(skip_locked=True)
    due = list(session.scalars(query.limit(batch)))
    for entry in due:
        entry.attempts += 1
        entry.next_attempt_at = now + delay * min(2**entry.attempts, MAX_BACKOFF_FACTOR)
    messages = [(e.queue, e.actor, (e.resource_id,)) for e in due]
    # Commit first: a crash between here and the sends only delays them to the next round.
    session.commit()
    sent = 0
    for queue, actor, args in messages:
        send(queue, actor, args)
        sent += 1
    return sent
