"""Who in a subtree has reported: expected, on time, late, pending, missing, per direct child."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import INVALID_TCD, World, auth, submission, submit

TODAY = dt.datetime.now(dt.UTC).date()

# Besides UNITS_CSV: a commune closed before the period and one opened after it.
MORE_UNITS = f"""code,name,parent_code,level,opened_on,closed_on
P01.X3,UBND xã Đã Sáp Nhập,P01,commune,,{TODAY - dt.timedelta(days=200)}
P01.X4,UBND xã Mới Lập,P01,commune,{TODAY + dt.timedelta(days=30)},
"""


def completeness(client: FlaskClient, token: str, unit: str, form: str = "01/TCD", period: str = "2026-Q4") -> Any:
    return client.get(
        f"/api/v1/periods/{period}/completeness", query_string={"unit": unit, "form": form}, headers=auth(token)
    )


def tally(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("expected", "submitted", "on_time", "late", "pending", "missing")}


@pytest.fixture
def reported(client: FlaskClient, world: World, drain: Callable[..., None]) -> World:
    """X1 on time, X2 late, P01 rejected, P02.X1 still queued; P02 nothing."""
    world.units(MORE_UNITS)
    token = world.tokens["admin"]
    assert submit(client, token, submission(unit="P01.X1"))[0] == 202
    assert submit(client, token, submission(unit="P01", figures=INVALID_TCD))[0] == 202
    moved = client.patch(
        "/api/v1/periods/2026-Q4",
        json={"due": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(), "grace": "48h"},
        headers=auth(token),
    )
    assert moved.status_code == 200
    assert submit(client, token, submission(unit="P01.X2"))[1]["receipt"]["on_time"] is False
    drain()
    assert submit(client, token, submission(unit="P02.X1"))[0] == 202  # no worker runs after this one
    return world


def test_whole_tree(client: FlaskClient, reported: World) -> None:
    response = completeness(client, reported.tokens["admin"], "VN")
    result = response.get_json()

    assert response.status_code == 200
    assert (result["period"], result["unit"], result["form"]) == ("2026-Q4", "VN", "01/TCD")
    # The parentless root reports to nobody; X3 closed before the period; X4 opened after it.
    assert tally(result) == {
        "expected": 5,
        "submitted": 2,
        "on_time": 1,
        "late": 1,
        "pending": 1,
        "missing": ["P01", "P02", "P02.X1"],
    }
    children = {child["unit"]: child for child in result["children"]}
    assert list(children) == ["P01", "P02"]
    assert children["P01"]["name"] == "UBND tỉnh Tây Ninh"
    assert tally(children["P01"]) == {
        "expected": 3,
        "submitted": 2,
        "on_time": 1,
        "late": 1,
        "pending": 0,
        "missing": ["P01"],
    }
    assert tally(children["P02"]) == {
        "expected": 2,
        "submitted": 0,
        "on_time": 0,
        "late": 0,
        "pending": 1,
        "missing": ["P02", "P02.X1"],
    }


def test_a_subtree(client: FlaskClient, reported: World) -> None:
    result = completeness(client, reported.tokens["p01-admin"], "P01").get_json()

    assert tally(result) == {
        "expected": 3,
        "submitted": 2,
        "on_time": 1,
        "late": 1,
        "pending": 0,
        "missing": ["P01"],
    }
    assert [(c["unit"], c["expected"], c["on_time"], c["late"]) for c in result["children"]] == [
        ("P01.X1", 1, 1, 0),
        ("P01.X2", 1, 0, 1),
    ]


def test_another_form_or_period_has_nobody_yet(client: FlaskClient, reported: World) -> None:
    reported.period("2027-Q1", forms=["01/TCD"])
    other_form = completeness(client, reported.tokens["admin"], "P01", form="2a").get_json()
    other_period = completeness(client, reported.tokens["admin"], "P01", period="2027-Q1").get_json()
    for result in (other_form, other_period):
        assert (result["expected"], result["submitted"]) == (3, 0)
        assert result["missing"] == ["P01", "P01.X1", "P01.X2"]


def test_units_not_open_during_the_period_cannot_submit(client: FlaskClient, reported: World) -> None:
    for unit in ("P01.X3", "P01.X4"):
        status, body, _ = submit(client, reported.tokens["admin"], submission(unit=unit))
        assert status == 422
        assert body["errors"][0]["field"] == "unit"


def test_a_unit_that_reported_on_time_and_corrected_late_stays_on_time(
    client: FlaskClient, reported: World, drain: Callable[..., None]
) -> None:
    # The period is past due now (fixture): X1 sends a correction, accepted late.
    assert submit(client, reported.tokens["admin"], submission(unit="P01.X1"))[1]["receipt"]["on_time"] is False
    drain()
    result = completeness(client, reported.tokens["admin"], "P01").get_json()
    assert (result["on_time"], result["late"]) == (1, 1)


def test_completeness_checks_its_caller_and_parameters(client: FlaskClient, reported: World) -> None:
    tokens = reported.tokens
    assert completeness(client, tokens["p01-admin"], "VN").status_code == 403
    assert completeness(client, tokens["p01-admin"], "P02").status_code == 403
    assert completeness(client, tokens["viewer"], "VN").status_code == 200
    assert completeness(client, tokens["admin"], "NOPE").status_code == 404
    assert completeness(client, tokens["admin"], "VN", period="NOPE").status_code == 404
    no_unit = client.get(
        "/api/v1/periods/2026-Q4/completeness", query_string={"form": "01/TCD"}, headers=auth(tokens["admin"])
    )
    bad_form = completeness(client, tokens["admin"], "VN", form="XX")
    assert (no_unit.status_code, bad_form.status_code) == (422, 422)
    assert no_unit.get_json()["errors"][0]["field"] == "unit"
    assert bad_form.get_json()["errors"][0]["field"] == "form"


def test_a_closed_unit_whose_children_are_still_open(client: FlaskClient, world: World) -> None:
    # A district abolished before the period, its communes not yet moved elsewhere.
    world.units(
        f"""code,name,parent_code,level,opened_on,closed_on
P01.D1,UBND huyện Cũ,P01,district,,{TODAY - dt.timedelta(days=200)}
P01.D1.X1,UBND xã Còn Lại,P01.D1,commune,,
"""
    )
    response = completeness(client, world.tokens["admin"], "P01")
    assert response.status_code == 200
    result = response.get_json()
    assert result["expected"] == 4
    assert result["missing"] == ["P01", "P01.D1.X1", "P01.X1", "P01.X2"]
    # The open commune is counted under the branch it hangs from.
    children = {child["unit"]: child for child in result["children"]}
    assert (children["P01.D1"]["expected"], children["P01.D1"]["missing"]) == (1, ["P01.D1.X1"])
    assert sum(child["expected"] for child in result["children"]) == result["expected"] - 1  # minus P01 itself
