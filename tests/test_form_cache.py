"""Stored unit figures (models/form_cache.py): every write makes the right units stale.

Each test computes a form with the stored figures, writes records the way any code path
would (the triggers of migration 0009 see every statement), and checks the next stored
computation against a computation that reads every record again (``cached=False``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from form_reference import Store
from sqlalchemy.orm import Session, sessionmaker

from models import form_cache
from models.base import utcnow
from models.form_refresh import refresh
from models.form_sql import ComputedForm, compute_form
from models.forms import FormVersion, catalogue
from models.handling import PetitionEvent
from models.periods import Period
from models.workflow import today

D = dt.date
QUARTER = Period(code="2026-Q3", starts_on=D(2026, 6, 15), ends_on=D(2026, 9, 14))
IN_PERIOD = D(2026, 7, 1)


def form(code: str = "01/TCD") -> FormVersion:
    found = catalogue().in_effect(code, QUARTER.ends_on)
    assert found is not None
    return found


def tree(db: Session) -> Store:
    store = Store(db)
    store.unit("VN")
    store.unit("P01", "VN")
    store.unit("X1", "P01")
    store.unit("X2", "P01")
    store.unit("P02", "VN")
    db.commit()
    return store


def both(db: Session, store: Store, code: str = "01/TCD", root: str = "VN") -> tuple[ComputedForm, ComputedForm]:
    """(stored, read again) for ``root``; the stored figures are committed."""
    unit = store.units[root]
    stored = compute_form(db, form(code), QUARTER, unit)
    db.commit()
    fresh = compute_form(db, form(code), QUARTER, unit, cached=False)
    db.rollback()
    return stored, fresh


def stored_rows(db: Session) -> int:
    return db.scalar(sa.select(sa.func.count()).select_from(form_cache.UnitFigures)) or 0


def test_figures_are_stored_and_follow_inserts_updates_and_deletes(db: Session) -> None:
    s = tree(db)
    first = s.reception("X1", IN_PERIOD, people=2)
    s.reception("P02", IN_PERIOD)
    db.commit()
    stored, fresh = both(db, s)
    assert stored == fresh and stored.columns["4"] == 2
    assert stored_rows(db) > 0

    s.reception("X2", IN_PERIOD, kind="head")  # insert
    db.commit()
    stored, fresh = both(db, s)
    assert stored == fresh and stored.columns["13"] == 1

    db.execute(sa.text("UPDATE receptions SET people = 7, crowd_group = true WHERE id = :id"), {"id": first})
    db.commit()
    stored, fresh = both(db, s, root="P01")
    assert stored == fresh and stored.columns["8"] == 1 and stored.columns["5"] == 7

    db.execute(sa.text("DELETE FROM receptions WHERE id = :id"), {"id": first})
    db.commit()
    stored, fresh = both(db, s)
    assert stored == fresh and stored.columns["4"] == 1


def test_a_case_held_by_two_units_makes_both_stale(db: Session) -> None:
    """X1's reception is a new case until X2 records an earlier petition of the same case."""
    s = tree(db)
    case = s.case("X1")
    s.reception("X1", IN_PERIOD, case)
    db.commit()
    stored, _ = both(db, s)
    assert (stored.columns["6"], stored.columns["7"]) == (1, 0)

    s.petition("X2", D(2026, 3, 1), case)  # before the period: the case is a repeat one
    db.commit()
    stored, fresh = both(db, s)
    assert stored == fresh
    assert (stored.columns["6"], stored.columns["7"]) == (0, 1)


def test_petition_events_make_their_unit_stale(db: Session) -> None:
    s = tree(db)
    petition = s.petition("X1", IN_PERIOD)
    db.commit()
    before, _ = both(db, s, "01/XLD")
    forwarded = PetitionEvent(
        petition_id=petition, effective_on=D(2026, 7, 3), action="forward", from_state="received", to_state="forwarded"
    )
    db.add(forwarded)
    db.commit()
    stored, fresh = both(db, s, "01/XLD")
    assert stored == fresh and stored != before


def test_figures_read_before_a_write_committed_are_not_kept(sessions: sessionmaker[Session]) -> None:
    """A computation that read the records before another transaction's write committed,
    and committed its figures after it, leaves them stale: the snapshot tells."""
    with sessions() as setup:
        s = tree(setup)
        s.reception("X1", IN_PERIOD)
        setup.commit()
        root = s.units["VN"]
    with sessions() as reader, sessions() as writer:
        computed = compute_form(reader, form(), QUARTER, root)  # read, not committed yet
        writer_store = Store(writer)
        writer_store.units = s.units
        writer_store.reception("X1", IN_PERIOD)
        writer.commit()  # the write commits while the reader's figures are not stored yet
        reader.commit()
        assert computed.columns["4"] == 1
        again = compute_form(reader, form(), QUARTER, root)
        reader.commit()
        assert again.columns["4"] == 2


def test_compaction_drops_stale_figures_and_the_changes(db: Session, sessions: sessionmaker[Session]) -> None:
    s = tree(db)
    s.reception("X1", IN_PERIOD)
    s.reception("X2", IN_PERIOD)
    db.commit()
    both(db, s)
    s.reception("X1", IN_PERIOD)
    db.commit()

    with sessions() as computing:  # a computation in progress holds the lock: no compaction
        form_cache.hold(computing)
        assert compact(db) == form_cache.Compaction(ran=False)
    done = compact(db)
    assert done.ran and done.changes >= 1 and done.dropped >= 1
    assert db.scalar(sa.select(sa.func.count()).select_from(form_cache.FormChange)) == 0
    x2 = s.units["X2"].id
    assert db.scalar(sa.select(sa.func.count()).where(form_cache.UnitFigures.unit_id == x2)) == 2  # still fresh
    stored, fresh = both(db, s)
    assert stored == fresh and stored.columns["4"] == 3


def compact(db: Session) -> form_cache.Compaction:
    done = form_cache.compact(db)
    db.commit()
    return done


def test_truncating_a_record_table_empties_the_cache(db: Session) -> None:
    s = tree(db)
    s.reception("X1", IN_PERIOD)
    db.commit()
    both(db, s)
    assert stored_rows(db) > 0
    db.execute(sa.text("TRUNCATE receptions CASCADE"))
    db.commit()
    assert stored_rows(db) == 0


def test_refresh_computes_current_periods_ahead_of_requests(db: Session) -> None:
    """The scheduler's job: compact the log, then store every form of current periods."""
    s = tree(db)
    current = Period(code="2026-Q3", starts_on=QUARTER.starts_on, ends_on=QUARTER.ends_on, due_at=utcnow(), forms=[])
    old = Period(code="2024-Q1", starts_on=D(2023, 12, 15), ends_on=D(2024, 3, 14), due_at=utcnow(), forms=[])
    db.add_all([current, old])
    s.reception("X1", IN_PERIOD)
    db.commit()

    done = refresh(db, catalogue(), today=D(2026, 10, 1))
    in_effect = catalogue().codes_in_effect(QUARTER.ends_on)
    assert done.computed == [f"2026-Q3 {code} VN" for code in in_effect]
    assert db.scalar(sa.select(sa.func.count(sa.distinct(form_cache.UnitFigures.starts_on)))) == 1
    assert stored_rows(db) >= len(in_effect) * len(s.units)

    s.reception("X2", IN_PERIOD)
    db.commit()
    again = refresh(db, catalogue(), today=D(2026, 10, 1))
    assert again.compaction.ran and again.compaction.changes >= 1 and again.compaction.dropped >= 1
    stored, fresh = both(db, s)
    assert stored == fresh and stored.columns["4"] == 2
    assert refresh(db, catalogue(), today=D(2026, 12, 1)).computed == []  # 78 days after: no longer current


def test_the_scheduled_job_stores_the_figures_of_the_current_period(
    db: Session, workers_running: Callable[..., Any]
) -> None:
    import workers
    from kntc import broker

    s = tree(db)
    now = today()
    starts = D(now.year, now.month, 15) - dt.timedelta(days=80)
    current = Period(code="current", starts_on=starts, ends_on=now + dt.timedelta(days=10), due_at=utcnow(), forms=[])
    db.add(current)
    s.reception("X1", now)
    db.commit()

    broker.send("maintenance", "refresh_form_figures", ())
    with workers_running():
        workers.broker.join("maintenance", timeout=30_000)

    in_effect = catalogue().codes_in_effect(current.ends_on)
    windows = db.scalars(sa.select(form_cache.UnitFigures.starts_on).distinct()).all()
    assert windows == [starts]
    assert db.scalar(sa.select(sa.func.count(sa.distinct(form_cache.UnitFigures.query_key)))) >= len(in_effect)
    assert compute_form(db, form(), current, s.units["VN"]).columns["4"] == 1


def test_one_refresh_at_a_time(db: Session, sessions: sessionmaker[Session]) -> None:
    from models.form_refresh import REFRESH_LOCK_KEY

    tree(db)
    with sessions() as other, other.get_bind().connect() as running:  # a refresh in progress elsewhere
        running.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": REFRESH_LOCK_KEY})
        assert refresh(db, catalogue(), today=D(2026, 10, 1)).skipped
        running.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": REFRESH_LOCK_KEY})
    assert not refresh(db, catalogue(), today=D(2026, 10, 1)).skipped
    assert not refresh(db, catalogue(), today=D(2026, 10, 1)).skipped, "the lock was released"
