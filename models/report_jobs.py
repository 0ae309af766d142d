"""What a worker does with a report request: claim it, compute the form, write its files, finish.

See ``models/report_requests.py`` for the request's life; this module holds the job because
it alone needs the SQL compiler and the exporter.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.form_export import Report, render_csv, render_xlsx
from models.form_sql import ComputedForm, compute_form
from models.forms import FormCatalogue, FormVersion
from models.periods import Period
from models.report_requests import (
    Outcome,
    ProgressWriter,
    ReportRequest,
    Status,
    claim,
    finish_done,
    finish_failed,
    release,
    sweep_expired,
    write_files,
)
from models.storage import Storage
from models.units import Unit


@dataclass(frozen=True)
class JobSettings:
    storage: Storage  # where the files go: the web reads them from the same place
    lease: dt.timedelta  # the job's time limit and a little more: a live job never loses its claim
    keep: dt.timedelta  # how long the result and files stay


def run(sessions: sessionmaker[Session], forms: FormCatalogue, request_id: uuid.UUID, job: JobSettings) -> Outcome:
    """Compute one request unless it is done or another worker holds it; idempotent."""
    with sessions() as session:
        row = claim(session, request_id, utcnow(), job.lease)
        if row is None:
            found = session.get(ReportRequest, request_id) is not None
            return Outcome.DUPLICATE if found else Outcome.MISSING
        if row.status == Status.FAILED:
            return Outcome.FAILED
        form = forms.version(row.form_code, row.form_version)
        if form is None:
            finish_failed(
                session, row, utcnow(), f"form {row.form_code} version {row.form_version} is no longer defined"
            )
            return Outcome.FAILED
    try:
        _compute_and_write(sessions, form, row, job.storage)
    except BaseException as error:  # dramatiq's time limit is a BaseException: release for its retry too
        with sessions() as session:
            release(session, request_id, f"{type(error).__name__}: {error}")
        raise
    with sessions() as session:
        finish_done(session, request_id, utcnow(), job.keep)
        sweep_expired(session, job.storage, utcnow())
    return Outcome.DONE


def _compute_and_write(
    sessions: sessionmaker[Session], form: FormVersion, row: ReportRequest, storage: Storage
) -> None:
    progress = ProgressWriter(sessions, row.id)
    with sessions() as session:
        period = session.get_one(Period, row.period_id)
        unit = session.get_one(Unit, row.unit_id)
        computed = compute_form(session, form, period, unit, progress=progress)
        session.commit()  # keeps the unit figures it stored (models/form_cache.py) for the next request
        names = _names(session, computed)
    # The sheet gets the exact figures (Decimal amounts as numbers); the JSON gets as_json()'s.
    figures = {
        "columns": computed.columns,
        "children": [{"unit": c.unit, "columns": c.columns} for c in computed.children],
    }
    report = Report.from_result(
        form,
        figures,
        unit=(unit.code, unit.name),
        period=period.code,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        names=names,
    )
    write_files(storage, row.id, computed.as_json(), render_xlsx(report), render_csv(report))


def _names(session: Session, computed: ComputedForm) -> dict[str, str]:
    names = {child.unit: child.name for child in computed.children if child.name}
    missing = [child.unit for child in computed.children if child.unit not in names]
    if missing:
        rows = session.execute(sa.select(Unit.code, Unit.name).where(Unit.code.in_(missing))).all()
        names.update((code, name) for code, name in rows)
    return names
