"""Usage statistics per CONTRACT: accounts issued and active, units with and without data."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from models.errors import Invalid
from models.permissions import Action, require
from models.usage import usage
from web.auth import login_required, principal
from web.records import date_arg, get_unit_or_invalid
from web.services import db

bp = Blueprint("usage", __name__, url_prefix="/api/v1/usage")


@bp.get("")
@login_required
def show() -> dict[str, Any]:
    """``?unit=CODE&since=YYYY-MM-DD`` over the unit's subtree (admins and leaders)."""
    who = principal()
    unit = get_unit_or_invalid(request.args.get("unit") or who.unit_code)
    require(who, Action.READ_USAGE, unit.path, unit.code)
    since = date_arg("since")
    if since is None:
        raise Invalid.field("since", "give ?since=YYYY-MM-DD: accounts seen and records received from that day count")
    return usage(db(), unit, since)
