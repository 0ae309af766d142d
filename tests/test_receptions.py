"""Citizen receptions over HTTP: CONTRACT's create, cases new and repeat, crowd groups, lists, changes."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World
from record_factories import call, fields_of, officers, reception
from sqlalchemy.orm import Session, sessionmaker

from models.audit import AuditEvent
from models.cases import novelty
from models.records import Case, Reception


@pytest.fixture
def staff(world: World) -> World:
    return officers(world)


def test_contract_example_creates_a_reception_and_a_new_case(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    body = {"unit": "P01.X1", "received_on": "2026-10-02", "kind": "regular", "people": 7, "crowd_group": True,
            "case_id": None, "content_type": "complaint", "field": "land", "status": "final"}  # fmt: skip
    status, created = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", body)

    assert status == 201
    assert created["case_id"] is not None
    with sessions() as session:
        row = session.get_one(Reception, created["id"])
        assert (row.people, row.crowd_group, row.case_id, row.catalogue_version) == (
            7,
            True,
            created["case_id"],
            "2021.1",
        )
        assert session.get_one(Case, created["case_id"]).unit_id == staff.unit_id("P01.X1")
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.subject_id == str(created["id"]))).all()
        assert [e.action for e in events] == ["reception.create"]
    status, shown = call(client, staff.tokens["viewer"], "GET", f"/api/v1/receptions/{created['id']}")
    assert status == 200
    assert (shown["unit"], shown["received_on"], shown["case_first_on"]) == ("P01.X1", "2026-10-02", "2026-10-02")


def test_crowd_group_needs_five_people(client: FlaskClient, staff: World) -> None:
    status, problem = call(
        client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(people=4, crowd_group=True)
    )

    assert status == 422
    assert fields_of(problem) == {"crowd_group"}


def test_repeat_reception_joins_the_case_and_the_case_is_repeat_in_a_later_period(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    token = staff.tokens["x1-officer"]
    _, first = call(client, token, "POST", "/api/v1/receptions", reception(received_on="2026-08-20"))
    status, again = call(
        client, token, "POST", "/api/v1/receptions", reception(received_on="2026-10-02", case_id=first["case_id"])
    )
    _, other = call(client, token, "POST", "/api/v1/receptions", reception(received_on="2026-10-03"))

    assert status == 201
    assert again["case_id"] == first["case_id"]
    assert other["case_id"] != first["case_id"]
    q4 = (dt.date(2026, 9, 15), dt.date(2026, 12, 14))
    with sessions() as session:
        assert novelty(session, [first["case_id"], other["case_id"]], *q4) == {
            first["case_id"]: "repeat",
            other["case_id"]: "new",
        }
        q3 = novelty(session, [first["case_id"], other["case_id"]], dt.date(2026, 6, 15), dt.date(2026, 9, 14))
        assert q3 == {first["case_id"]: "new"}


def test_draft_records_do_not_date_a_case(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    token = staff.tokens["x1-officer"]
    _, draft = call(client, token, "POST", "/api/v1/receptions", reception(received_on="2026-08-01", status="draft"))
    call(client, token, "POST", "/api/v1/receptions", reception(received_on="2026-10-02", case_id=draft["case_id"]))

    with sessions() as session:
        assert novelty(session, [draft["case_id"]], dt.date(2026, 9, 15), dt.date(2026, 12, 14)) == {
            draft["case_id"]: "new"
        }


def test_case_must_exist_and_be_visible(client: FlaskClient, staff: World) -> None:
    _, p02 = call(client, staff.tokens["p02-officer"], "POST", "/api/v1/receptions", reception("P02.X1"))
    token = staff.tokens["x1-officer"]

    for case_id in (p02["case_id"], 999_999):
        status, problem = call(client, token, "POST", "/api/v1/receptions", reception(case_id=case_id))
        assert status == 422
        assert fields_of(problem) == {"case_id"}


def test_a_province_joins_a_case_opened_by_its_commune(client: FlaskClient, staff: World) -> None:
    _, commune = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception())
    status, province = call(client, staff.tokens["p01-officer"], "POST", "/api/v1/receptions",
                            reception("P01", case_id=commune["case_id"], kind="head"))  # fmt: skip

    assert status == 201
    assert province["case_id"] == commune["case_id"]


def test_unknown_field_code_is_named(client: FlaskClient, staff: World) -> None:
    status, problem = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(field="weather"))
    assert status == 422
    assert fields_of(problem) == {"field"}
    status, problem = call(
        client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(content_type="mixed")
    )
    assert status == 422
    assert fields_of(problem) == {"content_type"}


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"people": 0}, "people"), ({"kind": "walk_in"}, "kind"), ({"received_on": "2026-13-01"}, "received_on"),
     ({"status": "done"}, "status"), ({"people": "7"}, "people"), ({"extra": 1}, "extra")],
)  # fmt: skip
def test_bad_fields_are_named(client: FlaskClient, staff: World, changes: dict[str, object], field: str) -> None:
    status, problem = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(**changes))
    assert status == 422
    assert field in fields_of(problem)


def test_writing_needs_a_writing_role_and_the_subtree(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    assert call(client, staff.tokens["x1-reporter"], "POST", "/api/v1/receptions", reception())[0] == 403
    assert call(client, staff.tokens["viewer"], "POST", "/api/v1/receptions", reception())[0] == 403
    assert call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception("P01.X2"))[0] == 403
    assert call(client, staff.tokens["p02-officer"], "POST", "/api/v1/receptions", reception())[0] == 403
    assert call(client, staff.tokens["x1-leader"], "POST", "/api/v1/receptions", reception())[0] == 201
    assert call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception("NOPE"))[0] == 422
    assert call(client, None, "POST", "/api/v1/receptions", reception())[0] == 401
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Reception)) == 1


def test_reading_one_is_limited_to_the_subtree(client: FlaskClient, staff: World) -> None:
    _, created = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception())
    path = f"/api/v1/receptions/{created['id']}"

    assert call(client, staff.tokens["x1-reporter"], "GET", path)[0] == 200
    assert call(client, staff.tokens["p01-admin"], "GET", path)[0] == 200
    assert call(client, staff.tokens["x2-officer"], "GET", path)[0] == 403
    assert call(client, staff.tokens["p02-admin"], "GET", path)[0] == 403
    assert call(client, staff.tokens["viewer"], "GET", "/api/v1/receptions/999999")[0] == 404


def test_list_filters_and_pages(client: FlaskClient, staff: World) -> None:
    x1, x2 = staff.tokens["x1-officer"], staff.tokens["x2-officer"]
    days = ["2026-10-01", "2026-10-02", "2026-10-02", "2026-10-03", "2026-11-20"]
    ids = [call(client, x1, "POST", "/api/v1/receptions", reception(received_on=d))[1]["id"] for d in days]
    call(client, x1, "POST", "/api/v1/receptions", reception(received_on="2026-10-02", kind="head", status="draft"))
    call(client, x2, "POST", "/api/v1/receptions", reception("P01.X2", received_on="2026-10-02"))
    province = staff.tokens["p01-admin"]

    _, all_p01 = call(client, province, "GET", "/api/v1/receptions?limit=500")
    assert len(all_p01["items"]) == 7
    _, x1_oct = call(
        client,
        province,
        "GET",
        "/api/v1/receptions?unit=P01.X1&from=2026-10-01&to=2026-10-31&status=final&kind=regular",
    )
    assert [r["id"] for r in x1_oct["items"]] == [ids[3], ids[2], ids[1], ids[0]]
    seen, cursor = [], ""
    while True:
        _, got = call(client, province, "GET", f"/api/v1/receptions?unit=P01.X1&limit=2&cursor={cursor}")
        seen += [r["id"] for r in got["items"]]
        if got["next"] is None:
            break
        cursor = got["next"]
    assert len(seen) == len(set(seen)) == 6
    assert call(client, x2, "GET", "/api/v1/receptions?unit=P01.X1")[0] == 403
    _, own = call(client, x2, "GET", "/api/v1/receptions")
    assert {r["unit"] for r in own["items"]} == {"P01.X2"}
    status, problem = call(client, province, "GET", "/api/v1/receptions?from=yesterday")
    assert (status, fields_of(problem)) == (422, {"from"})
    for cursor in ("garbage", f"2026-10-02~{2**64}", "2026-10-02~-1"):
        status, problem = call(client, province, "GET", f"/api/v1/receptions?cursor={cursor}")
        assert (status, fields_of(problem)) == (422, {"cursor"})


def test_draft_changes_freely_and_becomes_final(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    token = staff.tokens["x1-officer"]
    _, created = call(client, token, "POST", "/api/v1/receptions", reception(status="draft"))
    path = f"/api/v1/receptions/{created['id']}"

    status, changed = call(client, token, "PATCH", path, {"people": 6, "crowd_group": True, "status": "final"})

    assert status == 200
    assert (changed["people"], changed["crowd_group"], changed["status"]) == (6, True, "final")
    assert call(client, token, "PATCH", path, {"status": "draft", "reason": "oops"})[0] == 409
    with sessions() as session:
        actions = session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["reception.create", "reception.update"]


def test_final_reception_is_corrected_only_with_a_reason(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    token = staff.tokens["x1-officer"]
    _, created = call(client, token, "POST", "/api/v1/receptions", reception(people=2))
    path = f"/api/v1/receptions/{created['id']}"

    status, problem = call(client, token, "PATCH", path, {"people": 3})
    assert (status, fields_of(problem)) == (422, {"reason"})
    status, problem = call(client, token, "PATCH", path, {"people": None, "reason": "typo"})
    assert (status, fields_of(problem)) == (422, {"people"})
    assert call(client, staff.tokens["x1-reporter"], "PATCH", path, {"people": 3, "reason": "typo"})[0] == 403
    status, changed = call(client, token, "PATCH", path, {"people": 3, "field": "housing", "reason": "sổ ghi sai"})

    assert (status, changed["people"], changed["field"]) == (200, 3, "housing")
    with sessions() as session:
        event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "reception.correct")).one()
    assert event.reason == "sổ ghi sai"
    assert event.details == {"before": {"people": 2, "field": "land"}, "after": {"people": 3, "field": "housing"}}


def test_reception_in_a_head_session(client: FlaskClient, staff: World) -> None:
    token = staff.tokens["x1-officer"]
    head = {"unit": "P01.X1", "held_on": "2026-10-02", "kind": "head", "host": "Chủ tịch UBND xã"}
    status, held = call(client, token, "POST", "/api/v1/reception-sessions", head)
    assert status == 201
    empty = {
        "unit": "P01.X1",
        "held_on": "2026-10-09",
        "kind": "head",
        "host": "Chủ tịch UBND xã",
        "note": "không có công dân đến",
    }
    assert call(client, token, "POST", "/api/v1/reception-sessions", empty)[0] == 201

    assert call(client, token, "POST", "/api/v1/receptions", reception(kind="head", session_id=held["id"]))[0] == 201
    status, problem = call(
        client, token, "POST", "/api/v1/receptions", reception(kind="regular", session_id=held["id"])
    )
    assert (status, fields_of(problem)) == (422, {"session_id"})
    _, listed = call(client, staff.tokens["p01-admin"], "GET", "/api/v1/reception-sessions?kind=head&from=2026-10-01")
    assert [s["held_on"] for s in listed["items"]] == ["2026-10-09", "2026-10-02"]
    assert call(client, staff.tokens["p02-admin"], "GET", f"/api/v1/reception-sessions/{held['id']}")[0] == 403


def test_notes_and_hosts_are_stored_nfc(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    import unicodedata

    from models.records import ReceptionSession

    note, host = (unicodedata.normalize("NFD", text) for text in ("Công dân trình bày rõ", "Chủ tịch UBND xã"))
    token = staff.tokens["x1-officer"]
    _, rec = call(client, token, "POST", "/api/v1/receptions", reception(note=note))
    code, held = call(client, token, "POST", "/api/v1/reception-sessions",
                   {"unit": "P01.X1", "held_on": "2026-10-02", "kind": "head", "host": host})  # fmt: skip

    assert code == 201, held
    with sessions() as session:
        assert session.get_one(Reception, rec["id"]).note == "Công dân trình bày rõ"
        assert session.get_one(ReceptionSession, held["id"]).host == "Chủ tịch UBND xã"


def test_ids_beyond_bigint_are_not_found_not_errors(client: FlaskClient, staff: World) -> None:
    huge = 2**63
    assert call(client, staff.tokens["viewer"], "GET", f"/api/v1/receptions/{huge}")[0] == 404
    assert call(client, staff.tokens["viewer"], "GET", f"/api/v1/petitions/{huge}/duplicates")[0] == 404
    status, problem = call(client, staff.tokens["viewer"], "GET", f"/api/v1/receptions?case={huge}")
    assert (status, fields_of(problem)) == (422, {"case"})
    status, problem = call(client, staff.tokens["x1-officer"], "POST", "/api/v1/receptions", reception(case_id=huge))
    assert (status, fields_of(problem)) == (422, {"case_id"})


def test_records_belong_to_units_open_on_their_day(client: FlaskClient, staff: World) -> None:
    closed = "code,name,parent_code,level,opened_on,closed_on\nP01.D1,UBND huyện Cũ,P01,district,,2025-06-30\n"
    staff.units(closed)
    token = staff.tokens["p01-officer"]

    assert call(client, token, "POST", "/api/v1/receptions", reception("P01.D1", received_on="2025-06-30"))[0] == 201
    status, problem = call(client, token, "POST", "/api/v1/receptions", reception("P01.D1", received_on="2025-07-01"))
    assert (status, fields_of(problem)) == (422, {"received_on"})
    assert "P01.D1" in problem["detail"]
