"""A web worker loads and connects before its first request (web.warm_up, gunicorn's post_worker_init)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from helpers import World, free_port, gunicorn, running, service_env, submission, submit, wait_until
from structlog.testing import capture_logs

from models.direct_connections import NO_SEQUENTIAL_SCANS
from web import warm_up

_IDLE_AFTER = sa.text(
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND state = 'idle' AND query = :statement"
)


@contextmanager
def database_work(engine: sa.Engine) -> Iterator[dict[str, list[str]]]:
    """The connections an app's engine opens and the statements it runs, while inside."""
    seen: dict[str, list[str]] = {"connections": [], "statements": []}

    def connected(*_: object) -> None:
        seen["connections"].append("new")

    def executed(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen["statements"].append(statement)

    sa.event.listen(engine, "connect", connected)
    sa.event.listen(engine, "before_cursor_execute", executed)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "connect", connected)
        sa.event.remove(engine, "before_cursor_execute", executed)


def first_report(app: Flask, world: World, warm: bool) -> dict[str, list[str]]:
    """What the app's first report makes its engine do, with or without the warm-up before it."""
    services = app.extensions["kntc"]
    services.directory.forget()
    services.engine.dispose()  # also closes the intake's own connections
    if warm:
        warm_up(app)
    with database_work(services.engine) as seen:
        status, body, _ = submit(app.test_client(), world.tokens["x1-reporter"], submission())
    assert status == 202, body
    return seen


def test_a_warmed_up_worker_neither_connects_nor_loads_units_for_its_first_report(
    app: Flask, world: World, make_app: Callable[..., Flask]
) -> None:
    cold = first_report(app, world, warm=False)
    assert cold["connections"]  # the intake's own, at least
    assert any("FROM units" in s for s in cold["statements"])

    warm = first_report(make_app(), world, warm=True)

    assert warm["connections"] == [], warm["statements"]
    assert not any("FROM units" in s for s in warm["statements"])


def test_a_database_down_at_start_is_logged_and_the_worker_lives(make_app: Callable[..., Flask]) -> None:
    app = make_app(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")

    with capture_logs() as logs:
        warm_up(app)

    assert [entry["event"] for entry in logs] == ["warm-up failed; the first request connects"]


@pytest.mark.slow
def test_gunicorn_workers_connect_before_any_request(world: World, database: sa.Engine, tmp_path: Path) -> None:
    def intake_connections() -> int:
        with database.connect() as conn:
            return int(conn.scalar(_IDLE_AFTER, {"statement": NO_SEQUENTIAL_SCANS}) or 0)

    before = intake_connections()
    env = service_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom-web"))
    with running(gunicorn(free_port(), 2), env, tmp_path / "gunicorn.log") as proc:
        # No request is sent: each worker's intake connection is opened by the warm-up.
        wait_until(lambda: intake_connections() == before + 2, 60, "both workers opened their connection", proc)
