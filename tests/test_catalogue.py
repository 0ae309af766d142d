"""The classification catalogue: versions with effective dates, read by all, added by root admins."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, petition, reception
from sqlalchemy.orm import Session, sessionmaker

from models.catalogue import effective_on, shipped_versions
from models.records import Petition, Reception


def version(name: str = "2026.1", effective_from: str = "2026-07-01", extra_field: bool = True) -> dict[str, Any]:
    """The shipped version's content, renamed, with a new field ``environment``."""
    shipped = shipped_versions()[0].as_json()
    fields = [{k: f[k] for k in ("code", "vi", "en")} for f in shipped["fields"]]
    if extra_field:
        fields.append({"code": "environment", "vi": "Môi trường", "en": "Environment"})
    types = [{k: t[k] for k in ("code", "vi", "en", "applies_to")} for t in shipped["content_types"]]
    return {"version": name, "effective_from": effective_from, "content_types": types, "fields": fields}


@pytest.fixture
def staff(world: World) -> World:
    return officers(world)


def test_shipped_version_has_the_contract_codes_with_vietnamese_labels(client: FlaskClient, staff: World) -> None:
    status, body = call(client, staff.tokens["viewer"], "GET", "/api/v1/catalogue?on=2026-10-02")

    assert status == 200
    assert body["version"] == "2021.1"
    assert {f["code"] for f in body["fields"]} >= {"land", "housing", "policy", "civil_service", "judicial",
                                                     "corruption", "party", "other"}  # fmt: skip
    types = {t["code"]: t for t in body["content_types"]}
    assert set(types) == {"complaint", "denunciation", "recommendation", "dispute", "mixed"}
    assert types["dispute"]["vi"] == "Tranh chấp"
    assert types["mixed"]["applies_to"] == ["petition"]
    assert call(client, staff.tokens["viewer"], "GET", "/api/v1/catalogue?on=2010-01-01")[0] == 404


def test_root_admin_adds_a_version_that_takes_effect_on_its_date(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    status, added = call(client, staff.tokens["admin"], "POST", "/api/v1/catalogue", version())
    assert (status, added["version"], added["shipped"]) == (201, "2026.1", False)

    assert call(client, staff.tokens["x1-reporter"], "GET", "/api/v1/catalogue?on=2026-06-30")[1]["version"] == "2021.1"
    assert call(client, staff.tokens["x1-reporter"], "GET", "/api/v1/catalogue?on=2026-07-01")[1]["version"] == "2026.1"
    _, listed = call(client, staff.tokens["viewer"], "GET", "/api/v1/catalogue/versions")
    assert [(v["version"], v["shipped"]) for v in listed["items"]] == [("2021.1", True), ("2026.1", False)]
    with sessions() as session:
        assert effective_on(session, dt.date(2027, 1, 1)).version == "2026.1"  # type: ignore[union-attr]


def test_records_keep_the_version_they_were_classified_under(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    call(client, staff.tokens["admin"], "POST", "/api/v1/catalogue", version())
    token = staff.tokens["x1-officer"]

    status, problem = call(
        client, token, "POST", "/api/v1/receptions", reception(received_on="2026-06-30", field="environment")
    )
    assert (status, fields_of(problem)) == (422, {"field"})
    _, old = call(client, token, "POST", "/api/v1/receptions", reception(received_on="2026-06-30"))
    _, new = call(client, token, "POST", "/api/v1/petitions", petition(received_on="2026-07-02", field="environment"))

    with sessions() as session:
        assert session.get_one(Reception, old["id"]).catalogue_version == "2021.1"
        assert session.get_one(Petition, new["id"]).catalogue_version == "2026.1"
    moved = call(
        client,
        token,
        "PATCH",
        f"/api/v1/receptions/{old['id']}",
        {"received_on": "2026-07-03", "reason": "ngày ghi sai"},
    )
    assert moved[1]["catalogue_version"] == "2026.1"


def test_only_root_admins_add_versions(client: FlaskClient, staff: World) -> None:
    for who in ("p01-admin", "viewer", "x1-officer"):
        assert call(client, staff.tokens[who], "POST", "/api/v1/catalogue", version())[0] == 403
    assert call(client, None, "GET", "/api/v1/catalogue")[0] == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "bad name!"}, "version"),
        ({"effective_from": "soon"}, "effective_from"),
        ({"fields": [{"code": "land", "vi": "Đất đai", "en": "Land"}]}, "fields"),
        ({"content_types": [{"code": "Complaint", "vi": "x", "en": "y"}]}, "content_types.0.code"),
    ],
)
def test_malformed_versions_are_refused_naming_the_field(
    client: FlaskClient, staff: World, change: dict[str, Any], field: str
) -> None:
    status, problem = call(client, staff.tokens["admin"], "POST", "/api/v1/catalogue", {**version(), **change})
    assert status == 422
    assert field in fields_of(problem)


def test_taken_name_or_date_conflicts(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["admin"]
    assert call(client, token, "POST", "/api/v1/catalogue", version("2021.1", "2027-01-01"))[0] == 409
    assert call(client, token, "POST", "/api/v1/catalogue", version("2013.9", "2013-01-01"))[0] == 409
