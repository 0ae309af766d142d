"""Property: on random record sets in PostgreSQL, the SQL figures equal the reference's and obey every identity.

Hypothesis draws receptions, sessions and petitions with handling histories (events on
random days before, inside and after the window, drafts among them) held by units of a
small tree. The expected figures come from ``tests/form_reference.py``'s evaluator over
abstract records whose scopes and derived attributes are worked out here in Python from
the README's definitions, independently of the SQL.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from form_reference import FILES, Record, Store, compute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from models import Base
from models.form_sql import compute_form
from models.forms import load_form
from models.periods import Period

START, END = dt.date(2024, 9, 15), dt.date(2024, 12, 14)
PERIOD = Period(code="2024-Q4", starts_on=START, ends_on=END)
# Days around the window's edges, where off-by-one mistakes live.
DAYS = [dt.date(2024, 6, 1), dt.date(2024, 9, 14), START, dt.date(2024, 10, 20), END, dt.date(2024, 12, 15)]
HOLDERS = ("X1", "X2", "P01", "P02")  # P01 holds records itself; P02 is abolished after the period
FIELDS = ("land", "housing", "policy", "judicial", "corruption", "party", "other")
HANDLED = ("guide", "forward", "return", "file_away", "accept")
TARGET = {
    "guide": "guided",
    "forward": "forwarded",
    "return": "returned",
    "file_away": "filed_away",
    "accept": "accepted",
}


@dataclass
class Drawn:
    source: str
    unit: str
    day: dt.date
    case: int
    status: str
    attrs: dict[str, Any]
    events: list[tuple[dt.date, str, str]] = field(default_factory=list)
    handling: dict[str, Any] = field(default_factory=dict)
    session: int | None = None  # index of a drawn session (receptions)
    id: int = 0


def _later(draw: st.DrawFn, day: dt.date) -> dt.date:
    """A day on or after ``day``: mostly the window's edges, where off-by-one mistakes live."""
    return draw(st.sampled_from([day, *(d for d in DAYS if d > day), day + dt.timedelta(days=1)]))


def _history(draw: st.DrawFn, day: dt.date, content: str) -> tuple[list[tuple[dt.date, str, str]], dict[str, Any]]:
    events: list[tuple[dt.date, str, str]] = []
    handling: dict[str, Any] = {"resolution_round": draw(st.sampled_from([1, 2]))}
    on = day
    state = "received"
    if draw(st.integers(0, 3)):
        on = _later(draw, on)
        events.append((on, "classify", "classified"))
        state = "classified"
        if draw(st.integers(0, 3)):
            action = draw(st.sampled_from([*HANDLED, "accept", "accept"]))
            on = _later(draw, on)
            state = TARGET[action]
            events.append((on, action, state))
    if state == "accepted" and draw(st.integers(0, 2)):
        on = _later(draw, on)
        events.append((on, "resolve", "resolved"))
        outcomes = ["right", "wrong", "partly_right", "withdrawn", "suspended"]
        if handling["resolution_round"] == 2:
            outcomes += ["upheld", "amended"]
        handling["outcome"] = draw(st.sampled_from(outcomes))
        handling["decision_number"] = draw(st.sampled_from([None, "5/QĐ"]))
        handling["court_judgment"] = draw(st.booleans())
        handling["money_recovered_state"] = Decimal(draw(st.integers(0, 999))) / 10
        handling["individuals_restored"] = draw(st.integers(0, 3))
        handling["sanctions_persons"] = draw(st.integers(0, 3))
    if state == "accepted" or draw(st.booleans()):
        handling["due_on"] = _later(draw, day)
    if draw(st.booleans()):
        events.append((_later(draw, on), "urge", state))
    if state == "forwarded" and draw(st.booleans()):
        events.append((_later(draw, on), "reply_received", state))
    events.sort(key=lambda e: e[0])  # the machine refuses a step dated before the previous one
    return events, handling


@st.composite
def record_sets(draw: st.DrawFn) -> list[Drawn]:
    cases = draw(st.integers(1, 2))
    records: list[Drawn] = []
    for _ in range(draw(st.integers(0, 20))):
        source = draw(
            st.sampled_from(["receptions", "receptions", "reception_sessions", "petitions", "petitions", "petitions"])
        )
        unit = draw(st.sampled_from(HOLDERS))
        day = draw(st.sampled_from(DAYS))
        status = draw(st.sampled_from(["final", "final", "final", "draft"]))
        case = draw(st.integers(0, cases - 1))
        item = Drawn(source, unit, day, case, status, {})
        if source == "reception_sessions":
            item.attrs = {"kind": draw(st.sampled_from(["head", "delegated"]))}
        elif source == "receptions":
            people = draw(st.sampled_from([1, 2, 5, 7]))
            item.attrs = {
                "kind": draw(st.sampled_from(["regular", "head", "delegated"])),
                "people": people,
                "crowd_group": people >= 5 and draw(st.booleans()),
                "content_type": draw(st.sampled_from(["complaint", "denunciation", "recommendation", "dispute"])),
                "field": draw(st.sampled_from(FIELDS)),
            }
            sessions = [i for i, r in enumerate(records) if r.source == "reception_sessions" and r.unit == unit]
            item.session = draw(st.sampled_from([None, *sessions]))
        else:
            content = draw(st.sampled_from(["complaint", "denunciation", "recommendation", "dispute", "mixed"]))
            item.attrs = {
                "source": draw(st.sampled_from(["in_person", "post", "forwarded", "online"])),
                "signatories": draw(st.sampled_from([1, 6])),
                "anonymous": draw(st.booleans()),
                "content_type": content,
                "field": draw(st.sampled_from(FIELDS)),
                "eligible": draw(st.sampled_from([True, False, None])),
                "within_competence": draw(st.sampled_from([True, False, None])),
                "via_reception": draw(st.booleans()),
            }
            item.events, item.handling = _history(draw, day, content)
        records.append(item)
    return records


@dataclass
class Stored:
    store: Store
    cases: list[int]
    anchor: int  # the draft reception petitions "via reception" point to


def _store(db: Session, drawn: list[Drawn]) -> Stored:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    db.rollback()
    db.expunge_all()
    db.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    s = Store(db)
    s.unit("VN")
    s.unit("P01", "VN")
    s.unit("X1", "P01")
    s.unit("X2", "P01")
    s.unit("P02", "VN", closed=dt.date(2025, 3, 1))
    stored = Stored(s, [s.case("X1") for _ in range(5)], s.reception("X1", dt.date(2020, 1, 1), status="draft"))
    _insert(stored, drawn, drawn)
    db.commit()
    return stored


def _insert(stored: Stored, drawn: list[Drawn], items: list[Drawn]) -> None:
    """Store ``items`` (a part of ``drawn``, whose sessions they may point to)."""
    s, cases, anchor = stored.store, stored.cases, stored.anchor
    for item in items:
        if item.source == "reception_sessions":
            item.id = s.reception_session(item.unit, item.day, item.attrs["kind"], status=item.status)
        elif item.source == "receptions":
            session = drawn[item.session].id if item.session is not None else None
            item.id = s.reception(
                item.unit, item.day, cases[item.case], status=item.status, session_id=session, **item.attrs
            )
        else:
            attrs = {k: v for k, v in item.attrs.items() if k != "via_reception"}
            attrs["reception_id"] = anchor if item.attrs["via_reception"] else None
            item.id = s.petition(
                item.unit,
                item.day,
                cases[item.case],
                events=item.events,
                handling=item.handling,
                status=item.status,
                **attrs,
            )


# --- the README's definitions, in Python ------------------------------------------------


def _first(events: list[tuple[dt.date, str, str]], test: Any) -> dt.date | None:
    return next((on for on, _, to in events if test(to)), None)


def _days(item: Drawn) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
    handled = _first(item.events, lambda to: to not in ("received", "classified"))
    return handled, _first(item.events, lambda to: to == "accepted"), _first(item.events, lambda to: to == "resolved")


def _stage(entered: dt.date | None, done: dt.date | None) -> frozenset[str]:
    if entered is None:
        return frozenset()
    in_period = START <= entered <= END
    carried = entered < START and (done is None or done >= START)
    scopes = {"in_period"} if in_period else set()
    if in_period or carried:
        scopes |= {"to_handle", "completed" if done is not None and START <= done <= END else "pending_at_end"}
    if carried:
        scopes.add("carried_over")
    return frozenset(scopes)


def _case_facts(final: list[Drawn]) -> tuple[dict[int, dt.date], dict[int, str]]:
    first: dict[int, dt.date] = {}
    result: dict[int, str] = {}
    for item in final:
        if item.source != "reception_sessions":
            first[item.case] = min(first.get(item.case, item.day), item.day)
    for case in first:
        resolved = [p for p in final if p.source == "petitions" and p.case == case and _resolved_by_end(p)]
        if any(p.handling.get("court_judgment") for p in resolved):
            result[case] = "court_judgment"
        elif any(p.handling.get("decision_number") for p in resolved):
            result[case] = "resolved_by_decision"
        else:
            result[case] = "resolved_without_decision" if resolved else "unresolved"
    return first, result


def _resolved_by_end(item: Drawn) -> bool:
    resolved = _days(item)[2]
    return resolved is not None and resolved <= END


def _case_resolution(final: list[Drawn], item: Drawn) -> str:
    others = [p for p in final if p.source == "petitions" and p.case == item.case and p is not item]
    done = sum(1 for p in others if _days(p)[2] is not None and _days(p)[2] < item.day)  # type: ignore[operator]
    if done >= 2:
        return "resolved_several"
    if done == 1:
        return "resolved_once"
    for p in others:
        _, accepted, resolved = _days(p)
        if accepted is not None and accepted < item.day and (resolved is None or resolved >= item.day):
            return "being_resolved"
    return "not_resolved"


def _petition_attrs(item: Drawn) -> dict[str, Any]:
    h = item.handling
    resolved = _resolved_by_end(item)
    state = "received"
    for on, _, to in item.events:
        if on <= END:
            state = to
    resolved_on = _days(item)[2]
    return {
        **item.attrs,
        "multi_signatory": item.attrs["signatories"] >= 5,
        "state": state,
        "urged": any(a == "urge" and on <= END for on, a, _ in item.events),
        "reply_received": any(a == "reply_received" and on <= END for on, a, _ in item.events),
        "outcome": h.get("outcome") if resolved else None,
        "resolution_round": h["resolution_round"],
        "decision": resolved and h.get("decision_number") is not None,
        "court_judgment": resolved and bool(h.get("court_judgment")),
        "on_time": (resolved_on <= h["due_on"]) if resolved and h.get("due_on") and resolved_on else None,
        "money_recovered_state": h.get("money_recovered_state", Decimal(0)),
        "individuals_restored": h.get("individuals_restored", 0),
        "sanctions_persons": h.get("sanctions_persons", 0),
    }


def reference_records(drawn: list[Drawn]) -> list[tuple[str, Record]]:
    """(holding unit, abstract record) for every final record."""
    final = [d for d in drawn if d.status == "final"]
    first, result = _case_facts(final)
    out = []
    for item in final:
        in_window = frozenset({"in_period"}) if START <= item.day <= END else frozenset()
        scopes: dict[str, frozenset[str]] = {"in_period": in_window}
        if item.source == "reception_sessions":
            attended = any(
                r.source == "receptions" and r.session is not None and drawn[r.session] is item for r in final
            )
            attrs = {**item.attrs, "attended": attended}
            out.append((item.unit, Record(item.source, item.id, None, item.day.toordinal(), scopes, attrs)))
            continue
        attrs = item.attrs if item.source == "receptions" else _petition_attrs(item)
        attrs = {
            **attrs,
            "case_new": START <= first[item.case] <= END,
            "case_result": result[item.case],
            "case_resolution": _case_resolution(final, item),
        }
        if item.source == "petitions":
            handled, accepted, resolved = _days(item)
            scopes = {"handling": _stage(item.day, handled), "resolution": _stage(accepted, resolved)}
        out.append((item.unit, Record(item.source, item.id, item.case, item.day.toordinal(), scopes, attrs)))
    return out


FORMS = [load_form(path) for path in FILES]
CHILD = {"VN": {"X1": "P01", "X2": "P01", "P01": "P01", "P02": "P02"}, "P01": {"X1": "X1", "X2": "X2", "P01": "P01"}}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=record_sets())
def test_sql_equals_the_reference_and_identities_hold(db: Session, drawn: list[Drawn]) -> None:
    check(db, _store(db, drawn).store, drawn)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=record_sets(), split=st.integers(0, 20))
def test_stored_figures_follow_records_written_after_them(db: Session, drawn: list[Drawn], split: int) -> None:
    """Every form computed and stored on a first part of the records; then the rest is
    inserted and the first part's draft receptions and sessions made final (UPDATE): the
    stored figures of the units touched are computed again, and all still equal the reference."""
    first, rest = drawn[:split], drawn[split:]
    for item in rest:  # a later reception may only point to a session of the first part
        if item.session is not None and item.session >= split:
            item.session = None
    stored = _store(db, first)
    for form in FORMS:
        compute_form(db, form, PERIOD, stored.store.units["VN"])
    db.commit()
    _insert(stored, drawn, rest)
    for item in first:
        if item.status == "draft" and item.source in ("receptions", "reception_sessions"):
            db.execute(sa.text(f"UPDATE {item.source} SET status = 'final' WHERE id = :id"), {"id": item.id})
            item.status = "final"
    db.commit()
    check(db, stored.store, drawn)


def check(db: Session, store: Store, drawn: list[Drawn]) -> None:
    """Every form for VN and P01 equals the reference over ``drawn``, and obeys its identities."""
    records = reference_records(drawn)
    for form in FORMS:
        for root in ("VN", "P01"):
            result = compute_form(db, form, PERIOD, store.units[root])
            rows = {c.unit: c.columns for c in result.children}
            expected: dict[str, dict[int, Decimal]] = defaultdict(dict)
            for unit in {u for u, _ in records if u in CHILD[root]}:
                got = compute(form, [r for u, r in records if u == unit])
                row = expected[CHILD[root][unit]]
                for number, value in got.items():
                    row[number] = row.get(number, Decimal(0)) + value
            for child, figures in [*rows.items(), ("total", result.columns)]:
                numeric = {int(k): Decimal(str(v)) for k, v in figures.items() if not isinstance(v, str)}
                assert form.check({str(k): v for k, v in numeric.items()}) == [], (form.code, root, child)
                if child == "total":
                    want = {n: sum((e.get(n, Decimal(0)) for e in expected.values()), Decimal(0)) for n in numeric}
                else:
                    want = {n: expected.get(child, {}).get(n, Decimal(0)) for n in numeric}
                assert numeric == want, (form.code, form.version, root, child)
