"""What the web layer works with, built once per process by ``create_app``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import redis
import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from kntc.broker import redis_client
from kntc.intake_rate import IntakeCounter
from kntc.settings import Settings
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from models.directory import Directory
from models.forms import FormCatalogue, catalogue
from models.intake import Intake
from models.receipts import Signer, load_signer
from models.storage import Storage, open_storage, sweep_staging


@dataclass
class Services:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    directory: Directory
    forms: FormCatalogue
    signer: Signer
    intake: Intake
    redis: redis.Redis | None
    storage: Storage
    # Single-statement work (a token lookup, a last-seen time) in autocommit: one round
    # trip instead of BEGIN, statement, COMMIT.
    autocommit: sa.Engine
    # Reports stored, shared with the workers so that they stand aside during a surge.
    intake_counter: IntakeCounter | None

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.sqlalchemy_url, pool_size=10)
        sessions = make_sessionmaker(engine)
        directory = Directory(sessions)
        forms = catalogue()
        signer = load_signer(settings.signing_key_pem, settings.data_dir)
        # The same pool, each statement committing by itself (set per checkout: ~20 µs, less
        # than a second pool's connections).
        autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        intake = Intake(directory, forms, signer, dt.timedelta(seconds=settings.relay_delay_seconds), engine)
        client = None if settings.embedded else redis_client(settings)
        storage = open_storage(settings)
        sweep_staging(storage.staging_dir)  # what uploads cut off by a crash left behind
        counter = IntakeCounter(client) if client is not None else None
        return cls(settings, engine, sessions, directory, forms, signer, intake, client, storage, autocommit, counter)

    def warm_up(self) -> None:
        """Load and connect, in the calling thread, what a first request would wait for.

        A gunicorn worker's first report took 55-99 ms instead of 2-3 (the unit table, the
        period, a pool connection and the intake's own): started at a deadline, each
        worker kept the 32 connections behind it waiting that long, which was most of the
        surge's slowest percent of answers.
        """
        # The intake's connection first: it is taken from the pool and detached, and the
        # one the directory opens next then stays in the pool for the request's queries.
        self.intake.warm_up()
        self.directory.warm_up(utcnow())
        if self.redis is not None:
            self.redis.ping()


def services() -> Services:
    return current_app.extensions["kntc"]  # type: ignore[no-any-return]


def db() -> Session:
    """The request's session, opened on first use and closed when the request ends."""
    if "db" not in g:
        g.db = services().sessions()
    return g.db  # type: ignore[no-any-return]


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
