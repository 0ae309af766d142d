"""Submitting a statistical report, and reading its status."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from flask import Blueprint, Response, json, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from kntc import broker, metrics
from models.accounts import SUBMITTING_ROLES
from models.attachments import link, linked_to
from models.errors import DomainError, Forbidden, Invalid, NotFound
from models.intake import ACTOR, QUEUE, IntakeResult, SubmissionRequest
from models.submissions import Submission
from models.text import nfc
from models.units import Unit
from web.auth import (
    first_contact,
    last_seen_due,
    last_seen_written,
    login_required,
    login_required_folding_last_seen,
    principal,
    require_covers,
)
from web.schemas import AttachmentsBody, SubmissionBody
from web.services import db, services

bp = Blueprint("submissions", __name__, url_prefix="/api/v1/submissions")
log = structlog.get_logger(__name__)
MAX_KEY_LENGTH = 255


@bp.post("")
def create() -> Response:
    # A token's first request (nearly every request at deadline night) is authenticated
    # inside the intake's own statement; anything off there, and the request takes the
    # full path, which answers it exactly as it always did (401 before 422, and so on).
    digest = first_contact()
    result = _first_contact(digest) if digest else None
    if result is None:
        return _create()
    _count_stored(result)
    _send_after_commit(result)
    return _accepted(result)


def _first_contact(digest: str) -> IntakeResult | None:
    if not request.is_json:
        return None
    try:
        # pydantic parses the JSON itself (in Rust), cheaper than json.loads and then
        # validating the dict; whatever it refuses, the full path answers with get_json.
        body = SubmissionBody.model_validate_json(request.get_data())
        key = _idempotency_key()
    except (ValidationError, HTTPException, DomainError):
        return None
    req = SubmissionRequest(body.period, body.unit, body.form, body.figures, nfc(body.note))
    return services().intake.submit_first_contact(digest, req, key)


@login_required_folding_last_seen
def _create() -> Response:
    body = SubmissionBody.model_validate(request.get_json())
    key = _idempotency_key()
    req = SubmissionRequest(body.period, body.unit, body.form, body.figures, nfc(body.note))
    result = services().intake.submit(principal(), req, key, last_seen_of=last_seen_due())
    if result.last_seen_written:
        last_seen_written()
    if result.replayed:
        metrics.idempotent_replays.inc()
    else:
        _count_stored(result)
        _send_after_commit(result)
    return _accepted(result)


def _count_stored(result: IntakeResult) -> None:
    metrics.submissions_received.labels(timeliness="on_time" if result.on_time else "late").inc()
    counter = services().intake_counter
    if counter is not None:
        counter.stored()
    if result.retries:
        metrics.intake_retries.inc(result.retries)


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise Invalid.field("Idempotency-Key", f"must be 1-{MAX_KEY_LENGTH} characters")
    return key


def _send_after_commit(result: IntakeResult) -> None:
    # The submission and its outbox entry are committed: if this send fails the relay
    # sends it later, so the receipt's promise holds either way.
    try:
        # The unit and version ride along so that the worker needs no query to find its limiter.
        broker.send_soon(
            QUEUE, ACTOR, (str(result.submission_id),), {"unit_id": result.unit_id, "version": result.version}
        )
    except Exception:
        metrics.enqueue_failures.inc()
        log.warning("enqueue failed; the outbox relay will send it", submission_id=str(result.submission_id))


def _accepted(result: IntakeResult) -> Response:
    body = {"id": str(result.submission_id), "status": "queued", "receipt": result.receipt}
    response = Response(json.dumps(body, ensure_ascii=False), status=202, mimetype="application/json")
    response.headers["Location"] = f"/api/v1/submissions/{result.submission_id}"
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/<submission_id>")
@login_required
def show(submission_id: str) -> dict[str, Any]:
    row, unit = _visible(submission_id)
    return {
        "id": str(row.id),
        "unit": unit.code,
        "period": row.receipt["period"],
        "form": row.form_code,
        "form_version": row.form_version,
        "version": row.version,
        "status": row.status,
        "on_time": row.on_time,
        "received_at": row.received_at.isoformat(),
        "processed_at": row.processed_at.isoformat() if row.processed_at else None,
        "errors": row.errors,
        # Figures that differ from the unit's own records: [] when they agree, null until compared.
        "differences": row.differences,
        "figures": row.figures,
        "note": row.note,
        "receipt": row.receipt,
        "attachments": [str(a.id) for a in linked_to(db(), "submission", str(row.id))],
    }


@bp.post("/<submission_id>/attachments")
@login_required
def attach(submission_id: str) -> tuple[dict[str, Any], int]:
    """Reference uploaded files (the signed paper report, annexes) from a submission.

    Kept off the intake's single statement: files are optional and come after the report.
    """
    row, unit = _visible(submission_id)
    who = principal()
    if who.role not in SUBMITTING_ROLES:
        raise Forbidden(f"role {who.role} may not change reports; ask a reporter, officer, leader or admin")
    body = AttachmentsBody.model_validate(request.get_json())
    link(db(), body.attachments, "submission", str(row.id), unit.id, who)
    db().commit()
    return {"attachments": [str(a.id) for a in linked_to(db(), "submission", str(row.id))]}, 200


def _visible(submission_id: str) -> tuple[Submission, Unit]:
    try:
        sid = uuid.UUID(submission_id)
    except ValueError:
        raise NotFound(f"no submission {submission_id!r}; ids are UUIDs") from None
    row = db().get(Submission, sid)
    if row is None:
        raise NotFound(f"no submission {submission_id}")
    unit = db().get_one(Unit, row.unit_id)
    require_covers(unit.path, unit.code)
    return row, unit
