"""A wrong form file is refused at load time with an error naming the file, the column and the rule."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.forms import FORMS_DIR, FormFileError, catalogue, load_form

TCD = json.loads((FORMS_DIR / "01-TCD.TT02-2021.json").read_text(encoding="utf-8"))
KQGQ = json.loads((FORMS_DIR / "01-KQGQ.TT02-2021.json").read_text(encoding="utf-8"))

Edit = Callable[[dict[str, Any]], None]


def column(number: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda raw: raw["columns"][number - 1]


def count_of(raw: dict[str, Any], number: int) -> dict[str, Any]:
    spec: dict[str, Any] = raw["columns"][number - 1]["compute"]["count"]
    return spec


def drop_compute(raw: dict[str, Any]) -> None:
    del raw["columns"][7]["compute"]


def move_column_out_of_its_group(raw: dict[str, Any]) -> None:
    raw["columns"][4]["group"] = ["Tổng số"]


def decomposed_label(raw: dict[str, Any]) -> None:
    raw["columns"][3]["label"] = "Tie\u0302\u0301p"


CASES: list[tuple[str, Edit, str]] = [
    (
        "unknown filter key",
        lambda raw: count_of(raw, 8)["where"].update(colour="red"),
        r"broken\.json: column 8: compute\.count: where: unknown filter key 'colour' for receptions",
    ),
    (
        "filter value outside its list",
        lambda raw: count_of(raw, 8)["where"].update(kind="weekly"),
        r"column 8: .*kind = 'weekly' is not one of \"regular\", \"head\", \"delegated\"",
    ),
    (
        "a number where a flag belongs",
        lambda raw: count_of(raw, 8)["where"].update(crowd_group=1),
        r"column 8: .*crowd_group = 1 is not one of true, false",
    ),
    (
        "filter naming no value",
        lambda raw: count_of(raw, 8)["where"].update(kind=[]),
        r"column 8: .*kind names no value",
    ),
    (
        "counting cases of sessions",
        lambda raw: count_of(raw, 12).update(measure="cases"),
        r"column 12: .*reception_sessions belong to no case",
    ),
    (
        "stage for receptions",
        lambda raw: count_of(raw, 4).update(stage="resolution"),
        r"column 4: .*stage applies to petitions only",
    ),
    ("column without compute", drop_compute, r"broken\.json: column 8: compute: Field required"),
    (
        "two ways of computing one column",
        lambda raw: raw["columns"][0]["compute"].update(notes={}),
        r"column 1: compute: give exactly one of count, sum_of, notes \(given: sum_of, notes\)",
    ),
    (
        "duplicate column number",
        lambda raw: raw["columns"][8].update(number=8),
        r"broken\.json: duplicate column number\(s\) 8",
    ),
    (
        "identity naming a missing column",
        lambda raw: raw["identities"].append({"rule": "31 = 4"}),
        r"broken\.json: identity '31 = 4' names column 31, which is not a figure",
    ),
    (
        "identity naming the notes column",
        lambda raw: raw["identities"].append({"rule": "30 >= 4"}),
        r"identity '30 >= 4' names column 30",
    ),
    (
        "identity that does not parse",
        lambda raw: raw["identities"].append({"rule": "1 + 2"}),
        r"broken\.json: identity '1 \+ 2': expected",
    ),
    (
        "sum of a missing column",
        lambda raw: raw["columns"][0]["compute"].update(sum_of=[4, 99]),
        r"column 1: sum_of names column 99, not a figure",
    ),
    (
        "sum that refers back to itself",
        lambda raw: raw["columns"][3].update(compute={"sum_of": [1, 5]}),
        r"column 1: sum_of refers back to itself \(1 -> 4 -> 1\)",
    ),
    (
        "header group split in two",
        move_column_out_of_its_group,
        r"column 1: header group 'Tổng số' spans columns \[1, 2, 3, 5\], which are not side by side",
    ),
    ("label not NFC", decomposed_label, r"broken\.json: column 4: 'Tie.+' is not NFC; normalise it"),
    (
        "ends before it starts",
        lambda raw: raw.update(effective_to="2021-07-31"),
        r"broken\.json: effective_to 2021-07-31 is before effective_from 2021-08-01",
    ),
    ("unknown key in the file", lambda raw: raw.update(colour="red"), r"broken\.json: colour: Extra inputs"),
    (
        "scope the records do not have",
        lambda raw: count_of(raw, 4).update(scope="carried_over"),
        r"column 4: .*scope 'carried_over' is not one of in_period for receptions",
    ),
    (
        "case_by without counting cases",
        lambda raw: count_of(raw, 4).update(case_by={"kind": "head"}),
        r"column 4: .*case_by applies only with measure 'cases'",
    ),
    (
        "sum of a field the records do not have",
        lambda raw: count_of(raw, 5).update(of="signatories"),
        r"column 5: .*of 'signatories' is not a numeric field of receptions: people",
    ),
    (
        "unknown records",
        lambda raw: count_of(raw, 4).update({"from": "letters"}),
        r"column 4: compute\.count\.from: Input should be 'receptions'",
    ),
    (
        "note line without its count",
        lambda raw: raw["columns"][29]["compute"]["notes"]["lines"][0].update(text="trực nhưng không ai đến"),
        r"column 30: .*must contain \{n\}",
    ),
    (
        "a figure column computed as notes",
        lambda raw: raw["columns"][3].update(compute={"notes": {}}),
        r"column 4: a note column is computed by 'notes'",
    ),
]


@pytest.mark.parametrize(("case", "edit", "error"), CASES, ids=[c[0] for c in CASES])
def test_a_broken_file_is_refused_with_a_named_error(tmp_path: Path, case: str, edit: Edit, error: str) -> None:
    raw = copy.deepcopy(TCD)
    edit(raw)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(FormFileError, match=error):
        load_form(broken)


def test_money_summed_into_a_count_column_is_refused(tmp_path: Path) -> None:
    raw = copy.deepcopy(KQGQ)
    assert raw["columns"][6]["compute"]["count"]["of"] == "money_recovered_state"
    raw["columns"][6]["kind"] = "count"
    broken = tmp_path / "01-KQGQ.next.json"
    broken.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(
        FormFileError, match=r"01-KQGQ\.next\.json: column 7: a sum of money_recovered_state is an amount"
    ):
        load_form(broken)


def test_not_json_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "2b.half.json"
    broken.write_text('{"code": "2b", ', encoding="utf-8")
    with pytest.raises(FormFileError, match=r"2b\.half\.json: not JSON"):
        load_form(broken)


def test_a_new_criterion_is_a_new_file_version(tmp_path: Path) -> None:
    """An official letter asks for a new figure from 2027: a new version of 02/TCD, no code change."""
    shipped = (FORMS_DIR / "02-TCD.TT02-2021.json").read_text(encoding="utf-8")
    raw = json.loads(shipped)
    notes = raw["columns"].pop()
    raw["columns"].append(
        {
            "number": 17,
            "label": "Trong đó đơn gửi qua mạng",
            "meaning": "Of which petitions received online",
            "group": [],
            "compute": {"count": {"from": "petitions", "where": {"via_reception": True, "source": "online"}}},
        }
    )
    raw["columns"].append({**notes, "number": 18})
    raw["identities"].append({"rule": "17 <= 1", "why": "of which"})
    raw.update(version="CV-2027", effective_from="2027-03-15")
    # The shipped version stays as it is: reports were made with it.
    (tmp_path / "02-TCD.TT02-2021.json").write_text(shipped, encoding="utf-8")
    (tmp_path / "02-TCD.CV-2027.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    forms = catalogue(tmp_path)
    before, after = forms.in_effect("02/TCD", dt.date(2027, 3, 14)), forms.in_effect("02/TCD", dt.date(2027, 6, 14))
    assert before is not None
    assert after is not None
    assert (before.version, len(before.columns)) == ("TT02-2021", 17)
    assert (after.version, len(after.columns)) == ("CV-2027", 18)
    assert after.check({"1": 3, "3": 3, "9": 3, "2": 1, "4": 1, "10": 1, "17": 4}) == [
        {"rule": "17 <= 1", "message": "17 <= 1 does not hold: 17 is 4; 1 is 3"}
    ]


def test_one_version_defined_twice_is_refused(tmp_path: Path) -> None:
    shipped = (FORMS_DIR / "2b.TT03-2013.json").read_text(encoding="utf-8")
    for name in ("2b.TT03-2013.json", "2b.copy.json"):
        (tmp_path / name).write_text(shipped, encoding="utf-8")
    with pytest.raises(FormFileError, match="form 2b version TT03-2013 is defined twice"):
        catalogue(tmp_path)
