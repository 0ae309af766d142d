"""Factories for petitions and their handling, shared by the records workflow tests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World, auth
from sqlalchemy.orm import Session, sessionmaker

from models import workflow
from models.handling import PetitionHandling
from models.records import Case, Petition
from models.units import Unit


def make_petition(
    sessions: sessionmaker[Session],
    unit: str = "P01.X1",
    *,
    content_type: str = "complaint",
    status: str = "final",
    received_on: dt.date | None = None,
    start: bool = True,
) -> int:
    """A stored petition of the unit (a final one with its handling row in state received); returns its id."""
    with sessions() as session:
        unit_id = session.scalar(sa.select(Unit.id).where(Unit.code == unit))
        assert unit_id is not None
        case = Case(unit_id=unit_id)
        session.add(case)
        session.flush()
        petition = Petition(
            unit_id=unit_id,
            received_on=received_on or workflow.today() - dt.timedelta(days=3),
            source="post",
            signatories=1,
            multi_signatory=False,
            anonymous=False,
            petitioner_name="Nguyễn Văn An",
            petitioner_name_folded="nguyen van an",
            content_type=content_type,
            field="land",
            catalogue_version="2021.1",
            summary="Khiếu nại quyết định thu hồi đất",
            case_id=case.id,
            status=status,
        )
        session.add(petition)
        session.flush()
        if start and status == "final":
            workflow.start(session, petition)
        session.commit()
        return petition.id


def handling(sessions: sessionmaker[Session], petition_id: int) -> PetitionHandling:
    with sessions() as session:
        return session.get_one(PetitionHandling, petition_id)


def act(
    client: FlaskClient, world: World, who: str, petition_id: int, action: str, **fields: Any
) -> tuple[int, dict[str, Any]]:
    response = client.post(
        f"/api/v1/petitions/{petition_id}/actions",
        json={"action": action, **fields},
        headers=auth(world.tokens[who]),
    )
    return response.status_code, json.loads(response.data)


OUTCOME = {
    "outcome": "partly_right",
    "decision_number": "12/QĐ-UBND",
    "decision_date": "2026-11-20",
    "money_recovered_state": 150.5,
    "land_recovered_state": 320,
    "money_returned_individuals": 20,
    "individuals_restored": 3,
    "organisations_restored": 1,
}
