"""GET /api/v1/usage: accounts issued and active, units with and without data, per unit of a subtree."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, petition, reception
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import Account


@pytest.fixture
def staff(world: World) -> World:
    officers(world)
    world.account("x1-disabled", "P01.X1", "officer")
    return world


def _seen(sessions: sessionmaker[Session], world: World, when: dict[str, dt.datetime | None]) -> None:
    """Forget every last-seen time, then set the given ones."""
    with sessions() as session:
        session.execute(sa.update(Account).values(last_seen_at=None))
        session.execute(sa.update(Account).where(Account.username == "x1-disabled").values(disabled=True))
        for username, at in when.items():
            session.execute(sa.update(Account).where(Account.username == username).values(last_seen_at=at))
        session.commit()
    world.forget()


def test_usage_of_a_province(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(received_on="2026-10-02"))
    call(client, staff.tokens["x1-officer"], "POST", "/api/v1/petitions", petition(received_on="2026-10-03"))
    call(client, staff.tokens["x2-officer"], "POST", "/api/v1/petitions", petition("P01.X2", received_on="2026-09-01"))
    call(
        client, staff.tokens["p01-officer"], "POST", "/api/v1/receptions", reception("P01", kind="head", status="draft")
    )
    call(client, staff.tokens["p02-officer"], "POST", "/api/v1/receptions", reception("P02.X1"))
    since = dt.date(2026, 9, 15)
    at = dt.datetime(2026, 9, 20, tzinfo=dt.UTC)
    _seen(sessions, staff, {"x1-officer": at, "x2-officer": at - dt.timedelta(days=10), "x1-disabled": at})

    status, body = call(client, staff.tokens["p01-admin"], "GET", f"/api/v1/usage?unit=P01&since={since.isoformat()}")

    assert status == 200
    assert (body["units"], body["units_with_data"], body["accounts_issued"], body["accounts_active"]) == (3, 1, 8, 2)
    rows = {row["unit"]: row for row in body["by_unit"]}
    assert list(rows) == ["P01", "P01.X1", "P01.X2"]
    assert rows["P01"] | {"name": ""} == {"unit": "P01", "name": "", "accounts_issued": 3, "accounts_active": 1,
                                          "has_data": False, "receptions": 0, "petitions": 0}  # fmt: skip
    assert (rows["P01.X1"]["accounts_issued"], rows["P01.X1"]["accounts_active"]) == (4, 1)
    assert (rows["P01.X1"]["receptions"], rows["P01.X1"]["petitions"], rows["P01.X1"]["has_data"]) == (1, 1, True)
    assert (rows["P01.X2"]["petitions"], rows["P01.X2"]["has_data"]) == (0, False)
    assert rows["P01.X1"]["name"] == "UBND xã Hòa Hội"


def test_usage_of_the_whole_tree_counts_every_unit(client: FlaskClient, staff: World) -> None:
    status, body = call(client, staff.tokens["admin"], "GET", "/api/v1/usage?unit=VN&since=2026-01-01")
    assert (status, body["units"]) == (200, 6)
    assert body["accounts_issued"] == 13


def test_usage_rights_and_input(client: FlaskClient, staff: World) -> None:
    assert call(client, staff.tokens["x1-leader"], "GET", "/api/v1/usage?unit=P01.X1&since=2026-01-01")[0] == 200
    assert call(client, staff.tokens["x1-leader"], "GET", "/api/v1/usage?unit=P01&since=2026-01-01")[0] == 403
    assert call(client, staff.tokens["p02-admin"], "GET", "/api/v1/usage?unit=P01&since=2026-01-01")[0] == 403
    assert call(client, staff.tokens["p01-officer"], "GET", "/api/v1/usage?unit=P01&since=2026-01-01")[0] == 403
    status, problem = call(client, staff.tokens["p01-admin"], "GET", "/api/v1/usage?unit=P01")
    assert (status, fields_of(problem)) == (422, {"since"})
    status, problem = call(client, staff.tokens["p01-admin"], "GET", "/api/v1/usage?unit=P99&since=2026-01-01")
    assert (status, fields_of(problem)) == (422, {"unit"})


def test_usage_is_two_queries_whatever_the_number_of_units(
    staff: World, sessions: sessionmaker[Session], database: sa.Engine
) -> None:
    from kntc.demo_records import Window, seed_records
    from models.units import Unit
    from models.usage import usage

    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with sessions() as session:
        seed_records(session, Window(dt.date(2026, 9, 15), dt.date(2026, 11, 28)))
        session.commit()
        root = session.scalars(sa.select(Unit).where(Unit.code == "VN")).one()
        sa.event.listen(database, "before_cursor_execute", count)
        try:
            body = usage(session, root, dt.date(2026, 9, 15))
        finally:
            sa.event.remove(database, "before_cursor_execute", count)

    assert len(statements) == 2
    assert body["units"] == 6
    assert body["units_with_data"] == 3  # the three communes got final records
