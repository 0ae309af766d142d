"""The outbox: a receipt is a promise, kept by the relay when the enqueue after commit is lost."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, intake_messages_refused, load_submission, queued_messages, submission, submit
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from models.outbox import MAX_BACKOFF_FACTOR, relay_once
from models.submissions import OutboxEntry
from workers.relay import relay_round


def outbox(sessions: sessionmaker[Session]) -> list[OutboxEntry]:
    with sessions() as session:
        return list(session.scalars(sa.select(OutboxEntry).order_by(OutboxEntry.id)))


def let_the_delay_pass(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        session.execute(
            sa.update(OutboxEntry).values(next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        session.commit()


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_failed_enqueue_still_answers_202_and_the_relay_sends_it_later(
    client: FlaskClient,
    world: World,
    runtime: Any,
    drain: Callable[..., None],
    sessions: sessionmaker[Session],
    redis_client: Any,
) -> None:
    failures = counter("kntc_enqueue_failures_total")
    resent = counter("kntc_outbox_relay_resent_total", queue="submissions")
    with intake_messages_refused():
        status, body, _ = submit(client, world.tokens["x1-reporter"], submission())
    sid = body["id"]

    assert status == 202
    assert body["receipt"]["submission_id"] == sid
    assert counter("kntc_enqueue_failures_total") - failures == 1
    assert [e.resource_id for e in outbox(sessions)] == [sid]
    assert queued_messages(redis_client) == []
    assert redis_client.llen("dramatiq:submissions") == 0

    # Before its delay the relay leaves the entry alone: a healthy worker may still be on it.
    assert relay_round(runtime) == 0
    assert queued_messages(redis_client) == []

    let_the_delay_pass(sessions)
    assert relay_round(runtime) == 1
    assert [m.args for m in queued_messages(redis_client)] == [(sid,)]
    assert counter("kntc_outbox_relay_resent_total", queue="submissions") - resent == 1
    [entry] = outbox(sessions)
    assert entry.attempts == 1
    assert entry.next_attempt_at > dt.datetime.now(dt.UTC)

    drain()
    assert load_submission(sessions, sid).status == "accepted"
    assert outbox(sessions) == []


def test_messages_lost_with_redis_are_sent_again(
    client: FlaskClient,
    world: World,
    runtime: Any,
    drain: Callable[..., None],
    sessions: sessionmaker[Session],
    redis_client: Any,
) -> None:
    token = world.tokens["p01-reporter"]
    ids = [submit(client, token, submission(unit=unit))[1]["id"] for unit in ("P01.X1", "P01.X2", "P01")]
    assert len(queued_messages(redis_client)) == 3

    redis_client.flushdb()  # Redis restarted without persistence: every queued message is gone
    assert queued_messages(redis_client) == []
    assert {e.resource_id for e in outbox(sessions)} == set(ids)

    let_the_delay_pass(sessions)
    assert relay_round(runtime) == 3
    drain()

    assert [load_submission(sessions, sid).status for sid in ids] == ["accepted"] * 3
    assert outbox(sessions) == []


def test_a_backlog_still_waiting_in_redis_is_not_sent_again(
    client: FlaskClient, world: World, runtime: Any, sessions: sessionmaker[Session], redis_client: Any
) -> None:
    # Workers down past the relay's delay: every entry is due, every message still waits.
    # Sending them again would only lengthen the queue the workers come back to.
    token = world.tokens["p01-reporter"]
    for unit in ("P01.X1", "P01.X2", "P01"):
        submit(client, token, submission(unit=unit))
    let_the_delay_pass(sessions)

    assert relay_round(runtime) == 0
    assert redis_client.llen("dramatiq:submissions") == 3
    assert [e.attempts for e in outbox(sessions)] == [0, 0, 0]


def test_after_redis_lost_its_messages_only_the_lost_are_sent_again(
    client: FlaskClient, world: World, runtime: Any, sessions: sessionmaker[Session], redis_client: Any
) -> None:
    token = world.tokens["p01-reporter"]
    lost = [submit(client, token, submission(unit=unit))[1]["id"] for unit in ("P01.X1", "P01.X2", "P01")]
    redis_client.flushdb()
    waiting = [submit(client, token, submission(unit=unit))[1]["id"] for unit in ("P01.X1", "P01.X2")]
    let_the_delay_pass(sessions)  # all five are due; two of them still wait in Redis

    assert relay_round(runtime) == 3
    messages = queued_messages(redis_client)
    assert sorted(m.args[0] for m in messages) == sorted(lost + waiting)
    assert {e.resource_id: e.attempts for e in outbox(sessions)} == {
        **dict.fromkeys(lost, 1),
        **dict.fromkeys(waiting, 0),
    }


def test_outbox_rows_are_deleted_when_processed(
    client: FlaskClient, world: World, drain: Callable[..., None], sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    for _ in range(3):
        submit(client, token, submission())
    assert len(outbox(sessions)) == 3
    drain()
    assert outbox(sessions) == []


def test_the_relay_backs_off_and_sends_each_due_entry_once(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    ids = [submit(client, token, submission())[1]["id"] for _ in range(2)]
    now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # both entries are due
    delay = dt.timedelta(seconds=10)
    sent: list[tuple[str, str, tuple[str, ...]]] = []

    def record(queue: str, actor: str, args: tuple[str, ...]) -> None:
        sent.append((queue, actor, args))

    with sessions() as session:
        assert relay_once(session, record, now, delay) == 2
    with sessions() as session:
        assert relay_once(session, record, now, delay) == 0  # not due again yet
    assert sorted(sent) == sorted(("submissions", "process_submission", (sid,)) for sid in ids)
    assert {(e.attempts, e.next_attempt_at) for e in outbox(sessions)} == {(1, now + delay * 2)}

    later = now
    for attempt in range(2, 8):
        later += delay * MAX_BACKOFF_FACTOR
        with sessions() as session:
            relay_once(session, record, later, delay)
        factor = min(2**attempt, MAX_BACKOFF_FACTOR)
        assert {(e.attempts, e.next_attempt_at) for e in outbox(sessions)} == {(attempt, later + delay * factor)}


def test_one_relay_leads_across_processes_until_its_lock_lapses(runtime: Any, redis_client: Any) -> None:
    from workers.relay import LOCK_KEY, OutboxRelay

    first, second = OutboxRelay(), OutboxRelay()
    assert first._lead(runtime, 1) is True
    assert second._lead(runtime, 1) is False
    assert first._lead(runtime, 1) is True  # the holder renews its lock
    assert 0 < redis_client.pttl(LOCK_KEY) <= 3000

    redis_client.delete(LOCK_KEY)  # as when a dead holder's lock expires
    assert second._lead(runtime, 1) is True
    assert first._lead(runtime, 1) is False
