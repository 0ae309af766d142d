"""Keeping the stored unit figures of the periods people report on fresh, ahead of them.

``refresh`` (the scheduler's ``refresh_form_figures`` job, every
``KNTC_FORM_REFRESH_INTERVAL_SECONDS``) first compacts the change log
(``models/form_cache.py``), then computes every form in effect of every current period for each
root of the unit tree: the units whose records changed since the last run are computed
again and stored, the others are only added up. So on deadline night a national report
adds up stored figures instead of reading the whole quarter's records, and an officer's
request pays at most for the units that changed in the last interval.

A period is current from the first day of its data window until ``RECENT_DAYS`` after its
last one (units report, correct and reconcile in those weeks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import form_cache
from models.form_sql import compute_form
from models.forms import FormCatalogue
from models.periods import Period
from models.units import Unit

RECENT_DAYS = 60
# pg_try_advisory_lock key: one refresh at a time ("KNTCRFSH"); a run that finds one going
# (a first computation of a period can outlast the interval) leaves the work to it.
REFRESH_LOCK_KEY = 0x4B4E544352465348


@dataclass(frozen=True)
class Refreshed:
    compaction: form_cache.Compaction
    computed: list[str]  # "period form root" of every form computed
    skipped: bool = False  # another refresh was running


def current_periods(session: Session, today: dt.date) -> list[Period]:
    since = today - dt.timedelta(days=RECENT_DAYS)
    return list(
        session.scalars(
            sa.select(Period).where(Period.starts_on <= today, Period.ends_on >= since).order_by(Period.ends_on)
        )
    )


def refresh(session: Session, forms: FormCatalogue, today: dt.date) -> Refreshed:
    """Compact, then compute and store every form of every current period; commits each.
    Does nothing (``skipped``) while another refresh runs."""
    # A session-level lock belongs to a connection, and the session changes connections at
    # each commit: the lock is taken and released on a connection of its own.
    engine = session.get_bind()
    assert isinstance(engine, sa.Engine), "refresh runs on a session bound to an engine"
    with engine.connect() as holder:
        locked = holder.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": REFRESH_LOCK_KEY})
        holder.commit()  # a session-level lock outlives the transaction, which need not stay open
        if not locked:
            return Refreshed(form_cache.Compaction(ran=False), [], skipped=True)
        try:
            return _refresh(session, forms, today)
        finally:
            holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": REFRESH_LOCK_KEY})
            holder.commit()


def _refresh(session: Session, forms: FormCatalogue, today: dt.date) -> Refreshed:
    compaction = form_cache.compact(session)
    session.commit()
    roots = list(session.scalars(sa.select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.code)))
    computed = []
    for period in current_periods(session, today):
        for code in forms.codes_in_effect(period.ends_on):  # any form may be requested, not only those collected
            form = forms.in_effect(code, period.ends_on)
            assert form is not None
            for root in roots:
                compute_form(session, form, period, root)
                session.commit()
                computed.append(f"{period.code} {code} {root.code}")
    return Refreshed(compaction, computed)
