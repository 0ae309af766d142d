"""Where each petition stands in its handling, and the append-only history of how it got there.

``petition_handling`` is one row per petition (its state, assignee, deadline and the
outcome of its resolution); ``petition_events`` keeps every transition and is never
updated nor deleted (a PostgreSQL trigger of migration 0003 refuses both).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, UTCDateTime, created_at, intpk, utcnow

Amount = sa.Numeric(18, 2)

# The first resolution finds a complaint right, wrong or partly right (a denunciation true,
# false or partly true); the second resolution of a complaint upholds or amends the first
# (Luật Khiếu nại 2011 art. 40); withdrawal (art. 10, Luật Tố cáo 2018 art. 33) and
# suspension (Luật Tố cáo art. 34) end the resolution of a complaint or denunciation
# without a finding, by the head's decision (the action close).
FIRST_OUTCOMES = ("right", "wrong", "partly_right")
SECOND_OUTCOMES = ("upheld", "amended")
CLOSING_OUTCOMES = ("withdrawn", "suspended")
OUTCOMES = (*FIRST_OUTCOMES, *SECOND_OUTCOMES, *CLOSING_OUTCOMES)
# The resolution's figures the forms add up: money (million VND) and land (m²), then head-counts.
AMOUNTS = (
    "money_recovered_state",
    "land_recovered_state",
    "money_returned_organisations",
    "land_returned_organisations",
    "money_returned_individuals",
    "land_returned_individuals",
)
COUNTS = (
    "organisations_restored",
    "individuals_restored",
    "sanctions_persons",
    "sanctions_officials",
    "referred_cases",
    "referred_persons",
    "referred_officials",
)


class PetitionHandling(Base):
    __tablename__ = "petition_handling"
    __table_args__ = (
        sa.CheckConstraint("extensions >= 0", name="extensions_not_negative"),
        sa.CheckConstraint("resolution_round IN (1, 2)", name="resolution_round"),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN "
            "('right', 'wrong', 'partly_right', 'upheld', 'amended', 'withdrawn', 'suspended')",
            name="outcome",
        ),
        # A second resolution upholds or amends the first (Luật Khiếu nại 2011 art. 40).
        sa.CheckConstraint(
            "outcome NOT IN ('upheld', 'amended') OR resolution_round = 2", name="second_resolution_outcome"
        ),
        # The forms print officials as "of which" the persons (01/KQGQ 15-16, 17-19).
        sa.CheckConstraint("sanctions_officials <= sanctions_persons", name="sanctioned_officials_among_persons"),
        sa.CheckConstraint("referred_officials <= referred_persons", name="referred_officials_among_persons"),
        sa.CheckConstraint(
            "sanctions_persons >= 0 AND sanctions_officials >= 0 AND referred_cases >= 0 "
            "AND referred_persons >= 0 AND referred_officials >= 0",
            name="resolution_counts_not_negative",
        ),
        # The gauges count flagged rows at every scrape, and the job clears flags: both read
        # only the few flagged rows of millions.
        sa.Index(
            "ix_petition_handling_flagged",
            "petition_id",
            postgresql_where=sa.text("overdue_since IS NOT NULL OR stuck_since IS NOT NULL"),
        ),
    )

    petition_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("petitions.id"), primary_key=True
    )
    state: Mapped[str] = mapped_column(sa.String(20), index=True)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"), index=True)
    last_activity_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The deadline of the current stage (classification, acceptance or resolution).
    stage_started_on: Mapped[dt.date]
    due_on: Mapped[dt.date | None] = mapped_column(index=True)
    rules_version: Mapped[str | None] = mapped_column(sa.String(20))
    accepted_on: Mapped[dt.date | None]
    complex_case: Mapped[bool] = mapped_column(default=False)
    remote_area: Mapped[bool] = mapped_column(default=False)
    extensions: Mapped[int] = mapped_column(default=0)
    # Set and cleared by the overdue job (workers/overdue.py).
    overdue_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    stuck_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The resolution (required to enter the state "resolved").
    resolution_round: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    outcome: Mapped[str | None] = mapped_column(sa.String(20))
    decision_number: Mapped[str | None] = mapped_column(sa.String(100))
    decision_date: Mapped[dt.date | None]
    resolved_on: Mapped[dt.date | None]
    money_recovered_state: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    land_recovered_state: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    money_returned_organisations: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    land_returned_organisations: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    money_returned_individuals: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    land_returned_individuals: Mapped[Decimal] = mapped_column(Amount, default=Decimal(0))
    organisations_restored: Mapped[int] = mapped_column(default=0)
    individuals_restored: Mapped[int] = mapped_column(default=0)
    # Administrative sanctions proposed, and matters referred to the investigating bodies.
    sanctions_persons: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    sanctions_officials: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    referred_cases: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    referred_persons: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    referred_officials: Mapped[int] = mapped_column(default=0, server_default=sa.text("0"))
    # The matter ended by a court judgment (2a column 30).
    court_judgment: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Write-once copies of facts of the history, so the forms need not scan every
    # petition's events: the first event leaving received/classified (its target state and
    # day), the first urging letter and the first reply to a forwarded petition. Set by
    # models.workflow.act with the event; equal to what petition_events say, by construction.
    handled_as: Mapped[str | None] = mapped_column(sa.String(20))
    handled_on: Mapped[dt.date | None]
    urged_on: Mapped[dt.date | None]
    reply_received_on: Mapped[dt.date | None]
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class PetitionEvent(Base):
    __tablename__ = "petition_events"

    id: Mapped[intpk]
    petition_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("petitions.id"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    effective_on: Mapped[dt.date]
    account_id: Mapped[int | None] = mapped_column(sa.ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(sa.String(30))
    from_state: Mapped[str | None] = mapped_column(sa.String(20))
    to_state: Mapped[str] = mapped_column(sa.String(20))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
