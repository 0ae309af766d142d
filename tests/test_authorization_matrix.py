"""Role x endpoint x position in the tree, for every /api endpoint of records.

The target of every request is unit P01.X1 (a commune) or a record or account of it.
Callers hold each of the five roles at four positions: the commune itself ("same"),
its province ("above"), a sibling commune ("sibling") and another province ("outside").
Outside the subtree every role gets 403; inside, exactly the roles the rules name may act.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import World, auth
from record_factories import petition, reception
from sqlalchemy.orm import Session, sessionmaker

from models import Base

ROLES = ("admin", "leader", "officer", "reporter", "viewer")
POSITIONS = {"same": "P01.X1", "above": "P01", "sibling": "P01.X2", "outside": "P02"}
INSIDE = frozenset({"same", "above"})
STAFF = frozenset({"admin", "leader", "officer"})


def caller(position: str, role: str) -> str:
    return f"m-{position}-{role}"


@dataclass
class Scene:
    world: World
    ids: dict[str, int]

    def token(self, name: str) -> str:
        return self.world.tokens[name]


def build_scene(world: World, client: FlaskClient) -> Scene:
    """The usual world plus a caller per role and position, and records of P01.X1."""
    world.units()
    world.account("admin", "VN", "admin")
    for position, unit in POSITIONS.items():
        for role in ROLES:
            world.account(caller(position, role), unit, role)
    world.account("m-target", "P01.X1", "reporter")
    world.account("m-to", "P01.X1", "officer")
    root = world.tokens["admin"]

    def made(path: str, body: dict[str, Any]) -> int:
        response = client.post(path, json=body, headers=auth(root))
        assert response.status_code == 201, response.get_json()
        return int(response.get_json()["id"])

    ids = {
        "session": made(
            "/api/v1/reception-sessions",
            {"unit": "P01.X1", "held_on": "2026-10-01", "kind": "head", "host": "Chủ tịch UBND xã"},
        ),
        "draft_session": made(
            "/api/v1/reception-sessions",
            {"unit": "P01.X1", "held_on": "2026-10-15", "kind": "head", "host": "Chủ tịch", "status": "draft"},
        ),
        "petition": made("/api/v1/petitions", petition()),
        "draft_petition": made("/api/v1/petitions", petition(status="draft")),
        "reception": made("/api/v1/receptions", reception()),
        "draft_reception": made("/api/v1/receptions", reception(status="draft")),
    }
    world.forget()
    return Scene(world, ids)


def wipe(database: sa.Engine, redis_client: redis.Redis) -> None:
    """What conftest does before each test: empty tables, Redis db and caches."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with database.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    redis_client.flushdb()


@pytest.fixture
def fresh_scene(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session], database: sa.Engine, redis_client: redis.Redis
) -> Callable[[], Scene]:
    def make() -> Scene:
        wipe(database, redis_client)
        world = World(sessions, app)
        world.forget()
        return build_scene(world, client)

    return make


@pytest.fixture
def scene(fresh_scene: Callable[[], Scene]) -> Scene:
    return fresh_scene()


# Who may, inside the subtree (outside: nobody).
def everyone(role: str, position: str) -> bool:
    return True


def staff(role: str, position: str) -> bool:
    return role in STAFF


def admins(role: str, position: str) -> bool:
    return role == "admin"


def heads(role: str, position: str) -> bool:
    return role in {"admin", "leader"}


def province_admins(role: str, position: str) -> bool:
    # Drafts are deleted by admins of a province (or above), not of the commune itself.
    return role == "admin" and position == "above"


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: str  # {petition}, {reception}, ... are filled from the scene
    body: Callable[[], Any] | None
    may: Callable[[str, str], bool]


ENDPOINTS = [
    # Records (receptions, sessions, petitions, drafts, usage).
    Endpoint("create reception", "POST", "/api/v1/receptions", reception, staff),
    Endpoint("list receptions", "GET", "/api/v1/receptions?unit=P01.X1", None, everyone),
    Endpoint("show reception", "GET", "/api/v1/receptions/{reception}", None, everyone),
    Endpoint("change reception", "PATCH", "/api/v1/receptions/{draft_reception}", lambda: {"people": 2}, staff),
    Endpoint("delete draft reception", "DELETE", "/api/v1/receptions/{draft_reception}", None, province_admins),
    Endpoint(
        "create session",
        "POST",
        "/api/v1/reception-sessions",
        lambda: {"unit": "P01.X1", "held_on": "2026-10-08", "kind": "delegated", "host": "Phó chủ tịch"},
        staff,
    ),
    Endpoint("list sessions", "GET", "/api/v1/reception-sessions?unit=P01.X1", None, everyone),
    Endpoint("show session", "GET", "/api/v1/reception-sessions/{session}", None, everyone),
    Endpoint(
        "change session", "PATCH", "/api/v1/reception-sessions/{draft_session}", lambda: {"note": "Bổ sung"}, staff
    ),
    Endpoint("delete draft session", "DELETE", "/api/v1/reception-sessions/{draft_session}", None, province_admins),
    Endpoint("create petition", "POST", "/api/v1/petitions", petition, staff),
    Endpoint("list petitions", "GET", "/api/v1/petitions?unit=P01.X1", None, everyone),
    Endpoint("list overdue petitions", "GET", "/api/v1/petitions?unit=P01.X1&overdue=true", None, everyone),
    Endpoint("show petition", "GET", "/api/v1/petitions/{petition}", None, everyone),
    Endpoint("change petition", "PATCH", "/api/v1/petitions/{draft_petition}", lambda: {"summary": "Bổ sung"}, staff),
    Endpoint("delete draft petition", "DELETE", "/api/v1/petitions/{draft_petition}", None, province_admins),
    Endpoint("duplicates", "GET", "/api/v1/petitions/{petition}/duplicates", None, everyone),
    Endpoint("duplicate of", "POST", "/api/v1/petitions/{petition}/duplicate-of", lambda: {"of": None}, staff),
    Endpoint(
        "delete drafts in bulk",
        "POST",
        "/api/v1/drafts/delete",
        lambda: {"unit": "P01.X1", "from": "2026-01-01", "to": "2026-12-31"},
        province_admins,
    ),
    Endpoint("usage", "GET", "/api/v1/usage?unit=P01.X1&since=2026-01-01", None, heads),
    # The workflow.
    Endpoint("act on petition", "POST", "/api/v1/petitions/{petition}/actions", lambda: {"action": "classify"}, staff),
    Endpoint("petition handling", "GET", "/api/v1/petitions/{petition}/handling", None, everyone),
    Endpoint("petition history", "GET", "/api/v1/petitions/{petition}/history", None, everyone),
    # Accounts.
    Endpoint(
        "create account",
        "POST",
        "/api/v1/accounts",
        lambda: {"username": "m-new", "unit": "P01.X1", "role": "viewer"},
        admins,
    ),
    Endpoint("list accounts", "GET", "/api/v1/accounts?unit=P01.X1", None, admins),
    Endpoint("show account", "GET", "/api/v1/accounts/m-target", None, admins),
    Endpoint("grant role", "PATCH", "/api/v1/accounts/m-target", lambda: {"role": "viewer"}, admins),
    Endpoint("reset password", "POST", "/api/v1/accounts/m-target/password", lambda: {}, admins),
    Endpoint("handover", "POST", "/api/v1/accounts/m-target/handover", lambda: {"to": "m-to"}, admins),
]


def _request(client: FlaskClient, scene: Scene, endpoint: Endpoint, who: str) -> Any:
    path = endpoint.path.format(**scene.ids)
    body = endpoint.body() if endpoint.body else None
    return client.open(path, method=endpoint.method, json=body, headers=auth(scene.token(who)))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_role_and_subtree(client: FlaskClient, fresh_scene: Callable[[], Scene], endpoint: Endpoint) -> None:
    """Every role at every position: 403 unless inside the subtree with a role the rule names.

    Refused requests change nothing, so they share one scene; an allowed request that
    changes something is followed by a fresh scene for the next caller.
    """
    scene = fresh_scene()
    wrong = []
    for position in POSITIONS:
        for role in ROLES:
            response = _request(client, scene, endpoint, caller(position, role))
            allowed = position in INSIDE and endpoint.may(role, position)
            ok = 200 <= response.status_code < 300 if allowed else response.status_code == 403
            if not allowed and ok:
                ok = response.headers["Content-Type"].startswith("application/problem+json")
            if not ok:
                wrong.append((role, position, "allowed" if allowed else "refused", response.status_code))
            if allowed and endpoint.method != "GET":
                scene = fresh_scene()
    assert not wrong, f"{endpoint.name}: (role, position, expected, got) {wrong}"


def test_every_records_route_is_in_the_matrix(app: Any) -> None:
    covered = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    prefixes = ("/api/v1/receptions", "/api/v1/reception-sessions", "/api/v1/petitions", "/api/v1/drafts")
    prefixes += ("/api/v1/usage", "/api/v1/accounts")
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefixes):
            continue
        shape = rule.rule.replace("<int:petition_id>", "{}").replace("<int:reception_id>", "{}")
        shape = shape.replace("<int:session_id>", "{}").replace("<username>", "{}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not any(m == method and _shape(p) == shape for m, p in covered):
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"endpoints missing from the authorization matrix: {missing}"


def _shape(path: str) -> str:
    import re

    return re.sub(r"\{[a-z_]+\}", "{}", path).replace("/m-target", "/{}")


def test_a_unit_sees_only_its_own_and_its_subtrees_petitions(client: FlaskClient, scene: Scene) -> None:
    def listed(who: str, query: str = "") -> set[int]:
        response = client.get(f"/api/v1/petitions{query}", headers=auth(scene.token(who)))
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    own = {scene.ids["petition"], scene.ids["draft_petition"]}
    assert own <= listed(caller("same", "viewer"))
    assert own <= listed(caller("above", "viewer"))
    assert own <= listed("admin")
    assert not own & listed(caller("sibling", "admin"))
    assert not own & listed(caller("outside", "admin"))
    assert not own & listed(caller("sibling", "admin"), "?unit=P01.X2")
    # A petition of the sibling commune is invisible to P01.X1, visible to the province.
    response = client.post("/api/v1/petitions", json=petition("P01.X2"), headers=auth(scene.token("admin")))
    sibling = response.get_json()["id"]
    assert sibling not in listed(caller("same", "admin"))
    assert sibling in listed(caller("above", "viewer"))
    for who in (caller("same", "admin"), caller("outside", "viewer")):
        assert client.get(f"/api/v1/petitions/{sibling}", headers=auth(scene.token(who))).status_code == 403


def test_deadline_rules_change_only_by_root_admins(client: FlaskClient, scene: Scene) -> None:
    import json as jsonlib

    from models.deadlines import RULES_DIR

    body = jsonlib.loads((RULES_DIR / "2026-07-01.json").read_text(encoding="utf-8"))
    body.update(version="2027.1", effective_from="2027-01-01")
    for position in POSITIONS:
        for role in ROLES:
            who = scene.token(caller(position, role))
            assert client.post("/api/v1/deadline-rules", json=body, headers=auth(who)).status_code == 403
            assert client.get("/api/v1/deadline-rules", headers=auth(who)).status_code == 200
    assert client.post("/api/v1/deadline-rules", json=body, headers=auth(scene.token("admin"))).status_code == 201


def test_catalogue_changes_only_by_root_admins(client: FlaskClient, scene: Scene) -> None:
    body = {
        "version": "2027.1",
        "effective_from": "2027-01-01",
        "content_types": [{"code": "complaint", "vi": "Khiếu nại", "en": "Complaint"}],
        "fields": [{"code": "land", "vi": "Đất đai", "en": "Land"}],
    }
    for position in POSITIONS:
        for role in ROLES:
            response = client.post("/api/v1/catalogue", json=body, headers=auth(scene.token(caller(position, role))))
            assert response.status_code == 403, (position, role)
        response = client.get("/api/v1/catalogue", headers=auth(scene.token(caller(position, "viewer"))))
        assert response.status_code == 200
