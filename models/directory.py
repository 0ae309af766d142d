"""Read-mostly lookups the intake makes on every request, cached for a short while.

At deadline night the same few thousand units and one period are read a thousand
times a second; a cache that lives a second or a minute saves most of those queries,
and a change (a re-import, a new deadline) shows within that time.
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


class Directory:
    """Units and periods by code, cached; ``None`` when there is no such code."""

    def __init__(self, sessions: sessionmaker[Session], unit_ttl: float = 30, period_ttl: float = 1) -> None:
        self._sessions = sessions
        self._units: TTLCache[str, UnitRef | None] = TTLCache(unit_ttl)
        self._periods: TTLCache[str, PeriodRef | None] = TTLCache(period_ttl)

    def unit(self, code: str) -> UnitRef | None:
        return self._units.get(code, self._load_unit)

    def period(self, code: str) -> PeriodRef | None:
        return self._periods.get(code, self._load_period)

    def forget(self) -> None:
        self._units.clear()
        self._periods.clear()

    def _load_unit(self, code: str) -> UnitRef | None:
        with self._sessions() as session:
            unit = session.scalar(sa.select(Unit).where(Unit.code == code))
            return unit_ref(unit) if unit else None

    def _load_period(self, code: str) -> PeriodRef | None:
        with self._sessions() as session:
            period = session.scalar(sa.select(Period).where(Period.code == code))
            return period_ref(period) if period else None
