"""Intake of a statistical report: the checks made before a receipt is signed, and the
one transaction that stores the submission, its idempotency record and its outbox entry.

The identities of the form are not checked here: that is the worker's job, so that the
intake answers in milliseconds whatever the form.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts import SUBMITTING_ROLES
from models.auth import Principal
from models.base import Base, utcnow
from models.directory import Directory, PeriodRef, UnitRef
from models.errors import Conflict, Forbidden, Invalid
from models.forms import FormCatalogue, FormVersion
from models.periods import LockException, Timeliness, describe_deadline
from models.receipts import Signer, canonical_json, sha256_hex
from models.submissions import IdempotencyRecord, OutboxEntry, Status, Submission, new_submission_id

SCOPE = "submissions"
QUEUE = "submissions"
ACTOR = "process_submission"
VERSION_RETRIES = 5


@dataclass(frozen=True)
class SubmissionRequest:
    period: str
    unit: str
    form: str
    figures: dict[str, int | float]
    note: str | None

    def canonical(self) -> dict[str, Any]:
        return {"period": self.period, "unit": self.unit, "form": self.form, "figures": self.figures, "note": self.note}

    @property
    def sha256(self) -> str:
        return sha256_hex(canonical_json(self.canonical()))


@dataclass(frozen=True)
class IntakeResult:
    submission_id: uuid.UUID
    receipt: dict[str, Any]
    replayed: bool
    on_time: bool


class Intake:
    def __init__(self, directory: Directory, forms: FormCatalogue, signer: Signer, relay_delay: dt.timedelta) -> None:
        self.directory = directory
        self.forms = forms
        self.signer = signer
        self.relay_delay = relay_delay

    def submit(
        self, session: Session, who: Principal, request: SubmissionRequest, idempotency_key: str | None
    ) -> IntakeResult:
        """Store the report durably and sign its receipt; raises a DomainError otherwise.

        A repeated Idempotency-Key is found by the unique index when the insert fails,
        so the common case (a new key) costs no extra query.
        """
        period, unit, form = self._resolve(who, request)
        received_at = utcnow()
        timeliness = period.timeliness(unit.level, received_at)
        if timeliness is Timeliness.CLOSED:
            # A retry of a report accepted before the close still gets its answer.
            replay = self._replay(session, who, idempotency_key, request.sha256) if idempotency_key else None
            if replay:
                return replay
            self._require_lock_exception(session, period, unit, request.form)
        on_time = timeliness is Timeliness.ON_TIME
        for _ in range(VERSION_RETRIES):
            try:
                return self._store(session, who, request, idempotency_key, period, unit, form, received_at, on_time)
            except IntegrityError:
                session.rollback()
                if idempotency_key:
                    replay = self._replay(session, who, idempotency_key, request.sha256)
                    if replay:
                        return replay
        raise Conflict(f"unit {unit.code} is submitting {form.code} many times at once; send it again")

    def _resolve(self, who: Principal, request: SubmissionRequest) -> tuple[PeriodRef, UnitRef, FormVersion]:
        period = self.directory.period(request.period)
        if period is None:
            raise Invalid.field("period", f"no reporting period {request.period!r}; check the code")
        unit = self.directory.unit(request.unit)
        if unit is None:
            raise Invalid.field("unit", f"no unit {request.unit!r}; check the code")
        if who.role not in SUBMITTING_ROLES:
            raise Forbidden(f"role {who.role} cannot submit reports; ask an admin for the reporter role")
        if not who.covers(unit.path):
            raise Forbidden(f"unit {unit.code} is outside your unit {who.unit_code} and what is below it")
        if not unit.open_between(period.starts_on, period.ends_on):
            raise Invalid.field("unit", f"unit {unit.code} was not open during period {period.code}")
        form = self._form(period, request.form)
        _check_figures(form, request.figures)
        return period, unit, form

    def _form(self, period: PeriodRef, code: str) -> FormVersion:
        if not self.forms.knows(code):
            raise Invalid.field("form", f"unknown form {code!r}; known forms: {', '.join(self.forms.codes)}")
        if period.forms and code not in period.forms:
            raise Invalid.field(
                "form", f"period {period.code} does not collect {code}; it collects {', '.join(period.forms)}"
            )
        form = self.forms.in_effect(code, period.ends_on)
        if form is None:
            raise Invalid.field("form", f"form {code} is not in effect for period {period.code}")
        return form

    def _require_lock_exception(self, session: Session, period: PeriodRef, unit: UnitRef, form: str) -> None:
        found = session.scalar(
            sa.select(LockException.id).where(
                LockException.period_id == period.id, LockException.unit_id == unit.id, LockException.form_code == form
            )
        )
        if found is None:
            closed = describe_deadline(period.closes_for(unit.level))
            due = describe_deadline(period.due_for(unit.level))
            raise Conflict(
                f"period {period.code} closed for {unit.code} at {closed} (due {due} plus grace); "
                "ask an admin of a unit above it to open a lock exception"
            )

    def _replay(self, session: Session, who: Principal, key: str, request_sha256: str) -> IntakeResult | None:
        record = session.get(IdempotencyRecord, (who.account_id, SCOPE, key))
        if record is None:
            return None
        if record.request_sha256 != request_sha256:
            raise Invalid(
                "Idempotency-Key was already used with a different body; use a new key for a new report",
                [{"field": "Idempotency-Key", "message": "already used with a different body"}],
            )
        submission = session.get_one(Submission, uuid.UUID(record.resource_id))
        return IntakeResult(submission.id, submission.receipt, replayed=True, on_time=submission.on_time)

    def _store(
        self,
        session: Session,
        who: Principal,
        request: SubmissionRequest,
        key: str | None,
        period: PeriodRef,
        unit: UnitRef,
        form: FormVersion,
        received_at: dt.datetime,
        on_time: bool,
    ) -> IntakeResult:
        submission_id = new_submission_id()
        conn = session.connection()
        version = int(conn.scalar(_LATEST_VERSION, {"unit": unit.id, "period": period.id, "form": form.code}) or 0) + 1
        receipt = self.signer.sign(
            {
                "submission_id": str(submission_id),
                "unit": unit.code,
                "period": period.code,
                "form": form.code,
                "version": version,
                "payload_sha256": request.sha256,
                "received_at": received_at.isoformat(),
                "on_time": on_time,
            }
        )
        idempotency = None
        if key:
            idempotency = {
                "account_id": who.account_id,
                "scope": SCOPE,
                "key": key,
                "request_sha256": request.sha256,
                "resource_id": str(submission_id),
                "created_at": received_at,
            }
        submission = {
            "id": submission_id,
            "unit_id": unit.id,
            "period_id": period.id,
            "form_code": form.code,
            "form_version": form.version,
            "version": version,
            "account_id": who.account_id,
            "figures": request.figures,
            "note": request.note,
            "payload_sha256": request.sha256,
            "status": Status.QUEUED.value,
            "errors": [],
            "on_time": on_time,
            "received_at": received_at,
            "receipt": receipt,
        }
        outbox = outbox_values(QUEUE, ACTOR, str(submission_id), received_at, self.relay_delay)
        _insert_rows(conn, idempotency, submission, outbox)
        session.commit()
        return IntakeResult(submission_id, receipt, replayed=False, on_time=on_time)


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _insert_rows(
    conn: sa.Connection, idempotency: dict[str, Any] | None, submission: dict[str, Any], outbox: dict[str, Any]
) -> None:
    """The rows of one submission, in a single round trip on PostgreSQL.

    A repeated Idempotency-Key or a version taken meanwhile fails the statement on a
    unique index (a concurrent twin waits there until the first commits), and nothing of
    it is stored. SQLite has no data-modifying CTEs and takes a statement per row.
    """
    if conn.dialect.name == "postgresql":
        params = {**_prefixed("s_", submission), **_prefixed("o_", outbox)}
        if idempotency:
            conn.execute(_ALL_WITH_KEY, {**params, **_prefixed("i_", idempotency)})
        else:
            conn.execute(_ALL_WITHOUT_KEY, params)
        return
    if idempotency:
        conn.execute(sa.insert(_table(IdempotencyRecord)), idempotency)
    conn.execute(sa.insert(_table(Submission)), submission)
    conn.execute(sa.insert(_table(OutboxEntry)), outbox)


def _prefixed(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in row.items()}


def _bound_insert(model: type[Base], prefix: str, columns: list[str]) -> sa.Insert:
    return sa.insert(_table(model)).values({name: sa.bindparam(prefix + name) for name in columns})


_SUBMISSION_COLUMNS = [
    "id", "unit_id", "period_id", "form_code", "form_version", "version", "account_id", "figures", "note",
    "payload_sha256", "status", "errors", "on_time", "received_at", "receipt",
]  # fmt: skip
_OUTBOX_COLUMNS = ["queue", "actor", "resource_id", "attempts", "next_attempt_at", "created_at"]
_IDEMPOTENCY_COLUMNS = ["account_id", "scope", "key", "request_sha256", "resource_id", "created_at"]
# Statements built once: building an insert per request cost more than its round trip.
_ALL_WITHOUT_KEY = _bound_insert(OutboxEntry, "o_", _OUTBOX_COLUMNS).add_cte(
    _bound_insert(Submission, "s_", _SUBMISSION_COLUMNS).cte("submission")
)
_ALL_WITH_KEY = _ALL_WITHOUT_KEY.add_cte(_bound_insert(IdempotencyRecord, "i_", _IDEMPOTENCY_COLUMNS).cte("idem"))
# Two versions racing for the same number meet the unique constraint and the loser retries.
_LATEST_VERSION = sa.select(sa.func.coalesce(sa.func.max(Submission.version), 0)).where(
    Submission.unit_id == sa.bindparam("unit"),
    Submission.period_id == sa.bindparam("period"),
    Submission.form_code == sa.bindparam("form"),
)


def outbox_values(queue: str, actor: str, resource_id: str, now: dt.datetime, delay: dt.timedelta) -> dict[str, Any]:
    """An outbox row; the relay leaves it alone for ``delay``, the time a healthy worker needs."""
    return {
        "queue": queue,
        "actor": actor,
        "resource_id": resource_id,
        "attempts": 0,
        "next_attempt_at": now + delay,
        "created_at": now,
    }


def _check_figures(form: FormVersion, figures: dict[str, int | float]) -> None:
    errors = []
    for key in figures:
        column = form.column(int(key)) if key.isdigit() else None
        if column is None:
            errors.append(
                {
                    "field": f"figures.{key}",
                    "message": f"{form.code} has no column {key}; columns are 1-{len(form.columns)}",
                }
            )
        elif not column.numeric:
            errors.append(
                {"field": f"figures.{key}", "message": f"column {key} ({column.label}) is text; put it in note"}
            )
    if errors:
        raise Invalid("figures name columns the form does not have", errors)
