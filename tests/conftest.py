"""A real PostgreSQL and Redis for every test, the schema from the migrations.

Isolation: the application commits in its own sessions (one per request, one per
message, in worker threads and in gunicorn/dramatiq subprocesses), so wrapping each test
in a rolled-back transaction cannot work here. Instead each test that touches a service
starts from empty tables (TRUNCATE ... RESTART IDENTITY CASCADE), an empty Redis db and
empty in-process caches.

The environment is set first, before anything imports ``workers`` or ``web``: ``workers``
reads it at import time and ``kntc.broker.setup_broker`` configures one broker per process
(a RedisBroker on the test db for the whole session).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

# The checkout's packages, whatever state the editable install's finder is in (one made
# before a package had its __init__.py maps it as a namespace and hides its contents).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import TEST_DATABASE_URL, TEST_REDIS_URL

SESSION_DATA_DIR = Path(tempfile.mkdtemp(prefix="kntc-tests-"))
# Fixtures of a feature's tests that several of its modules share.
pytest_plugins = ("attachments_support",)

os.environ["DATABASE_URL"] = TEST_DATABASE_URL
os.environ["REDIS_URL"] = TEST_REDIS_URL
os.environ["KNTC_DATA_DIR"] = str(SESSION_DATA_DIR)
# In this process metrics live in the default registry; subprocesses get their own dirs.
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
os.environ.pop("prometheus_multiproc_dir", None)

from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from typing import Any  # noqa: E402

import dramatiq  # noqa: E402
import psycopg  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from helpers import World  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from kntc import broker as kntc_broker  # noqa: E402
from kntc.migrate import upgrade  # noqa: E402
from kntc.settings import Settings  # noqa: E402
from models import Base  # noqa: E402
from models.db import make_engine, make_sessionmaker  # noqa: E402
from models.forms import catalogue  # noqa: E402


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(SESSION_DATA_DIR, ignore_errors=True)


# --- services -------------------------------------------------------------------


def _service_down(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
    pytest.skip(f"{message}; start it to run this test (it fails instead when CI is set)")


def _admin_conninfo() -> tuple[str, str]:
    url = make_url(TEST_DATABASE_URL)
    name = url.database
    assert name and name.replace("_", "").isalnum(), f"unexpected test database name {name!r}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    return admin, name


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        _service_down(f"Redis at {TEST_REDIS_URL}", error)
    yield client
    client.close()


@pytest.fixture(scope="session")
def database(redis_client: redis.Redis) -> Iterator[sa.Engine]:
    """A fresh test database at the head migration; the session's engine on it."""
    admin, name = _admin_conninfo()
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        _service_down(f"PostgreSQL at {admin}", error)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(base_settings())
    engine = make_engine(TEST_DATABASE_URL)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def runtime(database: sa.Engine) -> Iterator[Any]:
    """The worker runtime on the session's engine (no background relay: tests run it)."""
    from workers.context import Runtime, install

    rt = Runtime(base_settings(relay_interval_seconds=0), database, make_sessionmaker(database), catalogue())
    install(rt)
    import workers  # noqa: F401  (configures the RedisBroker and registers the actors)

    yield rt
    install(None)


def base_settings(**changes: Any) -> Settings:
    settings = Settings(
        data_dir=SESSION_DATA_DIR,
        database_url=TEST_DATABASE_URL,
        redis_url=TEST_REDIS_URL,
        relay_delay_seconds=60,
        relay_interval_seconds=0,
    )
    return settings.with_changes(**changes)


@pytest.fixture(autouse=True)
def _isolation(request: pytest.FixtureRequest) -> None:
    """Empty tables, Redis db and caches before every test that uses the services."""
    if "database" not in request.fixturenames:
        return
    engine: sa.Engine = request.getfixturevalue("database")
    client: redis.Redis = request.getfixturevalue("redis_client")
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    client.flushdb()
    from web.auth import _epoch, _principals

    _principals.clear()
    # Redis was flushed, so the shared principal epoch starts again from nothing: an epoch
    # this process remembered from an earlier test would differ, and at its next check
    # (once a second, whenever it falls) empty the cache in the middle of this test.
    _epoch.value, _epoch.checked = None, 0.0


# --- the application --------------------------------------------------------------


@pytest.fixture
def make_app(database: sa.Engine, runtime: Any, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build the Flask app on the test services; keyword arguments change its settings."""
    built: list[Flask] = []

    def build(**changes: Any) -> Flask:
        settings = base_settings(data_dir=tmp_path / "data", **changes)
        from web import create_app

        app = create_app(settings)
        app.config["TESTING"] = True
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["kntc"].directory.forget()
        app.extensions["kntc"].engine.dispose()
        client = app.extensions["kntc"].redis
        if client is not None:
            client.close()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def sessions(database: sa.Engine) -> sessionmaker[Session]:
    return make_sessionmaker(database)


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def world(sessions: sessionmaker[Session], app: Flask) -> World:
    """Units (UNITS_CSV), a period 2026-Q4 due in two days, and the usual accounts."""
    w = World(sessions, app)
    w.units()
    w.period()
    w.account("admin", "VN", "admin")
    w.account("p01-admin", "P01", "admin")
    w.account("p01-reporter", "P01", "reporter")
    w.account("x1-reporter", "P01.X1", "reporter")
    w.account("x1-admin", "P01.X1", "admin")
    w.account("p02-admin", "P02", "admin")
    w.account("viewer", "VN", "viewer")
    return w


# --- in-process workers ------------------------------------------------------------


@pytest.fixture
def workers_running(runtime: Any) -> Callable[..., Any]:
    """A context manager running dramatiq worker threads on the test Redis broker."""
    import workers

    @contextmanager
    def running(threads: int = 2) -> Iterator[dramatiq.Worker]:
        worker = dramatiq.Worker(workers.broker, worker_threads=threads, worker_timeout=100)
        worker.start()
        try:
            yield worker
        finally:
            worker.stop()

    return running


@pytest.fixture
def drain(workers_running: Callable[..., Any]) -> Callable[..., None]:
    """Run workers until the submissions queue (and its delay queue) is empty."""
    import workers

    def run(timeout_s: float = 30) -> None:
        kntc_broker.flush_sends()  # the intake's messages still in this process's hands
        with workers_running():
            workers.broker.join("submissions", timeout=int(timeout_s * 1000))

    return run
