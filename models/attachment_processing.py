"""What a worker does with a stored attachment: look inside it (or build a bundle) and decide.

No transaction is held while a file is parsed: the row is read, the work done, and the
result written with ``WHERE status = 'processing'`` together with the deletion of the
outbox entry. A worker killed half-way leaves the row ``processing`` and the outbox entry
in place, so the relay sends the message again and another worker does it all again
(every step writes the same result: processing is idempotent).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from models.attachments import QUEUE, Attachment, AttachmentKind, AttachmentStatus
from models.base import utcnow
from models.documents import Findings, Rejected, analyse, build_bundle
from models.filetypes import PDF
from models.storage import Storage, new_staging_file, object_key, thumbnail_key
from models.submissions import OutboxEntry

# A bundle waits for its photos to be processed; past this it gives up (they never came).
BUNDLE_WAIT = dt.timedelta(hours=1)
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class Outcome:
    """``status`` is ready, rejected, waiting (a bundle's photos are not processed yet) or duplicate."""

    attachment_id: uuid.UUID
    status: str
    kind: str = AttachmentKind.UPLOAD.value
    reason_code: str | None = None


@dataclass(frozen=True)
class _Job:
    id: uuid.UUID
    kind: str
    sha256: str | None
    sources: list[str]
    created_at: dt.datetime


def process(sessions: sessionmaker[Session], storage: Storage, attachment_id: uuid.UUID, max_pixels: int) -> Outcome:
    """Process one attachment (committing its result); safe to call any number of times."""
    job = _load(sessions, attachment_id)
    if job is None:
        return Outcome(attachment_id, "duplicate")
    try:
        if job.kind == AttachmentKind.BUNDLE:
            values = _bundle(sessions, storage, job, max_pixels)
            if values is None:
                return Outcome(attachment_id, "waiting", job.kind)
        else:
            values = _upload(storage, job, max_pixels)
    except Rejected as rejected:
        values = {"status": AttachmentStatus.REJECTED.value, "reason_code": rejected.code, "reason": rejected.reason}
    _finish(sessions, attachment_id, values)
    return Outcome(attachment_id, values["status"], job.kind, values.get("reason_code"))


def _load(sessions: sessionmaker[Session], attachment_id: uuid.UUID) -> _Job | None:
    with sessions() as session:
        row = session.get(Attachment, attachment_id)
        if row is not None and row.status == AttachmentStatus.PROCESSING:
            return _Job(row.id, row.kind, row.sha256, list(row.sources), row.created_at)
        # Already decided (a message delivered twice): only the outbox entry may be left.
        _delete_outbox(session, attachment_id)
        session.commit()
    return None


def _delete_outbox(session: Session, attachment_id: uuid.UUID) -> None:
    session.execute(
        sa.delete(OutboxEntry).where(OutboxEntry.queue == QUEUE, OutboxEntry.resource_id == str(attachment_id))
    )


def _finish(sessions: sessionmaker[Session], attachment_id: uuid.UUID, values: dict[str, Any]) -> None:
    with sessions() as session:
        session.execute(
            sa.update(Attachment)
            .where(Attachment.id == attachment_id, Attachment.status == AttachmentStatus.PROCESSING.value)
            .values(**values, processed_at=utcnow())
        )
        _delete_outbox(session, attachment_id)
        session.commit()


def _ready(findings: Findings, storage: Storage, sha256: str) -> dict[str, Any]:
    if findings.thumbnail is not None:
        storage.put_bytes(thumbnail_key(sha256), findings.thumbnail)
    return {
        "status": AttachmentStatus.READY.value,
        "mime": findings.mime,
        "pages": findings.pages,
        "width": findings.width,
        "height": findings.height,
        "text": findings.text,
        "has_thumbnail": findings.thumbnail is not None,
        "reason_code": None,
        "reason": None,
    }


def _upload(storage: Storage, job: _Job, max_pixels: int) -> dict[str, Any]:
    assert job.sha256 is not None
    with storage.local_copy(object_key(job.sha256)) as path:
        try:
            findings = analyse(path, max_pixels)
        except Rejected as rejected:
            return {"status": AttachmentStatus.REJECTED.value, "reason_code": rejected.code, "reason": rejected.reason}
    return _ready(findings, storage, job.sha256)


def _bundle(sessions: sessionmaker[Session], storage: Storage, job: _Job, max_pixels: int) -> dict[str, Any] | None:
    sources = _sources(sessions, job)
    if sources is None:
        return None
    staged = new_staging_file(storage.staging_dir)
    try:
        with ExitStack() as stack:
            paths = [stack.enter_context(storage.local_copy(object_key(sha))) for sha in sources]
            bundle = build_bundle(paths, staged, max_pixels)
        sha256, size = _digest(staged)
        storage.put_file(object_key(sha256), staged)
    finally:
        staged.unlink(missing_ok=True)
    findings = Findings(PDF, bundle.pages, thumbnail=bundle.thumbnail)
    return {**_ready(findings, storage, sha256), "sha256": sha256, "size": size}


def _sources(sessions: sessionmaker[Session], job: _Job) -> list[str] | None:
    """The sources' sha256 in order; None to wait for them; Rejected when one cannot be used."""
    ids = [uuid.UUID(s) for s in job.sources]
    with sessions() as session:
        rows = {a.id: a for a in session.scalars(sa.select(Attachment).where(Attachment.id.in_(ids)))}
    shas = []
    for source_id in ids:
        row = rows.get(source_id)
        if row is None or row.status == AttachmentStatus.REJECTED:
            raise Rejected("source", f"photo {source_id} of the bundle was rejected; bundle usable photos only")
        if row.status == AttachmentStatus.PROCESSING:
            if utcnow() - job.created_at > BUNDLE_WAIT:
                raise Rejected("source", f"photo {source_id} was not processed within {BUNDLE_WAIT}; ask again")
            return None
        if not (row.mime or "").startswith("image/"):
            raise Rejected("source", f"attachment {source_id} is {row.mime}, not an image; bundle photos only")
        assert row.sha256 is not None
        shas.append(row.sha256)
    return shas


def _digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
