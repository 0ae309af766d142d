"""Read-mostly lookups the intake makes on every request, cached for a short while.

At deadline night the same few thousand units and one period are read a thousand
times a second, and nearly every request is a unit's first contact: a per-code cache
would miss on all of them. So the whole unit table (a few thousand narrow rows) is kept
in memory and reloaded in one query when it is older than its TTL; a code it does not
know (a unit imported since) is looked up on its own. Periods are cached per code for a
second. A change (a re-import, a new deadline) shows within the TTL.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from models.periods import Period, Timeliness
from models.units import Unit

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[K], V]) -> V:
        now = time.monotonic()
        hit = self._items.get(key)
        if hit and hit[0] > now:
            return hit[1]
        value = load(key)
        with self._lock:
            self._items[key] = (now + self.seconds, value)
        return value

    def holds(self, key: K) -> bool:
        """True when a fresh value is cached for ``key``."""
        hit = self._items.get(key)
        return hit is not None and hit[0] > time.monotonic()

    def put(self, key: K, value: V) -> None:
        """Replace a cached value; it still expires when the one it replaces would have."""
        with self._lock:
            hit = self._items.get(key)
            self._items[key] = (hit[0] if hit else time.monotonic() + self.seconds, value)

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class UnitRef:
    id: int
    code: str
    level: str
    path: str
    opened_on: dt.date | None
    closed_on: dt.date | None

    def open_between(self, start: dt.date, end: dt.date) -> bool:
        opened = self.opened_on is None or self.opened_on <= end
        return opened and (self.closed_on is None or self.closed_on >= start)


@dataclass(frozen=True)
class PeriodRef:
    id: int
    code: str
    starts_on: dt.date
    ends_on: dt.date
    forms: tuple[str, ...]
    due_at: dt.datetime
    grace: dt.timedelta
    dues: tuple[tuple[str, dt.datetime], ...]

    def due_for(self, level: str) -> dt.datetime:
        return dict(self.dues).get(level, self.due_at)

    def closes_for(self, level: str) -> dt.datetime:
        return self.due_for(level) + self.grace

    def timeliness(self, level: str, at: dt.datetime) -> Timeliness:
        if at <= self.due_for(level):
            return Timeliness.ON_TIME
        if at <= self.closes_for(level):
            return Timeliness.LATE
        return Timeliness.CLOSED


def period_ref(period: Period) -> PeriodRef:
    return PeriodRef(
        id=period.id,
        code=period.code,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        forms=tuple(period.forms),
        due_at=period.due_at,
        grace=dt.timedelta(seconds=period.grace_seconds),
        dues=tuple((d.level, d.due_at) for d in period.dues),
    )


def unit_ref(unit: Unit) -> UnitRef:
    return UnitRef(unit.id, unit.code, unit.level, unit.path, unit.opened_on, unit.closed_on)


_DAY = dt.timedelta(days=1)
_UNIT_COLUMNS = (Unit.id, Unit.code, Unit.level, Unit.path, Unit.opened_on, Unit.closed_on)
_ALL_UNITS = sa.select(*_UNIT_COLUMNS)
_ONE_UNIT = sa.select(*_UNIT_COLUMNS).where(Unit.code == sa.bindparam("code"))


class Directory:
    """Units and periods by code, cached; ``None`` when there is no such code."""

    def __init__(self, sessions: sessionmaker[Session], unit_ttl: float = 30, period_ttl: float = 1) -> None:
        self._sessions = sessions
        self._unit_ttl = unit_ttl
        self._all_units: dict[str, UnitRef] = {}
        self._all_units_until = 0.0  # monotonic time the snapshot goes stale
        self._units: TTLCache[str, UnitRef | None] = TTLCache(unit_ttl)  # codes the snapshot lacked
        self._periods: TTLCache[str, PeriodRef | None] = TTLCache(period_ttl)
        self._lock = threading.Lock()

    def unit(self, code: str) -> UnitRef | None:
        if time.monotonic() >= self._all_units_until:
            self._reload_units()
        found = self._all_units.get(code)
        return found if found is not None else self._units.get(code, self._load_unit)

    def period(self, code: str) -> PeriodRef | None:
        return self._periods.get(code, self._load_period)

    def warm_up(self, around: dt.datetime) -> None:
        """Load the units, and the periods due within a day of ``around``, before any
        request asks for them."""
        self._reload_units()
        with self._sessions() as session:
            codes = session.scalars(sa.select(Period.code).where(Period.due_at.between(around - _DAY, around + _DAY)))
            for code in codes.all():
                self.period(code)

    def forget(self) -> None:
        with self._lock:
            self._all_units, self._all_units_until = {}, 0.0
        self._units.clear()
        self._periods.clear()

    def _reload_units(self) -> None:
        with self._lock:  # one thread reloads; the others wait and use its snapshot
            if time.monotonic() < self._all_units_until:
                return
            started = time.monotonic()
            with self._sessions() as session:
                rows = session.execute(_ALL_UNITS).all()
            self._all_units = {row.code: UnitRef(*row) for row in rows}
            self._units.clear()
            self._all_units_until = started + self._unit_ttl

    def _load_unit(self, code: str) -> UnitRef | None:
        with self._sessions() as session:
            row = session.execute(_ONE_UNIT, {"code": code}).one_or_none()
            return UnitRef(*row) if row else None

    def _load_period(self, code: str) -> PeriodRef | None:
        with self._sessions() as session:
            period = session.scalar(sa.select(Period).where(Period.code == code))
            return period_ref(period) if period else None
