"""Idempotency-Key: the same request again gets the same answer, never a second submission."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import World, auth, submission, submit
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session, sessionmaker

from models.periods import Period
from models.submissions import IdempotencyRecord, OutboxEntry, Submission


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            m.__tablename__: int(session.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
            for m in (Submission, OutboxEntry, IdempotencyRecord)
        }


def replays() -> float:
    return REGISTRY.get_sample_value("kntc_idempotent_replays_total") or 0.0


def test_concurrent_identical_requests_make_one_submission(
    app: Flask, world: World, sessions: sessionmaker[Session], redis_client: Any
) -> None:
    token = world.tokens["x1-reporter"]
    body = submission(note="gửi lại khi mạng chập chờn")
    threads = 8
    barrier = threading.Barrier(threads)
    before = replays()

    def send(_: int) -> tuple[int, dict[str, Any], dict[str, str]]:
        client = app.test_client()
        barrier.wait()
        return submit(client, token, body, key="deadline-night-1")

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, range(threads)))

    assert [status for status, _, _ in results] == [202] * threads
    ids = {answer["id"] for _, answer, _ in results}
    receipts = {frozenset(answer["receipt"].items()) for _, answer, _ in results}
    assert len(ids) == 1
    assert len(receipts) == 1
    assert counts(sessions) == {"submissions": 1, "outbox": 1, "idempotency_records": 1}
    assert sum(1 for _, _, headers in results if headers.get("Idempotent-Replayed") == "true") == threads - 1
    assert replays() - before == threads - 1
    assert redis_client.llen("dramatiq:submissions") == 1  # one message, sent by the first request only


def test_same_key_with_a_different_body_is_422(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    first = submit(client, token, submission(), key="k1")
    status, body, headers = submit(client, token, submission(note="khác"), key="k1")

    assert first[0] == 202
    assert status == 422
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "Idempotency-Key" in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["Idempotency-Key"]
    assert counts(sessions)["submissions"] == 1


def test_replay_after_the_period_closed_returns_the_original_answer(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    first = submit(client, token, submission(), key="before-close")
    with sessions() as session:
        session.execute(
            sa.update(Period).values(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10), grace_seconds=0)
        )
        session.commit()
    world.forget()

    fresh = submit(client, token, submission())
    again = submit(client, token, submission(), key="before-close")

    assert fresh[0] == 409  # the period is closed now...
    assert again[0] == 202  # ...but a replay is the answer already given
    assert again[1] == first[1]
    assert again[1]["receipt"]["on_time"] is True
    assert counts(sessions)["submissions"] == 1


def test_keys_belong_to_one_account(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    a = submit(client, world.tokens["x1-reporter"], submission(), key="shared-key")
    b = submit(client, world.tokens["p01-reporter"], submission(), key="shared-key")

    assert a[0] == b[0] == 202
    assert a[1]["id"] != b[1]["id"]
    assert (a[1]["receipt"]["version"], b[1]["receipt"]["version"]) == (1, 2)
    assert counts(sessions)["submissions"] == 2


def test_equal_bodies_in_another_key_order_are_the_same_request(client: FlaskClient, world: World) -> None:
    token = world.tokens["x1-reporter"]
    figures = {"1": 2, "4": 2, "2": 3, "5": 3}
    first = submit(client, token, submission(figures=figures), key="k")
    reordered = submit(client, token, submission(figures=dict(reversed(list(figures.items())))), key="k")

    assert reordered[0] == 202
    assert reordered[1]["id"] == first[1]["id"]


def test_replayed_status_is_readable(client: FlaskClient, world: World) -> None:
    token = world.tokens["x1-reporter"]
    _, body, _ = submit(client, token, submission(), key="k")
    _, again, headers = submit(client, token, submission(), key="k")

    assert headers["Location"] == f"/api/v1/submissions/{body['id']}"
    shown = client.get(headers["Location"], headers=auth(token)).get_json()
    assert shown["id"] == again["id"] == body["id"]
