"""An account's last-seen time: written when it authenticates, at most once per resolution interval.

Intake folds the write into the submission's own statement; other routes write it on
their own. Either way usage statistics can tell whether an account authenticated since
a date, to within LAST_SEEN_RESOLUTION.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import World, auth, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import Account
from models.auth import LAST_SEEN_RESOLUTION
from models.base import utcnow


def last_seen(sessions: sessionmaker[Session], username: str) -> dt.datetime | None:
    with sessions() as session:
        return session.scalar(sa.select(Account.last_seen_at).where(Account.username == username))


def set_last_seen(sessions: sessionmaker[Session], username: str, at: dt.datetime | None) -> None:
    with sessions() as session:
        session.execute(sa.update(Account).where(Account.username == username).values(last_seen_at=at))
        session.commit()


def test_a_submission_records_last_seen_with_the_report(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    assert last_seen(sessions, "x1-reporter") is None
    before = utcnow()
    status, _, _ = submit(client, world.tokens["x1-reporter"], submission())
    assert status == 202
    seen = last_seen(sessions, "x1-reporter")
    assert seen is not None and before <= seen <= utcnow()


def test_a_refused_submission_still_records_that_the_account_authenticated(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    status, _, _ = submit(client, world.tokens["x1-reporter"], submission(unit="P02"))
    assert status == 403
    assert last_seen(sessions, "x1-reporter") is not None


def test_other_routes_record_last_seen(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    response = client.get("/api/v1/periods/2026-Q4", headers=auth(world.tokens["viewer"]))
    assert response.status_code == 200
    assert last_seen(sessions, "viewer") is not None


def test_last_seen_is_written_at_most_once_per_resolution(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    assert submit(client, token, submission())[0] == 202
    first = last_seen(sessions, "x1-reporter")
    assert submit(client, token, submission())[0] == 202
    assert last_seen(sessions, "x1-reporter") == first  # within the resolution: not written again


def test_a_stale_last_seen_is_written_again(app: Flask, world: World, sessions: sessionmaker[Session]) -> None:
    from web.auth import _principals

    stale = utcnow() - LAST_SEEN_RESOLUTION - dt.timedelta(minutes=1)
    set_last_seen(sessions, "x1-reporter", stale)
    _principals.clear()  # as after the cache's TTL
    assert submit(app.test_client(), world.tokens["x1-reporter"], submission())[0] == 202
    seen = last_seen(sessions, "x1-reporter")
    assert seen is not None and seen > stale + LAST_SEEN_RESOLUTION
