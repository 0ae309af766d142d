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
from typing import Any

import psycopg

from kntc.demo_handling import HANDLING_COLUMNS, History, at
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


@dataclass(frozen=True)
class BenchUnit:
    id: int
    level: str


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
                history = History(rng, pid, day, content_type, eligible, competent, NOW)
                row = history.row()
                handlings.append(tuple(row[name] for name in HANDLING_COLUMNS))
                first = len(events) + 1
                events.extend(
                    (first + i, pid, at(when), when, action, source, to, reason, "{}")
                    for i, (action, source, to, when, reason) in enumerate(history.timeline())
                )


EVENT_COLUMNS = ("id", "petition_id", "at", "effective_on", "action", "from_state", "to_state", "reason", "data")
