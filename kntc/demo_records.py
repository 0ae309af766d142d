"""Realistic receptions, reception sessions and petitions for the demo's national tree.

A few of each per commune, in the current data window: Vietnamese petitioners, crowd
groups, head and delegated sessions (some where nobody came), petitions received at
reception, cases that are repeat (their first record in the previous window), some
petitions sent twice by the same person (left for an officer to mark as duplicates),
and a few drafts. Every final petition has its handling history up to the window's end
(``kntc.demo_handling``: classified, guided, forwarded, accepted, resolved with an
outcome and its figures, urged, answered ...), so every form of the national tree has
figures. Inserted in bulk, a few statements per table, so the demo stays quick.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kntc.demo_handling import History
from models.catalogue import effective_on
from models.handling import PetitionEvent, PetitionHandling
from models.records import Case, Petition, Reception, ReceptionSession
from models.text import fold
from models.units import Unit

if TYPE_CHECKING:
    import psycopg

SEED = 20261002
FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
)
MIDDLE = {"m": ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh"), "f": ("Thị", "Ngọc", "Thu", "Kim", "Thanh")}
GIVEN = {
    "m": ("An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hùng", "Khoa", "Long", "Nam", "Phúc", "Sơn", "Thắng", "Tuấn"),
    "f": ("Anh", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngân", "Phương", "Thảo", "Yến"),
}
PLACES = ("Thôn 1", "Thôn 3", "Ấp Bình Hòa", "Ấp Phú Lợi", "Xóm Đông", "Tổ dân phố 4", "Khu phố 2", "Thôn Trung")
# (content type, field, summary, weight)
MATTERS = (
    ("complaint", "land", "Khiếu nại quyết định thu hồi đất và mức bồi thường, hỗ trợ giải phóng mặt bằng", 20),
    ("complaint", "policy", "Khiếu nại việc không được xét hưởng chế độ trợ cấp người có công với cách mạng", 6),
    ("complaint", "housing", "Khiếu nại việc cấp phép xây dựng cho hộ liền kề xây lấn sang nhà ở của gia đình", 5),
    ("complaint", "civil_service", "Khiếu nại quyết định kỷ luật khiển trách đối với công chức địa chính xã", 3),
    (
        "denunciation",
        "corruption",
        "Tố cáo cán bộ địa chính nhận tiền khi làm thủ tục cấp giấy chứng nhận quyền sử dụng đất",
        6,
    ),
    (
        "denunciation",
        "civil_service",
        "Tố cáo cán bộ một cửa sách nhiễu, gây khó khăn khi giải quyết thủ tục hành chính",
        5,
    ),
    ("recommendation", "other", "Kiến nghị sửa chữa tuyến đường liên thôn bị hư hỏng, ngập nước vào mùa mưa", 12),
    ("recommendation", "policy", "Phản ánh việc chậm chi trả tiền hỗ trợ hộ nghèo và hộ cận nghèo", 10),
    ("dispute", "land", "Tranh chấp ranh giới quyền sử dụng đất với hộ gia đình liền kề", 16),
    ("dispute", "housing", "Tranh chấp quyền thừa kế nhà ở giữa các anh chị em trong gia đình", 5),
    ("mixed", "land", "Đơn vừa khiếu nại việc thu hồi đất vừa tố cáo cán bộ xã làm sai lệch hồ sơ bồi thường", 4),
)


@dataclass
class Plan:
    """Rows to insert; references to rows not yet inserted are list positions (``*_ix``)."""

    cases: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    receptions: list[dict[str, Any]] = field(default_factory=list)
    petitions: list[dict[str, Any]] = field(default_factory=list)
    repeat_cases: int = 0

    def case(self, unit_id: int) -> int:
        self.cases.append({"unit_id": unit_id})
        return len(self.cases) - 1


@dataclass(frozen=True)
class Window:
    starts: dt.date
    ends: dt.date

    def day(self, rng: random.Random) -> dt.date:
        return self.starts + dt.timedelta(days=rng.randrange((self.ends - self.starts).days + 1))


class Person:
    def __init__(self, rng: random.Random, commune: str) -> None:
        sex = rng.choice("mf")
        self.name = f"{rng.choice(FAMILY)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"
        self.address = f"Số {rng.randint(1, 200)}, {rng.choice(PLACES)}, {commune}"
        self.id_number = f"0{rng.randint(1, 96):02d}{rng.randint(0, 999_999_999):09d}"


def _matter(rng: random.Random, kind: str) -> tuple[str, str, str]:
    choices = [m for m in MATTERS if kind == "petition" or m[0] != "mixed"]
    content_type, code, summary, _ = rng.choices(choices, weights=[m[3] for m in choices])[0]
    return content_type, code, summary


def _status(rng: random.Random) -> str:
    return "draft" if rng.random() < 0.05 else "final"


def plan_commune(plan: Plan, rng: random.Random, unit: Unit, window: Window, earlier: Window) -> None:
    """Sessions, receptions and petitions of one commune."""
    sessions = {kind: [] for kind in ("head", "delegated")}  # type: dict[str, list[int]]
    for kind, count in (("head", 2), ("delegated", 1)):
        for _ in range(count):
            plan.sessions.append({"unit_id": unit.id, "held_on": window.day(rng), "kind": kind,
                                  "host": "Chủ tịch UBND" if kind == "head" else "Phó Chủ tịch UBND",
                                  "note": None, "status": "final"})  # fmt: skip
            sessions[kind].append(len(plan.sessions) - 1)
    for _ in range(rng.randint(1, 4)):
        _plan_reception(plan, rng, unit, window, earlier, sessions)
    for _ in range(rng.randint(1, 3)):
        _plan_petition(plan, rng, unit, window, earlier)


def _plan_reception(
    plan: Plan, rng: random.Random, unit: Unit, window: Window, earlier: Window, sessions: dict[str, list[int]]
) -> None:
    kind = rng.choices(("regular", "head", "delegated"), weights=(70, 22, 8))[0]
    session_ix = rng.choice(sessions[kind]) if kind != "regular" else None
    day = plan.sessions[session_ix]["held_on"] if session_ix is not None else window.day(rng)
    crowd = rng.random() < 0.08
    content_type, code, summary = _matter(rng, "reception")
    person = Person(rng, unit.name)
    case_ix = plan.case(unit.id)
    if rng.random() < 0.25:  # a repeat case: its first petition came in the previous window
        plan.repeat_cases += 1
        # Some came twice before (resolved once, then again): "resolved several times".
        for _ in range(2 if rng.random() < 0.3 else 1):
            first = _petition(rng, unit, person, earlier.day(rng), case_ix, (content_type, code, summary), "post")
            plan.petitions.append({**first, "status": "final", "eligible": True, "within_competence": True})
    people = rng.randint(5, 30) if crowd else rng.randint(1, 3)
    plan.receptions.append({
        "unit_id": unit.id, "received_on": day, "kind": kind, "people": people,
        "crowd_group": crowd, "case_ix": case_ix, "session_ix": session_ix, "content_type": content_type,
        "field": code, "status": _status(rng), "note": None,
    })  # fmt: skip
    if rng.random() < 0.4:  # the citizen also handed in a petition
        pet = _petition(rng, unit, person, day, case_ix, (content_type, code, summary), "in_person")
        pet["reception_ix"] = len(plan.receptions) - 1
        plan.petitions.append(pet)


def _plan_petition(plan: Plan, rng: random.Random, unit: Unit, window: Window, earlier: Window) -> None:
    person, matter = Person(rng, unit.name), _matter(rng, "petition")
    source = rng.choices(("post", "forwarded", "online"), weights=(60, 25, 15))[0]
    case_ix = plan.case(unit.id)
    plan.petitions.append(_petition(rng, unit, person, window.day(rng), case_ix, matter, source))
    if rng.random() < 0.04:  # the same person sends it again: a duplicate for an officer to confirm
        plan.petitions.append(_petition(rng, unit, person, window.day(rng), case_ix, matter, "post"))


def _petition(
    rng: random.Random,
    unit: Unit,
    person: Person,
    day: dt.date,
    case_ix: int,
    matter: tuple[str, str, str],
    source: str,
) -> dict[str, Any]:
    content_type, code, summary = matter
    anonymous = content_type == "denunciation" and rng.random() < 0.15
    signatories = rng.randint(5, 40) if rng.random() < 0.05 else 1
    final = _status(rng) == "final"
    return {
        "unit_id": unit.id, "received_on": day, "source": source, "reception_ix": None,
        "signatories": signatories, "multi_signatory": signatories >= 5, "anonymous": anonymous,
        "petitioner_name": None if anonymous else person.name,
        "petitioner_name_folded": "" if anonymous else fold(person.name),
        "petitioner_id_number": None if anonymous else person.id_number,
        "petitioner_address": None if anonymous else person.address,
        "petitioner_address_folded": "" if anonymous else fold(person.address),
        "content_type": content_type, "field": code, "summary": summary, "case_ix": case_ix,
        "eligible": (rng.random() < 0.85) if final else None,
        "within_competence": (rng.random() < 0.7) if final else None,
        "attachment_ids": [], "status": "final" if final else "draft", "note": None,
    }  # fmt: skip


def _new_ids(session: Session, table: sa.Table, count: int) -> list[int]:
    """``count`` fresh ids for ``table``, taken from its sequence (PostgreSQL) or after its largest id."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = sa.text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")
        return list(session.scalars(stmt, {"table": table.name, "n": count}))
    first = (session.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1
    return list(range(first, first + count))


def _insert(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows with one executemany (no RETURNING: drivers batch it best); their ids, in order."""
    if not rows:
        return []
    table = model.__table__
    ids = _new_ids(session, table, len(rows))
    defaults = {c.key: c.default.arg(None) for c in table.columns if c.default is not None and c.default.is_callable}
    session.connection().execute(
        sa.insert(table), [{**defaults, **row, "id": i} for row, i in zip(rows, ids, strict=True)]
    )
    return ids


def _copy(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows (dicts with the same keys) into ``table`` in the session's transaction (PostgreSQL).

    Tens of thousands of events: COPY takes a fraction of an executemany's time.
    """
    if not rows:
        return
    columns = list(rows[0])
    connection = cast("psycopg.Connection[Any]", session.connection().connection.dbapi_connection)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()])


def _resolve(rows: list[dict[str, Any]], refs: dict[str, tuple[str, list[int]]]) -> list[dict[str, Any]]:
    resolved = []
    for row in rows:
        out = {k: v for k, v in row.items() if k not in refs}
        for ix_key, (column, ids) in refs.items():
            out[column] = ids[row[ix_key]] if row[ix_key] is not None else None
        resolved.append(out)
    return resolved


def seed_records(session: Session, window: Window, limit_units: int | None = None) -> dict[str, int]:
    """Plan and insert the demo's records for every commune (none when the tree has records already)."""
    if session.scalar(sa.select(Reception.id).limit(1)) is not None:
        return {}
    communes = list(
        session.scalars(sa.select(Unit).where(Unit.level == "commune").order_by(Unit.code).limit(limit_units))
    )
    rng, plan = random.Random(SEED), Plan()
    earlier = Window(window.starts - dt.timedelta(days=91), window.starts - dt.timedelta(days=1))
    for unit in communes:
        plan_commune(plan, rng, unit, window, earlier)
    return _store(session, plan, len(communes), window.ends)


def _store(session: Session, plan: Plan, communes: int, now: dt.date) -> dict[str, int]:
    versions: dict[dt.date, str] = {}

    def classified(row: dict[str, Any]) -> dict[str, Any]:
        day = row["received_on"]
        if day not in versions:
            version = effective_on(session, day)
            assert version is not None, f"no catalogue in effect on {day}"
            versions[day] = version.version
        return {**row, "catalogue_version": versions[day]}

    case_ids = _insert(session, Case, plan.cases)
    session_ids = _insert(session, ReceptionSession, plan.sessions)
    receptions = _resolve(
        plan.receptions, {"case_ix": ("case_id", case_ids), "session_ix": ("session_id", session_ids)}
    )
    reception_ids = _insert(session, Reception, [classified(r) for r in receptions])
    petitions = _resolve(
        plan.petitions, {"case_ix": ("case_id", case_ids), "reception_ix": ("reception_id", reception_ids)}
    )
    petition_ids = _insert(session, Petition, [classified(p) for p in petitions])
    handled = _store_handling(session, petitions, petition_ids, now)
    return {
        "communes": communes,
        "receptions": len(plan.receptions),
        "crowd_groups": sum(1 for r in plan.receptions if r["crowd_group"]),
        "sessions": len(plan.sessions),
        "petitions": len(plan.petitions),
        "cases": len(plan.cases),
        "repeat_cases": plan.repeat_cases,
        "drafts": sum(1 for r in (*plan.receptions, *plan.petitions) if r["status"] == "draft"),
        **handled,
    }


def _store_handling(session: Session, petitions: list[dict[str, Any]], ids: list[int], now: dt.date) -> dict[str, int]:
    """Each final petition's handling row and events, played up to ``now``."""
    rng = random.Random(SEED + 1)
    histories = [
        History(rng, pid, p["received_on"], p["content_type"], p["eligible"], p["within_competence"], now)
        for p, pid in zip(petitions, ids, strict=True)
        if p["status"] == "final"
    ]
    rows = [h.row() for h in histories]
    events = [e for h in histories for e in h.event_rows()]
    if session.get_bind().dialect.name == "postgresql":
        _copy(session, PetitionHandling.__tablename__, rows)
        ids = _new_ids(session, cast(sa.Table, PetitionEvent.__table__), len(events))
        _copy(session, PetitionEvent.__tablename__, [{"id": i, **e} for i, e in zip(ids, events, strict=True)])
    else:
        if rows:
            session.connection().execute(sa.insert(PetitionHandling), rows)
        _insert(session, PetitionEvent, events)
    return {
        "handling_events": len(events),
        "resolved": sum(1 for r in rows if r["state"] == "resolved"),
        "still_open": sum(
            1 for r in rows if r["state"] not in ("guided", "forwarded", "returned", "filed_away", "resolved")
        ),
    }
