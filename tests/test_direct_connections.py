"""The intake's and the workers' own connections: cut, they come back; disposed or their
thread stopped, they close.

The intake stores a report in one statement, and a worker decides it in two, on a psycopg
connection of the thread's own (models/direct_connections.py), outside SQLAlchemy's pool,
so the pool's recovery from a database restart does not cover them: these tests cut them
for real.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from helpers import World, count, load_submission, submission, submit
from sqlalchemy.orm import Session, sessionmaker

from models.direct_connections import DirectConnections
from models.submissions import OutboxEntry, Submission

_BACKENDS = sa.text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND query LIKE :last_statement"
)


def backends(database: sa.Engine, last_statement: str) -> list[int]:
    """The connections whose last statement (an idle one's) is like this."""
    with database.connect() as conn:
        return list(conn.scalars(_BACKENDS, {"last_statement": last_statement}))


def intake_backends(database: sa.Engine) -> list[int]:
    return backends(database, "WITH%INSERT INTO submissions%")


def worker_backends(database: sa.Engine) -> list[int]:
    return backends(database, "%UPDATE submissions SET status%")  # the decision


def _connected(database: sa.Engine) -> list[int]:
    with database.connect() as conn:
        return list(conn.scalars(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")))


def wait_gone(database: sa.Engine, pids: list[int], timeout: float = 5) -> list[int]:
    """The pids still connected after they were told to go (a backend exits a moment later)."""
    deadline = time.monotonic() + timeout
    left = pids
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [pid for pid in _connected(database) if pid in pids]
    return left


def test_a_cut_connection_costs_one_503_and_the_next_report_is_stored(
    client: FlaskClient, world: World, database: sa.Engine
) -> None:
    token = world.tokens["x1-reporter"]
    assert submit(client, token, submission(), key="before-the-cut")[0] == 202
    backends = intake_backends(database)
    assert len(backends) == 1
    with database.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[0]})
    assert wait_gone(database, backends) == []

    status, body, headers = submit(client, token, submission(), key="during-the-cut")
    assert status == 503, body
    assert headers["Content-Type"] == "application/problem+json"
    assert "same Idempotency-Key" in body["detail"]
    assert count(database, Submission) == count(database, OutboxEntry) == 1  # nothing half-stored

    status, body, _ = submit(client, token, submission(), key="during-the-cut")  # the client's retry
    assert status == 202, body
    assert count(database, Submission) == count(database, OutboxEntry) == 2
    assert len(intake_backends(database)) == 1


def test_disposing_the_engine_closes_the_intakes_connections(
    app: Flask, client: FlaskClient, world: World, database: sa.Engine
) -> None:
    assert submit(client, world.tokens["x1-reporter"], submission(), key="k")[0] == 202
    backends = intake_backends(database)
    assert len(backends) == 1
    app.extensions["kntc"].engine.dispose()
    assert wait_gone(database, backends) == []


def test_errors_come_out_as_sqlalchemys_own_and_the_connection_stays_usable(database: sa.Engine) -> None:
    engine = sa.create_engine(database.url)
    direct = DirectConnections(engine)
    try:
        assert direct.one("SELECT %(a)s::int + 1", {"a": 41}) == (42,)
        with pytest.raises(sa.exc.DataError, match="division by zero"):
            direct.one("SELECT 1 / %(zero)s::int", {"zero": 0})
        with pytest.raises(sa.exc.NoResultFound):
            direct.one("SELECT 1 WHERE %(no)s", {"no": False})
        assert direct.one("SELECT %(b)s::int", {"b": 2}) == (2,)  # autocommit: no aborted transaction
    finally:
        engine.dispose()


def test_a_database_refusing_a_new_connection_is_sqlalchemys_error_too() -> None:
    # The web answers SQLAlchemy's OperationalError with a 503 and a Retry-After; the
    # driver's own error, which the pool raises unwrapped, would have been a 500.
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    direct = DirectConnections(engine)
    try:
        with pytest.raises(sa.exc.OperationalError, match="Connection refused"):
            direct.one("SELECT 1", {})
        with pytest.raises(sa.exc.OperationalError):
            direct.open_this_thread()
    finally:
        engine.dispose()


def _cached_plan(direct: DirectConnections) -> str:
    """The plan the intake's connection keeps for its prepared statement, as EXPLAIN has it."""
    name, params = direct.one(
        "SELECT name, cardinality(parameter_types) FROM pg_prepared_statements"
        " WHERE statement LIKE 'WITH%%INSERT INTO submissions%%'",
        {},
    )
    # The generic plan, as the cached statement runs it (NULLs do not replan it).
    direct.one("SELECT set_config('plan_cache_mode', 'force_generic_plan', false)", {})
    (plan,) = direct.one(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({', '.join(['NULL'] * params)})", {})
    return json.dumps(plan)


def test_the_intakes_statement_keeps_to_the_indexes_when_prepared_on_an_empty_table(
    app: Flask, client: FlaskClient, world: World, database: sa.Engine
) -> None:
    # A deadline's first reports arrive on a nearly empty table: psycopg prepares the
    # statement then, and PostgreSQL keeps a generic plan for it while the surge fills the
    # table. A sequential scan in that plan reads every report on each later one.
    with database.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE submissions"))
    token = world.tokens["p01-reporter"]
    for i in range(12):  # prepared after 5, then 5 custom plans, then the generic one
        assert submit(client, token, submission(unit="P01.X1"), key=f"k{i}")[0] == 202
    plan = _cached_plan(app.extensions["kntc"].intake._direct)
    assert "Index Only Scan" in plan or "Index Scan" in plan
    assert "Seq Scan" not in plan


def test_each_thread_has_a_connection_of_its_own(database: sa.Engine) -> None:
    # gunicorn's gthread workers serve requests from several threads: a psycopg
    # connection must never carry two statements at once.
    engine = sa.create_engine(database.url)
    direct = DirectConnections(engine)
    try:
        here = [direct.one("SELECT pg_backend_pid()", {})[0] for _ in range(2)]
        with ThreadPoolExecutor(max_workers=1) as pool:
            there = pool.submit(lambda: direct.one("SELECT pg_backend_pid()", {})[0]).result()
        assert here[0] == here[1] != there
    finally:
        engine.dispose()


def decided(sessions: sessionmaker[Session], sid: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while (status := load_submission(sessions, sid).status) == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


def test_a_workers_cut_connection_costs_a_retry_and_closes_when_its_thread_stops(
    client: FlaskClient,
    world: World,
    database: sa.Engine,
    sessions: sessionmaker[Session],
    workers_running: Callable[..., Any],
) -> None:
    token = world.tokens["p01-reporter"]
    with workers_running(threads=1):
        assert decided(sessions, submit(client, token, submission(unit="P01.X1"))[1]["id"]) == "accepted"
        backends = worker_backends(database)
        assert len(backends) == 1  # the worker thread's own, open between messages
        with database.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backends[0]})
        assert wait_gone(database, backends) == []

        # The next message meets the cut connection: dramatiq retries it (after about a
        # second) on a new one.
        sid = submit(client, token, submission(unit="P01.X2"))[1]["id"]
        assert decided(sessions, sid) == "accepted"
        assert len(worker_backends(database)) == 1
    # The worker thread stopped: its connection is closed, not left to the database.
    assert wait_gone(database, worker_backends(database)) == []
