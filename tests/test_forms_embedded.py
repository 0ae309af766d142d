"""On the embedded SQLite database forms are not computed: a clear 501, not a 500."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import UNITS_CSV

from kntc.migrate import upgrade
from kntc.settings import Settings
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from models.errors import NotAvailable
from models.form_sql import compute_form
from models.forms import catalogue
from models.periods import Period
from models.unit_import import import_units, parse_csv
from models.units import Unit


def test_forms_say_they_need_postgresql_on_the_embedded_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    upgrade(settings)  # the migrations, the form cache's tables included, run on SQLite too
    engine = make_engine(settings.sqlalchemy_url)
    with make_sessionmaker(engine)() as session:
        import_units(session, parse_csv(UNITS_CSV))
        session.commit()
        nation = session.scalars(sa.select(Unit).where(Unit.code == "VN")).one()
        period = Period(code="Q", starts_on=dt.date(2026, 6, 15), ends_on=dt.date(2026, 9, 14), due_at=utcnow())
        form = catalogue().in_effect("01/TCD", period.ends_on)
        assert form is not None
        with pytest.raises(NotAvailable, match="set DATABASE_URL to a PostgreSQL database") as raised:
            compute_form(session, form, period, nation)
    engine.dispose()
    assert raised.value.status == 501
