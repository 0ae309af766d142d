"""The submissions worker: identities checked, decisions idempotent, versions in order."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import (
    INVALID_TCD,
    INVALID_TCD_RULES,
    VALID_TCD,
    World,
    auth,
    intake_messages_refused,
    load_submission,
    queued_messages,
    submission,
    submit,
)
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from kntc import broker
from models.base import utcnow
from models.forms import catalogue
from models.processing import process
from models.submissions import OutboxEntry, Submission


def outbox_rows(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(OutboxEntry)) or 0)


def worker_outcome(outcome: str) -> float:
    labels = {"actor": "process_submission", "outcome": outcome}
    return REGISTRY.get_sample_value("kntc_worker_messages_total", labels) or 0.0


def test_valid_report_is_accepted_and_a_breach_rejected_with_every_broken_rule(
    client: FlaskClient, world: World, drain: Callable[..., None], sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["p01-reporter"]
    good = submit(client, token, submission(unit="P01.X1"))[1]
    bad = submit(client, token, submission(unit="P01.X2", figures=INVALID_TCD))[1]

    drain()

    good_status = client.get(f"/api/v1/submissions/{good['id']}", headers=auth(token)).get_json()
    bad_status = client.get(f"/api/v1/submissions/{bad['id']}", headers=auth(token)).get_json()
    assert (good_status["status"], good_status["errors"]) == ("accepted", [])
    assert good_status["processed_at"] is not None
    assert bad_status["status"] == "rejected"
    assert {e["rule"] for e in bad_status["errors"]} == INVALID_TCD_RULES
    by_rule = {e["rule"]: e["message"] for e in bad_status["errors"]}
    assert by_rule["1 = 4 + 13 + 22"] == "1 = 4 + 13 + 22 does not hold: 1 is 9; 4 + 13 + 22 is 2"
    assert by_rule["8 <= 4"] == "8 <= 4 does not hold: 8 is 3; 4 is 2"
    assert outbox_rows(sessions) == 0


def test_each_identity_of_01_tcd_is_named_when_broken() -> None:
    form = catalogue().in_effect("01/TCD", dt.date(2026, 12, 14))
    assert form is not None
    assert form.check(VALID_TCD) == []
    assert len(form.identities) == 21
    for identity in form.identities:
        # Break the rule: raise the side that must not be the larger one.
        side = identity.sides[1] if identity.comparator == ">=" else identity.sides[0]
        column = str(side.terms[0][1])
        figures = {**VALID_TCD, column: VALID_TCD.get(column, 0) + 10_000}
        assert identity.text in {e["rule"] for e in form.check(figures)}, identity.text


def test_a_decision_is_taken_once(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], runtime: Any
) -> None:
    sid = submit(client, world.tokens["x1-reporter"], submission())[1]["id"]

    with sessions() as session:
        first = process(session, uuid.UUID(sid), runtime.forms, utcnow())
    decided = load_submission(sessions, sid)
    with sessions() as session:
        second = process(session, uuid.UUID(sid), runtime.forms, utcnow() + dt.timedelta(hours=1))
    again = load_submission(sessions, sid)

    assert [(d.status.value, d.errors) for d in first] == [("accepted", [])]
    assert second == []
    assert (again.status, again.processed_at, again.errors) == (decided.status, decided.processed_at, [])
    assert outbox_rows(sessions) == 0


def test_a_message_delivered_twice_changes_nothing_the_second_time(
    client: FlaskClient,
    world: World,
    drain: Callable[..., None],
    sessions: sessionmaker[Session],
) -> None:
    sid = submit(client, world.tokens["x1-reporter"], submission(figures=INVALID_TCD))[1]["id"]
    drain()
    decided = load_submission(sessions, sid)
    duplicates = worker_outcome("duplicate")

    broker.send("submissions", "process_submission", (sid,))
    broker.send("submissions", "process_submission", (sid,))
    drain()

    again = load_submission(sessions, sid)
    assert decided.status == "rejected"
    assert (again.status, again.processed_at, again.errors) == (decided.status, decided.processed_at, decided.errors)
    assert worker_outcome("duplicate") - duplicates == 2


def test_a_message_for_no_submission_is_dropped(
    world: World, drain: Callable[..., None], sessions: sessionmaker[Session], redis_client: Any
) -> None:
    broker.send("submissions", "process_submission", (str(uuid.uuid4()),))
    drain()
    assert redis_client.hlen("dramatiq:submissions.msgs") == 0
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0


def test_versions_are_decided_in_order_even_when_the_newer_message_comes_first(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], runtime: Any
) -> None:
    token = world.tokens["x1-reporter"]
    v1 = submit(client, token, submission(figures=INVALID_TCD))[1]["id"]
    v2 = submit(client, token, submission())[1]["id"]

    with sessions() as session:
        decisions = process(session, uuid.UUID(v2), runtime.forms, utcnow())
    with sessions() as session:
        late_v1_message = process(session, uuid.UUID(v1), runtime.forms, utcnow())

    assert [(str(d.submission_id), d.status.value) for d in decisions] == [(v1, "rejected"), (v2, "accepted")]
    assert late_v1_message == []
    assert load_submission(sessions, v1).status == "rejected"
    assert load_submission(sessions, v2).status == "accepted"
    assert outbox_rows(sessions) == 0


def test_when_only_the_newer_message_arrives_the_worker_decides_both(
    client: FlaskClient,
    world: World,
    drain: Callable[..., None],
    sessions: sessionmaker[Session],
    redis_client: Any,
) -> None:
    token = world.tokens["x1-reporter"]
    with intake_messages_refused():
        v1 = submit(client, token, submission())[1]["id"]
    v2 = submit(client, token, submission(figures=INVALID_TCD))[1]["id"]
    assert [m.args for m in queued_messages(redis_client)] == [(v2,)]

    drain()

    first, second = load_submission(sessions, v1), load_submission(sessions, v2)
    assert (first.status, second.status) == ("accepted", "rejected")
    assert first.processed_at is not None
    assert second.processed_at is not None
    assert first.processed_at <= second.processed_at
    assert outbox_rows(sessions) == 0


def test_completeness_counts_the_newest_accepted_version(
    client: FlaskClient, world: World, drain: Callable[..., None]
) -> None:
    token = world.tokens["p01-reporter"]
    # X1: v1 rejected, v2 accepted. X2: v1 accepted, v2 rejected.
    submit(client, token, submission(unit="P01.X1", figures=INVALID_TCD))
    submit(client, token, submission(unit="P01.X1"))
    submit(client, token, submission(unit="P01.X2"))
    submit(client, token, submission(unit="P01.X2", figures=INVALID_TCD))
    drain()

    response = client.get(
        "/api/v1/periods/2026-Q4/completeness", query_string={"unit": "P01", "form": "01/TCD"}, headers=auth(token)
    )
    result = response.get_json()
    assert response.status_code == 200
    assert (result["expected"], result["submitted"], result["on_time"]) == (3, 2, 2)
    assert result["missing"] == ["P01"]


def _outbox_scans(engine: sa.Engine) -> tuple[int, int]:
    """(sequential, index) scans of the outbox so far, as the statistics collector has them."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(sa.text("SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relname = 'outbox'"))
        seq, idx = row.one()
        return int(seq), int(idx or 0)


def _flushed_scans(engine: sa.Engine, worker: sa.Connection, before: tuple[int, int] | None) -> tuple[int, int]:
    # A backend publishes its counts when it goes idle; forced here, and awaited.
    worker.execute(sa.text("SELECT pg_stat_force_next_flush()"))
    deadline = time.monotonic() + 10
    scans = _outbox_scans(engine)
    while before is not None and scans == before and time.monotonic() < deadline:
        time.sleep(0.05)
        scans = _outbox_scans(engine)
    return scans


def test_a_decision_reaches_its_outbox_row_through_the_index_after_the_outbox_grew(
    client: FlaskClient, world: World, database: sa.Engine, runtime: Any
) -> None:
    # A deadline backlog: the worker's connection has decided many reports while the outbox
    # was small, then the outbox fills with reports still waiting. The next decision must
    # not scan all of them (a plan cached on the small outbox did: O(backlog) a decision).
    token = world.tokens["p01-reporter"]
    ids = [submit(client, token, submission(unit="P01.X1"), key=f"k{i}")[1]["id"] for i in range(13)]
    with database.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE outbox"))
    worker = database.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        for sid in ids[:12]:
            assert process(worker, uuid.UUID(sid), runtime.forms, utcnow())
        with database.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO outbox (queue, actor, resource_id, attempts, next_attempt_at, created_at) "
                    "SELECT 'submissions', 'process_submission', gen_random_uuid()::text, 0, now(), now() "
                    "FROM generate_series(1, 20000)"
                )
            )
        before = _flushed_scans(database, worker, None)
        assert process(worker, uuid.UUID(ids[12]), runtime.forms, utcnow())
        seq, idx = _flushed_scans(database, worker, before)
    finally:
        worker.close()
    assert idx > before[1]
    assert seq == before[0]
