"""Reception forms computed by SQL (01/TCD, 2a): figures written out by hand from the rules.

The fixture is one quarter (15 Sep to 14 Dec 2024) of a small tree: the nation VN, the
province P01 with communes X1 and X2, the province P02 abolished in 2025 (after the
period) and P03 abolished before it. Every expected figure below is counted by hand
from the records listed in ``reception_world``, not from the code.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from form_reference import Store
from sqlalchemy.orm import Session

from models.form_sql import compute_form
from models.forms import FormVersion, catalogue
from models.periods import Period

D = dt.date
QUARTER = Period(code="2024-Q4", starts_on=D(2024, 9, 15), ends_on=D(2024, 12, 14))


def form(code: str, version: str) -> FormVersion:
    found = catalogue().version(code, version)
    assert found is not None
    return found


def tree(db: Session) -> Store:
    store = Store(db)
    store.unit("VN")
    store.unit("P01", "VN")
    store.unit("X1", "P01")
    store.unit("X2", "P01")
    store.unit("P02", "VN", closed=D(2025, 3, 1))  # abolished after the period: still a row
    store.unit("P03", "VN", closed=D(2024, 1, 1))  # abolished before it: no row
    return store


@pytest.fixture
def reception_world(db: Session) -> Store:
    s = tree(db)
    a, b, c, d, e = (s.case("X1") for _ in range(5))
    # Case B began with a petition in June, resolved by a decision in August: a repeat case,
    # resolved by decision as of the period's end.
    s.petition(
        "X1",
        D(2024, 6, 1),
        b,
        events=[
            (D(2024, 6, 5), "classify", "classified"),
            (D(2024, 6, 10), "accept", "accepted"),
            (D(2024, 8, 1), "resolve", "resolved"),
        ],
        handling={"outcome": "right", "decision_number": "12/QĐ", "decision_date": D(2024, 8, 1)},
    )
    # Case D began with a reception on 1 September, before the window: a repeat case.
    s.reception("X1", D(2024, 9, 1), d)
    # X1, regular desk: A twice (1 + 2 people), B as a crowd group of 6.
    s.reception("X1", D(2024, 10, 1), a)
    s.reception("X1", D(2024, 10, 5), a, people=2)
    s.reception("X1", D(2024, 11, 1), b, people=6)
    # The head: session S1 attended by case C (a denunciation of corruption), S2 nobody came.
    s1 = s.reception_session("X1", D(2024, 10, 10), "head")
    s.reception("X1", D(2024, 10, 10), c, kind="head", session_id=s1, content_type="denunciation", field="corruption")
    s.reception_session("X1", D(2024, 10, 20), "head")
    # A delegate: session S3 nobody came; a crowd of 5 about case D (a recommendation).
    s.reception_session("X1", D(2024, 11, 20), "delegated")
    s.reception("X1", D(2024, 11, 21), d, kind="delegated", people=5, content_type="recommendation")
    # Never counted: a draft, a draft session, a reception after the window.
    s.reception("X1", D(2024, 10, 2), people=3, status="draft")
    s.reception_session("X1", D(2024, 10, 3), "head", status="draft")
    s.reception("X1", D(2024, 12, 15))
    # X2 received case A too (one case for X2); P02 a new case E on the window's last day.
    s.reception("X2", D(2024, 10, 7), a)
    s.reception("P02", D(2024, 12, 14), e)
    db.commit()
    return s


def figures(computed: dict[str, Any], *numbers: int) -> list[Any]:
    return [computed[str(n)] for n in numbers]


def by_unit(result: Any) -> dict[str, dict[str, Any]]:
    return {child.unit: child.columns for child in result.children}


def test_01_tcd_every_column_by_hand(db: Session, reception_world: Store) -> None:
    result = compute_form(db, form("01/TCD", "TT02-2021"), QUARTER, reception_world.units["VN"])
    total = result.columns
    # Regular desk: 5 turns (X1: A, A, B; X2: A; P02: E), 11 people, new cases A@X1, A@X2, E@P02,
    # repeat B@X1; of which the crowd of 6 (case B, repeat).
    assert figures(total, 4, 5, 6, 7, 8, 9, 10, 11) == [5, 11, 3, 1, 1, 6, 0, 1]
    # The head: sessions S1, S2; one turn of one person, case C new; no crowd.
    assert figures(total, 12, 13, 14, 15, 16, 17, 18, 19, 20) == [2, 1, 1, 1, 0, 0, 0, 0, 0]
    # A delegate: session S3; the crowd of 5 about case D (repeat).
    assert figures(total, 21, 22, 23, 24, 25, 26, 27, 28, 29) == [1, 1, 5, 0, 1, 1, 5, 0, 1]
    assert figures(total, 1, 2, 3) == [7, 17, 6]
    assert total["30"] == "2 kỳ tiếp Thủ trưởng hoặc người được ủy quyền trực nhưng không có công dân đến"
    rows = by_unit(result)
    assert list(rows) == ["P01", "P02"]
    assert figures(rows["P01"], 1, 2, 3, 4, 5, 6, 7, 12, 21) == [6, 16, 5, 4, 10, 2, 1, 2, 1]
    assert figures(rows["P02"], 1, 2, 3, 4, 5, 6, 7, 12, 21) == [1, 1, 1, 1, 1, 1, 0, 0, 0]
    assert rows["P02"]["30"] == ""
    assert (result.form, result.version, result.period, result.unit) == ("01/TCD", "TT02-2021", "2024-Q4", "VN")


def test_01_tcd_for_a_province_rows_its_communes(db: Session, reception_world: Store) -> None:
    steps: list[float] = []
    result = compute_form(db, form("01/TCD", "TT02-2021"), QUARTER, reception_world.units["P01"], progress=steps.append)
    assert steps == [0.5, 1.0]  # two queries: receptions, then sessions
    rows = by_unit(result)
    assert list(rows) == ["X1", "X2"]
    assert figures(rows["X1"], 4, 5, 6, 7, 13, 22) == [3, 9, 1, 1, 1, 1]
    assert figures(rows["X2"], 4, 5, 6, 7, 13, 22) == [1, 1, 1, 0, 0, 0]
    assert figures(result.columns, 1, 2, 3) == [6, 16, 5]


def test_2a_every_column_by_hand(db: Session, reception_world: Store) -> None:
    result = compute_form(db, form("2a", "TT03-2013"), QUARTER, reception_world.units["VN"])
    total = result.columns
    # Individuals at the desk: A, A (X1), A (X2), E (P02): 4 turns, 5 people, new cases A@X1, A@X2, E.
    assert figures(total, 1, 2, 3, 4) == [4, 5, 0, 3]
    # Crowd groups at the desk, apart: B's 6 people, a repeat case; never added into 1-2.
    assert figures(total, 5, 6, 7, 8) == [1, 6, 1, 0]
    # Leaders: C alone (new), D as a crowd of 5 (repeat).
    assert figures(total, 9, 10, 11, 12, 13, 14, 15, 16) == [1, 1, 0, 1, 1, 5, 1, 0]
    # Content, each case of each unit once: land complaints A@X1, B@X1, A@X2, E@P02;
    # C a denunciation of corruption; D a recommendation.
    assert figures(total, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26) == [4, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    # Results as of 14 December: B resolved by a decision in August, the five others unresolved.
    assert figures(total, 27, 28, 29, 30) == [5, 0, 1, 0]
    assert total["31"] == ""
    assert figures(by_unit(result)["P02"], 1, 4, 17, 27) == [1, 1, 1, 1]


def test_drafts_and_other_periods_never_count(db: Session) -> None:
    s = tree(db)
    s.reception("X1", D(2024, 10, 1), status="draft", people=9)
    s.reception("X1", D(2024, 9, 14))
    s.reception("X1", D(2024, 12, 15))
    s.reception_session("X1", D(2024, 10, 1), status="draft")
    s.petition("X1", D(2024, 10, 1), status="draft")
    db.commit()
    for code, version in (("01/TCD", "TT02-2021"), ("2a", "TT03-2013"), ("01/XLD", "TT01-2024")):
        result = compute_form(db, form(code, version), QUARTER, s.units["VN"])
        numeric = [v for v in result.columns.values() if not isinstance(v, str)]
        assert numeric and all(v == 0 for v in numeric), code
        assert [c.unit for c in result.children] == ["P01", "P02"]


def test_amounts_are_decimals_and_json_keeps_them_exact(db: Session) -> None:
    s = tree(db)
    resolved = [(D(2024, 9, 20), "classify", "classified"), (D(2024, 9, 21), "accept", "accepted")]
    resolved.append((D(2024, 10, 1), "resolve", "resolved"))
    s.petition(
        "X1",
        D(2024, 9, 16),
        events=resolved,
        handling={"outcome": "right", "decision_number": "1/QĐ", "money_recovered_state": Decimal("12.35")},
        within_competence=True,
    )
    db.commit()
    result = compute_form(db, form("01/KQGQ", "TT02-2021"), QUARTER, s.units["VN"])
    assert result.columns["7"] == Decimal("12.35")
    assert result.as_json()["columns"]["7"] == "12.35"
    child = result.as_json()["children"][0]
    assert (child["unit"], child["name"], child["columns"]["7"], child["columns"]["3"]) == (
        "P01",
        "Đơn vị P01",
        "12.35",
        1,
    )


def test_rows_follow_the_tree_as_it_stood_during_the_period(db: Session) -> None:
    """Rows: children open during the period; a closed one still holding counted records; the root's own."""
    s = tree(db)
    s.unit("P04", "VN", opened=D(2025, 1, 1))  # created after the period: no row
    s.unit("P05", "VN", opened=D(2024, 12, 14))  # opened on the window's last day: a row
    s.unit("X3", "P03", closed=D(2024, 1, 1))
    # P03 was abolished before the period, but a petition of its commune was still pending.
    s.petition("X3", D(2023, 11, 1))
    s.reception("VN", D(2024, 10, 1))  # the root receives citizens itself
    db.commit()
    result = compute_form(db, form("01/XLD", "TT01-2024"), QUARTER, s.units["VN"])
    # The root's own reception is not on this form: no row of its own here.
    assert [c.unit for c in result.children] == ["P01", "P02", "P03", "P05"]
    rows = by_unit(result)
    assert figures(rows["P03"], 1, 2, 5) == [1, 1, 1]
    assert figures(result.columns, 1, 2, 5) == [1, 1, 1]
    tcd = compute_form(db, form("01/TCD", "TT02-2021"), QUARTER, s.units["VN"])
    assert [c.unit for c in tcd.children] == ["VN", "P01", "P02", "P05"]
    assert by_unit(tcd)["VN"]["4"] == 1 and tcd.columns["4"] == 1


def test_the_total_row_is_the_sum_of_the_rows_and_cases_count_per_unit(db: Session, reception_world: Store) -> None:
    """Case A was received by X1 and X2: one case for each, two for P01, as their reports add up."""
    province = compute_form(db, form("01/TCD", "TT02-2021"), QUARTER, reception_world.units["P01"])
    commune = compute_form(db, form("01/TCD", "TT02-2021"), QUARTER, reception_world.units["X1"])
    # A commune has no children: its own records are its one row.
    assert [c.unit for c in commune.children] == ["X1"] and commune.children[0].columns == commune.columns
    assert commune.columns["6"] == 1
    assert province.columns["6"] == 2
    for result in (province, commune):
        for key, value in result.columns.items():
            if not isinstance(value, str):
                assert value == sum(c.columns[key] for c in result.children), key


def test_a_code_with_an_underscore_is_not_a_wildcard(db: Session) -> None:
    s = tree(db)
    s.unit("A_1", "VN")
    s.unit("AB1", "VN")
    s.reception("A_1", D(2024, 10, 1))
    s.reception("AB1", D(2024, 10, 1), people=3)
    db.commit()
    result = compute_form(db, form("01/TCD", "TT02-2021"), QUARTER, s.units["A_1"])
    assert figures(result.columns, 4, 5) == [1, 1]
