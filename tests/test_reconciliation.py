"""Reconciliation: submitted figures against the unit's records, stored on the submission and listed per subtree."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import INVALID_TCD, VALID_TCD, World, auth, submit
from reports_helpers import body, seed_receptions, tcd
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.processing import process
from models.reconciliation import compare, reconcile_pending, record_differences
from models.submissions import Submission

# Hand-computed 01/TCD of P01.X1 (reports_helpers.seed_receptions): two regular turns of 1 and 3
# people, each a new case; every other figure is 0.
X1_FIGURES = {"1": 2, "2": 4, "3": 2, "4": 2, "5": 4, "6": 2}


def accepted(client: FlaskClient, world: World, sessions: sessionmaker[Session], unit: str, figures: Any) -> str:
    """A submission of ``unit`` decided by the worker's own function (accepted: its identities hold)."""
    token = world.tokens["p01-admin"]
    status, created, _ = submit(
        client, token, {"period": "2026-Q4", "unit": unit, "form": "01/TCD", "figures": figures}
    )
    assert status == 202
    with sessions() as session:
        (decision,) = process(session, uuid.UUID(created["id"]), tcd_catalogue(), utcnow())
    assert decision.status.value == "accepted"
    return str(created["id"])


def tcd_catalogue() -> Any:
    from models.forms import catalogue

    return catalogue()


def record(sessions: sessionmaker[Session], sid: str) -> list[dict[str, Any]]:
    """What the reconcile_submissions job does for each accepted submission (models/reconciliation.py)."""
    with sessions() as session:
        submission = session.get_one(Submission, uuid.UUID(sid))
        found = record_differences(session, submission)
        session.commit()
    return found


def stored(sessions: sessionmaker[Session], sid: str) -> list[dict[str, Any]] | None:
    with sessions() as session:
        return session.get_one(Submission, uuid.UUID(sid)).differences


def prefilled(client: FlaskClient, world: World, unit: str) -> dict[str, Any]:
    query = {"unit": unit, "period": "2026-Q4"}
    response = client.get("/api/v1/forms/01-TCD/computed", query_string=query, headers=auth(world.tokens["p01-admin"]))
    return dict(body(response)["figures"])


def reconciliation(client: FlaskClient, token: str, **query: str) -> Any:
    return client.get("/api/v1/periods/2026-Q4/reconciliation", query_string=query, headers=auth(token))


def test_each_differing_column_is_stored_on_the_submission(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    seed_receptions(client, world)
    sid = accepted(client, world, sessions, "P01.X1", VALID_TCD)

    found = record(sessions, sid)

    numeric = [str(c.number) for c in tcd().columns if c.numeric]
    differing = [k for k in numeric if VALID_TCD.get(k, 0) != X1_FIGURES.get(k, 0)]
    assert [d["column"] for d in found] == differing
    by_column = {d["column"]: d for d in found}
    assert by_column["1"] == {"column": "1", "label": "Tổng số lượt tiếp", "submitted": 10, "computed": 2}
    assert (by_column["2"]["submitted"], by_column["2"]["computed"]) == (25, 4)
    assert (by_column["13"]["submitted"], by_column["13"]["computed"]) == (3, 0)
    assert "30" not in by_column  # notes are the unit's own text
    assert stored(sessions, sid) == found


def test_figures_that_match_the_records_store_no_difference(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    seed_receptions(client, world)
    figures = prefilled(client, world, "P01.X1")
    sid = accepted(client, world, sessions, "P01.X1", figures)

    assert {k: v for k, v in figures.items() if v} == X1_FIGURES
    assert record(sessions, sid) == []
    assert stored(sessions, sid) == []


def test_compare_counts_absent_figures_as_zero_and_equal_numbers_as_equal() -> None:
    form = tcd()
    computed = {**{str(c.number): 0 for c in form.columns if c.numeric}, "1": 2, "4": 2, "30": "1 kỳ tiếp"}
    assert compare(form, {"1": 2.0, "4": 2}, computed) == []
    assert compare(form, {"1": 2, "4": 2, "5": 1}, computed) == [
        {"column": "5", "label": form.columns[4].label, "submitted": 1, "computed": 0}
    ]


def test_the_subtree_lists_units_whose_newest_accepted_submission_differs(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    seed_receptions(client, world)
    differing = accepted(client, world, sessions, "P01.X1", VALID_TCD)
    record(sessions, differing)
    matching = accepted(client, world, sessions, "P01.X2", prefilled(client, world, "P01.X2"))
    record(sessions, matching)

    listed = body(reconciliation(client, world.tokens["p01-reporter"], unit="P01"))

    assert (listed["period"], listed["unit"], listed["checked"]) == ("2026-Q4", "P01", 2)
    assert [(u["unit"], u["name"], u["submission"], u["checked"]) for u in listed["units"]] == [
        ("P01.X1", "UBND xã Hòa Hội", differing, "stored")
    ]
    assert listed["units"][0]["differences"] == stored(sessions, differing)

    # A newer version that matches the records takes X1 off the list.
    newer = accepted(client, world, sessions, "P01.X1", prefilled(client, world, "P01.X1"))
    record(sessions, newer)
    assert body(reconciliation(client, world.tokens["p01-reporter"], unit="P01", form="01-TCD"))["units"] == []


def test_a_submission_accepted_before_differences_were_recorded_is_compared_on_demand(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    seed_receptions(client, world)
    sid = accepted(client, world, sessions, "P01.X1", VALID_TCD)

    listed = body(reconciliation(client, world.tokens["admin"], unit="VN"))

    assert stored(sessions, sid) is None  # a GET never writes
    (unit,) = listed["units"]
    assert (unit["unit"], unit["checked"]) == ("P01.X1", "now")
    assert {d["column"]: (d["submitted"], d["computed"]) for d in unit["differences"]}["1"] == (10, 2)


@pytest.mark.parametrize(
    ("path", "query", "status", "field"),
    [
        ("/api/v1/periods/2026-Q4/reconciliation", {}, 422, "unit"),
        ("/api/v1/periods/2026-Q4/reconciliation", {"unit": "NOWHERE"}, 422, "unit"),
        ("/api/v1/periods/2026-Q4/reconciliation", {"unit": "P01", "form": "99/XYZ"}, 422, "form"),
        ("/api/v1/periods/1999-Q1/reconciliation", {"unit": "P01"}, 404, None),
        ("/api/v1/periods/2026-Q4/reconciliation", {"unit": "P01"}, 403, None),
    ],
)
def test_bad_input_and_units_outside_the_subtree(
    client: FlaskClient, world: World, path: str, query: dict[str, str], status: int, field: str | None
) -> None:
    response = client.get(path, query_string=query, headers=auth(world.tokens["p02-admin"]))
    assert response.status_code == status
    assert [e["field"] for e in body(response).get("errors", [])] == ([field] if field else [])


def test_the_maintenance_job_compares_every_newly_accepted_submission_once(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], workers_running: Any
) -> None:
    import workers
    from kntc import broker

    seed_receptions(client, world)
    differs = accepted(client, world, sessions, "P01.X1", VALID_TCD)
    agrees = accepted(client, world, sessions, "P01.X1", X1_FIGURES)
    _, refused, _ = submit(client, world.tokens["p01-admin"], {**body_of("P01.X2"), "figures": INVALID_TCD})
    with sessions() as session:
        process(session, uuid.UUID(refused["id"]), tcd_catalogue(), utcnow())
    assert stored(sessions, differs) is None and stored(sessions, agrees) is None

    broker.send("maintenance", "reconcile_submissions", ())
    with workers_running():
        workers.broker.join("maintenance", timeout=30_000)

    assert [d["column"] for d in stored(sessions, differs) or []][:3] == ["1", "2", "3"]
    assert stored(sessions, agrees) == []
    assert stored(sessions, refused["id"]) is None, "a rejected report is not compared"
    shown = client.get(f"/api/v1/submissions/{agrees}", headers=auth(world.tokens["p01-admin"])).get_json()
    assert shown["differences"] == []
    with sessions() as session:
        assert reconcile_pending(session) == 0, "compared once, never picked again"


def body_of(unit: str) -> dict[str, Any]:
    return {"period": "2026-Q4", "unit": unit, "form": "01/TCD"}
