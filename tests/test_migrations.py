"""The schema comes only from the migrations: one head, no drift, down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers import TEST_DATABASE_URL
from sqlalchemy.engine import make_url

from kntc.migrate import alembic_config, upgrade
from kntc.settings import Settings
from models import Base


def test_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config(Settings()))
    assert len(script.get_heads()) == 1


def test_the_migrated_database_matches_the_models(database: sa.Engine) -> None:
    with database.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(context, Base.metadata)
        head = context.get_current_revision()
    assert diff == []
    assert head == ScriptDirectory.from_config(alembic_config(Settings())).get_current_head()


@pytest.fixture
def scratch_database(database: sa.Engine) -> Iterator[str]:
    """An empty database beside the test one (needs the session's services check first)."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_migrations"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_downgrade_upgrade_from_empty(scratch_database: str, tmp_path: Path) -> None:
    settings = Settings(database_url=scratch_database, data_dir=tmp_path)
    engine = sa.create_engine(scratch_database)
    try:
        upgrade(settings)
        tables = set(sa.inspect(engine).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= tables

        command.downgrade(alembic_config(settings), "base")
        engine.dispose()
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}

        upgrade(settings)
        engine.dispose()
        assert {t.name for t in Base.metadata.sorted_tables} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
