"""Draft deletion: province admins (or above) over their subtree, one or in bulk; final records never."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, petition, reception
from sqlalchemy.orm import Session, sessionmaker

from models.audit import AuditEvent
from models.records import Case, Petition, Reception


@pytest.fixture
def staff(world: World) -> World:
    """The usual world, its officers, and the admin of a ministry under the root."""
    officers(world)
    world.units("code,name,parent_code,level\nM01,Bộ Tài nguyên và Môi trường,VN,ministry\n")
    world.account("ministry-admin", "M01", "admin")
    return world


def _draft(client: FlaskClient, staff: World, kind: str, unit: str = "P01.X1", **changes: object) -> int:
    body = (
        reception(unit, status="draft", **changes) if kind == "reception" else petition(unit, status="draft", **changes)
    )
    token = staff.tokens["p01-officer" if unit.startswith("P01") else "p02-officer"]
    status, created = call(client, token, "POST", f"/api/v1/{kind}s", body)
    assert status == 201
    return int(created["id"])


@pytest.mark.parametrize("kind", ["reception", "petition"])
def test_province_admin_deletes_a_commune_draft(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], kind: str
) -> None:
    record_id = _draft(client, staff, kind)

    status, _ = call(client, staff.tokens["p01-admin"], "DELETE", f"/api/v1/{kind}s/{record_id}")

    assert status == 204
    assert call(client, staff.tokens["p01-admin"], "GET", f"/api/v1/{kind}s/{record_id}")[0] == 404
    with sessions() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "draft.delete")).one()
        assert (event.subject_kind, event.subject_id, event.unit_id) == (kind, str(record_id), staff.unit_id("P01.X1"))
        assert event.details["before"]["status"] == "draft"
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0  # its new case went with it


@pytest.mark.parametrize(
    ("who", "expected"),
    [("admin", 204), ("ministry-admin", 403), ("p01-admin", 204), ("x1-admin", 403), ("p02-admin", 403),
     ("p01-officer", 403), ("x1-officer", 403), ("viewer", 403)],
)  # fmt: skip
def test_who_may_delete_drafts(client: FlaskClient, staff: World, who: str, expected: int) -> None:
    record_id = _draft(client, staff, "reception")
    assert call(client, staff.tokens[who], "DELETE", f"/api/v1/receptions/{record_id}")[0] == expected


@pytest.mark.parametrize("kind", ["reception", "petition"])
def test_final_records_are_never_deleted(client: FlaskClient, staff: World, kind: str) -> None:
    body = reception() if kind == "reception" else petition()
    _, created = call(client, staff.tokens["x1-officer"], "POST", f"/api/v1/{kind}s", body)

    status, problem = call(client, staff.tokens["admin"], "DELETE", f"/api/v1/{kind}s/{created['id']}")

    assert status == 409
    assert "corrected" in problem["detail"]


def test_draft_reception_with_a_petition_through_it_is_kept(client: FlaskClient, staff: World) -> None:
    rec = _draft(client, staff, "reception")
    call(client, staff.tokens["x1-officer"], "POST", "/api/v1/petitions", petition(reception_id=rec))

    assert call(client, staff.tokens["p01-admin"], "DELETE", f"/api/v1/receptions/{rec}")[0] == 409


def test_bulk_deletion_by_subtree_and_dates(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    inside = [
        _draft(client, staff, "reception", received_on="2026-10-02"),
        _draft(client, staff, "petition", received_on="2026-10-03"),
        _draft(client, staff, "petition", "P01.X2", received_on="2026-10-31"),
    ]
    kept_draft = _draft(client, staff, "reception", received_on="2026-11-01")
    elsewhere = _draft(client, staff, "reception", "P02.X1", received_on="2026-10-02")
    _, final = call(
        client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(received_on="2026-10-02")
    )
    body = {"unit": "P01", "from": "2026-10-01", "to": "2026-10-31", "kinds": ["reception", "petition"]}

    status, result = call(client, staff.tokens["p01-admin"], "POST", "/api/v1/drafts/delete", body)

    assert status == 200
    assert (result["receptions"], result["petitions"], result["kept"]) == (1, 2, [])
    with sessions() as session:
        left = set(session.scalars(sa.select(Reception.id)))
        assert left == {kept_draft, elsewhere, final["id"]}
        assert session.scalar(sa.select(sa.func.count()).select_from(Petition)) == 0
        deleted = session.scalars(sa.select(AuditEvent.subject_id).where(AuditEvent.action == "draft.delete")).all()
        assert sorted(map(int, deleted)) == sorted(inside)


def test_bulk_deletion_rights_and_input(client: FlaskClient, staff: World) -> None:
    body = {"unit": "P01.X1", "from": "2026-10-01", "to": "2026-10-31"}
    assert call(client, staff.tokens["x1-admin"], "POST", "/api/v1/drafts/delete", body)[0] == 403
    assert call(client, staff.tokens["p02-admin"], "POST", "/api/v1/drafts/delete", body)[0] == 403
    assert call(client, staff.tokens["p01-officer"], "POST", "/api/v1/drafts/delete", body)[0] == 403
    status, problem = call(
        client, staff.tokens["p01-admin"], "POST", "/api/v1/drafts/delete", {**body, "to": "2026-09-01"}
    )
    assert (status, fields_of(problem)) == (422, {"to"})
    status, problem = call(
        client, staff.tokens["p01-admin"], "POST", "/api/v1/drafts/delete", {**body, "kinds": ["case"]}
    )
    assert (status, fields_of(problem)) == (422, {"kinds.0"})
    status, result = call(
        client, staff.tokens["p01-admin"], "POST", "/api/v1/drafts/delete", {**body, "kinds": ["petition"]}
    )
    assert (status, result["receptions"], result["petitions"]) == (200, 0, 0)


def _session(client: FlaskClient, staff: World, status: str, held_on: str = "2026-10-07") -> int:
    body = {"unit": "P01.X1", "held_on": held_on, "kind": "head", "host": "Chủ tịch UBND xã", "status": status}
    code, created = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/reception-sessions", body)
    assert code == 201
    return int(created["id"])


def test_sessions_are_drafts_or_final_like_records(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    draft, final = _session(client, staff, "draft"), _session(client, staff, "final")
    token = staff.tokens["x1-officer"]

    assert call(client, token, "PATCH", f"/api/v1/reception-sessions/{draft}", {"host": "Phó Chủ tịch"})[0] == 200
    status, problem = call(client, token, "PATCH", f"/api/v1/reception-sessions/{final}", {"host": "Phó Chủ tịch"})
    assert (status, fields_of(problem)) == (422, {"reason"})
    call(client, token, "POST", "/api/v1/receptions", reception(kind="head", session_id=final))
    status, problem = call(
        client, token, "PATCH", f"/api/v1/reception-sessions/{final}", {"kind": "delegated", "reason": "x"}
    )
    assert (status, fields_of(problem)) == (422, {"kind"})
    assert call(client, staff.tokens["x1-admin"], "DELETE", f"/api/v1/reception-sessions/{draft}")[0] == 403
    assert call(client, staff.tokens["p01-admin"], "DELETE", f"/api/v1/reception-sessions/{final}")[0] == 409
    assert call(client, staff.tokens["p01-admin"], "DELETE", f"/api/v1/reception-sessions/{draft}")[0] == 204
    with sessions() as session:
        actions = session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.subject_kind == "reception_session", AuditEvent.subject_id == str(draft)
            )
        ).all()
    assert actions == ["reception_session.create", "reception_session.update", "draft.delete"]


def test_bulk_deletion_of_sessions_keeps_those_with_receptions(client: FlaskClient, staff: World) -> None:
    empty, used = _session(client, staff, "draft"), _session(client, staff, "draft", "2026-10-14")
    call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(kind="head", session_id=used))
    body = {"unit": "P01", "from": "2026-10-01", "to": "2026-10-31"}

    status, result = call(client, staff.tokens["p01-admin"], "POST", "/api/v1/drafts/delete", body)

    assert (status, result["sessions"], result["receptions"]) == (200, 1, 0)
    assert result["kept"] == [{"kind": "session", "id": used, "reason": "a reception was received in it"}]
    assert call(client, staff.tokens["p01-admin"], "GET", f"/api/v1/reception-sessions/{empty}")[0] == 404
