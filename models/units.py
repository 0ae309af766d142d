"""Units: the reporting tree, whose levels change with administrative reforms."""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, created_at, intpk

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PATH_SEPARATOR = "/"


class Unit(Base):
    """A government unit that records petitions and reports.

    ``path`` is the materialized path of codes from the root (``/VN/79/79.26734/``), so
    a subtree is one prefix match and the ancestors are the path's own segments.
    """

    __tablename__ = "units"

    id: Mapped[intpk]
    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    level: Mapped[str] = mapped_column(sa.String(40))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    path: Mapped[str] = mapped_column(sa.String(1000), index=True)
    opened_on: Mapped[dt.date | None]
    closed_on: Mapped[dt.date | None]
    created_at: Mapped[created_at]

    @property
    def ancestor_codes(self) -> list[str]:
        """Codes from the root down to the parent."""
        return path_codes(self.path)[:-1]

    def contains(self, other_path: str) -> bool:
        """True when the unit at ``other_path`` is this unit or below it."""
        return other_path.startswith(self.path)

    def open_between(self, start: dt.date, end: dt.date) -> bool:
        """True when the unit existed at some day of [start, end]."""
        opened = self.opened_on is None or self.opened_on <= end
        return opened and (self.closed_on is None or self.closed_on >= start)


def path_codes(path: str) -> list[str]:
    return [code for code in path.split(PATH_SEPARATOR) if code]


def child_path(parent_path: str | None, code: str) -> str:
    return f"{parent_path or PATH_SEPARATOR}{code}{PATH_SEPARATOR}"


def subtree_clause(path: str) -> sa.ColumnElement[bool]:
    """SQL condition: the unit is the one at ``path`` or below it."""
    return Unit.path.startswith(path, autoescape=True)


def open_during_clause(start: dt.date, end: dt.date) -> sa.ColumnElement[bool]:
    """SQL condition: the unit existed at some day of [start, end]."""
    return sa.and_(
        sa.or_(Unit.opened_on.is_(None), Unit.opened_on <= end),
        sa.or_(Unit.closed_on.is_(None), Unit.closed_on >= start),
    )
