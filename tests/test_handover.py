"""Handover: every open item of an account moves to another in one transaction, each audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth
from records_helpers import act, make_petition
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import Account
from models.audit import AuditEvent
from models.handling import PetitionHandling


@pytest.fixture
def desk(world: World, sessions: sessionmaker[Session]) -> dict[str, list[int]]:
    """x1-leaver holds 3 open items of P01.X1 and 1 resolved one; the others hold nothing."""
    world.account("x1-leaver", "P01.X1", "officer")
    world.account("x1-stayer", "P01.X1", "officer")
    world.account("x2-officer", "P01.X2", "officer")
    world.account("p01-officer", "P01", "officer")
    world.account("x1-viewer", "P01.X1", "viewer")
    with sessions() as session:
        leaver = session.scalar(sa.select(Account.id).where(Account.username == "x1-leaver"))
    open_ids = [make_petition(sessions) for _ in range(3)]
    closed = make_petition(sessions)
    states = dict(zip(open_ids, ("assigned", "under_resolution", "awaiting_review"), strict=True))
    states[closed] = "resolved"
    with sessions() as session:
        for pid, state in states.items():
            session.execute(
                sa.update(PetitionHandling)
                .where(PetitionHandling.petition_id == pid)
                .values(state=state, assignee_id=leaver)
            )
        session.commit()
    return {"open": open_ids, "closed": [closed]}


def assignees(sessions: sessionmaker[Session]) -> dict[int, str | None]:
    with sessions() as session:
        rows = session.execute(
            sa.select(PetitionHandling.petition_id, Account.username).outerjoin(
                Account, Account.id == PetitionHandling.assignee_id
            )
        )
        return {int(pid): name for pid, name in rows}


def handover(client: FlaskClient, world: World, who: str, username: str, to: str) -> tuple[int, dict[str, object]]:
    response = client.post(
        f"/api/v1/accounts/{username}/handover",
        json={"to": to, "reason": "chuyển công tác"},
        headers=auth(world.tokens[who]),
    )
    return response.status_code, response.get_json()


def test_handover_moves_every_open_item_and_audits_each(
    client: FlaskClient, world: World, desk: dict[str, list[int]], sessions: sessionmaker[Session]
) -> None:
    status, body = handover(client, world, "p01-admin", "x1-leaver", "x1-stayer")
    assert (status, body) == (200, {"from": "x1-leaver", "to": "x1-stayer", "moved": 3})
    now = assignees(sessions)
    assert all(now[pid] == "x1-stayer" for pid in desk["open"])
    assert now[desk["closed"][0]] == "x1-leaver"  # a resolved petition keeps who resolved it
    with sessions() as session:
        moved = session.execute(
            sa.select(AuditEvent.subject_id, AuditEvent.details, AuditEvent.reason).where(
                AuditEvent.action == "petition.handover"
            )
        ).all()
    assert sorted(int(s) for s, _, _ in moved) == sorted(desk["open"])
    assert all(d["from"] == "x1-leaver" and d["to"] == "x1-stayer" and r == "chuyển công tác" for _, d, r in moved)
    # The new assignee carries on.
    assert act(client, world, "x1-stayer", desk["open"][0], "start")[0] == 200
    # Nothing left: a second handover moves nothing.
    assert handover(client, world, "p01-admin", "x1-leaver", "x1-stayer")[1]["moved"] == 0


def test_an_account_of_the_province_above_may_take_them(
    client: FlaskClient, world: World, desk: dict[str, list[int]], sessions: sessionmaker[Session]
) -> None:
    assert handover(client, world, "p01-admin", "x1-leaver", "p01-officer")[0] == 200
    assert {assignees(sessions)[pid] for pid in desk["open"]} == {"p01-officer"}


@pytest.mark.parametrize(
    ("who", "to", "status", "words"),
    [
        ("p01-admin", "x2-officer", 422, "does not cover the units"),
        ("p01-admin", "x1-viewer", 422, "is a viewer"),
        ("p01-admin", "x1-leaver", 422, "another account"),
        ("p01-admin", "ghost", 404, "no account"),
        ("p02-admin", "x1-stayer", 403, "outside your unit"),
        ("x1-reporter", "x1-stayer", 403, "only admins"),
        ("x1-admin", "p01-officer", 403, "outside your unit"),
    ],
)
def test_a_refused_handover_moves_nothing(
    client: FlaskClient,
    world: World,
    desk: dict[str, list[int]],
    sessions: sessionmaker[Session],
    who: str,
    to: str,
    status: int,
    words: str,
) -> None:
    before = assignees(sessions)
    got, problem = handover(client, world, who, "x1-leaver", to)
    assert got == status and words in str(problem["detail"]), problem
    assert assignees(sessions) == before
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_handover_to_a_disabled_account_is_refused(
    client: FlaskClient, world: World, desk: dict[str, list[int]], sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        session.execute(sa.update(Account).where(Account.username == "x1-stayer").values(disabled=True))
        session.commit()
    status, problem = handover(client, world, "p01-admin", "x1-leaver", "x1-stayer")
    assert status == 422 and "disabled" in str(problem["detail"])


def test_an_item_the_target_cannot_cover_blocks_the_whole_handover(
    client: FlaskClient, world: World, desk: dict[str, list[int]], sessions: sessionmaker[Session]
) -> None:
    # One more open item, of another commune, held by the same account (assigned from above).
    other = make_petition(sessions, "P01.X2")
    with sessions() as session:
        leaver = session.scalar(sa.select(Account.id).where(Account.username == "x1-leaver"))
        session.execute(
            sa.update(PetitionHandling)
            .where(PetitionHandling.petition_id == other)
            .values(state="assigned", assignee_id=leaver)
        )
        session.commit()
    before = assignees(sessions)
    status, problem = handover(client, world, "p01-admin", "x1-leaver", "x1-stayer")
    assert status == 422 and str(other) in str(problem["detail"])
    assert assignees(sessions) == before
    assert handover(client, world, "p01-admin", "x1-leaver", "p01-officer")[1]["moved"] == 4
