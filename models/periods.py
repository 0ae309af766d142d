"""Reporting periods: a data window, a due time (per level if need be), a grace, lock exceptions."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, JSONType, created_at, intpk
from models.errors import Invalid

# Deadlines are shown to people in Vietnam's time, whatever the server's zone.
VIETNAM_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")


class Timeliness(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    CLOSED = "closed"


class Period(Base):
    __tablename__ = "periods"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    due_at: Mapped[dt.datetime]
    grace_seconds: Mapped[int] = mapped_column(default=0)
    forms: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[created_at]

    dues: Mapped[list[PeriodDue]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="PeriodDue.level"
    )


class PeriodDue(Base):
    """A level's own deadline (communes about the 16th, provinces the 18th, ...)."""

    __tablename__ = "period_dues"

    period_id: Mapped[int] = mapped_column(sa.ForeignKey("periods.id"), primary_key=True)
    level: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    due_at: Mapped[dt.datetime]


class LockException(Base):
    """Lets one unit submit one form after the period closed, opened by an admin above it."""

    __tablename__ = "lock_exceptions"
    __table_args__ = (sa.UniqueConstraint("period_id", "unit_id", "form_code"),)

    id: Mapped[intpk]
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("periods.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    form_code: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    opened_by: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[created_at]


def describe_deadline(at: dt.datetime) -> str:
    """A deadline as officers read it: Vietnam time with its offset."""
    return at.astimezone(VIETNAM_TZ).isoformat(timespec="minutes")


_DURATION = re.compile(r"^(\d+)\s*([smhd])$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> dt.timedelta:
    """``48h``, ``30m``, ``2d`` or ``90s``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise Invalid.field("grace", f"{text!r} is not a duration; write e.g. 48h, 30m or 2d")
    return dt.timedelta(seconds=int(match.group(1)) * _DURATION_SECONDS[match.group(2)])


def parse_instant(field: str, text: str) -> dt.datetime:
    """An ISO 8601 time; one without an offset is taken as Vietnam time, as officers write it."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise Invalid.field(field, f"{text!r} is not an ISO 8601 time, e.g. 2026-12-16T17:00:00+07:00") from None
    return value if value.tzinfo else value.replace(tzinfo=VIETNAM_TZ)


def new_period(
    *,
    code: str,
    starts_on: dt.date,
    ends_on: dt.date,
    due_at: dt.datetime,
    dues: dict[str, dt.datetime],
    grace: dt.timedelta,
    forms: list[str],
    known_forms: list[str],
) -> Period:
    """A checked, unsaved period; raises Invalid naming the field that is wrong."""
    if not code or len(code) > 40:
        raise Invalid.field("code", "give a code of 1-40 characters, e.g. 2026-Q4")
    if ends_on < starts_on:
        raise Invalid.field("ends", f"the last day of data {ends_on} is before the first {starts_on}")
    if grace < dt.timedelta(0):
        raise Invalid.field("grace", "must not be negative")
    unknown = [f for f in forms if f not in known_forms]
    if unknown:
        raise Invalid.field("forms", f"unknown form(s) {', '.join(unknown)}; known: {', '.join(known_forms)}")
    period = Period(
        code=code,
        starts_on=starts_on,
        ends_on=ends_on,
        due_at=due_at,
        grace_seconds=int(grace.total_seconds()),
        forms=forms,
    )
    period.dues = [PeriodDue(level=level, due_at=at) for level, at in sorted(dues.items())]
    return period
