"""Acting on a petition's handling (the state machine) and reading its history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from flask import Blueprint, request
from pydantic import Field

from models import workflow
from models.errors import NotFound
from models.handling import AMOUNTS, COUNTS, OUTCOMES, PetitionHandling
from models.records import Petition
from models.text import nfc
from models.units import Unit
from web.auth import login_required, principal, require_covers
from web.record_schemas import MAX_ID
from web.schemas import Body
from web.services import db

bp = Blueprint("workflow", __name__, url_prefix="/api/v1/petitions")

Amount = Annotated[Decimal, Field(ge=0, lt=Decimal(10) ** 16, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


class ActionBody(Body):
    """One action on a petition; the outcome fields matter to submit_for_review, approve, resolve and close."""

    action: Annotated[str, Field(min_length=1, max_length=30)]
    reason: Annotated[str, Field(max_length=4000)] | None = None
    to: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    on: dt.date | None = None
    complex_case: bool | None = None
    remote_area: bool | None = None
    resolution_round: Annotated[int, Field(ge=1, le=2)] | None = None
    outcome: Annotated[str, Field(pattern=f"^({'|'.join(OUTCOMES)})$")] | None = None
    decision_number: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    decision_date: dt.date | None = None
    money_recovered_state: Amount | None = None
    land_recovered_state: Amount | None = None
    money_returned_organisations: Amount | None = None
    land_returned_organisations: Amount | None = None
    money_returned_individuals: Amount | None = None
    land_returned_individuals: Amount | None = None
    organisations_restored: Count | None = None
    individuals_restored: Count | None = None
    sanctions_persons: Count | None = None
    sanctions_officials: Count | None = None
    referred_cases: Count | None = None
    referred_persons: Count | None = None
    referred_officials: Count | None = None
    court_judgment: Annotated[bool, Field(strict=True)] | None = None
    data: dict[str, Any] | None = Field(default=None, max_length=20)
    attachment_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )

    def command(self) -> workflow.Command:
        fields = workflow.OUTCOME_FIELDS
        outcome = {name: getattr(self, name) for name in fields if getattr(self, name) is not None}
        if "decision_number" in outcome:
            outcome["decision_number"] = nfc(outcome["decision_number"])
        return workflow.Command(
            action=self.action,
            reason=nfc(self.reason),
            to=self.to,
            on=self.on,
            complex_case=self.complex_case,
            remote_area=self.remote_area,
            resolution_round=self.resolution_round,
            outcome=outcome,
            data=self.data,
            attachment_ids=self.attachment_ids,
        )


def load_petition(petition_id: int) -> Petition:
    """The petition, when the caller's subtree covers its unit (403 otherwise, 404 if none)."""
    stmt = sa.select(Petition, Unit.path, Unit.code).join(Unit, Unit.id == Petition.unit_id)
    # An id beyond bigint is no petition, not a database error.
    row = db().execute(stmt.where(Petition.id == petition_id)).one_or_none() if petition_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no petition {petition_id}")
    petition, path, code = row
    require_covers(path, code)
    return petition


def handling_json(handling: PetitionHandling) -> dict[str, Any]:
    assignee = None
    if handling.assignee_id is not None:
        from models.accounts import Account

        assignee = db().scalar(sa.select(Account.username).where(Account.id == handling.assignee_id))
    amounts = {name: float(getattr(handling, name)) for name in AMOUNTS}
    return {
        "petition": handling.petition_id,
        "state": handling.state,
        "final": workflow.is_final(handling.state),
        "allowed_actions": workflow.actions_for(handling),
        "assignee": assignee,
        "due_on": _iso(handling.due_on),
        "overdue": handling.overdue_since is not None,
        "overdue_since": _iso(handling.overdue_since),
        "stuck_since": _iso(handling.stuck_since),
        "extensions": handling.extensions,
        "complex_case": handling.complex_case,
        "remote_area": handling.remote_area,
        "rules_version": handling.rules_version,
        "accepted_on": _iso(handling.accepted_on),
        "last_activity_at": _iso(handling.last_activity_at),
        "resolution": {
            "resolution_round": handling.resolution_round,
            "outcome": handling.outcome,
            "decision_number": handling.decision_number,
            "decision_date": _iso(handling.decision_date),
            "resolved_on": _iso(handling.resolved_on),
            **amounts,
            **{name: getattr(handling, name) for name in (*COUNTS, *workflow.FLAGS)},
        },
        **workflow.handling_record(db(), handling.petition_id),
    }


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


@bp.post("/<int:petition_id>/actions")
@login_required
def act(petition_id: int) -> dict[str, Any]:
    """Take one action; 409 with the allowed actions when the state does not allow it."""
    body = ActionBody.model_validate(request.get_json())
    petition = load_petition(petition_id)
    handling = workflow.act(db(), principal(), petition, body.command())
    db().commit()
    return handling_json(handling)


@bp.get("/<int:petition_id>/handling")
@login_required
def show(petition_id: int) -> dict[str, Any]:
    petition = load_petition(petition_id)
    handling = workflow.handling_for(db(), petition)
    db().commit()  # a lazily created handling row
    return handling_json(handling)


@bp.get("/<int:petition_id>/history")
@login_required
def history(petition_id: int) -> dict[str, Any]:
    """Every transition: who, when, from, to, why."""
    petition = load_petition(petition_id)
    events = [
        {
            "at": event.at.isoformat(),
            "on": event.effective_on.isoformat(),
            "by": username,
            "action": event.action,
            "from": event.from_state,
            "to": event.to_state,
            "reason": event.reason,
            "data": event.data,
        }
        for event, username in workflow.history(db(), petition.id)
    ]
    return {"petition": petition.id, "events": events}


def flag_filters() -> list[sa.ColumnElement[bool]]:
    """Conditions for ``?overdue=true`` and ``?stuck=true`` on the petitions list."""
    from models.errors import Invalid
    from models.overdue import flagged_filter

    conditions = []
    for name in ("overdue", "stuck"):
        raw = request.args.get(name)
        if raw is None or raw == "":
            continue
        if raw not in ("true", "false"):
            raise Invalid.field(name, "true or false")
        condition = flagged_filter(name)
        conditions.append(condition if raw == "true" else ~condition)
    return conditions
