"""Factories and helpers shared by the tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from kntc import broker, send_batches
from kntc.stack import stop_group as stop
from models.accounts import Account
from models.auth import issue_token
from models.forms import catalogue
from models.periods import new_period
from models.submissions import Submission
from models.unit_import import import_units, parse_csv
from models.units import Unit

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/kntc_test")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"

# A small tree: the parentless root, two provinces, communes below them.
UNITS_CSV = """code,name,parent_code,level
P01.X1,UBND xã Hòa Hội,P01,commune
VN,Thanh tra Chính phủ,,central
P01,UBND tỉnh Tây Ninh,VN,province
P01.X2,UBND xã Mỹ An,P01,commune
P02,UBND tỉnh Đồng Tháp,VN,province
P02.X1,UBND phường Cao Lãnh,P02,commune
"""

# 01/TCD figures that satisfy every identity of the form.
VALID_TCD = {
    "1": 10, "4": 6, "13": 3, "22": 1,
    "2": 25, "5": 15, "14": 8, "23": 2,
    "3": 7, "6": 3, "7": 1, "15": 2, "24": 1,
    "8": 1, "9": 6,
}  # fmt: skip
# 01/TCD figures that break exactly these four identities.
INVALID_TCD = {"1": 9, "4": 2, "8": 3}
INVALID_TCD_RULES = {"1 = 4 + 13 + 22", "8 <= 4", "5 >= 4", "9 >= 5*8"}


# --- factories (they commit: the app reads with its own sessions) ---------------


@dataclass
class World:
    sessions: sessionmaker[Session]
    app: Flask | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def units(self, csv_text: str = UNITS_CSV) -> None:
        with self.sessions() as session:
            import_units(session, parse_csv(csv_text))
            session.commit()
        self.forget()

    def account(self, username: str, unit: str, role: str) -> str:
        """A new account with an API token; returns the token."""
        with self.sessions() as session:
            unit_id = session.scalar(sa.select(Unit.id).where(Unit.code == unit))
            assert unit_id is not None, f"no unit {unit}"
            account = Account(username=username, unit_id=unit_id, role=role)
            session.add(account)
            session.flush()
            token, _ = issue_token(session, account, kind="api", lifetime=None)
            session.commit()
        self.tokens[username] = token
        return token

    def period(
        self,
        code: str = "2026-Q4",
        *,
        due: dt.datetime | None = None,
        grace: dt.timedelta = dt.timedelta(hours=48),
        dues: dict[str, dt.datetime] | None = None,
        starts: dt.date | None = None,
        ends: dt.date | None = None,
        forms: list[str] | None = None,
    ) -> str:
        today = dt.datetime.now(dt.UTC).date()
        known = catalogue().codes
        period = new_period(
            code=code,
            starts_on=starts or today - dt.timedelta(days=90),
            ends_on=ends or today,
            due_at=due or dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
            dues=dues or {},
            grace=grace,
            forms=forms if forms is not None else ["01/TCD"],
            known_forms=known,
        )
        with self.sessions() as session:
            session.add(period)
            session.commit()
        self.forget()
        return code

    def forget(self) -> None:
        if self.app is not None:
            self.app.extensions["kntc"].directory.forget()
        from web.auth import _principals

        _principals.clear()

    def unit_id(self, code: str) -> int:
        with self.sessions() as session:
            unit_id = session.scalar(sa.select(Unit.id).where(Unit.code == code))
        assert unit_id is not None
        return unit_id


# --- HTTP helpers ------------------------------------------------------------------


def auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def submission(unit: str = "P01.X1", figures: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body = {"period": "2026-Q4", "unit": unit, "form": "01/TCD", "figures": VALID_TCD if figures is None else figures}
    body.update(extra)
    return body


def _refuse(*_args: Any, **_kwargs: Any) -> None:
    raise ConnectionError("Redis is unreachable (injected)")


@contextmanager
def intake_messages_refused() -> Iterator[None]:
    """Fault injection: the messages of the reports sent in the block never reach Redis
    (their outbox rows remain), whether they leave in a batch or in the request."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(send_batches, "enqueue_all", _refuse)
        m.setattr(broker, "send", _refuse)
        yield
        broker.flush_sends()


def submit(
    client: FlaskClient, token: str | None, body: Any, key: str | None = None, **headers: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST a submission, and wait for the message this process sends within
    KNTC_SEND_BATCH_MS; returns (status, JSON body, headers)."""
    all_headers = {**auth(token), **headers}
    if key is not None:
        all_headers["Idempotency-Key"] = key
    if isinstance(body, bytes | str):
        response = client.post("/api/v1/submissions", data=body, headers=all_headers, content_type="application/json")
    else:
        response = client.post("/api/v1/submissions", json=body, headers=all_headers)
    broker.flush_sends()
    payload = json.loads(response.data) if response.data else {}
    return response.status_code, payload, dict(response.headers)


def count(session_or_engine: Session | sa.Engine, model: type[Any]) -> int:
    stmt = sa.select(sa.func.count()).select_from(model)
    if isinstance(session_or_engine, sa.Engine):
        with session_or_engine.connect() as conn:
            return int(conn.scalar(stmt) or 0)
    return int(session_or_engine.scalar(stmt) or 0)


def load_submission(sessions: sessionmaker[Session], sid: str) -> Submission:
    with sessions() as session:
        return session.get_one(Submission, uuid.UUID(sid))


def queued_messages(client: redis.Redis, queue: str = "submissions") -> list[dramatiq.Message[Any]]:
    """Every message of the queue and its delay queue still held in Redis (not yet acked)."""
    bodies = [*client.hvals(f"dramatiq:{queue}.msgs"), *client.hvals(f"dramatiq:{queue}.DQ.msgs")]
    return [dramatiq.Message.decode(body) for body in bodies]


# --- real processes (gunicorn, dramatiq) --------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a gunicorn or dramatiq process on the test services."""
    env = {k: v for k, v in os.environ.items() if k.lower() != "prometheus_multiproc_dir"}
    env.update(
        DATABASE_URL=TEST_DATABASE_URL,
        REDIS_URL=TEST_REDIS_URL,
        KNTC_DATA_DIR=str(tmp / "data"),
        PATH=f"{BIN}:{env.get('PATH', '')}",
        KNTC_RELAY_DELAY_SECONDS="1",
        KNTC_RELAY_INTERVAL_SECONDS="1",
        KNTC_LIMITER_TTL_MS="2000",
        dramatiq_prom_host="127.0.0.1",
        dramatiq_prom_port=str(free_port()),
        dramatiq_prom_db=str(tmp / "prom-workers"),
    )
    env.update(extra)
    return env


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session, stopped with its whole group at the end."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            stop(proc)


def gunicorn(port: int, workers: int = 2, *extra: str) -> list[str]:
    return [
        str(BIN / "gunicorn"),
        "-c",
        "deploy/gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        *extra,
        "web:create_app()",
    ]


def dramatiq_workers(threads: int = 2) -> list[str]:
    return [str(BIN / "dramatiq"), "workers", "--processes", "1", "--threads", str(threads)]


def call(
    port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One HTTP request on a fresh connection; JSON bodies decoded."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        all_headers = {"Content-Type": "application/json", **(headers or {})} if data else dict(headers or {})
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        payload = json.loads(raw) if raw and "json" in kind else raw.decode("utf-8", "replace")
        return response.status, dict(response.getheaders()), payload
    finally:
        conn.close()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str, proc: Any = None) -> None:
    """Poll a condition (bounded); fail naming what never happened."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process exited ({proc.returncode}) while waiting until {what}")
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting until {what}")


def http_up(port: int) -> bool:
    try:
        return call(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False
