"""Forms computed from records: prefill for a submission, and reconciliation of submissions with records.

``GET /api/v1/forms/{form}/computed?unit=&period=``: the form code in the path is either
URL-encoded (``01%2FTCD``; WSGI decodes it to ``01/TCD``, which the ``path`` converter
takes) or written with a dash as the form files are named (``01-TCD``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, request

from models.accounts import SUBMITTING_ROLES
from models.errors import Forbidden, Invalid, NotFound
from models.form_sql import compute_form
from models.periods import Period
from models.reconciliation import reconciliation
from models.report_requests import canonical_form_code, plain, resolve
from models.units import Unit
from web.auth import login_required, principal, require_covers
from web.services import db, services

bp = Blueprint("forms", __name__)


def form_code(raw: str) -> str:
    return canonical_form_code(services().forms, raw)


def _required(name: str, example: str) -> str:
    value = request.args.get(name, "").strip()
    if not value:
        raise Invalid.field(name, f"give ?{name}=, e.g. {example}")
    return value


@bp.get("/api/v1/forms/<path:form>/computed")
@login_required
def computed(form: str) -> dict[str, Any]:
    """The figures a unit's records give for a form and period: what it can submit."""
    who = principal()
    if who.role not in SUBMITTING_ROLES:
        roles = ", ".join(sorted(SUBMITTING_ROLES))
        raise Forbidden(
            f"role {who.role.value} cannot submit reports, so has nothing to prefill; roles that may: {roles}"
        )
    unit_code, period_code = _required("unit", "79"), _required("period", "2026-Q4")
    version, period, unit = resolve(db(), services().forms, who, form_code(form), period_code, unit_code)
    if not unit.open_between(period.starts_on, period.ends_on):
        raise Invalid.field("unit", f"unit {unit.code} was not open during period {period.code}")
    result = compute_form(db(), version, period, unit)
    db().commit()  # keeps the unit figures it stored (models/form_cache.py)
    figures = {str(c.number): plain(result.columns.get(str(c.number), 0)) for c in version.columns if c.numeric}
    notes = [
        str(result.columns[str(c.number)])
        for c in version.columns
        if not c.numeric and result.columns.get(str(c.number))
    ]
    return {
        "form": version.code,
        "version": version.version,
        "period": period.code,
        "unit": unit.code,
        "figures": figures,
        "note": "\n".join(notes) or None,
        "columns": {key: plain(value) for key, value in result.columns.items()},
        "children": [
            {"unit": c.unit, "name": c.name, "columns": {k: plain(v) for k, v in c.columns.items()}}
            for c in result.children
        ],
    }


@bp.get("/api/v1/periods/<code>/reconciliation")
@login_required
def show_reconciliation(code: str) -> dict[str, Any]:
    """Units of a subtree whose newest accepted submission differs from their records, column by column."""
    period = db().scalar(sa.select(Period).where(Period.code == code))
    if period is None:
        raise NotFound(f"no reporting period {code!r}; check the code")
    root = db().scalar(sa.select(Unit).where(Unit.code == _required("unit", "79")))
    if root is None:
        raise Invalid.field("unit", f"no unit {request.args['unit']!r}; check the code")
    wanted = request.args.get("form")
    if wanted is not None:
        wanted = form_code(wanted)
        if not services().forms.knows(wanted):
            raise Invalid.field("form", f"unknown form {wanted!r}; known forms: {', '.join(services().forms.codes)}")
    require_covers(root.path, root.code)
    return reconciliation(db(), period, root, wanted, services().forms)
