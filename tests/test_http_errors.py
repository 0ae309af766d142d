"""Every refusal is a problem+json naming what is wrong, and stores nothing."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import World, auth, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine
from models.submissions import IdempotencyRecord, OutboxEntry, Submission


def stored(sessions: sessionmaker[Session]) -> list[int]:
    """Rows of submissions, outbox entries and idempotency records."""
    with sessions() as session:
        return [
            int(session.scalar(sa.select(sa.func.count()).select_from(m)) or 0)
            for m in (Submission, OutboxEntry, IdempotencyRecord)
        ]


def assert_problem(status: int, body: dict[str, Any], headers: dict[str, str], expected: int) -> None:
    assert status == expected, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == expected
    assert body["detail"]


def fields(body: dict[str, Any]) -> set[str]:
    return {e.get("field") or e.get("rule") for e in body.get("errors", [])}


@pytest.fixture
def reporter(world: World) -> str:
    return world.tokens["x1-reporter"]


def test_no_token_or_a_bad_one_is_401(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = client.post("/api/v1/submissions", json=submission(), headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
    assert stored(sessions) == [0, 0, 0]


def test_unit_outside_the_callers_subtree_is_403(
    client: FlaskClient, world: World, reporter: str, sessions: sessionmaker[Session]
) -> None:
    status, body, headers = submit(client, reporter, submission(unit="P02.X1"), key="k-403")
    assert_problem(status, body, headers, 403)
    assert "P02.X1" in body["detail"]
    # A sibling and the parent are outside too: the subtree starts at the account's unit.
    assert submit(client, reporter, submission(unit="P01.X2"))[0] == 403
    assert submit(client, reporter, submission(unit="P01"))[0] == 403
    assert stored(sessions) == [0, 0, 0]


def test_role_viewer_may_not_submit(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    status, body, headers = submit(client, world.tokens["viewer"], submission())
    assert_problem(status, body, headers, 403)
    assert "viewer" in body["detail"]
    assert stored(sessions) == [0, 0, 0]


def test_malformed_json_is_400(client: FlaskClient, reporter: str, sessions: sessionmaker[Session]) -> None:
    for raw in (b"{not json", b'{"period": "2026-Q4",', b"\xff\xfe{}"):
        status, body, headers = submit(client, reporter, raw)
        assert_problem(status, body, headers, 400)
    assert stored(sessions) == [0, 0, 0]


def test_too_large_body_is_413(make_app: Any, world: World, sessions: sessionmaker[Session]) -> None:
    app: Flask = make_app(max_body_bytes=2_000)
    world.app = app
    big = submission(note="x" * 3_000)
    status, body, headers = submit(app.test_client(), world.tokens["x1-reporter"], big)
    assert_problem(status, body, headers, 413)
    assert stored(sessions) == [0, 0, 0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"period": "2099-Q9"}, "period"),
        ({"unit": "NOPE"}, "unit"),
        ({"form": "99/XYZ"}, "form"),
        ({"figures": {"1": "12"}}, "figures.1"),
        ({"figures": {"4": -1}}, "figures.4"),
        ({"figures": {"4": True}}, "figures.4"),
        ({"figures": {"4": 1e300}}, "figures.4"),
        ({"figures": {"4": 10**20}}, "figures.4"),
        ({"figures": {"4": None}}, "figures.4"),
        ({"figures": {"99": 1}}, "figures.99"),
        ({"figures": {"30": 1}}, "figures.30"),
        ({"figures": {"one": 1}}, "figures"),
        ({"figures": {"1": 5, "01": 6}}, "figures"),
        ({"figures": [1, 2]}, "figures"),
        ({"extra": 1}, "extra"),
        ({"period": None}, "period"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    client: FlaskClient, reporter: str, sessions: sessionmaker[Session], change: dict[str, Any], field: str
) -> None:
    status, body, headers = submit(client, reporter, {**submission(), **change}, key="k-422")
    assert_problem(status, body, headers, 422)
    assert field in fields(body), body
    assert stored(sessions) == [0, 0, 0]


def test_a_text_column_says_to_use_the_note(client: FlaskClient, reporter: str) -> None:
    _, body, _ = submit(client, reporter, submission(figures={"1": 1, "4": 1, "30": 5}))
    [error] = body["errors"]
    assert error["field"] == "figures.30"
    assert "note" in error["message"]


def test_nan_and_infinity_are_not_figures(client: FlaskClient, reporter: str, sessions: sessionmaker[Session]) -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        raw = '{"period": "2026-Q4", "unit": "P01.X1", "form": "01/TCD", "figures": {"4": LITERAL}}'.replace(
            "LITERAL", literal
        )
        status, body, headers = submit(client, reporter, raw.encode())
        assert_problem(status, body, headers, 422)
        assert fields(body) == {"figures.4"}
    assert stored(sessions) == [0, 0, 0]


def test_body_that_is_not_an_object_is_422(client: FlaskClient, reporter: str, sessions: sessionmaker[Session]) -> None:
    for raw in (b"[1, 2]", b"null", b'"text"', b"{}"):
        status, body, headers = submit(client, reporter, raw)
        assert_problem(status, body, headers, 422)
    assert stored(sessions) == [0, 0, 0]


def test_unit_not_open_during_the_period_is_422(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    world.units("code,name,parent_code,level,closed_on\nP01.X9,UBND xã Cũ,P01,commune,2020-01-01\n")
    status, body, headers = submit(client, world.tokens["p01-reporter"], submission(unit="P01.X9"))
    assert_problem(status, body, headers, 422)
    assert fields(body) == {"unit"}
    assert stored(sessions) == [0, 0, 0]


def test_a_form_the_period_does_not_collect_is_422(client: FlaskClient, world: World) -> None:
    world.period("2026-Q4-2a", forms=["2a"])
    status, body, _ = submit(client, world.tokens["x1-reporter"], submission(period="2026-Q4-2a"))
    assert status == 422
    assert fields(body) == {"form"}
    assert "2a" in body["errors"][0]["message"]


def test_bad_idempotency_keys_are_422(client: FlaskClient, reporter: str, sessions: sessionmaker[Session]) -> None:
    for key in ("", "   ", "k" * 256):
        status, body, headers = submit(client, reporter, submission(), key=key)
        assert_problem(status, body, headers, 422)
        assert fields(body) == {"Idempotency-Key"}
    assert submit(client, reporter, submission(), key="k" * 255)[0] == 202
    assert stored(sessions) == [1, 1, 1]


def test_unknown_routes_and_methods_are_problems(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    wrong_method = client.delete("/api/v1/submissions")
    assert (missing.status_code, wrong_method.status_code) == (404, 405)
    assert missing.mimetype == wrong_method.mimetype == "application/problem+json"


def test_login_gives_a_working_token_and_refuses_bad_passwords(
    client: FlaskClient, world: World, sessions: sessionmaker[Session]
) -> None:
    from models.accounts import Account

    with sessions() as session:
        account = session.scalar(sa.select(Account).where(Account.username == "x1-reporter"))
        assert account is not None
        account.set_password("mật khẩu đúng")
        session.commit()

    wrong = client.post("/api/v1/auth/login", json={"username": "x1-reporter", "password": "sai"})
    nobody = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "sai"})
    empty = client.post("/api/v1/auth/login", json={})
    good = client.post("/api/v1/auth/login", json={"username": "x1-reporter", "password": "mật khẩu đúng"})

    assert (wrong.status_code, nobody.status_code, empty.status_code, good.status_code) == (401, 401, 422, 200)
    assert wrong.get_json()["detail"] == nobody.get_json()["detail"]  # no hint which one was wrong
    token = good.get_json()["token"]
    assert good.get_json()["expires_at"]
    assert submit(client, token, submission())[0] == 202


def test_disabled_account_token_is_401(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    from models.accounts import Account

    with sessions() as session:
        session.execute(sa.update(Account).where(Account.username == "x1-reporter").values(disabled=True))
        session.commit()
    assert submit(client, world.tokens["x1-reporter"], submission())[0] == 401


def test_units_endpoint(client: FlaskClient, world: World) -> None:
    response = client.get("/api/v1/units/P01", headers=auth(world.tokens["x1-reporter"]))
    assert response.status_code == 200
    assert response.get_json() == {
        "code": "P01",
        "name": "UBND tỉnh Tây Ninh",
        "level": "province",
        "parent": "VN",
        "ancestors": ["VN"],
        "children": ["P01.X1", "P01.X2"],
        "opened_on": None,
        "closed_on": None,
    }
    assert client.get("/api/v1/units/NOPE", headers=auth(world.tokens["admin"])).status_code == 404
    assert client.get("/api/v1/units/P01").status_code == 401


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ready"}


def test_readiness_is_503_when_redis_does_not_answer(make_app: Any) -> None:
    app: Flask = make_app(redis_url="redis://127.0.0.1:1/0")
    # The app's broker is the session's (one per process); readiness pings the app's own client.
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "Redis" in response.get_json()["detail"]


@contextmanager
def silent_database() -> Iterator[str]:
    """A database URL whose host completes the TCP handshake and then never answers (a
    failover in progress, a host dropping packets): only a connect timeout ends the wait."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{server.getsockname()[1]}/kntc"


def test_a_database_that_never_answers_is_a_503_not_a_hung_request(make_app: Any) -> None:
    with silent_database() as url:
        app: Flask = make_app(database_url=url + "?connect_timeout=1")  # the URL's own wins
        response = app.test_client().get("/api/v1/units/VN", headers=auth("some-token"))
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "2"


@pytest.mark.slow
def test_connecting_gives_up_by_default_within_gunicorns_worker_timeout() -> None:
    raised: list[BaseException] = []

    def connect(engine: sa.Engine) -> None:
        try:
            engine.connect().close()
        except BaseException as error:  # whatever it is, the assertions below name it
            raised.append(error)

    with silent_database() as url:
        engine = make_engine(url)
        attempt = threading.Thread(target=connect, args=(engine,), daemon=True)
        attempt.start()
        attempt.join(timeout=25)  # gunicorn kills a worker silent for 30 s
        engine.dispose()
    assert not attempt.is_alive(), "still connecting after 25 s"
    assert len(raised) == 1 and isinstance(raised[0], sa.exc.OperationalError), raised
    assert "timeout" in str(raised[0])
