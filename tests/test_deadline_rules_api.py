"""Deadline rule versions over HTTP: read by all, added by root admins, used from their date."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import World, auth
from records_helpers import act, make_petition
from sqlalchemy.orm import Session, sessionmaker

from models.deadlines import RULES_DIR, add_days
from models.workflow import today
from web.api.deadline_rules import DeadlineRulesBody


def shipped(name: str = "2026-07-01.json") -> dict[str, Any]:
    return json.loads((RULES_DIR / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(p.name for p in RULES_DIR.glob("*.json")))
def test_shipped_files_have_the_shape_the_api_accepts(name: str) -> None:
    DeadlineRulesBody.model_validate(shipped(name))


def confirmed(effective_from: dt.date, accept_days: int = 15) -> dict[str, Any]:
    body = copy.deepcopy(shipped())
    body.update(version="2026.2", effective_from=effective_from.isoformat(), unconfirmed=False, note="confirmed")
    body["complaint"]["accept"]["days"] = accept_days
    return body


def test_everyone_reads_the_versions_and_the_one_in_force(client: FlaskClient, world: World) -> None:
    response = client.get("/api/v1/deadline-rules?on=2026-07-01", headers=auth(world.tokens["viewer"]))
    body = response.get_json()
    assert [v["version"] for v in body["versions"]] == ["2019.1", "2026.1"]
    assert body["in_force"]["version"] == "2026.1" and body["in_force"]["unconfirmed"] is True
    assert body["in_force"]["shipped"] is True
    response = client.get("/api/v1/deadline-rules?on=yesterday", headers=auth(world.tokens["viewer"]))
    assert response.status_code == 422 and response.get_json()["errors"][0]["field"] == "on"


def test_a_root_admin_confirms_the_amended_numbers_and_new_stages_use_them(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    world.account("x1-officer", "P01.X1", "officer")
    start = today() - dt.timedelta(days=1)
    response = client.post("/api/v1/deadline-rules", json=confirmed(start), headers=auth(world.tokens["admin"]))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["shipped"] is False
    listed = client.get(f"/api/v1/deadline-rules?on={today()}", headers=auth(world.tokens["viewer"])).get_json()
    assert listed["in_force"]["version"] == "2026.2"
    pid = make_petition(sessions, received_on=today())
    status, body = act(client, world, "x1-officer", pid, "classify")
    assert status == 200
    assert body["due_on"] == add_days(today(), 15, "calendar").isoformat()
    again = client.post("/api/v1/deadline-rules", json=confirmed(start), headers=auth(world.tokens["admin"]))
    assert again.status_code == 409


@pytest.mark.parametrize("who", ["p01-admin", "x1-admin", "viewer", "p01-reporter"])
def test_only_root_admins_add_versions(client: FlaskClient, world: World, who: str) -> None:
    response = client.post("/api/v1/deadline-rules", json=confirmed(today()), headers=auth(world.tokens[who]))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["complaint"]["accept"].update(count="lunar"), "complaint.accept.count"),
        (lambda b: b["denunciation"]["extensions"].update(max=9), "denunciation.extensions.max"),
        (
            lambda b: b["complaint"]["resolve"]["rounds"].pop("1") and b["complaint"]["resolve"].update(rounds={}),
            "complaint.resolve.rounds",
        ),
        (lambda b: b.pop("handling"), "handling"),
        (lambda b: b.update(effective_from="soon"), "effective_from"),
    ],
)
def test_a_malformed_version_is_422_naming_the_field(
    client: FlaskClient, world: World, change: Any, field: str
) -> None:
    body = confirmed(today())
    change(body)
    response = client.post("/api/v1/deadline-rules", json=body, headers=auth(world.tokens["admin"]))
    assert response.status_code == 422
    assert field in {e["field"] for e in response.get_json()["errors"]}, response.get_json()
