"""Engines and sessions for PostgreSQL (production, tests) and SQLite (embedded demo)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # Short statement and lock timeouts: a stuck query must fail a request, not hang it.
    # No pre-ping and no reset-on-return: each costs a round trip per request, sessions and
    # connections already roll back what they leave open, and after a database restart
    # SQLAlchemy discards the whole pool on the first disconnect error (that request gets
    # a 503 and its client retries with the same Idempotency-Key).
    return sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_reset_on_return=None,
        connect_args={"options": "-c statement_timeout=30000 -c lock_timeout=10000"},
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
