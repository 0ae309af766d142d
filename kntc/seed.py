"""Seeding a database for the demo and the benchmark: the national tree, tokens, a period.

Every unit but the root gets a reporter account (``demo.reporter.CODE``) and the root an
admin (``demo.admin.VN``); existing accounts are reused and given a new token, so seeding
a database twice adds tokens and a period, nothing else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kntc.nation import ROOT_CODE, national_rows
from kntc.settings import Settings
from models.accounts import Account
from models.auth import issue_token
from models.base import utcnow
from models.db import make_engine, make_sessionmaker
from models.forms import catalogue
from models.periods import Period, new_period
from models.unit_import import import_units
from models.units import Unit

GRACE = dt.timedelta(hours=48)
# Seeded tokens left in a real database stop working after a day.
TOKEN_LIFETIME = dt.timedelta(days=1)


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    units: int  # imported, the root included
    period: str
    period_id: int
    due_at: dt.datetime
    tokens: dict[str, str]  # unit code -> its reporter's token
    admin_token: str  # an admin of the root unit
    records: dict[str, int] = field(default_factory=dict)  # what kntc.demo_records added


def seed(
    settings: Settings, *, communes: int | None, period_code: str, due_in: dt.timedelta, with_records: bool = False
) -> Seeded:
    """Import the national tree (``communes`` of them), issue the tokens, open the period.

    ``with_records``: also receptions, sessions and petitions in the period's window, for
    the forms to compute from (only into a tree that has none yet).
    """
    rows = national_rows(communes=communes)
    engine = make_engine(settings.sqlalchemy_url, pool_size=1)
    try:
        with make_sessionmaker(engine)() as session:
            import_units(session, rows)
            tokens = issue_tokens(session, [r.code for r in rows if r.code != ROOT_CODE])
            admin_token = issue_tokens(session, [ROOT_CODE], role="admin")[ROOT_CODE]
            period = open_period(session, period_code, utcnow().replace(microsecond=0) + due_in)
            records = _records(session, period) if with_records else {}
            session.commit()
            if engine.dialect.name == "postgresql":  # fresh statistics: plans for the tree and records just loaded
                session.execute(sa.text("ANALYZE"))
                session.commit()
            return Seeded(settings, len(rows), period.code, period.id, period.due_at, tokens, admin_token, records)
    finally:
        engine.dispose()


def _records(session: Session, period: Period) -> dict[str, int]:
    from kntc.demo_records import Window, seed_records

    today = utcnow().date()
    return seed_records(session, Window(period.starts_on, min(period.ends_on, today)))


def issue_tokens(session: Session, codes: list[str], role: str = "reporter") -> dict[str, str]:
    """A token for each unit's demo account, creating the accounts that do not exist yet."""
    unit_ids = dict(session.execute(sa.select(Unit.code, Unit.id).where(Unit.code.in_(codes))).tuples().all())
    names = {code: f"demo.{role}.{code}" for code in codes}
    accounts = {a.username: a for a in session.scalars(sa.select(Account).where(Account.username.in_(names.values())))}
    for code, username in names.items():
        if username not in accounts:
            accounts[username] = Account(username=username, unit_id=unit_ids[code], role=role)
            session.add(accounts[username])
    session.flush()
    return {
        code: issue_token(session, accounts[username], kind="api", lifetime=TOKEN_LIFETIME)[0]
        for code, username in names.items()
    }


def open_period(session: Session, code: str, due_at: dt.datetime) -> Period:
    """The quarter of ``due_at``'s data window, collecting every form in effect, grace 48 h."""
    _, starts, ends = quarter_of(due_at.date())
    period = new_period(
        code=code,
        starts_on=starts,
        ends_on=ends,
        due_at=due_at,
        dues={},
        grace=GRACE,
        forms=catalogue().codes_in_effect(ends),
        known_forms=catalogue().codes,
    )
    session.add(period)
    session.flush()
    return period


def quarter_of(day: dt.date) -> tuple[str, dt.date, dt.date]:
    """The quarter whose data window (15th to 14th, Thông tư 02/2021) holds ``day``."""
    year, quarter = day.year, (day.month - 1) // 3 + 1
    if day.month % 3 == 0 and day.day >= 15:
        year, quarter = (year + 1, 1) if quarter == 4 else (year, quarter + 1)
    ends = dt.date(year, 3 * quarter, 14)
    starts = dt.date(year - 1, 12, 15) if quarter == 1 else dt.date(year, 3 * quarter - 3, 15)
    return f"{year}-Q{quarter}", starts, ends
