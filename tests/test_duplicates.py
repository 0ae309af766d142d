"""Duplicate suggestions: ID number, or folded name and address with a similar summary (pg_trgm)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, petition
from sqlalchemy.orm import Session, sessionmaker

from models.audit import AuditEvent
from models.duplicates import SAME_ID_NUMBER, SAME_NAME_ADDRESS
from models.records import Petition
from models.text import fold

SUMMARY = "Khiếu nại việc UBND xã thu hồi 500 m2 đất nông nghiệp của gia đình mà không bồi thường"


@pytest.fixture
def staff(world: World) -> World:
    return officers(world)


def _original(client: FlaskClient, token: str, **changes: object) -> dict:
    body = petition(petitioner_name="Nguyễn Văn Đức", petitioner_id_number="079085001234",
                    petitioner_address="Số 12, ấp Bình Hòa, xã Hòa Hội", summary=SUMMARY)  # fmt: skip
    body.update(changes)
    status, created = call(client, token, "POST", "/api/v1/petitions", body)
    assert status == 201
    return created


def test_fold_removes_diacritics_d_bar_case_and_spaces() -> None:
    assert fold("Nguyễn  Văn ĐỨC ") == fold("nguyen van duc") == "nguyen van duc"
    assert fold("Đặng Thị Ánh") == "dang thi anh"
    assert fold(None) == ""


def test_name_written_without_diacritics_is_suggested(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    original = _original(client, token, petitioner_id_number=None)
    summary = "Khiếu nại việc UBND xã thu hồi 500 m2 đất nông nghiệp của gia đình không bồi thường"
    retyped = petition(petitioner_name="nguyen van duc", petitioner_id_number=None,
                       petitioner_address="so 12, ap binh hoa,  xa hoa hoi", summary=summary)  # fmt: skip

    status, created = call(client, token, "POST", "/api/v1/petitions", retyped)

    assert status == 201
    [suggestion] = created["possible_duplicates"]
    assert suggestion["id"] == original["id"]
    assert suggestion["reasons"] == [SAME_NAME_ADDRESS]
    assert 0.5 < suggestion["score"] <= 1
    with_id = call(client, token, "GET", f"/api/v1/petitions/{original['id']}/duplicates")[1]
    assert [d["id"] for d in with_id["possible_duplicates"]] == [created["id"]]


def test_same_id_number_is_suggested_whatever_the_name(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    original = _original(client, token)
    other = petition(
        petitioner_name="Nguyen V. Duc", petitioner_id_number="0790 8500 1234", summary="Tố cáo cán bộ địa chính"
    )

    _, created = call(client, token, "POST", "/api/v1/petitions", other)

    assert [(d["id"], d["reasons"], d["score"]) for d in created["possible_duplicates"]] == [
        (original["id"], [SAME_ID_NUMBER], 1.0)
    ]


def test_different_matter_or_person_is_not_suggested(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    _original(client, token, petitioner_id_number=None)
    other_matter = petition(petitioner_name="Nguyễn Văn Đức", petitioner_id_number=None,
                            petitioner_address="Số 12, ấp Bình Hòa, xã Hòa Hội",
                            summary="Đề nghị sửa đường liên thôn bị ngập nước mùa mưa")  # fmt: skip
    other_person = petition(petitioner_name="Nguyễn Văn Đạt", petitioner_id_number=None,
                            petitioner_address="Số 12, ấp Bình Hòa, xã Hòa Hội", summary=SUMMARY)  # fmt: skip

    for body in (other_matter, other_person):
        _, created = call(client, token, "POST", "/api/v1/petitions", body)
        assert created["possible_duplicates"] == []


def test_suggestions_stay_inside_the_callers_subtree(client: FlaskClient, staff: World) -> None:
    original = _original(client, staff.tokens["x1-officer"])
    _, at_x2 = call(client, staff.tokens["x2-officer"], "POST", "/api/v1/petitions",
                    petition("P01.X2", petitioner_id_number="079085001234"))  # fmt: skip
    assert at_x2["possible_duplicates"] == []

    _, seen_from_province = call(
        client, staff.tokens["p01-officer"], "GET", f"/api/v1/petitions/{at_x2['id']}/duplicates"
    )
    assert [d["id"] for d in seen_from_province["possible_duplicates"]] == [original["id"]]


def test_officer_confirms_a_duplicate_and_it_is_audited(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    token = staff.tokens["x1-officer"]
    first = _original(client, token)
    second = _original(client, token)
    assert [d["id"] for d in second["possible_duplicates"]] == [first["id"]]
    with sessions() as session:
        assert session.get_one(Petition, second["id"]).duplicate_of is None  # never merged by itself

    status, marked = call(client, token, "POST", f"/api/v1/petitions/{second['id']}/duplicate-of", {"of": first["id"]})

    assert (status, marked["duplicate_of"]) == (200, first["id"])
    with sessions() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "petition.duplicate_of")).one()
    assert (event.subject_id, event.details) == (str(second["id"]), {"before": None, "after": first["id"]})


def test_duplicate_of_refuses_itself_cycles_and_other_trees(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    a, b, c = (_original(client, token)["id"] for _ in range(3))
    assert call(client, token, "POST", f"/api/v1/petitions/{b}/duplicate-of", {"of": a})[0] == 200
    assert call(client, token, "POST", f"/api/v1/petitions/{c}/duplicate-of", {"of": b})[0] == 200

    for target, of in ((a, a), (a, c), (a, 999_999)):
        status, problem = call(client, token, "POST", f"/api/v1/petitions/{target}/duplicate-of", {"of": of})
        assert (status, fields_of(problem)) == (422, {"of"})
    _, elsewhere = call(client, staff.tokens["p02-officer"], "POST", "/api/v1/petitions", petition("P02.X1"))
    assert call(client, token, "POST", f"/api/v1/petitions/{a}/duplicate-of", {"of": elsewhere["id"]})[0] == 403
    assert (
        call(client, staff.tokens["x1-reporter"], "POST", f"/api/v1/petitions/{b}/duplicate-of", {"of": None})[0] == 403
    )
    status, withdrawn = call(client, token, "POST", f"/api/v1/petitions/{b}/duplicate-of", {"of": None})
    assert (status, withdrawn["duplicate_of"]) == (200, None)
