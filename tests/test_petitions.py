"""Petitions over HTTP: create, NFC storage, classification, cases, lists, corrections."""

from __future__ import annotations

import unicodedata

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, petition, reception
from sqlalchemy.orm import Session, sessionmaker

from models.audit import AuditEvent
from models.records import Petition


@pytest.fixture
def staff(world: World) -> World:
    return officers(world)


def test_petition_is_stored_nfc_with_folded_name(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    decomposed_name = unicodedata.normalize("NFD", "Nguyễn Văn Đức")
    decomposed_address = unicodedata.normalize("NFD", "Thôn Phú Mỹ, xã Hòa Hội")
    assert decomposed_name != "Nguyễn Văn Đức"
    body = petition(petitioner_name=decomposed_name, petitioner_address=decomposed_address)

    status, created = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/petitions", body)

    assert status == 201
    assert created["petitioner_name"] == "Nguyễn Văn Đức"
    with sessions() as session:
        row = session.get_one(Petition, created["id"])
        assert row.petitioner_name == unicodedata.normalize("NFC", decomposed_name) == "Nguyễn Văn Đức"
        assert row.petitioner_address == "Thôn Phú Mỹ, xã Hòa Hội"
        assert row.petitioner_name_folded == "nguyen van duc"
        assert row.petitioner_address_folded == "thon phu my, xa hoa hoi"
        assert (row.catalogue_version, row.multi_signatory, row.case_id) == ("2021.1", False, created["case_id"])


def test_dispute_and_mixed_are_petition_content_types(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    for content_type in ("dispute", "mixed", "recommendation", "denunciation"):
        assert call(client, token, "POST", "/api/v1/petitions", petition(content_type=content_type))[0] == 201
    status, problem = call(client, token, "POST", "/api/v1/petitions", petition(field="weather"))
    assert (status, fields_of(problem)) == (422, {"field"})


def test_signatories_decide_multi_signatory(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    _, five = call(client, token, "POST", "/api/v1/petitions", petition(signatories=5))
    assert five["multi_signatory"] is True
    status, problem = call(client, token, "POST", "/api/v1/petitions", petition(signatories=2, multi_signatory=True))
    assert (status, fields_of(problem)) == (422, {"multi_signatory"})
    status, problem = call(
        client, token, "PATCH", f"/api/v1/petitions/{five['id']}", {"multi_signatory": False, "reason": "x"}
    )
    assert (status, fields_of(problem)) == (422, {"multi_signatory"})
    status, fewer = call(
        client, token, "PATCH", f"/api/v1/petitions/{five['id']}", {"signatories": 3, "reason": "đếm lại"}
    )
    assert (status, fewer["multi_signatory"]) == (200, False)


def test_anonymous_petition_needs_no_name_others_do(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    anonymous = petition(anonymous=True, petitioner_name=None, petitioner_id_number=None, petitioner_address=None,
                         content_type="denunciation", field="corruption")  # fmt: skip
    assert call(client, token, "POST", "/api/v1/petitions", anonymous)[0] == 201
    status, problem = call(client, token, "POST", "/api/v1/petitions", petition(petitioner_name="  "))
    assert (status, fields_of(problem)) == (422, {"petitioner_name"})


def test_petition_received_through_a_reception_joins_its_case(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    _, rec = call(client, token, "POST", "/api/v1/receptions", reception())
    status, pet = call(client, token, "POST", "/api/v1/petitions", petition(source="in_person", reception_id=rec["id"]))

    assert status == 201
    assert (pet["reception_id"], pet["case_id"]) == (rec["id"], rec["case_id"])
    _, other = call(client, staff.tokens["p02-officer"], "POST", "/api/v1/receptions", reception("P02.X1"))
    status, problem = call(client, token, "POST", "/api/v1/petitions", petition(reception_id=other["id"]))
    assert (status, fields_of(problem)) == (422, {"reception_id"})


def test_list_filters_by_source_status_and_case(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    _, first = call(client, token, "POST", "/api/v1/petitions", petition(source="post"))
    call(client, token, "POST", "/api/v1/petitions", petition(source="online", status="draft"))
    call(
        client,
        token,
        "POST",
        "/api/v1/petitions",
        petition(source="post", case_id=first["case_id"], received_on="2026-10-20"),
    )
    call(client, staff.tokens["p02-officer"], "POST", "/api/v1/petitions", petition("P02.X1"))

    _, by_case = call(client, staff.tokens["p01-admin"], "GET", f"/api/v1/petitions?case={first['case_id']}")
    assert [p["received_on"] for p in by_case["items"]] == ["2026-10-20", "2026-10-05"]
    _, drafts = call(client, token, "GET", "/api/v1/petitions?status=draft")
    assert [p["source"] for p in drafts["items"]] == ["online"]
    _, online = call(client, staff.tokens["admin"], "GET", "/api/v1/petitions?source=online")
    assert len(online["items"]) == 1
    _, everything = call(client, staff.tokens["viewer"], "GET", "/api/v1/petitions")
    assert len(everything["items"]) == 4
    assert "petitioner_name_folded" not in everything["items"][0]
    assert call(client, staff.tokens["p02-officer"], "GET", "/api/v1/petitions?unit=P01")[0] == 403


def test_final_petition_correction_is_audited_with_before_and_after(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    token = staff.tokens["x1-officer"]
    _, created = call(client, token, "POST", "/api/v1/petitions", petition())
    path = f"/api/v1/petitions/{created['id']}"

    status, problem = call(client, token, "PATCH", path, {"eligible": True})
    assert (status, fields_of(problem)) == (422, {"reason"})
    status, changed = call(
        client, token, "PATCH", path, {"eligible": True, "petitioner_name": "Trần Thị Mây", "reason": "gõ nhầm tên"}
    )

    assert status == 200
    assert (changed["eligible"], changed["petitioner_name"]) == (True, "Trần Thị Mây")
    with sessions() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "petition.correct")).one()
        assert session.get_one(Petition, created["id"]).petitioner_name_folded == "tran thi may"
    assert event.reason == "gõ nhầm tên"
    assert event.details["before"] == {
        "eligible": None,
        "petitioner_name": "Trần Thị Mai",
        "petitioner_name_folded": "tran thi mai",
    }
    assert event.details["after"]["eligible"] is True
    assert call(client, staff.tokens["x2-officer"], "PATCH", path, {"eligible": False, "reason": "x"})[0] == 403


def test_id_number_longer_than_any_document_is_named(client: FlaskClient, staff: World) -> None:
    body = petition(petitioner_id_number="1234567890" * 2 + "1234")
    status, problem = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/petitions", body)
    assert (status, fields_of(problem)) == (422, {"petitioner_id_number"})
