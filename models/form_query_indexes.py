"""Indexes the forms engine's queries use (migration 0006), declared here so ``alembic check`` sees them.

- A petition's history summarised per petition (first handled, accepted, resolved; its
  state as of a day) is an index-only range scan: ``(petition_id, effective_on, id)``
  with the state and action included.
- "Is this case new in the period?" asks whether a final record of the case is dated
  before the window: ``(case_id, received_on)`` over final records only.
"""

from __future__ import annotations

import sqlalchemy as sa

from models.handling import PetitionEvent
from models.records import Petition, Reception

FINAL = sa.text("status = 'final'")

INDEXES = (
    sa.Index(
        "ix_petition_events_history",
        PetitionEvent.petition_id,
        PetitionEvent.effective_on,
        PetitionEvent.id,
        postgresql_include=["to_state", "action"],
    ),
    sa.Index("ix_receptions_case_final", Reception.case_id, Reception.received_on, postgresql_where=FINAL),
    sa.Index("ix_petitions_case_final", Petition.case_id, Petition.received_on, postgresql_where=FINAL),
)
