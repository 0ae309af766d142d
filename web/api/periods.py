"""Reporting periods, their lock exceptions, and who has reported."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, request
from flask import json as fjson

from models.completeness import completeness
from models.errors import Conflict, Invalid, NotFound
from models.periods import LockException, Period, PeriodDue, new_period, parse_duration, parse_instant
from web.api.units import get_unit
from web.auth import login_required, require_admin_above, require_covers, require_root_admin
from web.schemas import LockExceptionBody, PeriodBody, PeriodChange
from web.services import db, services

bp = Blueprint("periods", __name__, url_prefix="/api/v1/periods")


def get_period(code: str) -> Period:
    period = db().scalar(sa.select(Period).where(Period.code == code))
    if period is None:
        raise NotFound(f"no reporting period {code!r}; check the code")
    return period


def period_json(period: Period) -> dict[str, Any]:
    return {
        "code": period.code,
        "starts": period.starts_on.isoformat(),
        "ends": period.ends_on.isoformat(),
        "due": period.due_at.isoformat(),
        "due_for": {d.level: d.due_at.isoformat() for d in period.dues},
        "grace_seconds": period.grace_seconds,
        "forms": period.forms,
    }


def _created(body: dict[str, Any], location: str) -> Response:
    response = Response(fjson.dumps(body, ensure_ascii=False), status=201, mimetype="application/json")
    response.headers["Location"] = location
    return response


@bp.post("")
@login_required
def create() -> Response:
    require_root_admin("create reporting periods")
    body = PeriodBody.model_validate(request.get_json())
    forms = services().forms
    period = new_period(
        code=body.code,
        starts_on=body.starts,
        ends_on=body.ends,
        due_at=parse_instant("due", body.due),
        # Levels as units store them (lower-case), as the CLI's --due-for does.
        dues={level.strip().lower(): parse_instant(f"due_for.{level}", at) for level, at in body.due_for.items()},
        grace=parse_duration(body.grace),
        forms=body.forms or forms.codes_in_effect(body.ends),
        known_forms=forms.codes,
    )
    if db().scalar(sa.select(Period.id).where(Period.code == body.code)):
        raise Conflict(f"period {body.code} exists already; change it with PATCH")
    db().add(period)
    db().commit()
    return _created(period_json(period), f"/api/v1/periods/{period.code}")


@bp.get("/<code>")
@login_required
def show(code: str) -> dict[str, Any]:
    return period_json(get_period(code))


@bp.patch("/<code>")
@login_required
def change(code: str) -> dict[str, Any]:
    """Move a deadline or the grace (receipts already signed keep their timeliness)."""
    require_root_admin("change reporting periods")
    body = PeriodChange.model_validate(request.get_json())
    period = get_period(code)
    if body.due is not None:
        period.due_at = parse_instant("due", body.due)
    if body.grace is not None:
        period.grace_seconds = int(parse_duration(body.grace).total_seconds())
    if body.due_for is not None:
        dues = {level.strip().lower(): parse_instant(f"due_for.{level}", at) for level, at in body.due_for.items()}
        period.dues = [PeriodDue(level=level, due_at=at) for level, at in sorted(dues.items())]
    db().commit()
    services().directory.forget()
    return period_json(period)


@bp.get("/<code>/completeness")
@login_required
def show_completeness(code: str) -> dict[str, Any]:
    period = get_period(code)
    unit_code, form = request.args.get("unit"), request.args.get("form")
    if not unit_code:
        raise Invalid.field("unit", "give ?unit=CODE, the root of the subtree to count")
    if not form or not services().forms.knows(form):
        raise Invalid.field("form", f"give ?form= one of {', '.join(services().forms.codes)}")
    unit = get_unit(unit_code)
    require_covers(unit.path, unit.code)
    return completeness(db(), period, unit, form)


@bp.post("/<code>/lock-exceptions")
@login_required
def open_lock_exception(code: str) -> Response:
    """Let one unit submit one form after the period closed for it."""
    period = get_period(code)
    body = LockExceptionBody.model_validate(request.get_json())
    unit = get_unit(body.unit)
    who = require_admin_above(unit.path, unit.code, "open a lock exception for it")
    if not services().forms.knows(body.form):
        raise Invalid.field("form", f"unknown form {body.form!r}")
    exists = db().scalar(
        sa.select(LockException.id).where(
            LockException.period_id == period.id, LockException.unit_id == unit.id, LockException.form_code == body.form
        )
    )
    if exists is None:
        db().add(
            LockException(
                period_id=period.id, unit_id=unit.id, form_code=body.form, reason=body.reason, opened_by=who.account_id
            )
        )
        db().commit()
    result = {"period": period.code, "unit": unit.code, "form": body.form, "reason": body.reason}
    return _created(result, f"/api/v1/periods/{period.code}/lock-exceptions")
