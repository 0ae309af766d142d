"""Report requests (CONTRACT.md): ask for a form computed over a subtree, poll it, download its files."""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from typing import Any
from urllib.parse import quote

import structlog
from flask import Blueprint, Response, json, request
from werkzeug.wsgi import wrap_file

from kntc import broker, metrics
from models.base import utcnow
from models.errors import DomainError, NotFound
from models.periods import Period
from models.report_requests import (
    ACTOR,
    FILE_KINDS,
    QUEUE,
    ReportRequest,
    Status,
    open_file,
    public_status,
    read_result,
    request_report,
    resolve,
)
from models.storage import CHUNK_BYTES
from models.units import Unit
from web.auth import login_required, principal, require_covers
from web.schemas import Body, Code
from web.services import db, services

bp = Blueprint("report_requests", __name__, url_prefix="/api/v1/report-requests")
log = structlog.get_logger(__name__)


class ReportRequestBody(Body):
    form: Code
    period: Code
    unit: Code


class Gone(DomainError):
    status = 410
    title = "Gone"


@bp.post("")
@login_required
def create() -> Response:
    body = ReportRequestBody.model_validate(request.get_json())
    svc = services()
    form, period, unit = resolve(db(), svc.forms, principal(), body.form, body.period, body.unit)
    delay = dt.timedelta(seconds=svc.settings.relay_delay_seconds)
    created = request_report(db(), principal(), form, period, unit, delay)
    if created.new:
        _send_after_commit(created.request.id)
    row = created.request
    response = Response(
        json.dumps({"id": str(row.id), "status": public_status(row, utcnow()), "shared": not created.new}),
        status=202,
        mimetype="application/json",
    )
    response.headers["Location"] = f"/api/v1/report-requests/{row.id}"
    return response


def _send_after_commit(request_id: uuid.UUID) -> None:
    # The request and its outbox entry are committed: a failed send is re-sent by the relay.
    try:
        broker.send(QUEUE, ACTOR, (str(request_id),))
    except Exception:
        metrics.enqueue_failures.inc()
        log.warning("enqueue failed; the outbox relay will send it", request_id=str(request_id))


def _readable(request_id: str) -> tuple[ReportRequest, Unit, Period]:
    try:
        rid = uuid.UUID(request_id)
    except ValueError:
        raise NotFound(f"no report request {request_id!r}; ids are UUIDs") from None
    row = db().get(ReportRequest, rid)
    if row is None:
        raise NotFound(f"no report request {request_id}")
    unit = db().get_one(Unit, row.unit_id)
    require_covers(unit.path, unit.code)
    return row, unit, db().get_one(Period, row.period_id)


@bp.get("/<request_id>")
@login_required
def show(request_id: str) -> dict[str, Any]:
    row, unit, period = _readable(request_id)
    status = public_status(row, utcnow())
    result = read_result(services().storage, row) if status == Status.DONE else None
    base = f"/api/v1/report-requests/{row.id}/files"
    return {
        "id": str(row.id),
        "form": row.form_code,
        "version": row.form_version,
        "period": period.code,
        "unit": unit.code,
        "status": status,
        "progress": row.progress,
        "result": result,
        "files": {kind: f"{base}/{kind}" for kind in FILE_KINDS} if result is not None else None,
        "error": row.error if row.status == Status.FAILED else None,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }


@bp.get("/<request_id>/files/<kind>")
@login_required
def download(request_id: str, kind: str) -> Response:
    if kind not in FILE_KINDS:
        raise NotFound(f"no file {kind!r}; files are {', '.join(FILE_KINDS)}")
    row, unit, period = _readable(request_id)
    status = public_status(row, utcnow())
    if status == Status.EXPIRED:
        raise Gone(f"report request {row.id} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; ask for it again")
    not_yet = NotFound(f"report request {row.id} is {status}; its files exist once it is done")
    if status != Status.DONE:
        raise not_yet
    try:
        stream = open_file(services().storage, row, kind)
    except FileNotFoundError:
        raise not_yet from None
    # From the storage, not a local path: on Kubernetes the worker that wrote it is another pod.
    response = Response(
        wrap_file(request.environ, stream, CHUNK_BYTES), mimetype=FILE_KINDS[kind][1], direct_passthrough=True
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Disposition"] = _disposition(f"Biểu {row.form_code} {unit.name} {period.code}.{kind}")
    return response


def _disposition(name: str) -> str:
    """``Biểu 01-TCD UBND tỉnh Tây Ninh 2026-Q4.xlsx`` in UTF-8 (RFC 5987) with a plain ASCII fallback."""
    name = unicodedata.normalize("NFC", name.replace("/", "-"))
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"\\;')
    stem, _, ext = name.rpartition(".")
    ascii_name = "_".join(_ascii(stem).split()) or "report"
    return f"attachment; filename=\"{ascii_name}.{ext}\"; filename*=UTF-8''{quote(name)}"


def _ascii(text: str) -> str:
    """Vietnamese letters without their marks (đ is a letter of its own, not d with a mark)."""
    bare = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in bare if ch.isascii() and not unicodedata.combining(ch))
