"""Intake of a statistical report: the checks made before a receipt is signed, and the
one transaction that stores the submission, its idempotency record and its outbox entry.

The identities of the form are not checked here: that is the worker's job, so that the
intake answers in milliseconds whatever the form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import uuid
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models.accounts import SUBMITTING_ROLES
from models.auth import LAST_SEEN_RESOLUTION, Principal
from models.base import Base, utcnow
from models.db import is_postgres
from models.direct_connections import NO_SEQUENTIAL_SCANS, DirectConnections
from models.directory import Directory, PeriodRef, UnitRef
from models.errors import Conflict, DomainError, Forbidden, Invalid
from models.forms import FormCatalogue, FormVersion
from models.periods import LockException, Timeliness, describe_deadline
from models.receipts import Signer, canonical_json, sha256_hex
from models.submissions import IdempotencyRecord, OutboxEntry, Status, Submission, new_submission_id
from models.version_guesses import version_guesses

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

    @functools.cached_property
    def sha256(self) -> str:
        """Of the canonical JSON; computed once (the receipt, the row and the idempotency record all carry it)."""
        return sha256_hex(canonical_json(self.canonical()))


@dataclass(frozen=True)
class IntakeResult:
    submission_id: uuid.UUID
    receipt: dict[str, Any]
    replayed: bool
    on_time: bool
    unit_id: int = 0
    version: int = 0
    last_seen_written: bool = False  # the account's last-seen time was committed with the submission
    retries: int = 0  # statements run again because the version guessed was taken


@dataclass(frozen=True)
class _Attempt:
    """What one attempt at storing did: stored (``result``), or not, and why not."""

    result: IntakeResult | None
    latest: int = 0  # when nothing was stored: the unit's latest version of the form
    refused: bool = False  # first contact: the token's account may not submit this


class Intake:
    def __init__(
        self,
        directory: Directory,
        forms: FormCatalogue,
        signer: Signer,
        relay_delay: dt.timedelta,
        engine: sa.Engine,
    ) -> None:
        self.directory = directory
        self.forms = forms
        self.signer = signer
        self.relay_delay = relay_delay
        # The engine serves the rare queries (a replay, a lock exception, a version taken)
        # and SQLite's rows, a statement each. PostgreSQL stores a report in one
        # autocommitted statement on a connection of the thread's own, kept off sequential
        # scans: every lookup of it has its index (a token's digest, an account, a unit, a
        # unit's versions).
        self._connect = engine
        self._direct = DirectConnections(engine, (NO_SEQUENTIAL_SCANS,)) if is_postgres(engine) else None
        self._versions = version_guesses()

    def warm_up(self) -> None:
        """Open this thread's connection for the intake's statement."""
        if self._direct is not None:
            self._direct.open_this_thread()

    def submit(
        self,
        who: Principal,
        request: SubmissionRequest,
        idempotency_key: str | None,
        *,
        last_seen_of: int | None = None,
    ) -> IntakeResult:
        """Store the report durably and sign its receipt; raises a DomainError otherwise.

        A repeated Idempotency-Key is found by the unique index when the insert fails,
        so the common case (a new key) costs no extra query. ``last_seen_of``: an
        account whose last-seen time is written in the same statement (PostgreSQL).
        """
        period, unit, form = self._resolve(who, request)
        received_at = utcnow()
        timeliness = period.timeliness(unit.level, received_at)
        if timeliness is Timeliness.CLOSED:
            # A retry of a report accepted before the close still gets its answer.
            replay = self._replay(who, idempotency_key, request.sha256) if idempotency_key else None
            if replay:
                return replay
            self._require_lock_exception(period, unit, request.form)
        on_time = timeliness is Timeliness.ON_TIME
        slot = (unit.id, period.id, form.code)
        # A unit's first report of a form (every request of a deadline surge) is version 1
        # without asking; the statement stores nothing if the guess is wrong.
        version = self._versions.next(slot) if self._direct is not None else self._latest(slot) + 1
        for attempt in range(VERSION_RETRIES):
            try:
                stored = self._store(
                    who, request, idempotency_key, period, unit, form, received_at, on_time, version, last_seen_of
                )
            except IntegrityError:
                if idempotency_key:
                    replay = self._replay(who, idempotency_key, request.sha256)
                    if replay:
                        return replay
                version = self._latest(slot) + 1
                continue
            if stored.result is not None:
                self._versions.stored(slot, version)
                return _with_retries(stored.result, attempt)
            self._versions.stored(slot, stored.latest)  # the guess was behind: the statement says where
            version = stored.latest + 1
        raise Conflict(f"unit {unit.code} is submitting {form.code} many times at once; send it again")

    def submit_first_contact(
        self, token_sha256: str, request: SubmissionRequest, idempotency_key: str | None
    ) -> IntakeResult | None:
        """A token's first request in one round trip: the statement itself authenticates the caller.

        At deadline night nearly every request is a token's first use, which would cost
        a query of its own before the insert. Here the insert selects the caller by the
        token's digest, with every condition of :func:`models.auth.principal_for_token`
        and of :meth:`_resolve` on the caller (account enabled, token unexpired, a
        submitting role, the unit in the caller's subtree), and stores nothing unless all
        hold. Returns None whenever anything is off (a bad request, a refused caller, a
        closed period, a repeated key, a version taken): the caller then takes the full
        path, which answers with the precise error or stores the report after all.
        PostgreSQL only.
        """
        if self._direct is None:
            return None
        try:
            period, unit, form = self._resolve(None, request)
        except DomainError:
            return None
        received_at = utcnow()
        timeliness = period.timeliness(unit.level, received_at)
        if timeliness is Timeliness.CLOSED:
            return None
        slot = (unit.id, period.id, form.code)
        version = self._versions.next(slot)
        on_time = timeliness is Timeliness.ON_TIME
        for attempt in range(VERSION_RETRIES):
            try:
                stored = self._store(
                    None, request, idempotency_key, period, unit, form, received_at, on_time, version, None,
                    token_sha256=token_sha256,
                )  # fmt: skip
            except IntegrityError:  # a repeated key or a twin: the full path sorts it out
                stored = _Attempt(None, refused=True)
            if stored.result is not None:
                self._versions.stored(slot, version)
                return _with_retries(stored.result, attempt)
            if stored.refused:
                return None
            self._versions.stored(slot, stored.latest)
            version = stored.latest + 1
        return None

    def _latest(self, slot: tuple[int, int, str]) -> int:
        unit_id, period_id, form_code = slot
        with self._connect.connect() as conn:
            latest = int(conn.scalar(_LATEST_VERSION, {"unit": unit_id, "period": period_id, "form": form_code}) or 0)
        self._versions.stored(slot, latest)
        return latest

    def _resolve(self, who: Principal | None, request: SubmissionRequest) -> tuple[PeriodRef, UnitRef, FormVersion]:
        """The period, unit and form; ``who`` None: the statement checks the caller (first contact)."""
        period = self.directory.period(request.period)
        if period is None:
            raise Invalid.field("period", f"no reporting period {request.period!r}; check the code")
        unit = self.directory.unit(request.unit)
        if unit is None:
            raise Invalid.field("unit", f"no unit {request.unit!r}; check the code")
        if who is not None and who.role not in SUBMITTING_ROLES:
            raise Forbidden(f"role {who.role} cannot submit reports; ask an admin for the reporter role")
        if who is not None and not who.covers(unit.path):
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

    def _require_lock_exception(self, period: PeriodRef, unit: UnitRef, form: str) -> None:
        with self._connect.connect() as conn:
            found = conn.scalar(
                sa.select(LockException.id).where(
                    LockException.period_id == period.id,
                    LockException.unit_id == unit.id,
                    LockException.form_code == form,
                )
            )
        if found is None:
            closed = describe_deadline(period.closes_for(unit.level))
            due = describe_deadline(period.due_for(unit.level))
            raise Conflict(
                f"period {period.code} closed for {unit.code} at {closed} (due {due} plus grace); "
                "ask an admin of a unit above it to open a lock exception"
            )

    def _replay(self, who: Principal, key: str, request_sha256: str) -> IntakeResult | None:
        with self._connect.connect() as conn:
            record = conn.execute(_IDEMPOTENCY_RECORD, {"account": who.account_id, "scope": SCOPE, "key": key}).first()
            if record is None:
                return None
            if record.request_sha256 != request_sha256:
                raise Invalid(
                    "Idempotency-Key was already used with a different body; use a new key for a new report",
                    [{"field": "Idempotency-Key", "message": "already used with a different body"}],
                )
            found = conn.execute(_REPLAYED_SUBMISSION, {"id": uuid.UUID(record.resource_id)}).one()
        return IntakeResult(found.id, found.receipt, replayed=True, on_time=found.on_time)

    def _store(
        self,
        who: Principal | None,
        request: SubmissionRequest,
        key: str | None,
        period: PeriodRef,
        unit: UnitRef,
        form: FormVersion,
        received_at: dt.datetime,
        on_time: bool,
        version: int,
        last_seen_of: int | None,
        *,
        token_sha256: str | None = None,
    ) -> _Attempt:
        """Store one version, if it is the next one (and, first contact, the caller may submit it)."""
        account_id = who.account_id if who else None  # first contact: the statement finds it
        submission_id = new_submission_id()
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
                "account_id": account_id,
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
            "account_id": account_id,
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
        if self._direct is not None:
            caller = (token_sha256, unit.path) if token_sha256 else None
            stored, known, latest = _insert_all(self._direct, idempotency, submission, outbox, last_seen_of, caller)
            if not stored:
                return _Attempt(None, latest=latest, refused=not known)
        else:
            with self._connect.begin() as conn:
                _insert_rows(conn, idempotency, submission, outbox)
        result = IntakeResult(
            submission_id, receipt, replayed=False, on_time=on_time, unit_id=unit.id, version=version,
            last_seen_written=self._direct is not None and last_seen_of is not None,
        )  # fmt: skip
        return _Attempt(result)


def _with_retries(result: IntakeResult, retries: int) -> IntakeResult:
    return dataclasses.replace(result, retries=retries) if retries else result


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _insert_all(
    direct: DirectConnections,
    idempotency: dict[str, Any] | None,
    submission: dict[str, Any],
    outbox: dict[str, Any],
    last_seen_of: int | None,
    caller: tuple[str, str] | None = None,
) -> tuple[bool, bool, int]:
    """PostgreSQL: every row of the submission in one autocommitted statement.

    Returns whether it stored them, whether the caller was known (first contact; always
    true otherwise) and the unit's latest version before the statement (what to retry
    with when the version guessed was taken).

    The statement inserts the submission only if its version is the next one, and the
    outbox and idempotency rows only with it; it also records the account's last-seen
    time when asked. A repeated Idempotency-Key, or a twin inserting the same version at
    the same moment, fails it on a unique index (the twin waits there until the first
    commits), and nothing of it is stored.
    """
    params = {
        **submission,
        "figures": json.dumps(submission["figures"]),
        "errors": json.dumps(submission["errors"]),
        "receipt": json.dumps(submission["receipt"], ensure_ascii=False),
        "queue": outbox["queue"],
        "actor": outbox["actor"],
        "next_attempt_at": outbox["next_attempt_at"],
        "resource_id": outbox["resource_id"],
        "touch": last_seen_of,
        "stale_before": submission["received_at"] - LAST_SEEN_RESOLUTION,
    }
    if idempotency:
        params.update(scope=idempotency["scope"], key=idempotency["key"], request_sha256=idempotency["request_sha256"])
    if caller:
        params.update(digest=caller[0], unit_path=caller[1], roles=_SUBMITTING_ROLES)
        statement = _FIRST_CONTACT_WITH_KEY if idempotency else _FIRST_CONTACT
    else:
        statement = _STORE_WITH_KEY if idempotency else _STORE
    stored, known, latest = direct.one(statement, params)
    return bool(stored), bool(known), int(latest)


def _insert_rows(
    conn: sa.Connection, idempotency: dict[str, Any] | None, submission: dict[str, Any], outbox: dict[str, Any]
) -> None:
    """SQLite (the embedded demo): a statement per row, in the caller's transaction."""
    if idempotency:
        conn.execute(sa.insert(_table(IdempotencyRecord)), idempotency)
    conn.execute(sa.insert(_table(Submission)), submission)
    conn.execute(sa.insert(_table(OutboxEntry)), outbox)


# UNIT_INDEX_ONLY: a unit's versions are found through the unique index (unit_id,
# period_id, form_code, version). "period_id + 0" keeps the planner off the index on
# (period_id, form_code, status): a period's rows are new when it is busiest, so its
# statistics say "few rows" and that index looked as cheap, yet every lookup through it
# read the whole period (measured: 6.6 ms a lookup at 20,000 rows, PostgreSQL's CPU per
# report tripled). Through the unique index a lookup reads the unit's few rows.
#
# The submission's rows as one statement: driver SQL, compiled by nobody and prepared by
# psycopg after a few uses; text parameters are cast because psycopg sends them untyped.
# Data-modifying CTEs all run, referenced or not; the outbox and idempotency rows select
# from the submission's RETURNING, so they exist only with it.
_STORE_PARTS = {
    "submission": """
    s AS (
        INSERT INTO submissions (id, unit_id, period_id, form_code, form_version, version, account_id,
            figures, note, payload_sha256, status, errors, on_time, received_at, receipt)
        SELECT %(id)s, %(unit_id)s, %(period_id)s, %(form_code)s::text, %(form_version)s::text, %(version)s,
            %(account_id)s, %(figures)s::jsonb, %(note)s::text, %(payload_sha256)s::text, %(status)s::text,
            %(errors)s::jsonb, %(on_time)s, %(received_at)s, %(receipt)s::jsonb
        WHERE (
            SELECT coalesce(max(version), 0) FROM submissions
            WHERE unit_id = %(unit_id)s AND period_id + 0 = %(period_id)s AND form_code = %(form_code)s::text
        ) = %(version)s - 1
        RETURNING id
    )""",
    "outbox": """
    o AS (
        INSERT INTO outbox (queue, actor, resource_id, attempts, next_attempt_at, created_at)
        SELECT %(queue)s::text, %(actor)s::text, %(resource_id)s::text, 0, %(next_attempt_at)s, %(received_at)s FROM s
    )""",
    "idempotency": """
    i AS (
        INSERT INTO idempotency_records (account_id, scope, key, request_sha256, resource_id, created_at)
        SELECT %(account_id)s, %(scope)s::text, %(key)s::text, %(request_sha256)s::text, %(resource_id)s::text,
            %(received_at)s
        FROM s
    )""",
    "last_seen": """
    t AS (
        UPDATE accounts SET last_seen_at = %(received_at)s
        WHERE id = %(touch)s AND (last_seen_at IS NULL OR last_seen_at < %(stale_before)s)
    )""",
}
# First contact (Intake.submit_first_contact): the caller is the token's account if it
# may submit for the unit; the submission takes its id, the idempotency record and the
# last-seen time follow. Mirrors principal_for_token and Intake._resolve: a condition
# missing here would let a request through that the full path refuses.
_FIRST_CONTACT_PARTS = {
    "who": """
    who AS (
        SELECT a.id FROM api_tokens t
        JOIN accounts a ON a.id = t.account_id
        JOIN units u ON u.id = a.unit_id
        WHERE t.token_sha256 = %(digest)s::text
          AND NOT a.disabled
          AND (t.expires_at IS NULL OR t.expires_at > %(received_at)s)
          AND a.role = ANY(%(roles)s::text[])
          AND left(%(unit_path)s::text, length(u.path)) = u.path
    )""",
    "submission": _STORE_PARTS["submission"]
    .replace("%(account_id)s", "who.id")
    .replace("\n        WHERE (", "\n        FROM who\n        WHERE (")
    .replace("RETURNING id", "RETURNING id, account_id"),
    "outbox": _STORE_PARTS["outbox"],
    "idempotency": _STORE_PARTS["idempotency"].replace("SELECT %(account_id)s,", "SELECT s.account_id,"),
    "last_seen": _STORE_PARTS["last_seen"].replace("WHERE id = %(touch)s", "WHERE id = (SELECT id FROM who)"),
}
_SUBMITTING_ROLES = sorted(role.value for role in SUBMITTING_ROLES)


# Whether it stored, whether the caller was known, and the latest version the statement
# saw (its snapshot does not include its own insert).
_OUTCOME = """
SELECT (SELECT count(*) FROM s), {known}, (
    SELECT coalesce(max(version), 0) FROM submissions
    WHERE unit_id = %(unit_id)s AND period_id + 0 = %(period_id)s AND form_code = %(form_code)s::text
)"""


def _statement(parts: dict[str, str], names: tuple[str, ...]) -> str:
    known = "(SELECT count(*) FROM who)" if "who" in names else "1"
    return "WITH" + ",".join(parts[name] for name in names) + _OUTCOME.format(known=known)


_STORE = _statement(_STORE_PARTS, ("submission", "outbox", "last_seen"))
_STORE_WITH_KEY = _statement(_STORE_PARTS, ("submission", "outbox", "idempotency", "last_seen"))
_FIRST_CONTACT = _statement(_FIRST_CONTACT_PARTS, ("who", "submission", "outbox", "last_seen"))
_FIRST_CONTACT_WITH_KEY = _statement(_FIRST_CONTACT_PARTS, ("who", "submission", "outbox", "idempotency", "last_seen"))
_LATEST_VERSION = sa.select(sa.func.coalesce(sa.func.max(Submission.version), 0)).where(
    Submission.unit_id == sa.bindparam("unit"),
    Submission.period_id + 0 == sa.bindparam("period"),  # see UNIT_INDEX_ONLY
    Submission.form_code == sa.bindparam("form"),
)
_IDEMPOTENCY_RECORD = sa.select(IdempotencyRecord.request_sha256, IdempotencyRecord.resource_id).where(
    IdempotencyRecord.account_id == sa.bindparam("account"),
    IdempotencyRecord.scope == sa.bindparam("scope"),
    IdempotencyRecord.key == sa.bindparam("key"),
)
_REPLAYED_SUBMISSION = sa.select(Submission.id, Submission.receipt, Submission.on_time).where(
    Submission.id == sa.bindparam("id")
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
