"""Generated handling histories (demo, forms benchmark) are histories the workflow could have written."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from kntc.demo_handling import History
from kntc.demo_records import Window, seed_records
from models.handling import CLOSING_OUTCOMES, FIRST_OUTCOMES, SECOND_OUTCOMES, PetitionEvent, PetitionHandling
from models.workflow import TRANSITIONS, State, handling_record

NOW = dt.date(2026, 11, 27)
CONTENT = ("complaint", "denunciation", "recommendation", "dispute", "mixed")


def histories(n: int) -> list[History]:
    rng = random.Random(7)
    return [
        History(
            rng,
            pid,
            NOW - dt.timedelta(days=rng.randrange(400)),
            rng.choice(CONTENT),
            rng.random() < 0.85,
            rng.random() < 0.7,
            NOW,
        )
        for pid in range(1, n + 1)
    ]


def test_every_generated_step_is_a_transition_of_the_machine_in_order_of_days() -> None:
    for history in histories(3000):
        timeline = history.timeline()
        action, source, target, day, _ = timeline[0]
        assert (action, source, target) == ("receive", None, "received")
        state, last = State.RECEIVED, day
        for action, source, target, day, reason in timeline[1:]:
            transition = TRANSITIONS[action]
            assert source == state and State(source) in transition.sources, (history.pid, timeline)
            assert State(target) == (transition.target or state), (history.pid, action)
            assert not transition.reason_required or reason
            assert last <= day <= NOW
            state, last = State(target), day
        assert history.row()["state"] == state.value


def test_generated_resolutions_carry_an_outcome_that_fits_and_figures_that_add_up() -> None:
    rows = [(h, h.row()) for h in histories(3000)]
    states = Counter(row["state"] for _, row in rows)
    # Every kind of ending is there, and some are still open (carried over).
    assert {"resolved", "guided", "forwarded", "returned", "filed_away", "under_resolution"} <= set(states)
    outcomes = Counter(row["outcome"] for _, row in rows if row["state"] == "resolved")
    assert set(outcomes) == {*FIRST_OUTCOMES, *SECOND_OUTCOMES, *CLOSING_OUTCOMES}
    for history, row in rows:
        if row["state"] != "resolved":
            assert row["outcome"] is None
            continue
        assert row["decision_number"] and row["decision_date"] == row["resolved_on"]
        if row["outcome"] in SECOND_OUTCOMES:
            assert row["resolution_round"] == 2 and history.content_type == "complaint"
        if row["outcome"] in CLOSING_OUTCOMES:
            assert history.timeline()[-1][0] == "close" and history.content_type in (
                "complaint",
                "denunciation",
                "mixed",
            )
        assert row["sanctions_officials"] <= row["sanctions_persons"]
        assert row["referred_officials"] <= row["referred_persons"]
    actions = Counter(action for h, _ in rows for action, *_ in h.timeline())
    assert actions["urge"] and actions["reply_received"] and actions["extend"]


@pytest.mark.usefixtures("world")
def test_the_demo_stores_each_final_petition_with_its_history(sessions: sessionmaker[Session]) -> None:
    window = Window(dt.date(2026, 8, 15), dt.date(2026, 11, 14))
    with sessions() as session:
        counts = seed_records(session, window)
        session.commit()
        finals = set(session.scalars(sa.text("SELECT id FROM petitions WHERE status = 'final'")))
        handled = set(session.scalars(sa.select(PetitionHandling.petition_id)))
        states = dict(session.execute(sa.select(PetitionHandling.petition_id, PetitionHandling.state)).all())
        last = dict(
            session.execute(
                sa.select(PetitionEvent.petition_id, PetitionEvent.to_state).order_by(PetitionEvent.id)
            ).all()
        )
        events = session.scalar(sa.select(sa.func.count()).select_from(PetitionEvent))
        for row in session.scalars(sa.select(PetitionHandling)):
            facts = handling_record(session, row.petition_id)  # as the API reads the events
            handled_on = dt.date.fromisoformat(facts["handled_on"]) if facts["handled_on"] else None
            assert (row.handled_as, row.handled_on) == (facts["handled_as"], handled_on)
            urged = [row.urged_on.isoformat()] if row.urged_on else []
            assert urged == facts["urged_on"][:1]
            replied = row.reply_received_on.isoformat() if row.reply_received_on else None
            assert replied == facts["reply_received_on"]
    assert handled == finals and finals
    assert last == states  # the row is where its events lead
    assert events == counts["handling_events"] >= 2 * len(finals)
