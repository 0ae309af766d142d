"""Petition forms computed by SQL (02/TCD, 01/XLD 2021 and 2024, 01/KQGQ, 03/KQGQ, 2b), by hand.

One quarter (15 Sep to 14 Dec 2024). The petitions of ``petition_world``, with what the
rules make of them as of 14 December (worked out by hand, not by the code):

- p1, X1, received 1 Aug, a land complaint with 6 signatories, eligible, within competence;
  accepted 10 Aug, resolved 1 Oct: right, a decision, on time, 10.5 M recovered, 2 people
  restored, 3 persons sanctioned (1 official). Handling: none (handled before the period);
  resolution: carried over, completed.
- p2, X1, 20 Sep through a reception, a land complaint, eligible, within; accepted 5 Oct.
  Handling: in period, completed; resolution: in period, pending at the end.
- p3, X1, 1 Sep, anonymous, a denunciation of corruption, eligible, outside competence;
  forwarded 10 Oct, urged 20 Oct, answered 1 Nov. Handling: carried over, completed.
- p4, X1, 15 Oct, a recommendation (policy), eligible, outside; guided 17 Oct. In period, completed.
- p5, X1, 1 Nov through a reception, a land denunciation, eligible, within; accepted 3 Nov,
  closed 1 Dec as withdrawn, after its deadline. Handling and resolution: in period, completed.
- p6, X1, 10 Nov, p1's case, a land complaint, nothing decided; received only. In period, pending.
- p7, X1, 10 Dec, a housing complaint, not eligible, within; returned 12 Dec. In period, completed.
- p9, P02, 1 Oct through a reception, mixed (other), eligible, within; classified 2 Oct. In period, pending.

Never counted: a draft (X1, 1 Oct) and a petition received on 15 December.
p6's case had one petition (p1) resolved before p6 arrived: "resolved once"; the others "not resolved".
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from form_reference import Store
from sqlalchemy.orm import Session
from test_form_sql import QUARTER, by_unit, figures, form, tree

from models.form_sql import compute_form

D = dt.date


def _steps(*steps: tuple[dt.date, str, str]) -> list[tuple[dt.date, str, str]]:
    return list(steps)


@pytest.fixture
def petition_world(db: Session) -> Store:
    s = tree(db)
    c1, c2 = s.case("X1"), s.case("X1")
    r0 = s.reception("X1", D(2024, 9, 20), c2)
    yes = {"eligible": True, "within_competence": True}
    s.petition(
        "X1",
        D(2024, 8, 1),
        c1,
        signatories=6,
        events=_steps(
            (D(2024, 8, 5), "classify", "classified"),
            (D(2024, 8, 10), "accept", "accepted"),
            (D(2024, 10, 1), "approve", "resolved"),
        ),
        handling={
            "outcome": "right",
            "decision_number": "1/QĐ",
            "due_on": D(2024, 10, 15),
            "money_recovered_state": Decimal("10.5"),
            "individuals_restored": 2,
            "sanctions_persons": 3,
            "sanctions_officials": 1,
        },
        **yes,
    )
    s.petition(
        "X1",
        D(2024, 9, 20),
        c2,
        reception_id=r0,
        events=_steps((D(2024, 9, 25), "classify", "classified"), (D(2024, 10, 5), "accept", "accepted")),
        handling={"due_on": D(2025, 1, 5)},
        **yes,
    )
    s.petition(
        "X1",
        D(2024, 9, 1),
        anonymous=True,
        content_type="denunciation",
        field="corruption",
        eligible=True,
        within_competence=False,
        events=_steps(
            (D(2024, 9, 10), "classify", "classified"),
            (D(2024, 10, 10), "forward", "forwarded"),
            (D(2024, 10, 20), "urge", "forwarded"),
            (D(2024, 11, 1), "reply_received", "forwarded"),
        ),
    )
    s.petition(
        "X1",
        D(2024, 10, 15),
        content_type="recommendation",
        field="policy",
        eligible=True,
        within_competence=False,
        events=_steps((D(2024, 10, 16), "classify", "classified"), (D(2024, 10, 17), "guide", "guided")),
    )
    s.petition(
        "X1",
        D(2024, 11, 1),
        reception_id=r0,
        content_type="denunciation",
        events=_steps(
            (D(2024, 11, 2), "classify", "classified"),
            (D(2024, 11, 3), "accept", "accepted"),
            (D(2024, 12, 1), "close", "resolved"),
        ),
        handling={"outcome": "withdrawn", "decision_number": "2/QĐ", "due_on": D(2024, 11, 30)},
        **yes,
    )
    s.petition("X1", D(2024, 11, 10), c1)
    s.petition(
        "X1",
        D(2024, 12, 10),
        field="housing",
        eligible=False,
        within_competence=True,
        events=_steps((D(2024, 12, 11), "classify", "classified"), (D(2024, 12, 12), "return", "returned")),
    )
    s.petition("X1", D(2024, 10, 1), status="draft", **yes)
    s.petition(
        "P02",
        D(2024, 10, 1),
        reception_id=r0,
        content_type="mixed",
        field="other",
        events=_steps((D(2024, 10, 2), "classify", "classified")),
        **yes,
    )
    s.petition("X1", D(2024, 12, 15), **yes)
    db.commit()
    return s


def computed(db: Session, world: Store, code: str, version: str) -> Any:
    return compute_form(db, form(code, version), QUARTER, world.units["VN"])


def test_01_xld_2024_every_column_by_hand(db: Session, petition_world: Store) -> None:
    result = computed(db, petition_world, "01/XLD", "TT01-2024")
    total = result.columns
    # To handle: p3 carried over; p2, p4, p5, p6, p7, p9 received; handled p2-p5, p7; pending p6, p9.
    assert figures(total, 1, 2, 3, 4, 5) == [7, 1, 6, 5, 2]
    # Handled and eligible: p2 (complaint), p3 and p5 (denunciations), p4 (recommendation), four cases.
    assert figures(total, 6, 7, 8, 9, 10, 11, 12, 13) == [4, 4, 1, 2, 1, 0, 0, 4]
    # Within competence: p2, p5; outside: p4 guided, p3 forwarded and answered.
    assert figures(total, 14, 15, 16, 17, 18, 19, 20, 21, 22) == [2, 1, 1, 0, 2, 1, 1, 0, 1]
    rows = by_unit(result)
    assert figures(rows["P01"], 1, 2, 3, 4, 5) == [6, 1, 5, 5, 1]
    assert figures(rows["P02"], 1, 2, 3, 4, 5, 6) == [1, 0, 1, 0, 1, 0]


def test_01_xld_2021_every_column_by_hand(db: Session, petition_world: Store) -> None:
    total = computed(db, petition_world, "01/XLD", "TT02-2021").columns
    # Carried over: p3, anonymous. Received: six single-signatory petitions with a name.
    assert figures(total, 1, 2, 3, 4, 5, 6, 7) == [7, 0, 0, 1, 0, 6, 0]
    assert figures(total, 8, 9, 10, 11, 12, 13) == [5, 4, 4, 1, 2, 1]
    assert figures(total, 14, 15, 16, 17) == [0, 0, 0, 4]
    assert figures(total, 18, 19, 20, 21, 22, 23, 24, 25, 26) == [2, 1, 1, 0, 2, 1, 1, 0, 1]
    assert total["27"] == ""


def test_02_tcd_every_column_by_hand(db: Session, petition_world: Store) -> None:
    result = computed(db, petition_world, "02/TCD", "TT02-2021")
    # Through a reception: p2 (complaint), p5 (denunciation), p9 (mixed, at P02), all within competence.
    assert figures(result.columns, *range(1, 17)) == [3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 0, 0, 0, 0, 0, 0]
    rows = by_unit(result)
    assert figures(rows["P01"], *range(1, 11)) == [2, 2, 1, 1, 1, 1, 0, 0, 2, 2]
    assert figures(rows["P02"], *range(1, 11)) == [1, 1, 0, 0, 0, 0, 1, 1, 1, 1]


def test_01_kqgq_every_column_by_hand(db: Session, petition_world: Store) -> None:
    total = computed(db, petition_world, "01/KQGQ", "TT02-2021").columns
    # Complaints within competence accepted: p1 carried over (resolved 1 Oct), p2 accepted 5 Oct.
    assert figures(total, 1, 2, 3, 4, 5, 6) == [2, 1, 1, 2, 1, 0]
    assert figures(total, 7, 8, 9, 10, 11, 12) == [Decimal("10.5"), 0, 0, 0, 0, 0]
    assert figures(total, 13, 14, 15, 16, 17, 18, 19) == [0, 2, 3, 1, 0, 0, 0]
    assert figures(total, 20, 21, 22, 23, 24, 25, 26) == [1, 0, 0, 0, 0, 1, 0]
    assert total["27"] == ""


def test_03_kqgq_every_column_by_hand(db: Session, petition_world: Store) -> None:
    total = computed(db, petition_world, "03/KQGQ", "TT02-2021").columns
    # Denunciations within competence: p5 only (p3 was outside), withdrawn on 1 Dec, late.
    assert figures(total, 1, 2, 3, 4, 5) == [1, 0, 1, 1, 0]
    assert figures(total, 6, 7, 8, 9, 10) == [1, 0, 0, 1, 0]
    assert all(total[str(n)] == 0 for n in range(11, 24))
    assert figures(total, 24, 25, 26, 27, 28, 29, 30, 31) == [0, 0, 1, 0, 0, 0, 0, 1]


def test_2b_every_column_by_hand(db: Session, petition_world: Store) -> None:
    total = computed(db, petition_world, "2b", "TT03-2013").columns
    assert figures(total, 1, 2, 3, 4, 5, 6) == [7, 0, 6, 0, 1, 5]
    # Eligible to handle: p2, p3, p4, p5, p9. By field: p2 a land complaint; p5 a land
    # denunciation (p3, anonymous, is in no named block); p4 and p9 other petitions.
    assert figures(total, 7, 8, 9, 10, 11, 12, 13) == [1, 1, 0, 0, 0, 0, 0]
    assert figures(total, 14, 15, 16, 17, 18, 19) == [1, 1, 0, 0, 0, 0]
    assert figures(total, 20, 21, 22, 23, 24, 25, 26) == [5, 0, 0, 5, 0, 0, 2]
    # Handled: p4 guided and p7 returned; p3 forwarded, and urged.
    assert figures(total, 27, 28, 29, 30, 31) == [2, 1, 1, 1, 1]


def test_a_repeat_petition_counts_as_resolved_once(db: Session, petition_world: Store) -> None:
    """p6 arrived after p1 of its case was resolved; on 01/XLD it is pending, so handle it now and look."""
    from models.handling import PetitionEvent
    from models.records import Petition

    p6 = db.query(Petition).filter(Petition.received_on == D(2024, 11, 10)).one()
    db.query(Petition).filter(Petition.id == p6.id).update({"eligible": True, "within_competence": True})
    db.add(PetitionEvent(petition_id=p6.id, effective_on=D(2024, 11, 12), action="accept", to_state="accepted"))
    db.commit()
    total = computed(db, petition_world, "01/XLD", "TT01-2024").columns
    assert figures(total, 4, 5, 6, 11, 12, 13) == [6, 1, 5, 1, 0, 4]
