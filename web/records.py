"""What the records endpoints share: loading a record the caller may see, query arguments, JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import Response, json, request

from models.auth import Principal
from models.errors import Invalid, NotFound
from models.permissions import Action, require, require_draft_deleter
from models.record_changes import as_dict
from models.record_queries import DEFAULT_LIMIT, MAX_LIMIT, RecordFilters
from models.records import Petition, Reception, ReceptionSession
from models.units import Unit
from web.api.units import get_unit
from web.auth import principal
from web.record_schemas import MAX_ID
from web.services import db

M = TypeVar("M", Reception, Petition, ReceptionSession)


def json_response(body: Any, status: int = 200, location: str | None = None) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")
    if location:
        response.headers["Location"] = location
    return response


def visible(model: type[M], record_id: int, action: Action = Action.READ_RECORDS) -> tuple[M, Unit]:
    """The record and its unit; 404 when there is none, 403 when it is outside the caller's subtree."""
    record = db().get(model, record_id) if record_id <= MAX_ID else None
    if record is None:
        raise NotFound(f"no {model.__tablename__.rstrip('s').replace('_', ' ')} {record_id}")
    unit = db().get_one(Unit, record.unit_id)
    require(principal(), action, unit.path, unit.code)
    return record, unit


def writable_unit(code: str) -> Unit:
    """The unit a new record is for, checked: the caller writes records there."""
    unit = get_unit_or_invalid(code)
    require(principal(), Action.WRITE_RECORDS, unit.path, unit.code)
    return unit


def get_unit_or_invalid(code: str, name: str = "unit") -> Unit:
    try:
        return get_unit(code)
    except NotFound:
        raise Invalid.field(name, f"no unit {code!r}; check the code") from None


def require_draft_deletion(unit: Unit) -> Principal:
    """403 unless the caller is an admin of a province (or above) covering ``unit``."""
    who = principal()
    level = db().scalar(sa.select(Unit.level).where(Unit.id == who.unit_id)) or ""
    require_draft_deleter(who, level, unit.path, unit.code)
    return who


def record_json(record: Reception | Petition | ReceptionSession, unit_code: str) -> dict[str, Any]:
    body = as_dict(record)
    body.pop("unit_id")
    if isinstance(record, Petition):
        body.pop("petitioner_name_folded")
        body.pop("petitioner_address_folded")
    return {"unit": unit_code, **body}


def unit_codes(unit_ids: set[int]) -> dict[int, str]:
    if not unit_ids:
        return {}
    return dict(db().execute(sa.select(Unit.id, Unit.code).where(Unit.id.in_(unit_ids))).all())


# --- query arguments ----------------------------------------------------------------------


def date_arg(name: str) -> dt.date | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid.field(name, "a date such as 2026-10-02") from None


def int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if not value:
        return None
    if not value.isdigit() or int(value) > MAX_ID:
        raise Invalid.field(name, "a whole number")
    return int(value)


def choice_arg(name: str, choices: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in choices:
        raise Invalid.field(name, f"one of {', '.join(choices)}")
    return value


def limit_arg() -> int:
    limit = int_arg("limit") or DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid.field("limit", f"between 1 and {MAX_LIMIT}")
    return limit


def list_filters() -> RecordFilters:
    """The filters common to every list: ``unit`` (default the caller's), dates, status, classification, case."""
    who = principal()
    code = request.args.get("unit") or who.unit_code
    unit = get_unit_or_invalid(code)
    require(who, Action.READ_RECORDS, unit.path, unit.code)
    since, until = date_arg("from"), date_arg("to")
    if since and until and since > until:
        raise Invalid.field("to", f"ends before from ({since.isoformat()})")
    return RecordFilters(
        unit_path=unit.path,
        since=since,
        until=until,
        status=choice_arg("status", ("draft", "final")),
        content_type=request.args.get("content_type") or None,
        field=request.args.get("field") or None,
        case_id=int_arg("case"),
    )
