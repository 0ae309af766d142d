"""Each thread's own psycopg connection, for the statements run once or twice per report.

Through SQLAlchemy's Connection that statement cost about 200 µs of CPU around it
(checking a connection out and in, setting and resetting autocommit, building a result):
a fifth of the intake's CPU per report in process (``bench/intake_cpu.py``). Here the
statement goes straight to a psycopg connection kept in autocommit, which prepares it
after a few uses as it would in the pool.

Errors come out as SQLAlchemy's own exception classes (``IntegrityError``,
``OperationalError``, ...), so callers and the web's error handlers treat them exactly as
before. A connection that broke (the database restarted) is dropped, and the next
statement opens a new one: the request that met the break gets the same 503 as through
the pool. ``engine.dispose()`` closes them all, as it closes the pool's.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import psycopg
import sqlalchemy as sa
import sqlalchemy.exc

# For statements whose every lookup has its index. psycopg prepares a statement after a
# few uses, and PostgreSQL then keeps one generic plan: made while a deadline's first
# reports arrive, on a submissions table still nearly empty, the intake's scanned the
# table, and went on scanning it as the surge filled it (measured with pg_stat_statements:
# 543 to 1,205 pages read per report instead of 60, and half the intake rate).
NO_SEQUENTIAL_SCANS = "SET enable_seqscan = off"


class DirectConnections:
    """Run single autocommitted statements on a connection of this thread's own."""

    def __init__(self, engine: sa.Engine, setup: tuple[str, ...] = ()) -> None:
        """``setup``: statements each new connection runs once (``SET ...``)."""
        self._engine = engine
        self._setup = setup
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[psycopg.Connection[Any]] = []
        sa.event.listen(engine, "engine_disposed", self._close_all)

    def one(self, statement: str, params: dict[str, Any]) -> tuple[Any, ...]:
        """The statement's single row; raises SQLAlchemy's wrapper of a database error."""
        rows = self.all(statement, params)
        if not rows:
            raise sqlalchemy.exc.NoResultFound("the statement returned no row")
        return rows[0]

    def all(self, statement: str, params: dict[str, Any], *, prepare: bool | None = None) -> list[tuple[Any, ...]]:
        """The statement's rows (it must return some columns). ``prepare=False``: planned
        at every call, never from a prepared statement's cached plan."""
        cursor = self._cursor()
        try:
            cursor.execute(statement, params, prepare=prepare)
            return [tuple(row) for row in cursor.fetchall()]
        except psycopg.Error as error:
            if cursor.connection.closed:  # broken: the next statement opens a new one
                self._drop(cursor.connection)
            raise sqlalchemy.exc.DBAPIError.instance(statement, params, error, psycopg.Error) from error

    def open_this_thread(self) -> None:
        """Open the calling thread's connection now, not at its first statement."""
        self._cursor()

    def close_this_thread(self) -> None:
        """Close the calling thread's connection: for a thread that ends (nothing else would)."""
        cursor: psycopg.Cursor[Any] | None = getattr(self._local, "cursor", None)
        if cursor is not None and self._local.pid == os.getpid():
            self._drop(cursor.connection)

    def _cursor(self) -> psycopg.Cursor[Any]:
        # One cursor per connection, reused: a new one would look up its dumpers again.
        cursor: psycopg.Cursor[Any] | None = getattr(self._local, "cursor", None)
        # A process forked after a statement (not gunicorn's case, whose master runs none)
        # must not share its parent's socket.
        if cursor is not None and self._local.pid == os.getpid() and not cursor.connection.closed:
            return cursor
        cursor = self._new().cursor()
        self._local.cursor, self._local.pid = cursor, os.getpid()
        return cursor

    def _new(self) -> psycopg.Connection[Any]:
        # Taken from the pool and detached from it: the engine's connect arguments and
        # events apply (statement timeout, ...), and the pool gets its slot back.
        try:  # the pool raises the driver's own error, which callers would not recognise
            pooled = self._engine.raw_connection()
            conn = pooled.driver_connection
            pooled.detach()
            assert isinstance(conn, psycopg.Connection)
            conn.autocommit = True
            try:
                for statement in self._setup:
                    conn.execute(statement)
            except psycopg.Error:
                conn.close()
                raise
        except psycopg.Error as error:
            raise sqlalchemy.exc.DBAPIError.instance(None, None, error, psycopg.Error) from error
        with self._lock:
            self._open.append(conn)
        return conn

    def _drop(self, conn: psycopg.Connection[Any]) -> None:
        self._local.cursor = None
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)
        conn.close()

    def _close_all(self, _engine: sa.Engine) -> None:
        with self._lock:
            opened, self._open = self._open, []
        for conn in opened:
            conn.close()
