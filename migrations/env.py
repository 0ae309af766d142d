"""Alembic environment: the URL comes from the same settings loader as everything else."""

from __future__ import annotations

from alembic import context

from kntc.settings import Settings
from models import Base
from models.db import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("url") or Settings.from_env().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), pool_size=1)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # A migration that waits for a lock must give up, not stall the intake behind it.
            connection.exec_driver_sql("SET lock_timeout = '10s'")
            connection.exec_driver_sql("SET statement_timeout = '10min'")
            connection.commit()  # SET is per session; end its implicit transaction so Alembic owns the next
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
