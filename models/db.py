"""Engines and sessions for PostgreSQL (production, tests) and SQLite (embedded demo)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

# Within gunicorn's 30 s worker timeout: a database host that drops packets (a failover
# in progress) makes a request answer 503 instead of hanging until its worker is killed,
# and lets a web worker's warm-up give up and start. A connect_timeout in the URL wins.
CONNECT_TIMEOUT_SECONDS = 10


def make_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # Short statement and lock timeouts: a stuck query must fail a request, not hang it.
    connect_args: dict[str, Any] = {"options": "-c statement_timeout=30000 -c lock_timeout=10000"}
    if "connect_timeout" not in sa.make_url(url).query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    # No pre-ping and no reset-on-return: each costs a round trip per request, sessions and
    # connections already roll back what they leave open, and after a database restart
    # SQLAlchemy discards the whole pool on the first disconnect error (that request gets
    # a 503 and its client retries with the same Idempotency-Key).
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_reset_on_return=None,
        connect_args=connect_args,
    )


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # WAL lets readers run while one writer commits; the embedded demo has many threads.
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def make_sessionmaker(engine: sa.Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_postgres(engine: sa.Engine) -> bool:
    return engine.dialect.name == "postgresql"
