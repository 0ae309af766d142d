"""What a worker does with a stored submission: check the form's identities and decide.

Idempotent: a submission already decided is left as it is, so a message delivered twice
(the broker's at-least-once promise, the outbox relay) changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models.forms import FormCatalogue
from models.submissions import FINAL_STATUSES, OutboxEntry, Status, Submission


@dataclass(frozen=True)
class Decision:
    submission_id: uuid.UUID
    status: Status
    errors: list[dict[str, str]]


def unit_of(session: Session, submission_id: uuid.UUID) -> int | None:
    """The unit whose rate limit a submission's processing falls under."""
    return session.scalar(sa.select(Submission.unit_id).where(Submission.id == submission_id))


def process(session: Session, submission_id: uuid.UUID, forms: FormCatalogue, now: dt.datetime) -> list[Decision]:
    """Decide the submission and any earlier version still waiting, oldest first; commit.

    Returns the decisions taken now (empty when there was nothing left to decide).
    """
    target = session.get(Submission, submission_id, with_for_update=True)
    if target is None:
        return []
    pending = [target] if target.status not in FINAL_STATUSES else []
    if pending:
        # Versions are decided in order even when their messages arrive out of order.
        pending = _earlier_pending(session, target) + pending
    decisions = [_decide(sub, forms, now) for sub in pending]
    resource_ids = [str(sub.id) for sub in pending] or [str(submission_id)]
    session.execute(sa.delete(OutboxEntry).where(OutboxEntry.resource_id.in_(resource_ids)))
    session.commit()
    return decisions


def _earlier_pending(session: Session, target: Submission) -> list[Submission]:
    return list(
        session.scalars(
            sa.select(Submission)
            .where(
                Submission.unit_id == target.unit_id,
                Submission.period_id == target.period_id,
                Submission.form_code == target.form_code,
                Submission.version < target.version,
                Submission.status.not_in([s.value for s in FINAL_STATUSES]),
            )
            .order_by(Submission.version)
            .with_for_update()
        )
    )


def _decide(submission: Submission, forms: FormCatalogue, now: dt.datetime) -> Decision:
    form = forms.version(submission.form_code, submission.form_version)
    if form is None:
        errors = [
            {"rule": "form", "message": f"form {submission.form_code} {submission.form_version} is no longer defined"}
        ]
    else:
        errors = form.check(submission.figures)
    submission.status = Status.REJECTED if errors else Status.ACCEPTED
    submission.errors = errors
    submission.processed_at = now
    return Decision(submission.id, Status(submission.status), errors)
