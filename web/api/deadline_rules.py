"""Legal deadline rules: the versions in force, and new versions (root admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, json, request
from pydantic import Field

from models import deadlines
from models.errors import Invalid
from web.auth import login_required, require_root_admin
from web.schemas import Body
from web.services import db

bp = Blueprint("deadline_rules", __name__, url_prefix="/api/v1/deadline-rules")

Count = Literal["calendar", "working"]
Days = Annotated[int, Field(ge=1, le=365)]
Kind = Literal["complaint", "denunciation", "recommendation"]


class Stage(Body):
    days: Days
    count: Count
    max_days: Days | None = None


class Variants(Body):
    normal: Days
    complex: Days
    remote: Days
    remote_complex: Days


class Resolve(Body):
    count: Count
    rounds: dict[Literal["1", "2"], Variants] = Field(min_length=1)


class Extensions(Body):
    max: Annotated[int, Field(ge=0, le=5)]
    days: Annotated[int, Field(ge=0, le=365)]
    count: Count = "calendar"


class KindRules(Body):
    accept: Stage
    resolve: Resolve
    extensions: Extensions = Extensions(max=0, days=0)
    forward: Stage | None = None


def _aliases() -> dict[str, Kind]:
    return {"dispute": "complaint", "mixed": "complaint"}


class DeadlineRulesBody(Body):
    """One version of the deadlines, the shape of the files in ``models/deadline_rules/``."""

    version: Annotated[str, Field(pattern=r"^[0-9A-Za-z._-]{1,40}$")]
    effective_from: dt.date
    unconfirmed: bool = False
    note: Annotated[str, Field(max_length=4000)] = ""
    laws: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=20)
    handling: Stage
    complaint: KindRules
    denunciation: KindRules
    recommendation: KindRules
    aliases: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")], Kind] = Field(default_factory=_aliases)


def rules_json(rules: deadlines.DeadlineRules) -> dict[str, Any]:
    return {**rules.data, "shipped": rules.shipped}


@bp.get("")
@login_required
def listing() -> dict[str, Any]:
    """Every version, oldest first; ``?on=DATE`` gives ``in_force``, the version of that day."""
    known = deadlines.versions(db())
    result: dict[str, Any] = {"versions": [rules_json(r) for r in known]}
    on = request.args.get("on")
    if on:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError:
            raise Invalid.field("on", "a date YYYY-MM-DD") from None
        try:
            result["in_force"] = rules_json(deadlines.rules_on(day, known))
        except deadlines.RuleError as error:
            raise Invalid.field("on", str(error)) from None
    return result


@bp.post("")
@login_required
def create() -> Response:
    """Add a version (e.g. the amended laws' confirmed numbers); it applies to stages started from its date."""
    who = require_root_admin("change the legal deadline rules")
    body = DeadlineRulesBody.model_validate(request.get_json())
    data = body.model_dump(mode="json", exclude_none=True)
    rules = deadlines.add_version(db(), data, who.account_id)
    db().commit()
    response = Response(json.dumps(rules_json(rules), ensure_ascii=False), status=201, mimetype="application/json")
    response.headers["Location"] = f"/api/v1/deadline-rules?on={rules.effective_from.isoformat()}"
    return response
