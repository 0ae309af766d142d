"""A token's first request is authenticated inside the intake's own statement.

The statement must refuse every caller the full path refuses (and store nothing), so
that a refusal there only sends the request down the full path, which answers it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import VALID_TCD, World, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import Account, ApiToken, hash_token
from models.base import utcnow
from models.intake import SubmissionRequest
from models.receipts import verify
from models.submissions import IdempotencyRecord, OutboxEntry, Submission
from web.auth import _principals


def request_for(unit: str, figures: dict[str, Any]) -> SubmissionRequest:
    body = submission(unit=unit, figures=figures)
    return SubmissionRequest(body["period"], body["unit"], body["form"], body["figures"], None)


def count(sessions: sessionmaker[Session], model: type[Any]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_a_first_request_is_stored_in_one_statement_with_everything_it_owes(
    client: FlaskClient, app: Flask, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    status, body, _ = submit(client, token, submission(), key="first-1")
    assert status == 202, body
    assert not _principals.holds(token)  # the full path would have cached the principal
    with sessions() as session:
        stored = session.get_one(Submission, body["id"])
        account = session.scalar(sa.select(Account).where(Account.username == "x1-reporter"))
        record = session.get(IdempotencyRecord, (account.id, "submissions", "first-1"))
    assert stored.account_id == account.id and stored.version == 1
    assert record is not None and record.resource_id == body["id"]
    assert account.last_seen_at is not None
    assert count(sessions, OutboxEntry) == 1
    assert verify(body["receipt"], app.extensions["kntc"].signer.public_bytes)
    assert submit(client, token, submission(), key="first-1")[1] == body  # the replay, by the full path


def test_an_account_above_the_unit_submits_for_it_on_first_contact(
    app: Flask, world: World, sessions: sessionmaker[Session]
) -> None:
    intake = app.extensions["kntc"].intake
    token = world.tokens["p01-reporter"]
    stored = intake.submit_first_contact(hash_token(token), request_for("P01.X2", VALID_TCD), None)
    assert stored is not None and stored.version == 1
    assert count(sessions, Submission) == count(sessions, OutboxEntry) == 1
    assert count(sessions, IdempotencyRecord) == 0  # no key, no record


@pytest.mark.parametrize(
    ("username", "unit", "why"),
    [
        ("viewer", "P01.X1", "a role that may not submit"),
        ("x1-reporter", "P01.X2", "a unit outside the caller's subtree"),
        ("x1-reporter", "P01", "the caller's parent unit"),
        ("x1-reporter", "P01.X1", "a disabled account"),
        ("x1-reporter", "P01.X1", "an expired token"),
        ("nobody", "P01.X1", "an unknown token"),
    ],
)
def test_the_statement_refuses_what_the_full_path_refuses(
    app: Flask, world: World, sessions: sessionmaker[Session], username: str, unit: str, why: str
) -> None:
    token = world.tokens.get(username, "no-such-token")
    with sessions() as session:
        if why == "a disabled account":
            session.execute(sa.update(Account).where(Account.username == username).values(disabled=True))
        if why == "an expired token":
            expired = utcnow() - dt.timedelta(seconds=1)
            session.execute(
                sa.update(ApiToken).where(ApiToken.token_sha256 == hash_token(token)).values(expires_at=expired)
            )
        session.commit()
    intake = app.extensions["kntc"].intake
    assert intake.submit_first_contact(hash_token(token), request_for(unit, VALID_TCD), "k") is None, why
    assert count(sessions, Submission) == count(sessions, OutboxEntry) == count(sessions, IdempotencyRecord) == 0


def test_an_expired_token_is_401_and_a_sibling_unit_403(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    assert submit(client, token, submission(unit="P01.X2"))[0] == 403
    with sessions() as session:
        session.execute(
            sa.update(ApiToken)
            .where(ApiToken.token_sha256 == hash_token(token))
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        session.commit()
    _principals.clear()
    assert submit(client, token, submission())[0] == 401
    assert count(sessions, Submission) == 0


def test_a_bad_body_from_a_new_token_is_answered_by_the_full_path(client: FlaskClient, world: World) -> None:
    status, body, _ = submit(client, "no-such-token", {"period": 1})
    assert status == 401, body  # authentication comes before validation, as on the full path
    status, body, _ = submit(client, world.tokens["x1-reporter"], {"period": "2026-Q4"})
    assert status == 422, body


def test_processes_with_stale_version_guesses_still_number_versions_in_order(
    make_app: Any, world: World, sessions: sessionmaker[Session]
) -> None:
    # Two web processes, each guessing from what it stored itself: a guess that is behind
    # stores nothing, and the statement's answer gives the next try its version.
    first, second = make_app().test_client(), make_app().test_client()
    token = world.tokens["x1-reporter"]
    versions = []
    for client in (first, second, first, second, second, first):
        _principals.clear()
        status, body, _ = submit(client, token, submission())
        assert status == 202, body
        versions.append(body["receipt"]["version"])
    assert versions == [1, 2, 3, 4, 5, 6]
    with sessions() as session:
        stored = sorted(session.scalars(sa.select(Submission.version)))
    assert stored == [1, 2, 3, 4, 5, 6]


_PREFIX = '{"period": "2026-Q4", "unit": "P01.X1", "form": "01/TCD", '


@pytest.mark.parametrize(
    "raw",
    [
        _PREFIX + '"figures": {"1": 5, "1": -1}}',  # a key given twice: the last one counts
        _PREFIX + '"figures": {"1": 5, "01": 5}}',
        _PREFIX + '"figures": {"1": true}}',
        _PREFIX + '"figures": {"1": "12"}}',
        _PREFIX + '"figures": {"1": NaN}}',
        _PREFIX + '"figures": {"1": 1e400}}',
        _PREFIX + '"figures": {"1": 12.5}, "note": "Ghi chú \\ud800"}',
        _PREFIX + '"figures": {}, "extra": 1}',
        _PREFIX + '"figures": {}}',
    ],
)
def test_first_contact_answers_a_body_as_the_full_path_does(client: FlaskClient, world: World, raw: str) -> None:
    # First contact parses the body with pydantic's own JSON parser, the full path with
    # json.loads: whatever the first refuses, the second answers, and neither may take
    # what the other refuses.
    token = world.tokens["x1-reporter"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    first = client.post("/api/v1/submissions", data=raw, headers=headers)
    completeness = "/api/v1/periods/2026-Q4/completeness?unit=P01.X1&form=01/TCD"
    assert client.get(completeness, headers=headers).status_code == 200
    assert _principals.holds(token)  # from here on, the full path
    full = client.post("/api/v1/submissions", data=raw, headers=headers)
    assert first.status_code == full.status_code, (first.get_json(), full.get_json())
    if full.status_code != 202:
        assert first.get_json()["errors"] == full.get_json()["errors"]
