"""The records of ``bench/reports.py``: receptions, petitions and their handling histories, by COPY.

Deterministic (one seed) and national: records sit at the communes, departments,
provinces and ministries of the demo's tree (weighted, provinces busiest per unit),
spread from ``FIRST_DAY`` to ``LAST_DAY``. Reception sessions of the heads (weekly in the
communes, monthly plus weekly delegated sessions above them), receptions (regular, at a
session, crowd groups), petitions (some handed in at a reception, some repeat cases,
a few drafts) and for every final petition its handling: the events a real history has
(received, classified, guided / forwarded / returned / filed away / accepted, assigned,
started, submitted, approved or resolved or closed with an outcome, extended, urged,
replied), stopping at ``NOW`` so some are still open and carried over. The handling row
is the state the events lead to, with the resolution's figures.

Rows are written with PostgreSQL ``COPY`` (psycopg 3 ``cursor.copy``), foreign-key
triggers off (``session_replication_role = replica``) and the secondary indexes dropped
during the load and rebuilt after it: about a minute and a half for the full size.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg

from kntc.demo_records import MATTERS, Person
from models.text import fold

SEED = 4_2026
FIRST_DAY = dt.date(2025, 7, 15)
LAST_DAY = dt.date(2026, 11, 14)
NOW = dt.date(2026, 11, 27)  # events later than this have not happened yet
DAYS = (LAST_DAY - FIRST_DAY).days + 1
CATALOGUE = "2021.1"
TABLES = ("cases", "reception_sessions", "receptions", "petitions", "petition_handling", "petition_events")
# Records per unit relative to a commune (a province's office receives far more).
LEVEL_WEIGHTS = {"commune": 3, "department": 2, "province": 40, "ministry": 20}
REVIEWED = frozenset({"complaint", "denunciation", "mixed"})
STAMP = dt.time(9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class BenchUnit:
    id: int
    level: str


@cache
def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, STAMP)


class Generator:
    """Plans and COPYs every row; ids are given here, so references need no round trip."""

    def __init__(self, conn: psycopg.Connection[Any], units: Sequence[BenchUnit], scale: float) -> None:
        self.conn = conn
        self.rng = random.Random(SEED)
        self.units = list(units)
        self.weights = [LEVEL_WEIGHTS.get(u.level, 1) for u in self.units]
        self.receptions_n = int(1_000_000 * scale)
        self.petitions_n = int(500_000 * scale)
        self.cases: list[tuple[int, int]] = []  # (id, unit_id)
        self.cases_of: dict[int, list[int]] = {}
        self.sessions: dict[tuple[int, str], list[tuple[int, dt.date]]] = {}
        self.receptions: list[tuple[int, int, dt.date, int, str, str, str]] = []  # final ones, for petitions
        self.people = [Person(self.rng, "xã Bình An") for _ in range(5000)]
        self.folded = [(fold(p.name), fold(p.address)) for p in self.people]
        self.matters = [m for m in MATTERS if m[0] != "mixed"], list(MATTERS)

    def run(self) -> dict[str, int]:
        counts = {"reception_sessions": self._sessions()}
        counts["receptions"] = self._receptions()
        counts["petitions"], counts["petition_handling"], counts["petition_events"] = self._petitions()
        counts["cases"] = self._copy("cases", ("id", "unit_id", "created_at"), self._case_rows())
        return counts

    # -- helpers -------------------------------------------------------------------------
    def _copy(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        n = 0
        with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n

    def _day(self) -> dt.date:
        return FIRST_DAY + dt.timedelta(days=self.rng.randrange(DAYS))

    def _pick_units(self, n: int) -> list[BenchUnit]:
        return self.rng.choices(self.units, weights=self.weights, k=n)

    def _case(self, unit_id: int, repeat_share: float) -> int:
        """A case of the unit: a repeat of one of its earlier cases, or a new one."""
        known = self.cases_of.setdefault(unit_id, [])
        if known and self.rng.random() < repeat_share:
            return self.rng.choice(known)
        case_id = len(self.cases) + 1
        self.cases.append((case_id, unit_id))
        known.append(case_id)
        return case_id

    def _case_rows(self) -> Iterator[tuple[Any, ...]]:
        created = at(FIRST_DAY)
        for case_id, unit_id in self.cases:
            yield case_id, unit_id, created

    def _matter(self, petition: bool) -> tuple[str, str, str]:
        choices = self.matters[1] if petition else self.matters[0]
        content_type, code, summary, _ = self.rng.choices(choices, weights=[m[3] for m in choices])[0]
        return content_type, code, summary

    # -- sessions and receptions -------------------------------------------------------------
    def _sessions(self) -> int:
        columns = ("id", "unit_id", "held_on", "kind", "host", "note", "status", "created_at")
        return self._copy("reception_sessions", columns, self._session_rows())

    def _session_rows(self) -> Iterator[tuple[Any, ...]]:
        next_id = 1
        for unit in self.units:
            plan = [("head", 7)] if unit.level == "commune" else [("head", 30), ("delegated", 7)]
            for kind, every in plan:
                day = FIRST_DAY + dt.timedelta(days=self.rng.randrange(every))
                held = self.sessions.setdefault((unit.id, kind), [])
                while day <= LAST_DAY:
                    status = "draft" if self.rng.random() < 0.01 else "final"
                    if status == "final":
                        held.append((next_id, day))
                    host = "Chủ tịch UBND" if kind == "head" else "Phó Chủ tịch UBND"
                    yield next_id, unit.id, day, kind, host, None, status, at(day)
                    next_id += 1
                    day += dt.timedelta(days=every)

    def _receptions(self) -> int:
        columns = ("id", "unit_id", "received_on", "kind", "people", "crowd_group", "case_id", "session_id",
                   "content_type", "field", "catalogue_version", "status", "note", "created_at",
                   "updated_at")  # fmt: skip
        return self._copy("receptions", columns, self._reception_rows())

    def _reception_rows(self) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        for rid, unit in enumerate(self._pick_units(self.receptions_n), start=1):
            kind = rng.choices(("regular", "head", "delegated"), weights=(70, 22, 8))[0]
            held = self.sessions.get((unit.id, kind), []) if kind != "regular" else []
            session_id, day = rng.choice(held) if held else (None, self._day())
            kind = kind if held else "regular"
            crowd = rng.random() < 0.06
            people = rng.randint(5, 30) if crowd else rng.randint(1, 3)
            content_type, code, summary = self._matter(petition=False)
            case_id = self._case(unit.id, 0.25)
            status = "draft" if rng.random() < 0.03 else "final"
            if status == "final":
                self.receptions.append((rid, unit.id, day, case_id, content_type, code, summary))
            stamp = at(day)
            yield (rid, unit.id, day, kind, people, crowd, case_id, session_id, content_type, code, CATALOGUE,
                   status, None, stamp, stamp)  # fmt: skip

    # -- petitions and their handling ---------------------------------------------------------
    def _petitions(self) -> tuple[int, int, int]:
        columns = ("id", "unit_id", "received_on", "source", "reception_id", "signatories", "multi_signatory",
                   "anonymous", "petitioner_name", "petitioner_name_folded", "petitioner_id_number",
                   "petitioner_address", "petitioner_address_folded", "content_type", "field",
                   "catalogue_version", "summary", "case_id", "eligible", "within_competence", "attachment_ids",
                   "status", "note", "created_at", "updated_at")  # fmt: skip
        handlings: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        count = self._copy("petitions", columns, self._petition_rows(handlings, events))
        self._copy("petition_handling", HANDLING_COLUMNS, handlings)
        self._copy("petition_events", EVENT_COLUMNS, events)
        return count, len(handlings), len(events)

    def _petition_rows(
        self, handlings: list[tuple[Any, ...]], events: list[tuple[Any, ...]]
    ) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        units = self._pick_units(self.petitions_n)
        for pid, unit in enumerate(units, start=1):
            if self.receptions and rng.random() < 0.3:  # handed in at a reception
                reception_id, unit_id, day, case_id, content_type, code, summary = rng.choice(self.receptions)
                source = "in_person"
            else:
                unit_id, day, reception_id = unit.id, self._day(), None
                source = rng.choices(("post", "forwarded", "online"), weights=(55, 25, 20))[0]
                content_type, code, summary = self._matter(petition=True)
                case_id = self._case(unit_id, 0.2)
            anonymous = content_type == "denunciation" and rng.random() < 0.15
            signatories = rng.randint(5, 40) if rng.random() < 0.05 else 1
            final = rng.random() >= 0.03
            eligible = rng.random() < 0.85 if final else None
            competent = rng.random() < 0.7 if final else None
            who = rng.randrange(len(self.people))
            person, (name_folded, address_folded) = self.people[who], self.folded[who]
            stamp = at(day)
            yield (pid, unit_id, day, source, reception_id, signatories, signatories >= 5, anonymous,
                   None if anonymous else person.name, "" if anonymous else name_folded,
                   None if anonymous else person.id_number, None if anonymous else person.address,
                   "" if anonymous else address_folded, content_type, code, CATALOGUE, summary, case_id,
                   eligible, competent, "[]", "final" if final else "draft", None, stamp, stamp)  # fmt: skip
            if final:
                history = History(rng, pid, day, content_type, eligible, competent)
                handlings.append(history.handling())
                events.extend(history.event_rows(len(events) + 1))


HANDLING_COLUMNS = (
    "petition_id", "state", "last_activity_at", "stage_started_on", "due_on", "rules_version", "accepted_on",
    "complex_case", "remote_area", "extensions", "overdue_since", "resolution_round", "outcome",
    "decision_number", "decision_date", "resolved_on", "money_recovered_state", "land_recovered_state",
    "money_returned_organisations", "land_returned_organisations", "money_returned_individuals",
    "land_returned_individuals", "organisations_restored", "individuals_restored", "sanctions_persons",
    "sanctions_officials", "referred_cases", "referred_persons", "referred_officials", "court_judgment",
    "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = ("id", "petition_id", "at", "effective_on", "action", "from_state", "to_state", "reason", "data")
ZERO = Decimal(0)


class History:
    """One petition's handling: its events up to ``NOW`` and the row they lead to."""

    def __init__(
        self,
        rng: random.Random,
        pid: int,
        received: dt.date,
        content_type: str,
        eligible: bool | None,
        competent: bool | None,
    ) -> None:
        self.rng, self.pid, self.content_type = rng, pid, content_type
        self.events: list[tuple[str, str | None, str, dt.date, str | None]] = []
        self.state, self.stage_started = "received", received
        self.due: dt.date | None = received + dt.timedelta(days=14)
        self.accepted_on: dt.date | None = None
        self.complex_case, self.extensions, self.round = False, 0, 1
        self.resolution: dict[str, Any] = {}
        self._event("receive", "received", received)
        self._run(received, eligible, competent)

    def _event(self, action: str, to: str, day: dt.date, reason: str | None = None) -> bool:
        """Record the event when it has happened by ``NOW``; False (and nothing) otherwise."""
        if day > NOW:
            return False
        source = None if action == "receive" else self.state
        self.events.append((action, source, to, day, reason))
        if to != self.state:
            self.state, self.stage_started = to, day
        return True

    def _run(self, day: dt.date, eligible: bool | None, competent: bool | None) -> None:
        rng = self.rng
        day += dt.timedelta(days=rng.randint(1, 10))
        if rng.random() < 0.03 or not self._event("classify", "classified", day):
            return
        day += dt.timedelta(days=rng.randint(0, 8))
        if rng.random() < 0.02:
            return  # classified, the decision still to take
        if not eligible:
            action = rng.choice(("return", "file_away"))
        elif competent is False:
            action = rng.choices(("guide", "forward", "return", "file_away"), weights=(35, 45, 10, 10))[0]
        else:
            action = "accept" if rng.random() < 0.88 else "file_away"
        target = {"guide": "guided", "forward": "forwarded", "return": "returned", "file_away": "filed_away"}
        if action != "accept":
            if self._event(action, target[action], day):
                self.due = None
                if action == "forward":
                    self._forwarded(day)
            return
        self._resolution(day)

    def _forwarded(self, day: dt.date) -> None:
        rng = self.rng
        later = sorted(
            (day + dt.timedelta(days=rng.randint(*span)), action)
            for action, share, span in (("urge", 0.4, (15, 45)), ("reply_received", 0.55, (10, 60)))
            if rng.random() < share
        )
        for when, action in later:
            self._event(action, "forwarded", when)

    def _resolution(self, day: dt.date) -> None:
        rng = self.rng
        if not self._event("accept", "accepted", day):
            return
        self.accepted_on = day
        self.round = 2 if self.content_type == "complaint" and rng.random() < 0.12 else 1
        self.complex_case = rng.random() < 0.2
        self.due = day + dt.timedelta(days=(30, 45)[self.complex_case] + (15 if self.round == 2 else 0))
        day += dt.timedelta(days=rng.randint(0, 3))
        if not self._event("assign", "assigned", day):
            return
        day += dt.timedelta(days=rng.randint(0, 5))
        if not self._event("start", "under_resolution", day):
            return
        length = rng.randint(10, 40) + (rng.randint(40, 200) if rng.random() < 0.12 else 0)
        done = day + dt.timedelta(days=length)
        if self.content_type == "denunciation" and done > self.due and rng.random() < 0.7:
            self._extend()
        if done > NOW:
            if self.due < NOW and rng.random() < 0.3:
                self._event("urge", self.state, min(NOW, self.due + dt.timedelta(days=rng.randint(1, 20))))
            return
        self._finish(done)

    def _extend(self) -> None:
        assert self.due is not None
        if self._event("extend", self.state, max(self.stage_started, self.due - dt.timedelta(days=2)), "phức tạp"):
            self.due += dt.timedelta(days=30)
            self.extensions = 1

    def _finish(self, day: dt.date) -> None:
        rng = self.rng
        outcome = self._outcome()
        if outcome in ("withdrawn", "suspended"):
            self._event("close", "resolved", day, "rút đơn" if outcome == "withdrawn" else "đình chỉ")
        elif self.content_type in REVIEWED:
            self._event("submit_for_review", "awaiting_review", day - dt.timedelta(days=rng.randint(0, 5)))
            self._event("approve", "resolved", day)
        else:
            self._event("resolve", "resolved", day)
        self.resolution = self._figures(outcome, day)

    def _outcome(self) -> str:
        rng = self.rng
        if self.round == 2:
            return rng.choices(("upheld", "amended", "withdrawn"), weights=(65, 30, 5))[0]
        if self.content_type in REVIEWED:
            return rng.choices(
                ("right", "wrong", "partly_right", "withdrawn", "suspended"), weights=(20, 45, 25, 6, 4)
            )[0]
        return rng.choices(("right", "wrong", "partly_right"), weights=(30, 40, 30))[0]

    def _figures(self, outcome: str, day: dt.date) -> dict[str, Any]:
        rng = self.rng
        found = outcome in ("right", "partly_right", "amended")
        money = Decimal(rng.randint(1, 50_000)) / 10 if found and rng.random() < 0.3 else ZERO
        land = Decimal(rng.randint(10, 5_000)) if found and rng.random() < 0.2 else ZERO
        persons = rng.randint(1, 5) if found and rng.random() < 0.15 else 0
        referred = rng.randint(1, 3) if found and self.content_type == "denunciation" and rng.random() < 0.1 else 0
        return {
            "outcome": outcome, "decision_number": f"{rng.randint(1, 999)}/QĐ-UBND", "decision_date": day,
            "resolved_on": day, "money_recovered_state": money, "land_recovered_state": land,
            "money_returned_organisations": ZERO, "land_returned_organisations": ZERO,
            "money_returned_individuals": money / 2, "land_returned_individuals": land / 2,
            "organisations_restored": 1 if found and rng.random() < 0.05 else 0,
            "individuals_restored": rng.randint(1, 4) if found and rng.random() < 0.4 else 0,
            "sanctions_persons": persons, "sanctions_officials": rng.randint(0, persons),
            "referred_cases": 1 if referred else 0, "referred_persons": referred,
            "referred_officials": rng.randint(0, referred),
            "court_judgment": self.content_type == "complaint" and rng.random() < 0.02,
        }  # fmt: skip

    def handling(self) -> tuple[Any, ...]:
        r = self.resolution
        last = self.events[-1][3]
        overdue = self.state not in ("guided", "forwarded", "returned", "filed_away", "resolved")
        overdue_since = at(self.due) if overdue and self.due is not None and self.due < NOW else None
        return (self.pid, self.state, at(last), self.stage_started, self.due,
                "2026.1" if self.stage_started >= dt.date(2026, 7, 1) else "2019.1", self.accepted_on,
                self.complex_case, False, self.extensions, overdue_since, self.round, r.get("outcome"),
                r.get("decision_number"), r.get("decision_date"), r.get("resolved_on"),
                *(r.get(name, ZERO) for name in HANDLING_COLUMNS[16:22]),
                *(r.get(name, 0) for name in HANDLING_COLUMNS[22:29]), r.get("court_judgment", False),
                at(last), at(last))  # fmt: skip

    def event_rows(self, first_id: int) -> list[tuple[Any, ...]]:
        # Events are written in the order of their days, as the workflow refuses an earlier day.
        ordered = sorted(self.events, key=lambda e: e[3])
        return [
            (first_id + i, self.pid, at(day), day, action, source, to, reason, "{}")
            for i, (action, source, to, day, reason) in enumerate(ordered)
        ]
