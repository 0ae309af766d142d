"""Prefill: the figures a unit's records give, ready to submit; who may ask; bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import World, auth, submit
from reports_helpers import body, seed_receptions, tcd

PATHS = ("/api/v1/forms/01%2FTCD/computed", "/api/v1/forms/01-TCD/computed")


def prefill(client: FlaskClient, token: str | None, path: str = PATHS[0], **query: str) -> Any:
    return client.get(path, query_string={"unit": "P01.X2", "period": "2026-Q4", **query}, headers=auth(token))


@pytest.mark.parametrize("path", PATHS)
def test_a_reporter_gets_the_figures_of_its_records_and_drafts_do_not_count(
    client: FlaskClient, world: World, path: str
) -> None:
    seed_receptions(client, world)
    response = prefill(client, world.tokens["p01-reporter"], path)
    result = body(response)

    assert response.status_code == 200
    assert (result["form"], result["version"], result["period"], result["unit"]) == (
        "01/TCD",
        tcd().version,
        "2026-Q4",
        "P01.X2",
    )
    figures = result["figures"]
    # Hand-computed: X2 holds one final crowd reception of 6 (its draft of 40 does not count).
    assert (figures["1"], figures["2"], figures["4"], figures["5"], figures["8"], figures["9"]) == (1, 6, 1, 6, 1, 6)
    assert (figures["13"], figures["22"]) == (0, 0)
    assert set(figures) == {str(c.number) for c in tcd().columns if c.numeric}
    assert result["note"] is None
    assert tcd().check(figures) == []


def test_prefilled_figures_are_accepted_when_submitted_as_they_are(
    client: FlaskClient, world: World, drain: Callable[..., None]
) -> None:
    seed_receptions(client, world)
    token = world.tokens["p01-reporter"]
    figures = body(prefill(client, token, unit="P01.X1"))["figures"]

    status, created, _ = submit(
        client, token, {"period": "2026-Q4", "unit": "P01.X1", "form": "01/TCD", "figures": figures}
    )
    drain()

    shown = body(client.get(f"/api/v1/submissions/{created['id']}", headers=auth(token)))
    assert status == 202
    assert (figures["1"], figures["2"]) == (2, 4)
    assert (shown["status"], shown["errors"]) == ("accepted", [])


def test_a_province_sees_its_subtree_with_a_row_per_child(client: FlaskClient, world: World) -> None:
    seed_receptions(client, world)
    result = body(prefill(client, world.tokens["p01-admin"], unit="P01"))
    assert result["figures"]["1"] == 3
    assert [(c["unit"], c["name"], c["columns"]["1"]) for c in result["children"]] == [
        ("P01.X1", "UBND xã Hòa Hội", 2),
        ("P01.X2", "UBND xã Mỹ An", 1),
    ]


def test_roles_that_do_not_submit_and_units_outside_the_subtree_get_403(client: FlaskClient, world: World) -> None:
    viewer = prefill(client, world.tokens["viewer"])
    outside = prefill(client, world.tokens["x1-reporter"])
    other_province = prefill(client, world.tokens["p02-admin"])
    anonymous = prefill(client, None)

    assert viewer.status_code == 403
    assert "viewer cannot submit reports" in body(viewer)["detail"]
    assert (outside.status_code, other_province.status_code, anonymous.status_code) == (403, 403, 401)


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/forms/99-XYZ/computed", {}, "form"),
        (PATHS[0], {"period": "1999-Q1"}, "period"),
        (PATHS[0], {"unit": "NOWHERE"}, "unit"),
        (PATHS[0], {"unit": ""}, "unit"),
        (PATHS[0], {"period": ""}, "period"),
    ],
)
def test_unknown_form_period_or_unit_is_a_422_naming_it(
    client: FlaskClient, world: World, path: str, query: dict[str, str], field: str
) -> None:
    response = prefill(client, world.tokens["admin"], path, **query)
    assert response.status_code == 422
    assert [e["field"] for e in body(response)["errors"]] == [field]
