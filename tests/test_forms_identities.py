"""The compute specs make every identity of every shipped form true, on any record set.

A small reference evaluator (tests/form_reference.py) reads the same vocabulary, with
the semantics models/forms/README.md states, over random abstract record sets, and every
identity must hold. It is the oracle the compiled SQL is compared with. The same evaluator shows the two crowd readings
(2a disjoint, 01/TCD "of which") on hand-made records.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import pytest
from form_reference import FILES, STAGE_PLACES, Record, compute, measure, random_records

from models.form_compute import BOOL, OPEN_BOOL, Compute, NotIn
from models.forms import catalogue, load_form


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_identities_hold_on_random_record_sets(path: Path) -> None:
    form = load_form(path)
    rng = random.Random(f"{path.name}-2026")
    for trial in range(300):
        records = random_records(rng, rng.randint(0, 60))
        figures = compute(form, records)
        assert form.check({str(k): v for k, v in figures.items()}) == [], f"trial {trial}"


def test_the_oracle_catches_a_definition_that_breaks_its_identity() -> None:
    """Without withdrawn and suspended cases in column 26, 03/KQGQ's printed 6 = 24 + 26 + 28 fails."""
    form = catalogue().version("03/KQGQ", "TT02-2021")
    assert form is not None
    spec = form.columns[25].compute.count
    assert spec is not None
    assert spec.case_by == {"outcome": NotIn.model_validate({"not": ["right", "partly_right"]})}
    false_only = Compute(count=spec.model_copy(update={"case_by": {"outcome": "wrong"}}))
    broken = dataclasses.replace(
        form,
        columns=(*form.columns[:25], dataclasses.replace(form.columns[25], compute=false_only), *form.columns[26:]),
    )
    rng = random.Random(7)
    rules = set()
    for _ in range(50):
        figures = compute(broken, random_records(rng, 40))
        rules |= {e["rule"] for e in broken.check({str(k): v for k, v in figures.items()})}
    assert "6 = 7 + 8 + 9 + 10 = 24 + 26 + 28 = 30 + 31" in rules


def reception(i: int, case: int, kind: str, people: int, *, new: bool = True, **attrs: Any) -> Record:
    values = {
        "kind": kind,
        "crowd_group": people >= 5,
        "people": people,
        "case_new": new,
        "content_type": "complaint",
        "field": "land",
        "case_resolution": "not_resolved",
        "case_result": "unresolved",
        **attrs,
    }
    return Record("receptions", i, case, i, {"in_period": frozenset({"in_period"})}, values)


RECEPTIONS = [
    reception(1, 1, "regular", 1),
    reception(2, 2, "regular", 2),
    reception(3, 2, "regular", 1),
    reception(4, 3, "regular", 7),  # a crowd group of 7, a new case
    reception(5, 4, "head", 6, new=False),  # a crowd group received by the head, a repeat case
]


def test_2a_counts_crowd_groups_apart_from_individuals() -> None:
    form = catalogue().version("2a", "TT03-2013")
    assert form is not None
    assert form.crowd_reading == "disjoint"
    got = compute(form, RECEPTIONS)
    # Individuals at the desk: 3 turns, 4 people, 2 new cases; the crowd of 7 is not in 1-2.
    assert [got[c] for c in (1, 2, 3, 4)] == [3, 4, 0, 2]
    assert [got[c] for c in (5, 6, 7, 8)] == [1, 7, 0, 1]
    assert [got[c] for c in (9, 10, 13, 14, 15, 16)] == [0, 0, 1, 6, 1, 0]
    assert got[17] == 4  # four land complaint cases, each once


def test_01_tcd_counts_crowd_groups_inside_the_totals() -> None:
    form = catalogue().version("01/TCD", "TT02-2021")
    assert form is not None
    assert form.crowd_reading == "of_which"
    got = compute(form, RECEPTIONS)
    # Regular desk: 4 turns and 11 people including the crowd, of which 1 group of 7 people.
    assert [got[c] for c in (4, 5, 6, 7, 8, 9, 10, 11)] == [4, 11, 3, 0, 1, 7, 1, 0]
    assert [got[c] for c in (13, 14, 15, 16, 17, 18, 19, 20)] == [1, 6, 0, 1, 1, 6, 0, 1]
    assert [got[c] for c in (1, 2, 3)] == [5, 17, 4]


def test_01_tcd_counts_sessions_even_when_nobody_came() -> None:
    form = catalogue().version("01/TCD", "TT02-2021")
    assert form is not None
    period = {"in_period": frozenset({"in_period"})}
    sessions = [
        Record("reception_sessions", 10, None, 1, period, {"kind": "head", "attended": False}),
        Record("reception_sessions", 11, None, 2, period, {"kind": "head", "attended": True}),
        Record("reception_sessions", 12, None, 3, period, {"kind": "delegated", "attended": False}),
    ]
    got = compute(form, [*RECEPTIONS, *sessions])
    assert (got[12], got[21], got[13]) == (2, 1, 1)
    notes = form.columns[29].compute.notes
    assert notes is not None
    assert measure(sessions, notes.lines[0].count) == 2


def test_the_random_records_respect_the_domains() -> None:
    """The generator covers every value, including undecided (null) ones, so partitions are really tried."""
    rng = random.Random(1)
    records = random_records(rng, 3000)
    petitions = [r for r in records if r.source == "petitions"]
    assert {r.attrs["within_competence"] for r in petitions} == set(OPEN_BOOL)
    assert {r.attrs["anonymous"] for r in petitions} == set(BOOL)
    assert {r.attrs["outcome"] for r in petitions} >= {None, "withdrawn", "right"}
    assert all(r.attrs["people"] >= 5 for r in records if r.source == "receptions" and r.attrs["crowd_group"])


def petition(i: int, case: int, rank: int, handling: frozenset[str] = STAGE_PLACES[4], **attrs: Any) -> Record:
    values = {
        "via_reception": True,
        "content_type": "complaint",
        "within_competence": True,
        "eligible": True,
        "anonymous": False,
        "multi_signatory": False,
        "state": "accepted",
        "outcome": None,
        "case_resolution": "not_resolved",
        **attrs,
    }
    return Record("petitions", i, case, rank, {"handling": handling, "resolution": frozenset()}, values)


def test_02_tcd_counts_a_case_once_by_its_first_petition() -> None:
    form = catalogue().version("02/TCD", "TT02-2021")
    assert form is not None
    records = [
        # Case 1: a complaint within competence, then a denunciation outside it that was forwarded.
        petition(1, 1, rank=1),
        petition(2, 1, rank=2, content_type="denunciation", within_competence=False, state="forwarded"),
        # Case 2: one recommendation, competence not decided yet.
        petition(3, 2, rank=1, content_type="recommendation", within_competence=None, state="received"),
        # Not received through a reception: not on this form.
        petition(4, 3, rank=1, via_reception=False),
    ]
    got = compute(form, records)
    assert [got[c] for c in (1, 3, 5, 7, 9, 11)] == [3, 1, 1, 1, 2, 1]  # petitions, each in its own column
    assert [got[c] for c in (2, 4, 6, 8, 10, 12, 13, 14, 15)] == [2, 1, 0, 1, 2, 0, 0, 0, 0]  # cases, once each
    assert got[16] == 0


def test_01_xld_2024_splits_petitions_to_handle_by_origin_and_result() -> None:
    form = catalogue().version("01/XLD", "TT01-2024")
    assert form is not None
    carried_done, carried_pending, new_done, new_pending = STAGE_PLACES[1:]
    records = [
        petition(1, 1, 1, carried_done, state="guided", within_competence=False),
        petition(2, 2, 1, carried_pending, eligible=None, state="classified"),
        petition(3, 3, 1, new_done, state="forwarded", within_competence=False, reply_received=True),
        petition(4, 4, 1, new_done, eligible=False, state="returned"),
        petition(5, 5, 1, new_pending, state="received"),
        petition(6, 6, 1, frozenset(), state="resolved"),  # handled in an earlier period: not here
    ]
    got = compute(form, records)
    assert [got[c] for c in (1, 2, 3, 4, 5)] == [5, 2, 3, 3, 2]
    assert [got[c] for c in (6, 7, 8, 14, 18, 19, 20, 21, 22)] == [2, 2, 2, 0, 2, 1, 1, 0, 1]


def test_03_kqgq_counts_withdrawn_denunciations_as_no_violation_found() -> None:
    form = catalogue().version("03/KQGQ", "TT02-2021")
    assert form is not None
    done = STAGE_PLACES[3]

    def denunciation(i: int, outcome: str, repeat: bool = False) -> Record:
        record = petition(i, i, 1, content_type="denunciation", outcome=outcome, on_time=True)
        record.attrs["case_resolution"] = "resolved_once" if repeat else "not_resolved"
        record.scopes = {"handling": frozenset(), "resolution": done}
        return record

    records = [
        denunciation(1, "right"),
        denunciation(2, "wrong", repeat=True),
        denunciation(3, "withdrawn", repeat=True),
        denunciation(4, "partly_right"),
    ]
    got = compute(form, records)
    assert [got[c] for c in (1, 3, 4, 5)] == [4, 4, 4, 2]
    assert [got[c] for c in (6, 7, 8, 9, 10)] == [4, 2, 1, 1, 0]
    assert [got[c] for c in (24, 25, 26, 27, 28, 29)] == [1, 0, 2, 1, 1, 0]
    assert [got[c] for c in (30, 31)] == [4, 0]
