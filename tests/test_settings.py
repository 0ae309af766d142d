"""Settings come from the environment in one place, with the embedded defaults when unset."""

from __future__ import annotations

from pathlib import Path

import pytest

from kntc.settings import Settings


def test_unset_means_embedded_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.embedded
    assert settings.data_dir == Path("var")
    assert settings.sqlalchemy_url == f"sqlite:///{(Path('var') / 'kntc.sqlite3').resolve()}"
    assert (settings.relay_delay_seconds, settings.unit_concurrency) == (60, 1)
    # A killed worker's limiter slot frees itself soon after the job's own time limit.
    assert settings.submission_time_limit_ms < settings.limiter_ttl_ms <= 2 * settings.submission_time_limit_ms


def test_the_environment_is_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/x",
            "REDIS_URL": "redis://127.0.0.1:6379/2",
            "KNTC_DATA_DIR": "/srv/kntc",
            "KNTC_LIMITER_TTL_MS": "2000",
            "KNTC_RELAY_DELAY_SECONDS": "1",
            "KNTC_MAX_BODY_BYTES": "",
        }
    )
    assert not settings.embedded
    assert settings.sqlalchemy_url == "postgresql+psycopg://postgres@127.0.0.1:5432/x"
    assert settings.data_dir == Path("/srv/kntc")
    assert (settings.limiter_ttl_ms, settings.relay_delay_seconds) == (2000, 1)
    assert settings.max_body_bytes == 1_000_000  # empty means unset


def test_a_bad_number_names_its_variable() -> None:
    with pytest.raises(ValueError, match=r"KNTC_UNIT_CONCURRENCY must be a whole number, got 'one'"):
        Settings.from_env({"KNTC_UNIT_CONCURRENCY": "one"})
