"""Account administration over HTTP, delegated down the unit tree; every change audited."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth
from records_helpers import make_petition
from sqlalchemy.orm import Session, sessionmaker

from models.accounts import Account
from models.audit import AuditEvent
from models.handling import PetitionHandling


def post(client: FlaskClient, world: World, who: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(path, json=body, headers=auth(world.tokens[who]))
    return response.status_code, response.get_json(force=True)


def patch(client: FlaskClient, world: World, who: str, username: str, body: Any) -> tuple[int, dict[str, Any]]:
    response = client.patch(f"/api/v1/accounts/{username}", json=body, headers=auth(world.tokens[who]))
    return response.status_code, response.get_json(force=True)


def create(client: FlaskClient, world: World, who: str, **body: Any) -> tuple[int, dict[str, Any]]:
    return post(client, world, who, "/api/v1/accounts", body)


def audit_actions(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(
            sa.select(AuditEvent.action, AuditEvent.subject_id)
            .where(AuditEvent.subject_kind == "account")
            .order_by(AuditEvent.id)
        )
        return [(a, s) for a, s in rows]


def test_a_province_admin_creates_a_commune_admin_who_logs_in(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    status, body = create(client, world, "p01-admin", username="x2-it", unit="P01.X2", role="admin")
    assert status == 201, body
    assert body["unit"] == "P01.X2" and body["role"] == "admin" and body["disabled"] is False
    password = body["password"]
    assert len(password) >= 10
    login = client.post("/api/v1/auth/login", json={"username": "x2-it", "password": password})
    assert login.status_code == 200
    token = login.get_json()["token"]
    # The commune's own admin now administers the commune's accounts.
    response = client.post(
        "/api/v1/accounts",
        json={"username": "x2-clerk", "unit": "P01.X2", "role": "officer", "password": "mật-khẩu-đủ-dài"},
        headers=auth(token),
    )
    assert response.status_code == 201 and "password" not in response.get_json()
    assert (
        client.post("/api/v1/auth/login", json={"username": "x2-clerk", "password": "mật-khẩu-đủ-dài"}).status_code
        == 200
    )
    assert audit_actions(sessions) == [("account.create", "x2-it"), ("account.create", "x2-clerk")]


@pytest.mark.parametrize(
    ("who", "unit", "role", "words"),
    [
        ("p01-admin", "P02.X1", "officer", "outside your unit"),
        ("x1-admin", "P01", "viewer", "outside your unit"),
        ("x1-admin", "P01.X1", "admin", "appoint admins of the units below"),
        ("p01-admin", "P01", "admin", "appoint admins of the units below"),
        ("p01-reporter", "P01.X1", "viewer", "only admins"),
        ("viewer", "P01.X1", "viewer", "only admins"),
    ],
)
def test_nobody_grants_outside_their_subtree_or_above_their_own(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], who: str, unit: str, role: str, words: str
) -> None:
    status, problem = create(client, world, who, username="new-one", unit=unit, role=role)
    assert status == 403 and words in problem["detail"], problem
    with sessions() as session:
        assert session.scalar(sa.select(Account.id).where(Account.username == "new-one")) is None
    assert audit_actions(sessions) == []


def test_a_leader_cannot_grant_at_all_and_roles_rank(client: FlaskClient, world: World) -> None:
    world.account("p01-leader", "P01", "leader")
    status, _ = create(client, world, "p01-leader", username="n1", unit="P01.X1", role="viewer")
    assert status == 403
    from models.account_admin import RANK
    from models.accounts import Role

    assert sorted(Role, key=RANK.__getitem__) == [Role.VIEWER, Role.REPORTER, Role.OFFICER, Role.LEADER, Role.ADMIN]


def test_the_root_admin_appoints_a_peer(client: FlaskClient, world: World) -> None:
    status, body = create(client, world, "admin", username="tt-admin-2", unit="VN", role="admin")
    assert status == 201, body


def test_bad_bodies_are_named(client: FlaskClient, world: World) -> None:
    status, problem = create(client, world, "p01-admin", username="n1", unit="P01.X1", role="king")
    assert status == 422 and problem["errors"][0]["field"] == "role"
    status, problem = create(client, world, "p01-admin", username="n1", unit="NOPE", role="viewer")
    assert status == 422 and problem["errors"][0]["field"] == "unit"
    status, problem = create(client, world, "p01-admin", username="n1", unit="P01.X1", role="viewer", password="short")
    assert status == 422 and problem["errors"][0]["field"] == "password"
    status, problem = create(client, world, "p01-admin", username="bad name", unit="P01.X1", role="viewer")
    assert status == 422 and problem["errors"][0]["field"] == "username"
    status, problem = create(client, world, "p01-admin", username="x1-reporter", unit="P01.X1", role="viewer")
    assert status == 409 and "exists already" in problem["detail"]
    status, problem = patch(client, world, "p01-admin", "x1-reporter", {})
    assert status == 422


def test_list_and_show_accounts_of_the_subtree(client: FlaskClient, world: World) -> None:
    listed = client.get("/api/v1/accounts?unit=P01.X1", headers=auth(world.tokens["p01-admin"])).get_json()
    assert [a["username"] for a in listed["accounts"]] == ["x1-admin", "x1-reporter"]
    mine = client.get("/api/v1/accounts", headers=auth(world.tokens["p01-admin"])).get_json()
    assert {a["username"] for a in mine["accounts"]} == {"p01-admin", "p01-reporter", "x1-admin", "x1-reporter"}
    assert client.get("/api/v1/accounts?unit=P02", headers=auth(world.tokens["p01-admin"])).status_code == 403
    assert client.get("/api/v1/accounts", headers=auth(world.tokens["p01-reporter"])).status_code == 403
    shown = client.get("/api/v1/accounts/x1-reporter", headers=auth(world.tokens["p01-admin"])).get_json()
    assert shown["unit"] == "P01.X1" and shown["role"] == "reporter" and shown["open_items"] == 0
    assert client.get("/api/v1/accounts/p02-admin", headers=auth(world.tokens["p01-admin"])).status_code == 403
    assert client.get("/api/v1/accounts/ghost", headers=auth(world.tokens["p01-admin"])).status_code == 404


def test_grant_a_role_within_the_rules(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    status, body = patch(client, world, "p01-admin", "x1-reporter", {"role": "leader", "reason": "bổ nhiệm"})
    assert (status, body["role"]) == (200, "leader")
    status, body = patch(client, world, "p01-admin", "x1-reporter", {"role": "admin"})
    assert (status, body["role"]) == (200, "admin")
    # x1-admin may not touch the commune's other admin (only admins above it may).
    assert patch(client, world, "x1-admin", "x1-reporter", {"role": "viewer"})[0] == 403
    assert patch(client, world, "p01-admin", "p02-admin", {"role": "viewer"})[0] == 403
    status, problem = patch(client, world, "p01-admin", "p01-admin", {"role": "viewer"})
    assert status == 403 and "your own role" in problem["detail"]
    with sessions() as session:
        grants = session.scalars(
            sa.select(AuditEvent.details).where(AuditEvent.action == "account.grant").order_by(AuditEvent.id)
        ).all()
    assert grants == [{"from": "reporter", "to": "leader"}, {"from": "leader", "to": "admin"}]


def test_a_disabled_account_cannot_log_in_nor_use_its_token(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    token = world.tokens["x1-reporter"]
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 200  # cached now
    status, body = patch(client, world, "p01-admin", "x1-reporter", {"disabled": True, "reason": "chuyển công tác"})
    assert (status, body["disabled"]) == (200, True)
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 401
    status, body = patch(client, world, "p01-admin", "x1-reporter", {"disabled": False})
    assert (status, body["disabled"]) == (200, False)
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 200
    assert [a for a, _ in audit_actions(sessions)] == ["account.disable", "account.enable"]


def test_an_account_disabled_by_another_process_stops_here_within_a_second(
    client: FlaskClient, world: World, sessions: sessionmaker[Session], redis_client: Any
) -> None:
    """What another gunicorn process does when it disables an account: write it, then move
    the shared principal epoch. This process still holds the token cached, and drops it."""
    import time

    from web.auth import EPOCH_CHECK_SECONDS, EPOCH_KEY

    token = world.tokens["x1-reporter"]
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 200  # cached now
    with sessions() as session:
        session.execute(sa.update(Account).where(Account.username == "x1-reporter").values(disabled=True))
        session.commit()
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 200, "cached: not seen yet"
    redis_client.incr(EPOCH_KEY)
    time.sleep(EPOCH_CHECK_SECONDS + 0.1)
    assert client.get("/api/v1/units/P01.X1", headers=auth(token)).status_code == 401


def test_disabling_an_account_with_open_items_needs_a_handover(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    world.account("x1-officer", "P01.X1", "officer")
    world.account("x1-officer2", "P01.X1", "officer")
    with sessions() as session:
        officer = session.scalar(sa.select(Account.id).where(Account.username == "x1-officer"))
    pids = [make_petition(sessions) for _ in range(3)]
    with sessions() as session:
        session.execute(
            sa.update(PetitionHandling)
            .where(PetitionHandling.petition_id.in_(pids))
            .values(assignee_id=officer, state="under_resolution")
        )
        session.commit()
    status, problem = patch(client, world, "p01-admin", "x1-officer", {"disabled": True})
    assert status == 409 and "3 open item" in problem["detail"]
    assert problem["errors"][0]["field"] == "handover_to"
    status, body = patch(client, world, "p01-admin", "x1-officer", {"disabled": True, "handover_to": "x1-officer2"})
    assert (status, body["disabled"], body["open_items"]) == (200, True, 0)
    shown = client.get("/api/v1/accounts/x1-officer2", headers=auth(world.tokens["p01-admin"])).get_json()
    assert shown["open_items"] == 3


def test_password_reset_generated_or_given_ends_login_sessions(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    status, body = create(client, world, "p01-admin", username="x1-clerk", unit="P01.X1", role="officer")
    first = body["password"]
    session_token = client.post("/api/v1/auth/login", json={"username": "x1-clerk", "password": first}).get_json()[
        "token"
    ]
    status, body = post(client, world, "p01-admin", "/api/v1/accounts/x1-clerk/password", {})
    assert status == 200 and body["password"] != first
    assert client.post("/api/v1/auth/login", json={"username": "x1-clerk", "password": first}).status_code == 401
    assert (
        client.post("/api/v1/auth/login", json={"username": "x1-clerk", "password": body["password"]}).status_code
        == 200
    )
    assert client.get("/api/v1/units/P01", headers=auth(session_token)).status_code == 401
    status, body = post(
        client, world, "p01-admin", "/api/v1/accounts/x1-clerk/password", {"password": "một-mật-khẩu-mới"}
    )
    assert status == 200 and "password" not in body
    assert (
        client.post("/api/v1/auth/login", json={"username": "x1-clerk", "password": "một-mật-khẩu-mới"}).status_code
        == 200
    )
    assert post(client, world, "p02-admin", "/api/v1/accounts/x1-clerk/password", {})[0] == 403
    assert post(client, world, "x1-reporter", "/api/v1/accounts/x1-clerk/password", {})[0] == 403
    assert [a for a, _ in audit_actions(sessions)] == [
        "account.create",
        "account.password_reset",
        "account.password_reset",
    ]
