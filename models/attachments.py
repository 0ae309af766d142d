"""Attachments: bytes uploaded once, referenced by any number of records, readable by those who may.

An attachment's id follows from its bytes (the same bytes give the same id), so an
officer attaching the same scan at every handling step stores it once. Who may read it:
every account that uploaded those bytes, and every account whose subtree holds a unit of
a record that references it (:func:`link`). Anyone else is told it does not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.auth import Principal
from models.base import Base, JSONType, created_at, utcnow
from models.errors import Invalid
from models.intake import outbox_values
from models.submissions import OutboxEntry
from models.units import Unit

QUEUE = "attachments"
ACTOR = "process_attachment"
# uuid5 namespace of attachment ids (fixed forever: ids are derived from it).
ID_NAMESPACE = uuid.UUID("5b0f0a4e-6f1c-4c36-9a51-2f4a1f0c7d11")
SUBJECT_KINDS = ("petition", "workflow_step", "submission")
MAX_BUNDLE_IMAGES = 50


class AttachmentStatus(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    REJECTED = "rejected"


class AttachmentKind(StrEnum):
    UPLOAD = "upload"
    BUNDLE = "bundle"  # one PDF made by the workers from several uploaded photos


class Attachment(Base):
    """Stored bytes and what the workers found in them."""

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    # Null only for a bundle not yet built.
    sha256: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    name: Mapped[str] = mapped_column(sa.String(255))
    status: Mapped[str] = mapped_column(sa.String(20), default=AttachmentStatus.PROCESSING)
    mime: Mapped[str | None] = mapped_column(sa.String(100))
    pages: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    reason_code: Mapped[str | None] = mapped_column(sa.String(40))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    # Extracted text for search, bounded (see models.documents.MAX_TEXT_CHARS).
    text: Mapped[str | None] = mapped_column(sa.Text)
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    # A bundle's source attachment ids, in page order.
    sources: Mapped[list[str]] = mapped_column(JSONType, default=list)
    uploaded_by: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[created_at]
    processed_at: Mapped[dt.datetime | None]


class AttachmentUpload(Base):
    """An account that uploaded these bytes (or asked for this bundle): it may read them."""

    __tablename__ = "attachment_uploads"

    attachment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("attachments.id"), primary_key=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"), primary_key=True, index=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[created_at]


class AttachmentLink(Base):
    """A record that references an attachment; accounts above the record's unit may read it."""

    __tablename__ = "attachment_links"
    __table_args__ = (
        sa.CheckConstraint(f"subject_kind IN {SUBJECT_KINDS!r}", name="subject_kind"),
        sa.Index("ix_attachment_links_subject", "subject_kind", "subject_id"),
    )

    attachment_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("attachments.id"), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    subject_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    linked_by: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    created_at: Mapped[created_at]


def upload_id(sha256: str) -> uuid.UUID:
    """The id of uploaded bytes: the same bytes always give the same id."""
    return uuid.uuid5(ID_NAMESPACE, f"sha256:{sha256}")


def bundle_id(sources: Sequence[uuid.UUID]) -> uuid.UUID:
    """The id of the bundle of these images in this order: asking twice gives the same bundle."""
    return uuid.uuid5(ID_NAMESPACE, "bundle:" + ",".join(str(s) for s in sources))


def parse_id(raw: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


def _insert_ignoring_duplicates(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert a row unless its key exists (a concurrent twin included); True when inserted."""
    table = cast(sa.Table, model.__table__)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    # RETURNING, not rowcount: the driver reports -1 for a skipped conflict here.
    key = next(iter(table.primary_key.columns))
    result = session.execute(insert.values(values).on_conflict_do_nothing().returning(key))
    return result.first() is not None


def record_upload(
    session: Session, who: Principal, sha256: str, size: int, name: str, relay_delay: dt.timedelta
) -> tuple[Attachment, bool]:
    """Record durably stored bytes and their uploader; commit. Returns (attachment, whether new).

    A new attachment gets its outbox entry in the same transaction, so its processing is
    owed to the broker even if the send after the commit is lost.
    """
    attachment_id = upload_id(sha256)
    now = utcnow()
    row = {
        "id": attachment_id, "kind": AttachmentKind.UPLOAD.value, "sha256": sha256, "size": size, "name": name,
        "status": AttachmentStatus.PROCESSING.value, "has_thumbnail": False, "sources": [],
        "uploaded_by": who.account_id, "created_at": now,
    }  # fmt: skip
    new = _insert_ignoring_duplicates(session, Attachment, row)
    _record_requester(session, attachment_id, who, name, now)
    if new:
        session.add(OutboxEntry(**outbox_values(QUEUE, ACTOR, str(attachment_id), now, relay_delay)))
    session.commit()
    return session.get_one(Attachment, attachment_id, populate_existing=True), new


def _record_requester(session: Session, attachment_id: uuid.UUID, who: Principal, name: str, now: dt.datetime) -> None:
    values = {"attachment_id": attachment_id, "account_id": who.account_id, "name": name, "created_at": now}
    _insert_ignoring_duplicates(session, AttachmentUpload, values)


def can_read(session: Session, who: Principal, attachment_id: uuid.UUID) -> bool:
    """True for an uploader of the bytes and for accounts above a unit of a referencing record."""
    uploader = sa.exists().where(
        AttachmentUpload.attachment_id == attachment_id, AttachmentUpload.account_id == who.account_id
    )
    linked = sa.exists().where(
        AttachmentLink.attachment_id == attachment_id,
        AttachmentLink.unit_id == Unit.id,
        Unit.path.startswith(who.unit_path, autoescape=True),
    )
    return bool(session.scalar(sa.select(sa.or_(uploader, linked))))


def readable(session: Session, who: Principal, attachment_id: uuid.UUID) -> Attachment | None:
    """The attachment if ``who`` may read it, else None (absent and forbidden look alike)."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is None or not can_read(session, who, attachment_id):
        return None
    return attachment


def _readable_or_invalid(session: Session, who: Principal, ids: Sequence[object], field: str) -> list[Attachment]:
    found, errors = [], []
    for index, raw in enumerate(ids):
        attachment_id = parse_id(raw)
        attachment = readable(session, who, attachment_id) if attachment_id else None
        if attachment is None:
            message = f"no attachment {raw} that you may read; upload it first with POST /api/v1/attachments"
            errors.append({"field": f"{field}[{index}]", "message": message})
        elif attachment.status == AttachmentStatus.REJECTED:
            message = f"attachment {raw} was rejected ({attachment.reason}); upload a corrected file"
            errors.append({"field": f"{field}[{index}]", "message": message})
        else:
            found.append(attachment)
    if errors:
        raise Invalid(f"{len(errors)} of the attachments cannot be used; see errors", errors)
    return found


def link(
    session: Session,
    attachment_ids: Sequence[object],
    subject_kind: str,
    subject_id: str,
    unit_id: int,
    who: Principal,
    field: str = "attachments",
) -> list[uuid.UUID]:
    """Record that a record of ``unit_id`` references these attachments; flushes, never commits.

    Call it inside the transaction that stores the record. Every id must exist, be
    readable by ``who`` and not rejected, else Invalid (422) names each bad one as
    ``field[index]``. Linking grants read access to the accounts above ``unit_id``, so
    the caller must already have checked that ``who`` may write records of that unit.
    Linking again is harmless. Returns the ids linked.
    """
    if subject_kind not in SUBJECT_KINDS:
        raise ValueError(f"subject_kind must be one of {SUBJECT_KINDS}, got {subject_kind!r}")
    attachments = _readable_or_invalid(session, who, attachment_ids, field)
    now = utcnow()
    for attachment in attachments:
        values = {
            "attachment_id": attachment.id, "subject_kind": subject_kind, "subject_id": str(subject_id),
            "unit_id": unit_id, "linked_by": who.account_id, "created_at": now,
        }  # fmt: skip
        _insert_ignoring_duplicates(session, AttachmentLink, values)
    session.flush()
    return [a.id for a in attachments]


def linked_to(session: Session, subject_kind: str, subject_id: str) -> list[Attachment]:
    """The attachments a record references, oldest link first."""
    return list(
        session.scalars(
            sa.select(Attachment)
            .join(AttachmentLink, AttachmentLink.attachment_id == Attachment.id)
            .where(AttachmentLink.subject_kind == subject_kind, AttachmentLink.subject_id == str(subject_id))
            .order_by(AttachmentLink.created_at, Attachment.id)
        )
    )


def request_bundle(
    session: Session, who: Principal, image_ids: Sequence[object], relay_delay: dt.timedelta
) -> tuple[Attachment, bool]:
    """Ask for one PDF made of these images, in order; commit. Returns (bundle, whether new)."""
    if not image_ids or len(image_ids) > MAX_BUNDLE_IMAGES:
        raise Invalid.field("images", f"give 1-{MAX_BUNDLE_IMAGES} image attachment ids, in page order")
    images = _readable_or_invalid(session, who, image_ids, "images")
    errors = [
        {"field": f"images[{i}]", "message": f"attachment {a.id} is {a.mime}, not an image; bundle photos or scans"}
        for i, a in enumerate(images)
        if a.status == AttachmentStatus.READY and not (a.mime or "").startswith("image/")
    ]
    if errors:
        raise Invalid("a bundle is made of images only; see errors", errors)
    sources = [a.id for a in images]
    attachment_id = bundle_id(sources)
    now = utcnow()
    row = {
        "id": attachment_id, "kind": AttachmentKind.BUNDLE.value, "sha256": None, "size": None,
        "name": "bundle.pdf", "status": AttachmentStatus.PROCESSING.value, "has_thumbnail": False,
        "sources": [str(s) for s in sources], "uploaded_by": who.account_id, "created_at": now,
    }  # fmt: skip
    new = _insert_ignoring_duplicates(session, Attachment, row)
    _record_requester(session, attachment_id, who, "bundle.pdf", now)
    if new:
        session.add(OutboxEntry(**outbox_values(QUEUE, ACTOR, str(attachment_id), now, relay_delay)))
    session.commit()
    return session.get_one(Attachment, attachment_id, populate_existing=True), new


def describe(attachment: Attachment) -> dict[str, Any]:
    """The public view of an attachment (GET /api/v1/attachments/{id})."""
    return {
        "id": str(attachment.id),
        "kind": attachment.kind,
        "sha256": attachment.sha256,
        "size": attachment.size,
        "name": attachment.name,
        "status": attachment.status,
        "mime": attachment.mime,
        "pages": attachment.pages,
        "width": attachment.width,
        "height": attachment.height,
        "reason": attachment.reason,
        "reason_code": attachment.reason_code,
        "text_chars": len(attachment.text) if attachment.text is not None else None,
        "thumbnail": attachment.has_thumbnail,
        "sources": attachment.sources,
        "created_at": attachment.created_at.isoformat(),
        "processed_at": attachment.processed_at.isoformat() if attachment.processed_at else None,
    }
