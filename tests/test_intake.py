"""POST /api/v1/submissions: what a good report gets, and what is stored for it."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import VALID_TCD, World, auth, load_submission, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.submissions import IdempotencyRecord, OutboxEntry, Submission


def test_accepted_report_is_stored_with_outbox_entry_and_message(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], redis_client
) -> None:
    token = world.tokens["x1-reporter"]
    status, body, headers = submit(client, token, submission(note="Báo cáo quý IV"))

    assert status == 202
    assert body["status"] == "queued"
    assert headers["Location"] == f"/api/v1/submissions/{body['id']}"
    receipt = body["receipt"]
    assert receipt["submission_id"] == body["id"]
    assert (receipt["unit"], receipt["period"], receipt["form"], receipt["version"]) == (
        "P01.X1",
        "2026-Q4",
        "01/TCD",
        1,
    )
    assert receipt["on_time"] is True

    row = load_submission(sessions, body["id"])
    assert row.status == "queued"
    assert row.figures == VALID_TCD
    assert row.note == "Báo cáo quý IV"
    assert row.receipt == receipt
    with sessions() as session:
        outbox = session.scalars(sa.select(OutboxEntry)).all()
        assert [(o.queue, o.actor, o.resource_id) for o in outbox] == [
            ("submissions", "process_submission", body["id"])
        ]
        # No key was sent, so nothing was kept for replays.
        assert session.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0
    # The message went to Redis after the commit.
    assert redis_client.llen("dramatiq:submissions") == 1


def test_each_new_report_of_a_unit_is_the_next_version(client: FlaskClient, world: World) -> None:
    token = world.tokens["p01-reporter"]
    versions = [submit(client, token, submission())[1]["receipt"]["version"] for _ in range(3)]
    other = submit(client, token, submission(unit="P01.X2"))[1]["receipt"]["version"]

    assert versions == [1, 2, 3]
    assert other == 1


def test_status_shows_the_stored_submission(client: FlaskClient, world: World) -> None:
    token = world.tokens["x1-reporter"]
    _, body, _ = submit(client, token, submission())

    response = client.get(f"/api/v1/submissions/{body['id']}", headers=auth(token))

    assert response.status_code == 200
    shown = response.get_json()
    assert {k: shown[k] for k in ("id", "unit", "period", "form", "version", "status", "on_time")} == {
        "id": body["id"],
        "unit": "P01.X1",
        "period": "2026-Q4",
        "form": "01/TCD",
        "version": 1,
        "status": "queued",
        "on_time": True,
    }
    assert dt.datetime.fromisoformat(shown["received_at"]).utcoffset() is not None
    assert shown["processed_at"] is None
    assert shown["errors"] == []


def test_status_of_unknown_or_foreign_submission(client: FlaskClient, world: World) -> None:
    _, body, _ = submit(client, world.tokens["x1-reporter"], submission())

    foreign = client.get(f"/api/v1/submissions/{body['id']}", headers=auth(world.tokens["p02-admin"]))
    missing = client.get(f"/api/v1/submissions/{uuid.uuid4()}", headers=auth(world.tokens["admin"]))
    not_uuid = client.get("/api/v1/submissions/not-a-uuid", headers=auth(world.tokens["admin"]))

    assert foreign.status_code == 403
    assert missing.status_code == 404
    assert not_uuid.status_code == 404
    assert all(r.mimetype == "application/problem+json" for r in (foreign, missing, not_uuid))


def test_an_admin_above_may_submit_for_a_unit_below(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    status, body, _ = submit(client, world.tokens["admin"], submission(unit="P02.X1"))

    assert status == 202
    assert load_submission(sessions, body["id"]).unit_id == world.unit_id("P02.X1")


def test_figure_keys_are_normalised_and_absent_columns_are_zero(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    status, body, _ = submit(client, world.tokens["x1-reporter"], submission(figures={"01": 2, "4": 2, "2": 3, "5": 3}))

    assert status == 202
    assert load_submission(sessions, body["id"]).figures == {"1": 2, "4": 2, "2": 3, "5": 3}
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1


def test_concurrent_reports_of_one_unit_get_distinct_versions(
    app: Flask, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    threads = 4
    barrier = threading.Barrier(threads)

    def send(n: int) -> tuple[int, dict[str, Any], dict[str, str]]:
        client = app.test_client()
        barrier.wait()
        return submit(client, token, submission(note=f"bản {n}"))

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, range(threads)))

    assert [status for status, _, _ in results] == [202] * threads
    assert sorted(body["receipt"]["version"] for _, body, _ in results) == [1, 2, 3, 4]
    with sessions() as session:
        stored = session.execute(sa.select(Submission.version, Submission.note).order_by(Submission.version)).all()
    assert [v for v, _ in stored] == [1, 2, 3, 4]
    assert sorted(note for _, note in stored) == [f"bản {n}" for n in range(threads)]
