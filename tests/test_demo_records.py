"""The demo's records: a few per commune, obeying the records' rules, readable through the API."""

from __future__ import annotations

import datetime as dt
import unicodedata

import sqlalchemy as sa
from flask.testing import FlaskClient
from helpers import World
from record_factories import call
from sqlalchemy.orm import Session, sessionmaker

from kntc.demo_records import Window, seed_records
from models.cases import novelty
from models.records import Case, Petition, Reception
from models.text import fold

WINDOW = Window(dt.date(2026, 9, 15), dt.date(2026, 11, 28))


def test_every_commune_gets_records_once(client: FlaskClient, world: World, sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        counts = seed_records(session, WINDOW)
        session.commit()
        again = seed_records(session, WINDOW)
        receptions = session.scalars(sa.select(Reception)).all()
        petitions = session.scalars(sa.select(Petition)).all()
        case_ids = list(session.scalars(sa.select(Case.id)))
        kinds = novelty(session, case_ids, WINDOW.starts, WINDOW.ends)

    assert again == {}
    assert counts["communes"] == 3
    assert (len(receptions), len(petitions)) == (counts["receptions"], counts["petitions"])
    assert {r.unit_id for r in receptions} == {world.unit_id(c) for c in ("P01.X1", "P01.X2", "P02.X1")}
    assert all(WINDOW.starts <= r.received_on <= WINDOW.ends for r in receptions)
    assert all(r.people >= 5 for r in receptions if r.crowd_group)
    for p in petitions:
        assert p.petitioner_name is None or unicodedata.is_normalized("NFC", p.petitioner_name)
        assert p.petitioner_name_folded == fold(p.petitioner_name)
    assert list(kinds.values()).count("repeat") == counts["repeat_cases"]
    _, listed = call(client, world.tokens["p01-admin"], "GET", "/api/v1/petitions?limit=500")
    assert len(listed["items"]) == sum(1 for p in petitions if p.unit_id != world.unit_id("P02.X1"))
    # The sequences moved on: records created through the API after the seed get new ids.
    _, created = call(client, world.tokens["admin"], "POST", "/api/v1/receptions",
                      {"unit": "P01.X1", "received_on": "2026-10-02", "kind": "regular", "people": 1,
                       "content_type": "dispute", "field": "land"})  # fmt: skip
    assert created["id"] > max(r.id for r in receptions)
