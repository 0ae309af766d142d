"""Report requests: a form computed for a unit's subtree over a period, asynchronously.

A request is a row and its outbox entry, committed together; a worker on the ``reports``
queue computes it (``models.form_sql.compute_form``), writes the result as JSON, XLSX and
CSV under the storage keys ``reports/<id>/...`` (``models.storage``: the data dir on one
host, the S3 bucket when web and workers share no disk) and marks it done. Identical requests (same form
version, period and unit) while one is queued or running share it: the second POST gets
the first one's id (a partial unique index makes this hold under concurrent POSTs too).

The job is idempotent and survives killed workers: it claims the row with a lease
(``lease_until``), so a message delivered twice never runs twice at once, a done request
is never recomputed, and a job whose worker died is taken again by the next message (the
outbox relay sends one) once the lease has run out. After ``MAX_ATTEMPTS`` claims it is
failed with the last error, so a job that always dies cannot loop forever.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, BinaryIO, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from models.auth import Principal
from models.base import Base, created_at, utcnow
from models.errors import Forbidden, Invalid
from models.form_sql import require_postgresql
from models.forms import FormCatalogue, FormVersion
from models.intake import outbox_values
from models.periods import Period
from models.storage import Storage
from models.submissions import OutboxEntry
from models.units import Unit

QUEUE = "reports"
ACTOR = "compute_report"
REPORTS_DIR = "reports"
MAX_ATTEMPTS = 3
# Progress is written at most this often (each write is a small transaction of its own).
PROGRESS_INTERVAL_S = 0.5
FILE_KINDS = {
    "xlsx": ("report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": ("report.csv", "text/csv"),  # Flask adds "; charset=utf-8" to text types
}
RESULT_FILE = "result.json"


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    EXPIRED = "expired"  # done, and its result and files were removed after the keep time


ACTIVE = (Status.QUEUED.value, Status.RUNNING.value)


class ReportRequest(Base):
    __tablename__ = "report_requests"
    __table_args__ = (
        # One job per identical request while it is queued or running.
        sa.Index(
            "ix_report_requests_active",
            "form_code",
            "form_version",
            "period_id",
            "unit_id",
            unique=True,
            postgresql_where=sa.text("status IN ('queued', 'running')"),
            sqlite_where=sa.text("status IN ('queued', 'running')"),
        ),
        sa.Index("ix_report_requests_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    form_code: Mapped[str] = mapped_column(sa.String(20))
    form_version: Mapped[str] = mapped_column(sa.String(40))
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("periods.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"))
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(sa.String(20))
    progress: Mapped[float] = mapped_column(default=0.0)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[created_at]
    started_at: Mapped[dt.datetime | None]
    lease_until: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]


@dataclass(frozen=True)
class Created:
    request: ReportRequest
    new: bool  # False: an identical request was queued or running and is shared


# --- asking ---------------------------------------------------------------------------


def resolve(
    session: Session, forms: FormCatalogue, who: Principal, form_code: str, period_code: str, unit_code: str
) -> tuple[FormVersion, Period, Unit]:
    """The form version, period and unit of a request; Invalid (422) naming the field, or Forbidden."""
    period = session.scalar(sa.select(Period).where(Period.code == period_code))
    if period is None:
        raise Invalid.field("period", f"no reporting period {period_code!r}; check the code")
    unit = session.scalar(sa.select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise Invalid.field("unit", f"no unit {unit_code!r}; check the code")
    if not who.covers(unit.path):
        raise Forbidden(f"unit {unit.code} is outside your unit {who.unit_code} and what is below it")
    form_code = canonical_form_code(forms, form_code)
    if not forms.knows(form_code):
        raise Invalid.field("form", f"unknown form {form_code!r}; known forms: {', '.join(forms.codes)}")
    form = forms.in_effect(form_code, period.ends_on)
    if form is None:
        raise Invalid.field(
            "form", f"form {form_code} is not in effect for period {period.code} (ends {period.ends_on})"
        )
    return form, period, unit


def canonical_form_code(forms: FormCatalogue, raw: str) -> str:
    """``01/TCD`` as given, or ``01-TCD`` (as the form files are named) read as ``01/TCD``."""
    if forms.knows(raw):
        return raw
    slashed = raw.replace("-", "/")
    return slashed if forms.knows(slashed) else raw


def request_report(
    session: Session, who: Principal, form: FormVersion, period: Period, unit: Unit, relay_delay: dt.timedelta
) -> Created:
    """Store a new request and its outbox entry in one transaction, or share an active twin; commit."""
    require_postgresql(session)
    now = utcnow()
    twin = _active_twin(session, form, period, unit)
    if twin is not None:
        return Created(twin, new=False)
    request_id = uuid.uuid4()
    row = {
        "id": request_id, "form_code": form.code, "form_version": form.version, "period_id": period.id,
        "unit_id": unit.id, "requested_by": who.account_id, "status": Status.QUEUED.value, "progress": 0.0,
        "attempts": 0, "created_at": now,
    }  # fmt: skip
    if not _insert_unless_active(session, row):
        # A concurrent twin won the race on the partial unique index: share it.
        session.rollback()
        twin = _active_twin(session, form, period, unit)
        if twin is not None:
            return Created(twin, new=False)
        raise RuntimeError("an identical report request vanished while being shared")  # pragma: no cover
    session.add(OutboxEntry(**outbox_values(QUEUE, ACTOR, str(request_id), now, relay_delay)))
    session.commit()
    return Created(session.get_one(ReportRequest, request_id), new=True)


def _active_twin(session: Session, form: FormVersion, period: Period, unit: Unit) -> ReportRequest | None:
    return session.scalar(
        sa.select(ReportRequest).where(
            ReportRequest.form_code == form.code,
            ReportRequest.form_version == form.version,
            ReportRequest.period_id == period.id,
            ReportRequest.unit_id == unit.id,
            ReportRequest.status.in_(ACTIVE),
        )
    )


def _insert_unless_active(session: Session, row: dict[str, Any]) -> bool:
    """Insert unless an identical active request exists (a concurrent one included); True if inserted."""
    table = cast(sa.Table, ReportRequest.__table__)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.values(row).on_conflict_do_nothing().returning(table.c.id)
    return session.execute(statement).first() is not None


# --- reading --------------------------------------------------------------------------


def report_key(request_id: uuid.UUID, name: str) -> str:
    """The storage key of one of a request's files: ``reports/<id>/report.xlsx``."""
    return f"{REPORTS_DIR}/{request_id}/{name}"


def report_keys(request_id: uuid.UUID) -> list[str]:
    """Every key a request's job writes, the result last (see ``write_files``)."""
    return [report_key(request_id, name) for name, _ in FILE_KINDS.values()] + [report_key(request_id, RESULT_FILE)]


def is_expired(row: ReportRequest, now: dt.datetime) -> bool:
    if row.status == Status.EXPIRED:
        return True
    return row.status == Status.DONE and row.expires_at is not None and row.expires_at <= now


def public_status(row: ReportRequest, now: dt.datetime) -> str:
    """The status shown: a done request past its keep time is expired even before the sweep."""
    return Status.EXPIRED.value if is_expired(row, now) else row.status


def read_result(storage: Storage, row: ReportRequest) -> dict[str, Any] | None:
    """The stored result of a done request, or None when its files are gone."""
    try:
        with storage.open(report_key(row.id, RESULT_FILE)) as stream:
            data: dict[str, Any] = json.loads(stream.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    return data


def open_file(storage: Storage, row: ReportRequest, kind: str) -> BinaryIO:
    """A readable stream of one of the request's files (the caller closes it); FileNotFoundError if absent."""
    return storage.open(report_key(row.id, FILE_KINDS[kind][0]))


# --- the job --------------------------------------------------------------------------


class Outcome(StrEnum):
    DONE = "done"
    DUPLICATE = "duplicate"  # already finished, or another worker holds the lease
    FAILED = "failed"
    MISSING = "missing"


def claim(session: Session, request_id: uuid.UUID, now: dt.datetime, lease: dt.timedelta) -> ReportRequest | None:
    """Take the job: queued, or running under a lease that has run out. None if it is not ours to run.

    A job claimed ``MAX_ATTEMPTS`` times already is failed instead (returned with status failed).
    """
    row = session.get(ReportRequest, request_id, with_for_update=True)
    if row is None:
        return None
    taken_by_other = row.status == Status.RUNNING and row.lease_until is not None and row.lease_until > now
    if row.status not in ACTIVE or taken_by_other:
        if row.status not in ACTIVE:
            _forget_message(session, request_id)
        session.commit()
        return None
    if row.attempts >= MAX_ATTEMPTS:
        finish_failed(session, row, now, f"gave up after {row.attempts} attempts; last error: {row.error or 'killed'}")
        return row
    row.status = Status.RUNNING.value
    row.attempts += 1
    row.progress = 0.0
    row.started_at = now
    row.lease_until = now + lease
    session.commit()
    return row


def _forget_message(session: Session, request_id: uuid.UUID) -> None:
    session.execute(
        sa.delete(OutboxEntry).where(OutboxEntry.queue == QUEUE, OutboxEntry.resource_id == str(request_id))
    )


def finish_done(session: Session, request_id: uuid.UUID, now: dt.datetime, keep: dt.timedelta) -> None:
    session.execute(
        sa.update(ReportRequest)
        .where(ReportRequest.id == request_id)
        .values(status=Status.DONE.value, progress=1.0, finished_at=now, lease_until=None, expires_at=now + keep)
    )
    _forget_message(session, request_id)
    session.commit()


def finish_failed(session: Session, row: ReportRequest, now: dt.datetime, error: str) -> None:
    row.status = Status.FAILED.value
    row.error = error[:2000]
    row.finished_at = now
    row.lease_until = None
    _forget_message(session, row.id)
    session.commit()


def release(session: Session, request_id: uuid.UUID, error: str) -> None:
    """After an error worth retrying: back to queued, so the retry (or the relay's message) takes it."""
    session.execute(
        sa.update(ReportRequest)
        .where(ReportRequest.id == request_id, ReportRequest.status == Status.RUNNING.value)
        .values(status=Status.QUEUED.value, lease_until=None, error=error[:2000])
    )
    session.commit()


class ProgressWriter:
    """The ``progress=`` callback of compute_form: stores 0..1 on the row, at most every PROGRESS_INTERVAL_S."""

    def __init__(self, sessions: sessionmaker[Session], request_id: uuid.UUID) -> None:
        self.sessions = sessions
        self.request_id = request_id
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if self._last and now - self._last < PROGRESS_INTERVAL_S:
            return
        self._last = now
        value = min(max(float(fraction), 0.0), 0.99)  # 1.0 means done, which only finish_done says
        with self.sessions() as session:
            session.execute(
                sa.update(ReportRequest)
                .where(ReportRequest.id == self.request_id, ReportRequest.status == Status.RUNNING.value)
                .values(progress=value)
            )
            session.commit()


# --- files ------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A figure as JSON carries it: whole numbers as integers, money and land as decimals."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def write_files(storage: Storage, request_id: uuid.UUID, result: dict[str, Any], xlsx: bytes, csv: bytes) -> None:
    """The result last: a request whose result.json is stored has its XLSX and CSV too.

    Each put is atomic and durable (the file backend: temp file, fsync, rename; S3: one PUT).
    """
    storage.put_bytes(report_key(request_id, FILE_KINDS["xlsx"][0]), xlsx)
    storage.put_bytes(report_key(request_id, FILE_KINDS["csv"][0]), csv)
    result_bytes = json.dumps(result, ensure_ascii=False, default=plain).encode()
    storage.put_bytes(report_key(request_id, RESULT_FILE), result_bytes)


def sweep_expired(session: Session, storage: Storage, now: dt.datetime, batch: int = 200) -> int:
    """Remove the files of done requests past their keep time and mark them expired; returns how many."""
    rows = list(
        session.scalars(
            sa.select(ReportRequest)
            .where(ReportRequest.status == Status.DONE.value, ReportRequest.expires_at <= now)
            .limit(batch)
        )
    )
    for row in rows:
        # The result first: a request whose other files are half-deleted no longer shows a result.
        for key in reversed(report_keys(row.id)):
            storage.delete(key)
        row.status = Status.EXPIRED.value
    session.commit()
    return len(rows)


Progress = Callable[[float], None]
