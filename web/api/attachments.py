"""Attachments: upload once (streamed, content-addressed), bundle photos into a PDF, read back.

Reading is allowed to the uploaders of the bytes and to accounts above a unit of a record
that references them; to anyone else an attachment does not exist (404, not 403, so that
ids cannot be probed).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from typing import Any
from urllib.parse import quote

import structlog
from flask import Blueprint, Response, json, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import wrap_file

from kntc import broker, metrics
from models.accounts import Role
from models.attachments import (
    ACTOR,
    QUEUE,
    Attachment,
    AttachmentStatus,
    describe,
    parse_id,
    readable,
    record_upload,
    request_bundle,
)
from models.errors import Conflict, Forbidden, Invalid, NotFound
from models.storage import CHUNK_BYTES, object_key, thumbnail_key
from web.auth import login_required, principal
from web.schemas import BundleBody
from web.services import db, services
from web.uploads import TooLarge, receive, too_large

bp = Blueprint("attachments", __name__, url_prefix="/api/v1/attachments")
log = structlog.get_logger(__name__)
# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_SLACK_BYTES = 64 * 1024
WHO_MAY_READ = "its uploaders and accounts above a unit of a record that references it may read an attachment"


def _may_upload() -> None:
    if principal().role == Role.VIEWER:
        raise Forbidden("viewers cannot upload attachments; ask an admin for an officer or reporter role")


def _relay_delay() -> dt.timedelta:
    return dt.timedelta(seconds=services().settings.relay_delay_seconds)


@bp.post("")
@login_required
def upload() -> Response:
    _may_upload()
    svc = services()
    limit = svc.settings.max_attachment_bytes
    # The app-wide limit is for JSON bodies; this route reads its own, larger one, as a stream.
    request.max_content_length = limit + MULTIPART_SLACK_BYTES
    try:
        received = receive(request.stream, request.content_type, limit, svc.storage.staging_dir)
    except (RequestEntityTooLarge, TooLarge):
        metrics.attachments_rejected.labels(reason="too_large").inc()
        raise too_large(limit) from None
    try:
        if received.size == 0:
            metrics.attachments_rejected.labels(reason="empty").inc()
            raise Invalid.field("file", "the file is empty; choose the file again")
        key = object_key(received.sha256)
        # The bytes are durable (fsync, atomic rename or S3 PUT) before any row names them.
        if not svc.storage.exists(key):
            svc.storage.put_file(key, received.path)
    finally:
        received.path.unlink(missing_ok=True)
    attachment, new = record_upload(db(), principal(), received.sha256, received.size, received.name, _relay_delay())
    metrics.attachment_bytes_received.inc(received.size)
    if new:
        _send_after_commit(attachment.id)
    return _accepted(attachment)


@bp.post("/bundle")
@login_required
def bundle() -> Response:
    _may_upload()
    body = BundleBody.model_validate(request.get_json())
    attachment, new = request_bundle(db(), principal(), body.images, _relay_delay())
    if new:
        _send_after_commit(attachment.id)
    return _accepted(attachment)


def _send_after_commit(attachment_id: uuid.UUID) -> None:
    # The row and its outbox entry are committed: a failed send is re-sent by the relay.
    try:
        broker.send(QUEUE, ACTOR, (str(attachment_id),))
    except Exception:
        metrics.enqueue_failures.inc()
        log.warning("enqueue failed; the outbox relay will send it", attachment_id=str(attachment_id))


def _accepted(attachment: Attachment) -> Response:
    response = Response(json.dumps(describe(attachment), ensure_ascii=False), status=202, mimetype="application/json")
    response.headers["Location"] = f"/api/v1/attachments/{attachment.id}"
    return response


def _readable(raw_id: str) -> Attachment:
    attachment_id = parse_id(raw_id)
    attachment = readable(db(), principal(), attachment_id) if attachment_id else None
    if attachment is None:
        raise NotFound(f"no attachment {raw_id} that you may read; {WHO_MAY_READ}")
    return attachment


@bp.get("/<attachment_id>")
@login_required
def show(attachment_id: str) -> dict[str, Any]:
    return describe(_readable(attachment_id))


def _require_ready(attachment: Attachment) -> str:
    if attachment.status == AttachmentStatus.PROCESSING:
        raise Conflict(f"attachment {attachment.id} is still being processed; try again in a few seconds")
    if attachment.status == AttachmentStatus.REJECTED:
        raise Conflict(f"attachment {attachment.id} was rejected ({attachment.reason}); it is not served")
    assert attachment.sha256 is not None
    return attachment.sha256


@bp.get("/<attachment_id>/content")
@login_required
def content(attachment_id: str) -> Response:
    attachment = _readable(attachment_id)
    sha256 = _require_ready(attachment)
    response = _stream(object_key(sha256), attachment.mime or "application/octet-stream", attachment.size)
    response.headers["Content-Disposition"] = _disposition(attachment.name)
    response.headers["ETag"] = f'"{sha256}"'
    return response


@bp.get("/<attachment_id>/thumbnail")
@login_required
def thumbnail(attachment_id: str) -> Response:
    attachment = _readable(attachment_id)
    sha256 = _require_ready(attachment)
    if not attachment.has_thumbnail:
        raise NotFound(f"attachment {attachment.id} has no thumbnail; its first page could not be rendered")
    return _stream(thumbnail_key(sha256), "image/jpeg", None)


def _stream(key: str, mime: str, size: int | None) -> Response:
    try:
        stream = services().storage.open(key)
    except FileNotFoundError:
        log.error("stored attachment bytes are missing", key=key)
        raise NotFound("the stored bytes are missing; report this to the operators") from None
    # wrap_file lets gunicorn use sendfile() for files on disk; S3 bodies are read in chunks.
    response = Response(wrap_file(request.environ, stream, CHUNK_BYTES), mimetype=mime, direct_passthrough=True)
    if size is not None:
        response.headers["Content-Length"] = str(size)
    # The sniffed type is the truth; a browser must not guess another one.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def _disposition(name: str) -> str:
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().replace('"', "").replace("\\", "")
    return f"inline; filename=\"{fallback or 'attachment'}\"; filename*=UTF-8''{quote(name)}"
