"""What a worker process needs, built once per process after the fork (pools never cross a fork)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kntc.broker import redis_client
from kntc.intake_rate import IntakeRate
from kntc.settings import Settings
from models.db import is_postgres, make_engine, make_sessionmaker
from models.direct_connections import NO_SEQUENTIAL_SCANS, DirectConnections
from models.forms import FormCatalogue, catalogue
from models.storage import Storage, open_storage


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    forms: FormCatalogue


_installed: Runtime | None = None


@cache
def settings() -> Settings:
    return _installed.settings if _installed else Settings.from_env()


def runtime() -> Runtime:
    global _installed
    if _installed is None:
        engine = make_engine(settings().sqlalchemy_url)
        _installed = Runtime(settings(), engine, make_sessionmaker(engine), catalogue())
    return _installed


def install(rt: Runtime | None) -> None:
    """Share a runtime built elsewhere (the embedded web process, tests); None forgets it."""
    global _installed
    _installed = rt
    settings.cache_clear()


@cache
def direct_connections(engine: sa.Engine) -> DirectConnections | None:
    """Each worker thread's own connection for a report's two statements (PostgreSQL only).

    Every lookup of those statements has its index (ids, a unit's versions, outbox
    resource ids), hence no sequential scans."""
    return DirectConnections(engine, (NO_SEQUENTIAL_SCANS,)) if is_postgres(engine) else None


@cache
def intake_rate_for(settings: Settings) -> IntakeRate | None:
    """The intake's rate as the web shares it (None embedded: no Redis, no pacing)."""
    return None if settings.embedded else IntakeRate(redis_client(settings))


@cache
def storage_for(settings: Settings) -> Storage:
    """One storage per process and settings (its S3 client is made after the fork)."""
    return open_storage(settings)
