"""Due time, grace, per-level deadlines and lock exceptions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.periods import LockException, describe_deadline
from models.submissions import Submission

NOW = dt.datetime.now(dt.UTC)


def n_submissions(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(Submission)) or 0)


@pytest.fixture
def deadlines(world: World) -> World:
    """Periods: LATE (due an hour ago, 48h grace) and CLOSED (due 3h ago, 1h grace)."""
    world.period("LATE", due=NOW - dt.timedelta(hours=1), grace=dt.timedelta(hours=48))
    world.period("CLOSED", due=NOW - dt.timedelta(hours=3), grace=dt.timedelta(hours=1))
    return world


def test_before_due_is_on_time(client: FlaskClient, world: World) -> None:
    status, body, _ = submit(client, world.tokens["x1-reporter"], submission())
    assert status == 202
    assert body["receipt"]["on_time"] is True


def test_after_due_within_grace_is_late_but_accepted(
    client: FlaskClient, deadlines: World, sessions: sessionmaker[Session]
) -> None:
    status, body, _ = submit(client, deadlines.tokens["x1-reporter"], submission(period="LATE"))
    assert status == 202
    assert body["receipt"]["on_time"] is False
    shown = client.get(f"/api/v1/submissions/{body['id']}", headers=auth(deadlines.tokens["x1-reporter"]))
    assert shown.get_json()["on_time"] is False
    assert n_submissions(sessions) == 1


def test_after_due_plus_grace_is_409_naming_the_deadline(
    client: FlaskClient, deadlines: World, sessions: sessionmaker[Session]
) -> None:
    status, body, headers = submit(client, deadlines.tokens["x1-reporter"], submission(period="CLOSED"))
    assert status == 409
    assert headers["Content-Type"].startswith("application/problem+json")
    closed_at = describe_deadline(NOW - dt.timedelta(hours=2))
    assert closed_at in body["detail"]
    assert "+07:00" in body["detail"]
    assert "lock exception" in body["detail"]
    assert n_submissions(sessions) == 0


def open_exception(client: FlaskClient, token: str, unit: str = "P01.X1", period: str = "CLOSED") -> Any:
    return client.post(
        f"/api/v1/periods/{period}/lock-exceptions",
        json={"unit": unit, "form": "01/TCD", "reason": "mất điện ngày hạn chót"},
        headers=auth(token),
    )


@pytest.mark.parametrize("admin", ["p01-admin", "admin"])
def test_an_admin_above_the_unit_opens_a_lock_exception(
    client: FlaskClient, deadlines: World, sessions: sessionmaker[Session], admin: str
) -> None:
    response = open_exception(client, deadlines.tokens[admin])
    assert response.status_code == 201
    assert response.get_json()["reason"] == "mất điện ngày hạn chót"

    status, body, _ = submit(client, deadlines.tokens["x1-reporter"], submission(period="CLOSED"))
    assert status == 202
    assert body["receipt"]["on_time"] is False
    # Only that unit: its sibling stays locked out.
    assert submit(client, deadlines.tokens["p01-reporter"], submission(unit="P01.X2", period="CLOSED"))[0] == 409
    # Opening it again changes nothing.
    assert open_exception(client, deadlines.tokens[admin]).status_code == 201
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LockException)) == 1


@pytest.mark.parametrize(
    "who",
    [
        "x1-admin",  # an admin of the unit itself is not above it
        "p02-admin",  # an admin of another branch
        "p01-reporter",  # above the unit, but not an admin
        "viewer",
    ],
)
def test_only_an_admin_above_the_unit_may_open_an_exception(
    client: FlaskClient, deadlines: World, sessions: sessionmaker[Session], who: str
) -> None:
    response = open_exception(client, deadlines.tokens[who])
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LockException)) == 0
    assert submit(client, deadlines.tokens["x1-reporter"], submission(period="CLOSED"))[0] == 409


def test_lock_exception_errors(client: FlaskClient, deadlines: World) -> None:
    token = deadlines.tokens["admin"]
    assert open_exception(client, token, period="NOPE").status_code == 404
    assert open_exception(client, token, unit="NOPE").status_code == 404
    bad_form = client.post(
        "/api/v1/periods/CLOSED/lock-exceptions", json={"unit": "P01.X1", "form": "X"}, headers=auth(token)
    )
    assert bad_form.status_code == 422
    assert bad_form.get_json()["errors"][0]["field"] == "form"


def test_a_levels_own_deadline_applies_to_that_level_only(client: FlaskClient, world: World) -> None:
    world.period(
        "PER-LEVEL",
        due=NOW + dt.timedelta(days=1),
        grace=dt.timedelta(0),
        dues={"commune": NOW - dt.timedelta(minutes=1)},
    )
    commune = submit(client, world.tokens["p01-reporter"], submission(unit="P01.X1", period="PER-LEVEL"))
    province = submit(client, world.tokens["p01-reporter"], submission(unit="P01", period="PER-LEVEL"))

    assert commune[0] == 409
    assert describe_deadline(NOW - dt.timedelta(minutes=1)) in commune[1]["detail"]
    assert province[0] == 202
    assert province[1]["receipt"]["on_time"] is True


def test_a_levels_own_deadline_with_grace_makes_it_late(client: FlaskClient, world: World) -> None:
    world.period(
        "PER-LEVEL",
        due=NOW - dt.timedelta(hours=1),
        grace=dt.timedelta(hours=2),
        dues={"province": NOW + dt.timedelta(days=1)},
    )
    commune = submit(client, world.tokens["p01-reporter"], submission(unit="P01.X1", period="PER-LEVEL"))
    province = submit(client, world.tokens["p01-reporter"], submission(unit="P01", period="PER-LEVEL"))

    assert (commune[0], commune[1]["receipt"]["on_time"]) == (202, False)
    assert (province[0], province[1]["receipt"]["on_time"]) == (202, True)


def test_moving_the_deadline_applies_at_once(client: FlaskClient, world: World) -> None:
    token = world.tokens["x1-reporter"]
    assert submit(client, token, submission())[1]["receipt"]["on_time"] is True

    moved = client.patch(
        "/api/v1/periods/2026-Q4",
        json={"due": (NOW - dt.timedelta(hours=5)).isoformat(), "grace": "1h"},
        headers=auth(world.tokens["admin"]),
    )
    assert moved.status_code == 200
    assert moved.get_json()["grace_seconds"] == 3600
    assert submit(client, token, submission())[0] == 409

    extended = client.patch("/api/v1/periods/2026-Q4", json={"grace": "48h"}, headers=auth(world.tokens["admin"]))
    assert extended.status_code == 200
    late = submit(client, token, submission())
    assert (late[0], late[1]["receipt"]["on_time"], late[1]["receipt"]["version"]) == (202, False, 2)


def test_only_root_admins_manage_periods(client: FlaskClient, world: World) -> None:
    body = {"code": "2027-Q1", "starts": "2026-12-15", "ends": "2027-03-14", "due": "2027-03-16T17:00"}
    for who in ("p01-admin", "p01-reporter", "viewer"):
        assert client.post("/api/v1/periods", json=body, headers=auth(world.tokens[who])).status_code == 403
        patch = client.patch("/api/v1/periods/2026-Q4", json={"grace": "1h"}, headers=auth(world.tokens[who]))
        assert patch.status_code == 403

    created = client.post(
        "/api/v1/periods",
        json={**body, "due_for": {"commune": "2027-03-16T17:00"}, "grace": "48h"},
        headers=auth(world.tokens["admin"]),
    )
    assert created.status_code == 201
    assert created.headers["Location"] == "/api/v1/periods/2027-Q1"
    shown = client.get("/api/v1/periods/2027-Q1", headers=auth(world.tokens["viewer"])).get_json()
    # A time without an offset is Vietnam time, as officers write it.
    assert dt.datetime.fromisoformat(shown["due"]) == dt.datetime(2027, 3, 16, 10, 0, tzinfo=dt.UTC)
    assert shown["due_for"] == {"commune": dt.datetime(2027, 3, 16, 10, 0, tzinfo=dt.UTC).isoformat()}
    assert shown["grace_seconds"] == 48 * 3600
    assert "01/TCD" in shown["forms"]

    again = client.post("/api/v1/periods", json=body, headers=auth(world.tokens["admin"]))
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"due": "next tuesday"}, "due"),
        ({"grace": "two days"}, "grace"),
        ({"ends": "2026-01-01"}, "ends"),
        ({"forms": ["99/XYZ"]}, "forms"),
        ({"due_for": {"commune": "soon"}}, "due_for.commune"),
    ],
)
def test_bad_periods_are_422_naming_the_field(
    client: FlaskClient, world: World, change: dict[str, Any], field: str
) -> None:
    body = {"code": "2027-Q1", "starts": "2026-12-15", "ends": "2027-03-14", "due": "2027-03-16T17:00", **change}
    response = client.post("/api/v1/periods", json=body, headers=auth(world.tokens["admin"]))
    assert response.status_code == 422
    assert field in {e["field"] for e in response.get_json()["errors"]}


def test_a_levels_deadline_can_be_moved(client: FlaskClient, world: World) -> None:
    world.period("PER-LEVEL", due=NOW + dt.timedelta(days=1), dues={"commune": NOW + dt.timedelta(days=1)})
    token = world.tokens["admin"]
    moved = client.patch(
        "/api/v1/periods/PER-LEVEL",
        json={"due_for": {"Commune": (NOW - dt.timedelta(hours=1)).isoformat()}, "grace": "0s"},
        headers=auth(token),
    )
    assert moved.status_code == 200
    assert list(moved.get_json()["due_for"]) == ["commune"]
    assert submit(client, token, submission(unit="P01.X1", period="PER-LEVEL"))[0] == 409
    assert submit(client, token, submission(unit="P01", period="PER-LEVEL"))[0] == 202


def test_level_names_are_matched_as_the_units_store_them(client: FlaskClient, world: World) -> None:
    # Unit levels are imported lower-case (as the CLI's --due-for is); the API must not differ.
    created = client.post(
        "/api/v1/periods",
        json={
            "code": "CASE",
            "starts": str(NOW.date() - dt.timedelta(days=90)),
            "ends": str(NOW.date()),
            "due": (NOW + dt.timedelta(days=1)).isoformat(),
            "due_for": {"Commune ": (NOW - dt.timedelta(hours=1)).isoformat()},
            "forms": ["01/TCD"],
        },
        headers=auth(world.tokens["admin"]),
    )
    assert created.status_code == 201
    assert list(created.get_json()["due_for"]) == ["commune"]
    assert submit(client, world.tokens["admin"], submission(unit="P01.X1", period="CASE"))[0] == 409
