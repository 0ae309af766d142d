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
Waiting = Callable[[str], "int | None"]  # messages of a queue waiting in the broker; None: unknown


def relay_once(
    session: Session,
    send: Send,
    now: dt.datetime,
    delay: dt.timedelta,
    batch: int = 500,
    waiting: Waiting | None = None,
) -> int:
    """Re-send one batch of due entries whose messages the broker may have lost; returns how many were sent."""
    query = sa.select(OutboxEntry).where(OutboxEntry.next_attempt_at <= now).order_by(OutboxEntry.next_attempt_at)
    if is_postgres(session.get_bind().engine):
        query = query.with_for_update(skip_locked=True)
    due = list(session.scalars(query.limit(batch)))
    if due and waiting is not None:
        due = _beyond_waiting(session, due, waiting)
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


def _beyond_waiting(session: Session, due: list[OutboxEntry], waiting: Waiting) -> list[OutboxEntry]:
    """Of the due entries (oldest first), as many per queue as the outbox holds beyond the
    messages waiting in the broker.

    Every entry's message is waiting, running or lost. In a backlog older than the delay
    (workers down or behind at a deadline) every entry is due and nearly every message is
    still waiting: sending them all again would multiply the backlog at each back-off step,
    just when the workers are behind. Entries beyond what waits are the lost and the running
    (a dead worker's among them, the oldest): those are sent again, oldest first; a running
    one sent twice is decided once. The rest stay due and are weighed again next round.
    """
    queues = {entry.queue for entry in due}
    counted = sa.select(OutboxEntry.queue, sa.func.count()).where(OutboxEntry.queue.in_(queues))
    entries = {queue: int(n) for queue, n in session.execute(counted.group_by(OutboxEntry.queue))}
    room = {queue: entries.get(queue, 0) - (waiting(queue) or 0) for queue in queues}
    kept = []
    for entry in due:
        if room[entry.queue] > 0:
            kept.append(entry)
            room[entry.queue] -= 1
    return kept
