"""Request bodies and calls for the records tests (receptions, petitions, drafts, usage)."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from helpers import World, auth


def reception(unit: str = "P01.X1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": unit,
        "received_on": "2026-10-02",
        "kind": "regular",
        "people": 1,
        "crowd_group": False,
        "case_id": None,
        "content_type": "complaint",
        "field": "land",
        "status": "final",
    }
    body.update(changes)
    return body


def petition(unit: str = "P01.X1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "unit": unit,
        "received_on": "2026-10-05",
        "source": "post",
        "signatories": 1,
        "petitioner_name": "Trần Thị Mai",
        "petitioner_id_number": "079190000001",
        "petitioner_address": "Ấp 3, xã Hòa Hội",
        "content_type": "complaint",
        "field": "land",
        "summary": "Khiếu nại quyết định thu hồi đất nông nghiệp của gia đình",
        "status": "final",
    }
    body.update(changes)
    return body


def call(client: FlaskClient, token: str | None, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request; returns (status, decoded JSON body or None)."""
    response = client.open(path, method=method, json=body, headers=auth(token))
    return response.status_code, (json.loads(response.data) if response.data else None)


def officers(world: World) -> World:
    """Adds officers of a commune, a province and the other province, and a commune leader."""
    world.account("x1-officer", "P01.X1", "officer")
    world.account("x2-officer", "P01.X2", "officer")
    world.account("p01-officer", "P01", "officer")
    world.account("p02-officer", "P02", "officer")
    world.account("x1-leader", "P01.X1", "leader")
    return world


def fields_of(problem: dict[str, Any]) -> set[str]:
    return {e.get("field", "") for e in problem.get("errors", [])}
