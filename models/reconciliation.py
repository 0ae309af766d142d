"""Reconciliation: a unit's submitted figures against the figures its own records give.

The seed report's complaint was that exported figures did not match the paper reports.
Once a submission is accepted, ``record_differences`` computes the same form, version and
period over the submitting unit's subtree (``models.form_sql.compute_form``) and stores
every figure column that differs on the submission (``submissions.differences``: ``[]``
when all agree, NULL when never checked). ``reconciliation`` lists, for a subtree, the
units whose newest accepted submission differs, from the stored differences; a
submission accepted before they were recorded is compared on demand.

The comparison runs in batches (``reconcile_pending``, sent by ``kntc scheduler`` every
``KNTC_RECONCILE_INTERVAL_SECONDS``), not inside the worker's decision: on deadline night
the submissions queue stays two statements per report, and the accepted submissions wait
in the table itself (the partial index of migration 0008), where no lost message can
strand them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.form_sql import compute_form
from models.forms import FormCatalogue, FormVersion, catalogue
from models.periods import Period
from models.report_requests import plain
from models.submissions import Status, Submission
from models.units import Unit, subtree_clause


def compare(form: FormVersion, submitted: Mapping[str, Any], computed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each figure column whose submitted value is not the computed one (an absent figure is 0)."""
    found = []
    for column in form.columns:
        if not column.numeric:
            continue  # notes are free text the unit may add to
        key = str(column.number)
        given, expected = _number(submitted.get(key)), _number(computed.get(key))
        if given != expected:
            found.append({"column": key, "label": column.label, "submitted": plain(given), "computed": plain(expected)})
    return found


def _number(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def differences(session: Session, submission: Submission, forms: FormCatalogue | None = None) -> list[dict[str, Any]]:
    """``[{"column", "label", "submitted", "computed"}]`` for the submission's unit, form version and period."""
    forms = forms or catalogue()
    form = forms.version(submission.form_code, submission.form_version)
    if form is None:
        return []  # a version no longer defined has nothing to compute against (processing rejects it)
    period = session.get_one(Period, submission.period_id)
    unit = session.get_one(Unit, submission.unit_id)
    computed = compute_form(session, form, period, unit)
    return compare(form, submission.figures, computed.columns)


def record_differences(
    session: Session, submission: Submission, forms: FormCatalogue | None = None
) -> list[dict[str, Any]]:
    """Compute and set ``submission.differences`` (not committed: the caller's transaction does)."""
    found = differences(session, submission, forms)
    submission.differences = found
    return found


def reconciliation(
    session: Session, period: Period, root: Unit, form_code: str | None = None, forms: FormCatalogue | None = None
) -> dict[str, Any]:
    """The units of ``root``'s subtree whose newest accepted submission differs from their records."""
    rows = session.execute(_newest_accepted(period, root, form_code)).all()
    units = []
    for submission, code, name in rows:
        stored = submission.differences
        found = stored if stored is not None else differences(session, submission, forms)
        if found:
            units.append(
                {
                    "unit": code,
                    "name": name,
                    "form": submission.form_code,
                    "version": submission.form_version,
                    "submission": str(submission.id),
                    "submission_version": submission.version,
                    "checked": "stored" if stored is not None else "now",
                    "differences": found,
                }
            )
    return {"period": period.code, "unit": root.code, "form": form_code, "checked": len(rows), "units": units}


def _newest_accepted(period: Period, root: Unit, form_code: str | None) -> sa.Select[Submission, str, str]:
    newest = (
        sa.select(
            Submission.id,
            sa.func.row_number()
            .over(partition_by=(Submission.unit_id, Submission.form_code), order_by=Submission.version.desc())
            .label("rank"),
        )
        .join(Unit, Unit.id == Submission.unit_id)
        .where(
            Submission.period_id == period.id,
            Submission.status == Status.ACCEPTED.value,
            subtree_clause(root.path),
            *([Submission.form_code == form_code] if form_code else []),
        )
        .subquery()
    )
    return (
        sa.select(Submission, Unit.code, Unit.name)
        .join(newest, sa.and_(newest.c.id == Submission.id, newest.c.rank == 1))
        .join(Unit, Unit.id == Submission.unit_id)
        .order_by(Unit.path, Submission.form_code)
    )


# Submissions compared per batch: a commune's form is a few milliseconds, a province's more.
RECONCILE_BATCH = 200


def reconcile_pending(session: Session, forms: FormCatalogue | None = None, limit: int = RECONCILE_BATCH) -> int:
    """Record the differences of accepted submissions never compared, oldest first; commit.

    Idempotent and safe beside a twin worker: rows are claimed with SKIP LOCKED and a row
    compared once is never picked again. Returns how many were compared.
    """
    forms = forms or catalogue()
    pending = session.scalars(
        sa.select(Submission)
        .where(Submission.status == Status.ACCEPTED, Submission.differences.is_(None))
        .order_by(Submission.processed_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for submission in pending:
        record_differences(session, submission, forms)
    session.commit()
    return len(pending)
