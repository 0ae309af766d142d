"""The handling state machine over HTTP: every transition, every invalid one, roles and history."""

from __future__ import annotations

import datetime as dt
import importlib.util
import unicodedata
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth
from records_helpers import OUTCOME, act, handling, make_petition
from sqlalchemy.orm import Session, sessionmaker

from models.audit import AuditEvent
from models.deadlines import acceptance_due, handling_due, resolution_due
from models.handling import PetitionEvent, PetitionHandling
from models.workflow import FINAL_STATES, TRANSITIONS, State, allowed_actions, today


@pytest.fixture
def staff(world: World) -> World:
    world.account("x1-officer", "P01.X1", "officer")
    world.account("x1-officer2", "P01.X1", "officer")
    world.account("x1-leader", "P01.X1", "leader")
    world.account("x2-officer", "P01.X2", "officer")
    world.account("x1-viewer", "P01.X1", "viewer")
    return world


def outcome() -> dict[str, Any]:
    return {**OUTCOME, "decision_date": (today() - dt.timedelta(days=1)).isoformat()}


def test_a_new_petition_is_received_with_its_classification_deadline(
    staff: World, sessions: sessionmaker[Session]
) -> None:
    received = today() - dt.timedelta(days=3)
    pid = make_petition(sessions, content_type="denunciation", received_on=received)
    row = handling(sessions, pid)
    assert row.state == "received"
    assert row.due_on == handling_due("denunciation", received)


def test_complaint_from_reception_to_resolution_with_a_review(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    received = today() - dt.timedelta(days=3)
    pid = make_petition(sessions, received_on=received)
    on = today()
    status, body = act(client, staff, "x1-officer", pid, "classify")
    assert (status, body["state"]) == (200, "classified")
    assert body["due_on"] == acceptance_due("complaint", received).isoformat()
    status, body = act(client, staff, "x1-leader", pid, "accept", complex_case=True, remote_area=True)
    assert (status, body["state"]) == (200, "accepted"), body
    assert body["due_on"] == resolution_due("complaint", on, complex_case=True, remote=True).isoformat()
    assert body["rules_version"] and body["accepted_on"] == on.isoformat()
    status, body = act(client, staff, "x1-leader", pid, "assign", to="x1-officer")
    assert (status, body["state"], body["assignee"]) == (200, "assigned", "x1-officer")
    status, body = act(client, staff, "x1-officer", pid, "start")
    assert (status, body["state"]) == (200, "under_resolution")
    status, body = act(client, staff, "x1-officer", pid, "submit_for_review", **outcome())
    assert (status, body["state"]) == (200, "awaiting_review"), body
    decomposed = unicodedata.normalize("NFD", "thiếu biên bản xác minh")
    status, body = act(client, staff, "x1-leader", pid, "send_back", reason=decomposed)
    assert (status, body["state"]) == (200, "under_resolution")
    status, body = act(client, staff, "x1-officer", pid, "submit_for_review")
    assert (status, body["state"]) == (200, "awaiting_review")
    status, body = act(client, staff, "x1-leader", pid, "approve")
    assert (status, body["state"], body["final"], body["allowed_actions"]) == (200, "resolved", True, [])
    resolution = body["resolution"]
    assert resolution["outcome"] == "partly_right" and resolution["decision_number"] == "12/QĐ-UBND"
    assert resolution["money_recovered_state"] == 150.5 and resolution["land_recovered_state"] == 320
    assert resolution["individuals_restored"] == 3 and resolution["organisations_restored"] == 1
    assert resolution["resolution_round"] == 1 and resolution["resolved_on"] == on.isoformat()
    assert resolution["sanctions_persons"] == 0 and resolution["court_judgment"] is False
    assert (body["handled_as"], body["handled_on"], body["urged_on"]) == ("accepted", on.isoformat(), [])

    history = client.get(f"/api/v1/petitions/{pid}/history", headers=auth(staff.tokens["x1-viewer"])).get_json()
    steps = [(e["action"], e["from"], e["to"], e["by"]) for e in history["events"]]
    assert steps == [
        ("receive", None, "received", None),
        ("classify", "received", "classified", "x1-officer"),
        ("accept", "classified", "accepted", "x1-leader"),
        ("assign", "accepted", "assigned", "x1-leader"),
        ("start", "assigned", "under_resolution", "x1-officer"),
        ("submit_for_review", "under_resolution", "awaiting_review", "x1-officer"),
        ("send_back", "awaiting_review", "under_resolution", "x1-leader"),
        ("submit_for_review", "under_resolution", "awaiting_review", "x1-officer"),
        ("approve", "awaiting_review", "resolved", "x1-leader"),
    ]
    assert history["events"][6]["reason"] == "thiếu biên bản xác minh"
    assert all(e["at"] and e["on"] for e in history["events"])
    with sessions() as session:
        audited = session.scalars(
            sa.select(AuditEvent.details).where(AuditEvent.action == "petition.transition").order_by(AuditEvent.id)
        ).all()
    assert [d["to"] for d in audited] == [s[2] for s in steps[1:]]


@pytest.mark.parametrize("action", ["guide", "forward", "return", "file_away"])
def test_closing_outcomes_after_classification_are_final(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], action: str
) -> None:
    pid = make_petition(sessions)
    assert act(client, staff, "x1-officer", pid, "classify")[0] == 200
    status, body = act(client, staff, "x1-officer", pid, action, reason="ngoài thẩm quyền")
    assert status == 200, body
    assert State(body["state"]) in FINAL_STATES and body["due_on"] is None
    status, problem = act(client, staff, "x1-leader", pid, "accept")
    assert status == 409
    # A forwarded petition is still urged and answered; the other outcomes allow nothing.
    after = "urge, reply_received" if action == "forward" else "none (a final state)"
    assert after in problem["detail"]
    assert body["handled_as"] == body["state"] and body["handled_on"] == today().isoformat()


@pytest.mark.parametrize("state", [s.value for s in State])
def test_every_action_the_machine_does_not_allow_is_409_listing_the_allowed_ones(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], state: str
) -> None:
    pid = make_petition(sessions, content_type="denunciation")
    with sessions() as session:
        session.execute(sa.update(PetitionHandling).where(PetitionHandling.petition_id == pid).values(state=state))
        session.commit()
    allowed = allowed_actions(state)
    for action, transition in TRANSITIONS.items():
        if State(state) in transition.sources:
            continue
        status, problem = act(client, staff, "x1-leader", pid, action, reason="r", to="x1-officer")
        assert status == 409, (state, action, problem)
        assert f"not allowed from state {state}" in problem["detail"]
        for name in allowed:
            assert name in problem["detail"]
        assert problem["errors"][0]["rule"] == "transition"
    assert handling(sessions, pid).state == state  # nothing moved
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PetitionEvent)) == 1


def test_the_machine_reaches_every_state() -> None:
    targets = {t.target for t in TRANSITIONS.values() if t.target} | {State.RECEIVED}
    assert targets == set(State)
    for state in State:
        moves = [a for a in allowed_actions(state) if TRANSITIONS[a].target is not None]
        assert (moves == []) == (state in FINAL_STATES), state
    # From a final state only events that keep it: a forwarded petition's urging and reply.
    assert allowed_actions("forwarded") == ["urge", "reply_received"]
    assert all(allowed_actions(s) == [] for s in FINAL_STATES - {State.FORWARDED})


@pytest.mark.parametrize(
    ("who", "action", "state"),
    [
        ("x1-reporter", "classify", "received"),
        ("x1-viewer", "classify", "received"),
        ("x1-officer", "accept", "classified"),
        ("x1-officer", "assign", "accepted"),
        ("x1-officer", "approve", "awaiting_review"),
        ("x1-officer", "send_back", "awaiting_review"),
        ("x1-officer", "extend", "accepted"),
    ],
)
def test_roles_that_may_not_take_an_action_get_403(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], who: str, action: str, state: str
) -> None:
    pid = make_petition(sessions)
    with sessions() as session:
        session.execute(sa.update(PetitionHandling).where(PetitionHandling.petition_id == pid).values(state=state))
        session.commit()
    status, problem = act(client, staff, who, pid, action, reason="r", to="x1-officer", **outcome())
    assert status == 403, problem
    assert "roles that may" in problem["detail"]
    assert handling(sessions, pid).state == state


def test_only_the_assignee_or_a_leader_starts(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions)
    for who, action, extra in (
        ("x1-officer", "classify", {}),
        ("x1-leader", "accept", {}),
        ("x1-leader", "assign", {"to": "x1-officer"}),
    ):
        assert act(client, staff, who, pid, action, **extra)[0] == 200
    assert act(client, staff, "x1-officer2", pid, "start")[0] == 403
    assert act(client, staff, "x1-officer", pid, "start")[0] == 200


def test_assignee_must_be_active_staff_covering_the_unit(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions)
    with sessions() as session:
        session.execute(sa.update(PetitionHandling).where(PetitionHandling.petition_id == pid).values(state="accepted"))
        session.execute(sa.text("UPDATE accounts SET disabled = true WHERE username = 'x1-officer2'"))
        session.commit()
    for to, words in (
        ("x2-officer", "does not cover"),
        ("x1-officer2", "disabled"),
        ("x1-viewer", "is a viewer"),
        ("nobody", "no account"),
    ):
        status, problem = act(client, staff, "x1-leader", pid, "assign", to=to)
        assert status == 422 and words in problem["detail"], (to, problem)
        assert problem["errors"][0]["field"] == "to"
    status, problem = act(client, staff, "x1-leader", pid, "assign")
    assert status == 422 and problem["errors"][0]["field"] == "to"
    # An account of the province above covers the commune's petition.
    staff.account("p01-officer", "P01", "officer")
    assert act(client, staff, "x1-leader", pid, "assign", to="p01-officer")[0] == 200


def test_approval_needs_the_whole_outcome(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    pid = make_petition(sessions)
    with sessions() as session:
        session.execute(
            sa.update(PetitionHandling).where(PetitionHandling.petition_id == pid).values(state="under_resolution")
        )
        session.commit()
    assert act(client, staff, "x1-officer", pid, "submit_for_review", outcome="right")[0] == 200
    status, problem = act(client, staff, "x1-leader", pid, "approve")
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {"decision_number", "decision_date"}
    status, problem = act(client, staff, "x1-leader", pid, "approve", outcome="maybe")
    assert status == 422 and problem["errors"][0]["field"] == "outcome"
    future = (today() + dt.timedelta(days=2)).isoformat()
    status, problem = act(client, staff, "x1-leader", pid, "approve", decision_number="1/QĐ", decision_date=future)
    assert status == 422 and problem["errors"][0]["field"] == "decision_date"
    status, problem = act(client, staff, "x1-leader", pid, "approve", money_recovered_state=-1)
    assert status == 422 and problem["errors"][0]["field"] == "money_recovered_state"
    assert handling(sessions, pid).state == "awaiting_review"
    status, body = act(
        client, staff, "x1-leader", pid, "approve", **{**outcome(), "outcome": "upheld"}, resolution_round=2
    )
    assert (status, body["state"], body["resolution"]["resolution_round"]) == (200, "resolved", 2)
    assert body["resolution"]["outcome"] == "upheld"


def test_resolve_without_review_only_where_the_law_needs_none(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    complaint = make_petition(sessions)
    recommendation = make_petition(sessions, content_type="recommendation")
    with sessions() as session:
        session.execute(sa.update(PetitionHandling).values(state="under_resolution"))
        session.commit()
    status, problem = act(client, staff, "x1-officer", complaint, "resolve", **outcome())
    assert status == 409 and "submit_for_review" in problem["detail"]
    status, problem = act(client, staff, "x1-officer", recommendation, "submit_for_review", **outcome())
    assert status == 409 and "use the action resolve" in problem["detail"]
    status, body = act(client, staff, "x1-officer", recommendation, "resolve", **outcome())
    assert (status, body["state"]) == (200, "resolved")


def test_denunciation_extensions_at_most_two_each_with_its_reason(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions, content_type="denunciation")
    act(client, staff, "x1-officer", pid, "classify")
    status, body = act(client, staff, "x1-leader", pid, "accept")
    first_due = body["due_on"]
    assert first_due == resolution_due("denunciation", today()).isoformat()
    status, problem = act(client, staff, "x1-leader", pid, "extend")
    assert status == 422 and problem["errors"][0]["field"] == "reason"
    status, body = act(client, staff, "x1-leader", pid, "extend", reason="vụ việc phức tạp")
    assert (status, body["extensions"], body["state"]) == (200, 1, "accepted")
    assert body["due_on"] > first_due
    status, body = act(client, staff, "x1-leader", pid, "extend", reason="đặc biệt phức tạp")
    assert (status, body["extensions"]) == (200, 2)
    status, problem = act(client, staff, "x1-leader", pid, "extend", reason="lần ba")
    assert status == 409 and "extended 2 time" in problem["detail"]
    events = client.get(f"/api/v1/petitions/{pid}/history", headers=auth(staff.tokens["x1-leader"])).get_json()
    extends = [e for e in events["events"] if e["action"] == "extend"]
    assert [e["reason"] for e in extends] == ["vụ việc phức tạp", "đặc biệt phức tạp"]
    assert extends[0]["data"]["from_due_on"] == first_due


def test_complaints_cannot_be_extended(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    pid = make_petition(sessions)
    act(client, staff, "x1-officer", pid, "classify")
    act(client, staff, "x1-leader", pid, "accept")
    status, problem = act(client, staff, "x1-leader", pid, "extend", reason="r")
    assert status == 409 and "extended 0 time" in problem["detail"]


def test_bad_requests_are_named_and_change_nothing(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions)
    status, problem = act(client, staff, "x1-officer", pid, "fly")
    assert status == 422 and problem["errors"][0]["field"] == "action"
    status, problem = act(client, staff, "x1-officer", pid, "classify", on=(today() + dt.timedelta(days=1)).isoformat())
    assert status == 422 and problem["errors"][0]["field"] == "on"
    status, problem = act(client, staff, "x1-officer", pid, "classify", on="2000-01-01")
    assert status == 422 and "before the previous step" in problem["detail"]
    status, problem = act(client, staff, "x1-officer", pid, "classify", surprise=1)
    assert status == 422 and problem["errors"][0]["field"] == "surprise"
    response = client.post(
        f"/api/v1/petitions/{pid}/actions",
        data=b"{nope",
        headers=auth(staff.tokens["x1-officer"]),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert act(client, staff, "x1-officer", 999_999, "classify")[0] == 404
    assert act(client, staff, "x1-officer", 2**64, "classify")[0] == 404
    assert client.get(f"/api/v1/petitions/{2**70}/history", headers=auth(staff.tokens["x1-officer"])).status_code == 404
    assert handling(sessions, pid).state == "received"


def test_drafts_are_not_handled(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    pid = make_petition(sessions, status="draft")
    status, problem = act(client, staff, "x1-officer", pid, "classify")
    assert status == 409 and "draft" in problem["detail"]


def test_outside_the_subtree_is_403(client: FlaskClient, staff: World, sessions: sessionmaker[Session]) -> None:
    pid = make_petition(sessions)
    assert act(client, staff, "x2-officer", pid, "classify")[0] == 403
    assert act(client, staff, "p02-admin", pid, "classify")[0] == 403
    assert client.get(f"/api/v1/petitions/{pid}/history", headers=auth(staff.tokens["p02-admin"])).status_code == 403
    assert act(client, staff, "p01-admin", pid, "classify")[0] == 200  # the province above may


def test_a_petition_without_a_handling_row_gets_one_on_first_read(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions, start=False)
    body = client.get(f"/api/v1/petitions/{pid}/handling", headers=auth(staff.tokens["x1-officer"])).get_json()
    assert body["state"] == "received" and body["allowed_actions"] == ["classify"]
    assert act(client, staff, "x1-officer", pid, "classify")[0] == 200


def test_the_history_is_append_only(staff: World, sessions: sessionmaker[Session], database: sa.Engine) -> None:
    make_petition(sessions)
    url = database.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn:
        for statement in ("UPDATE petition_events SET reason = 'x'", "DELETE FROM petition_events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
            conn.rollback()


def test_petitions_created_final_or_made_final_over_http_enter_the_handling(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    from record_factories import petition

    token = auth(staff.tokens["x1-officer"])
    final = client.post("/api/v1/petitions", json=petition(), headers=token).get_json()["id"]
    draft = client.post("/api/v1/petitions", json=petition(status="draft"), headers=token).get_json()["id"]
    with sessions() as session:
        assert session.get(PetitionHandling, final).state == "received"
        assert session.get(PetitionHandling, draft) is None  # a draft may be deleted: no history yet
    assert client.patch(f"/api/v1/petitions/{draft}", json={"status": "final"}, headers=token).status_code == 200
    with sessions() as session:
        assert session.get(PetitionHandling, draft).state == "received"
    response = client.patch(
        f"/api/v1/petitions/{final}", json={"summary": "Bổ sung", "reason": "đính chính"}, headers=token
    )
    assert response.status_code == 200
    history = client.get(f"/api/v1/petitions/{final}/history", headers=token).get_json()["events"]
    assert [e["action"] for e in history] == ["receive"]  # a correction starts nothing again


def set_handling(sessions: sessionmaker[Session], pid: int, **values: Any) -> None:
    with sessions() as session:
        session.execute(sa.update(PetitionHandling).where(PetitionHandling.petition_id == pid).values(**values))
        session.commit()


def events_of(sessions: sessionmaker[Session], pid: int) -> list[tuple[str, str | None, str, dt.date]]:
    with sessions() as session:
        rows = session.execute(
            sa.select(
                PetitionEvent.action, PetitionEvent.from_state, PetitionEvent.to_state, PetitionEvent.effective_on
            )
            .where(PetitionEvent.petition_id == pid)
            .order_by(PetitionEvent.id)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_forwarded_petition_is_urged_and_its_reply_recorded_without_leaving_forwarded(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions, received_on=today() - dt.timedelta(days=20))
    forwarded_on, urged_on, replied_on = (today() - dt.timedelta(days=d) for d in (15, 5, 2))
    act(client, staff, "x1-officer", pid, "classify", on=forwarded_on.isoformat())
    status, body = act(client, staff, "x1-officer", pid, "forward", on=forwarded_on.isoformat())
    assert (status, body["allowed_actions"], body["reply_received_on"]) == (200, ["urge", "reply_received"], None)
    assert act(client, staff, "x1-viewer", pid, "urge")[0] == 403
    status, body = act(client, staff, "x1-officer", pid, "urge", on=urged_on.isoformat(), reason="quá hạn trả lời")
    assert (status, body["state"], body["urged_on"]) == (200, "forwarded", [urged_on.isoformat()])
    status, body = act(client, staff, "x1-officer", pid, "reply_received", on=replied_on.isoformat())
    assert (status, body["state"], body["final"]) == (200, "forwarded", True)
    assert body["reply_received_on"] == replied_on.isoformat()
    assert (body["handled_as"], body["handled_on"]) == ("forwarded", forwarded_on.isoformat())
    assert events_of(sessions, pid)[-3:] == [
        ("forward", "classified", "forwarded", forwarded_on),
        ("urge", "forwarded", "forwarded", urged_on),
        ("reply_received", "forwarded", "forwarded", replied_on),
    ]
    row = handling(sessions, pid)  # the row's copy of the history's facts
    facts = (row.handled_as, row.handled_on, row.urged_on, row.reply_received_on)
    assert facts == ("forwarded", forwarded_on, urged_on, replied_on)
    # Dated before the reply: refused, nothing written.
    status, problem = act(client, staff, "x1-officer", pid, "urge", on=urged_on.isoformat())
    assert status == 422 and problem["errors"][0]["field"] == "on"
    assert len(events_of(sessions, pid)) == 5


@pytest.mark.parametrize("state", ["guided", "returned", "filed_away", "resolved", "received", "accepted"])
def test_a_reply_is_recorded_only_for_a_forwarded_petition(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], state: str
) -> None:
    pid = make_petition(sessions)
    set_handling(sessions, pid, state=state)
    status, problem = act(client, staff, "x1-officer", pid, "reply_received")
    assert status == 409 and "not allowed from state" in problem["detail"]
    assert len(events_of(sessions, pid)) == 1


def test_an_open_petition_is_urged_only_once_past_its_deadline(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions)
    set_handling(sessions, pid, due_on=today() + dt.timedelta(days=3))
    status, problem = act(client, staff, "x1-officer", pid, "urge")
    assert status == 409 and "not overdue" in problem["detail"]
    read = client.get(f"/api/v1/petitions/{pid}/handling", headers=auth(staff.tokens["x1-officer"])).get_json()
    assert "urge" not in read["allowed_actions"]
    set_handling(sessions, pid, due_on=today() - dt.timedelta(days=1))
    read = client.get(f"/api/v1/petitions/{pid}/handling", headers=auth(staff.tokens["x1-officer"])).get_json()
    assert "urge" in read["allowed_actions"]
    status, body = act(client, staff, "x1-officer", pid, "urge")
    assert (status, body["state"], body["urged_on"], body["handled_as"]) == (
        200,
        "received",
        [today().isoformat()],
        None,
    )
    assert events_of(sessions, pid)[-1] == ("urge", "received", "received", today())
    row = handling(sessions, pid)
    assert (row.urged_on, row.handled_as, row.handled_on) == (today(), None, None)
    # A guided petition left the unit for good: nothing to urge.
    guided = make_petition(sessions)
    set_handling(sessions, guided, state="guided", due_on=today() - dt.timedelta(days=1))
    assert act(client, staff, "x1-officer", guided, "urge")[0] == 409


def closing(outcome: str) -> dict[str, Any]:
    return {"outcome": outcome, "decision_number": "5/QĐ-ĐC", "decision_date": today().isoformat(), "reason": "rút đơn"}


@pytest.mark.parametrize(("content_type", "outcome_"), [("denunciation", "withdrawn"), ("complaint", "suspended")])
def test_close_ends_a_resolution_withdrawn_or_suspended(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], content_type: str, outcome_: str
) -> None:
    pid = make_petition(sessions, content_type=content_type)
    set_handling(sessions, pid, state="under_resolution", due_on=today() + dt.timedelta(days=9))
    assert act(client, staff, "x1-officer", pid, "close", **closing(outcome_))[0] == 403
    status, problem = act(client, staff, "x1-leader", pid, "close", **{**closing(outcome_), "reason": None})
    assert status == 422 and problem["errors"][0]["field"] == "reason"
    status, problem = act(client, staff, "x1-leader", pid, "close", **closing("right"))
    assert status == 422 and problem["errors"][0]["field"] == "outcome" and "close records" in problem["detail"]
    status, problem = act(client, staff, "x1-leader", pid, "close", reason="rút đơn", outcome=outcome_)
    assert status == 422 and {e["field"] for e in problem["errors"]} == {"decision_number", "decision_date"}
    assert handling(sessions, pid).outcome is None  # nothing half-stored
    status, body = act(client, staff, "x1-leader", pid, "close", **closing(outcome_))
    assert (status, body["state"], body["resolution"]["outcome"]) == (200, "resolved", outcome_)
    assert body["resolution"]["resolved_on"] == today().isoformat()
    assert events_of(sessions, pid)[-1] == ("close", "under_resolution", "resolved", today())


def test_withdrawn_and_suspended_only_through_close_and_only_for_complaints_and_denunciations(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    complaint = make_petition(sessions)
    recommendation = make_petition(sessions, content_type="recommendation")
    set_handling(sessions, complaint, state="awaiting_review")
    set_handling(sessions, recommendation, state="under_resolution")
    status, problem = act(client, staff, "x1-leader", complaint, "approve", **{**outcome(), "outcome": "withdrawn"})
    assert status == 422 and "action close" in problem["errors"][0]["message"]
    status, problem = act(client, staff, "x1-leader", recommendation, "close", **closing("withdrawn"))
    assert status == 409 and "recommendation" in problem["detail"]
    status, problem = act(
        client, staff, "x1-officer", recommendation, "resolve", **{**outcome(), "outcome": "suspended"}
    )
    assert status == 422 and problem["errors"][0]["field"] == "outcome"
    status, problem = act(client, staff, "x1-leader", complaint, "approve", **{**outcome(), "outcome": "given_up"})
    assert status == 422 and problem["errors"][0]["field"] == "outcome"
    assert (handling(sessions, complaint).state, handling(sessions, recommendation).state) == (
        "awaiting_review",
        "under_resolution",
    )


@pytest.mark.parametrize(
    ("content_type", "round_", "outcome_", "ok"),
    [
        ("complaint", 1, "upheld", False),
        ("complaint", 2, "partly_right", False),
        ("complaint", 2, "amended", True),
        ("complaint", 1, "wrong", True),
        ("denunciation", 1, "right", True),
        ("denunciation", 2, "upheld", False),
    ],
)
def test_a_second_resolution_of_a_complaint_upholds_or_amends_the_first(
    client: FlaskClient,
    staff: World,
    sessions: sessionmaker[Session],
    content_type: str,
    round_: int,
    outcome_: str,
    ok: bool,
) -> None:
    pid = make_petition(sessions, content_type=content_type)
    set_handling(sessions, pid, state="awaiting_review", resolution_round=round_)
    status, body = act(client, staff, "x1-leader", pid, "approve", **{**outcome(), "outcome": outcome_})
    if ok:
        assert (status, body["resolution"]["outcome"], body["resolution"]["resolution_round"]) == (
            200,
            outcome_,
            round_,
        )
    else:
        assert status == 422 and body["errors"][0]["field"] == "outcome", body
        assert handling(sessions, pid).state == "awaiting_review"


def test_the_resolution_figures_of_the_forms_are_recorded(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions, content_type="denunciation")
    set_handling(sessions, pid, state="awaiting_review")
    figures = {
        "sanctions_persons": 4,
        "sanctions_officials": 2,
        "referred_cases": 1,
        "referred_persons": 3,
        "referred_officials": 3,
        "individuals_restored": 7,
        "court_judgment": True,
    }
    status, body = act(client, staff, "x1-leader", pid, "approve", **{**outcome(), **figures})
    assert status == 200, body
    assert {k: body["resolution"][k] for k in figures} == figures
    row = handling(sessions, pid)
    assert (row.sanctions_officials, row.referred_persons, row.court_judgment) == (2, 3, True)
    with sessions() as session:
        data = session.scalars(sa.select(PetitionEvent.data).where(PetitionEvent.action == "approve")).one()
    assert data["sanctions_persons"] == 4 and data["court_judgment"] is True


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"sanctions_persons": 1, "sanctions_officials": 2}, "sanctions_officials"),
        ({"referred_officials": 1}, "referred_officials"),
        ({"referred_cases": -1}, "referred_cases"),
        ({"individuals_restored": 1.5}, "individuals_restored"),
        ({"court_judgment": "yes"}, "court_judgment"),
        ({"people_restored": 3}, "people_restored"),
    ],
)
def test_bad_resolution_figures_are_named_and_store_nothing(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session], fields: dict[str, Any], bad: str
) -> None:
    pid = make_petition(sessions, content_type="denunciation")
    set_handling(sessions, pid, state="awaiting_review")
    status, problem = act(client, staff, "x1-leader", pid, "approve", **{**outcome(), **fields})
    assert status == 422 and problem["errors"][0]["field"] == bad, problem
    row = handling(sessions, pid)
    assert (row.state, row.outcome, row.sanctions_persons, row.referred_officials) == ("awaiting_review", None, 0, 0)


@pytest.mark.parametrize(
    "values",
    [
        {"outcome": "upheld", "resolution_round": 1},
        {"outcome": "never"},
        {"sanctions_persons": 1, "sanctions_officials": 2},
        {"referred_persons": 1, "referred_officials": 2},
        {"referred_cases": -1},
    ],
)
def test_the_database_refuses_figures_the_forms_could_not_add_up(
    staff: World, sessions: sessionmaker[Session], values: dict[str, Any]
) -> None:
    pid = make_petition(sessions)
    with pytest.raises(sa.exc.IntegrityError, match="ck_petition_handling"):
        set_handling(sessions, pid, **values)


def test_the_migration_fills_the_history_facts_of_rows_handled_before_it(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    path = Path(__file__).resolve().parents[1] / "migrations" / "versions" / "0005_forms_engine.py"
    spec = importlib.util.spec_from_file_location("migration_0005", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    forwarded, accepted, waiting = (make_petition(sessions) for _ in range(3))
    for pid in (forwarded, accepted):
        act(client, staff, "x1-officer", pid, "classify")
    act(client, staff, "x1-officer", forwarded, "forward")
    act(client, staff, "x1-officer", forwarded, "urge")
    act(client, staff, "x1-officer", forwarded, "urge")
    act(client, staff, "x1-officer", forwarded, "reply_received")
    act(client, staff, "x1-leader", accepted, "accept")
    facts = (
        PetitionHandling.handled_as,
        PetitionHandling.handled_on,
        PetitionHandling.urged_on,
        PetitionHandling.reply_received_on,
    )
    query = sa.select(PetitionHandling.petition_id, *facts).order_by(PetitionHandling.petition_id)
    with sessions() as session:
        recorded = session.execute(query).all()
        session.execute(sa.update(PetitionHandling).values(dict.fromkeys(f.key for f in facts)))
        for statement in migration.BACKFILL:
            session.execute(sa.text(statement))
        assert session.execute(query).all() == recorded
        session.commit()
    assert [tuple(r)[1:] for r in recorded] == [
        ("forwarded", today(), today(), today()),
        ("accepted", today(), None, None),
        (None, None, None, None),
    ]
    assert recorded[2][0] == waiting


def correct(client: FlaskClient, staff: World, pid: int, **changes: Any) -> dict[str, Any]:
    response = client.patch(
        f"/api/v1/petitions/{pid}",
        json={**changes, "reason": "nhập sai"},
        headers=auth(staff.tokens["x1-officer"]),
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_a_corrected_received_date_or_content_type_moves_the_running_deadline(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    typed = today() - dt.timedelta(days=3)
    pid = make_petition(sessions, content_type="denunciation", received_on=typed)
    really = typed - dt.timedelta(days=7)
    correct(client, staff, pid, received_on=really.isoformat())
    assert handling(sessions, pid).due_on == handling_due("denunciation", really)  # handling stage: from receipt

    act(client, staff, "x1-officer", pid, "classify")
    correct(client, staff, pid, received_on=(really - dt.timedelta(days=2)).isoformat())
    assert handling(sessions, pid).due_on == acceptance_due("denunciation", really - dt.timedelta(days=2))

    act(client, staff, "x1-leader", pid, "accept")
    act(client, staff, "x1-leader", pid, "extend", reason="phức tạp")
    accepted = handling(sessions, pid)
    assert accepted.accepted_on is not None
    correct(client, staff, pid, received_on=(really - dt.timedelta(days=5)).isoformat())
    assert handling(sessions, pid).due_on == accepted.due_on, "resolution counts from acceptance, not receipt"

    correct(client, staff, pid, content_type="complaint")  # complaints allow no extension: the one given stays
    assert handling(sessions, pid).due_on == accepted.due_on
    with sessions() as session:
        moves = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "petition.deadline")).all()
        assert [m.details["due_on"] for m in moves] == [
            handling_due("denunciation", really).isoformat(),
            acceptance_due("denunciation", really - dt.timedelta(days=2)).isoformat(),
        ]


def test_a_corrected_content_type_in_resolution_takes_its_own_rule(
    client: FlaskClient, staff: World, sessions: sessionmaker[Session]
) -> None:
    pid = make_petition(sessions, content_type="complaint")
    act(client, staff, "x1-officer", pid, "classify")
    act(client, staff, "x1-leader", pid, "accept", complex_case=True)
    accepted_on = handling(sessions, pid).accepted_on
    assert accepted_on is not None
    assert handling(sessions, pid).due_on == resolution_due("complaint", accepted_on, complex_case=True)  # 45 days
    correct(client, staff, pid, content_type="denunciation")
    assert handling(sessions, pid).due_on == resolution_due("denunciation", accepted_on, complex_case=True)  # 30
