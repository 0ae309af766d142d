"""Citizen receptions, reception sessions, petitions and the cases they belong to.

Each record is ``draft`` or ``final``: drafts never count in a form and may be deleted
by a province's admins; final records are only corrected, with an audited change.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, created_at, intpk, utcnow


class Status(StrEnum):
    DRAFT = "draft"
    FINAL = "final"


RECEPTION_KINDS = ("regular", "head", "delegated")
SESSION_KINDS = ("head", "delegated")
PETITION_SOURCES = ("in_person", "post", "forwarded", "online")
STATUSES = tuple(s.value for s in Status)
# A crowd group (đoàn đông người) and a multi-signatory petition: five or more people.
CROWD_MINIMUM = 5


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Case(Base):
    """One matter (vụ việc); its receptions and petitions point at it.

    Its first date is derived, never stored: min(received_on) over its final records.
    """

    __tablename__ = "cases"

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    created_at: Mapped[created_at]


class ReceptionSession(Base):
    """A session held by the head or a delegate (01/TCD cols 12, 21), even if nobody came."""

    __tablename__ = "reception_sessions"
    __table_args__ = (
        sa.CheckConstraint(_one_of("kind", SESSION_KINDS), name="kind"),
        sa.CheckConstraint(_one_of("status", STATUSES), name="status"),
        sa.Index("ix_reception_sessions_unit_held", "unit_id", "held_on"),
    )

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    held_on: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(sa.String(20))
    host: Mapped[str] = mapped_column(sa.String(300))
    note: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[created_at]


class Reception(Base):
    """One turn (lượt) of citizen reception; ``people`` is its head-count."""

    __tablename__ = "receptions"
    __table_args__ = (
        sa.CheckConstraint(_one_of("kind", RECEPTION_KINDS), name="kind"),
        sa.CheckConstraint(_one_of("status", STATUSES), name="status"),
        sa.CheckConstraint("people >= 1", name="people"),
        sa.CheckConstraint(f"NOT crowd_group OR people >= {CROWD_MINIMUM}", name="crowd_group"),
        sa.Index("ix_receptions_unit_received", "unit_id", "received_on"),
    )

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    received_on: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(sa.String(20))
    people: Mapped[int]
    crowd_group: Mapped[bool] = mapped_column(default=False)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reception_sessions.id"), index=True)
    content_type: Mapped[str] = mapped_column(sa.String(40))
    field: Mapped[str] = mapped_column(sa.String(40))
    catalogue_version: Mapped[str] = mapped_column(sa.String(40))
    status: Mapped[str] = mapped_column(sa.String(10), index=True)
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Petition(Base):
    """A petition (đơn): the written document, classified and belonging to a case."""

    __tablename__ = "petitions"
    __table_args__ = (
        sa.CheckConstraint(_one_of("source", PETITION_SOURCES), name="source"),
        sa.CheckConstraint(_one_of("status", STATUSES), name="status"),
        sa.CheckConstraint("signatories >= 1", name="signatories"),
        sa.CheckConstraint(f"multi_signatory = (signatories >= {CROWD_MINIMUM})", name="multi_signatory"),
        sa.CheckConstraint("duplicate_of IS NULL OR duplicate_of <> id", name="not_own_duplicate"),
        sa.Index("ix_petitions_unit_received", "unit_id", "received_on"),
        sa.Index(
            "ix_petitions_summary_trgm",
            "summary",
            postgresql_using="gin",
            postgresql_ops={"summary": "gin_trgm_ops"},
        ),
        sa.Index(
            "ix_petitions_name_folded_trgm",
            "petitioner_name_folded",
            postgresql_using="gin",
            postgresql_ops={"petitioner_name_folded": "gin_trgm_ops"},
        ),
    )

    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    received_on: Mapped[dt.date]
    source: Mapped[str] = mapped_column(sa.String(20))
    reception_id: Mapped[int | None] = mapped_column(sa.ForeignKey("receptions.id"), index=True)
    signatories: Mapped[int] = mapped_column(default=1)
    multi_signatory: Mapped[bool] = mapped_column(default=False)
    anonymous: Mapped[bool] = mapped_column(default=False)
    petitioner_name: Mapped[str | None] = mapped_column(sa.String(300))
    petitioner_name_folded: Mapped[str] = mapped_column(sa.String(300), default="")
    petitioner_id_number: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    petitioner_address: Mapped[str | None] = mapped_column(sa.String(500))
    petitioner_address_folded: Mapped[str] = mapped_column(sa.String(500), default="")
    content_type: Mapped[str] = mapped_column(sa.String(40))
    field: Mapped[str] = mapped_column(sa.String(40))
    catalogue_version: Mapped[str] = mapped_column(sa.String(40))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    eligible: Mapped[bool | None]
    within_competence: Mapped[bool | None]
    attachment_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    duplicate_of: Mapped[int | None] = mapped_column(sa.ForeignKey("petitions.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(10), index=True)
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def case_first_dates(case_ids: list[int]) -> sa.Select[Any]:
    """SELECT case_id, first_on: each case's first day over its final receptions and petitions."""
    final_receptions = sa.select(Reception.case_id, Reception.received_on).where(Reception.status == Status.FINAL)
    final_petitions = sa.select(Petition.case_id, Petition.received_on).where(Petition.status == Status.FINAL)
    both = sa.union_all(final_receptions, final_petitions).subquery()
    return (
        sa.select(both.c.case_id, sa.func.min(both.c.received_on).label("first_on"))
        .where(both.c.case_id.in_(case_ids))
        .group_by(both.c.case_id)
    )
