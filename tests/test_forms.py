"""Form data files: columns 1..N with Vietnamese labels, identities that parse and mean what they say."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from models.form_compute import Count, NotIn, values_of
from models.forms import FORMS_DIR, FormVersion, catalogue, load_form, parse_identity

FILES = sorted(FORMS_DIR.glob("*.json"))
VIETNAMESE = set("ăâđêôơưáàảãạắằẳẵặấầẩẫậéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")


def test_both_forms_are_shipped() -> None:
    assert {path.name for path in FILES} >= {"01-TCD.TT02-2021.json", "2a.TT03-2013.json"}
    assert catalogue().codes == sorted({load_form(path).code for path in FILES})


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_columns_are_numbered_with_vietnamese_labels(path: Path) -> None:
    form = load_form(path)
    assert [c.number for c in form.columns] == list(range(1, len(form.columns) + 1))
    for column in form.columns:
        assert column.label.strip()
        assert unicodedata.is_normalized("NFC", column.label)
        assert column.kind in {"count", "amount", "note"}
    labels = "".join(c.label.lower() for c in form.columns)
    assert VIETNAMESE & set(labels), "labels should be in Vietnamese"
    assert unicodedata.is_normalized("NFC", form.title)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_identities_parse_and_name_figure_columns(path: Path) -> None:
    form = load_form(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert [i.text for i in form.identities] == [i["rule"] for i in raw["identities"]]
    for identity in form.identities:
        for side in identity.sides:
            for coefficient, column in side.terms:
                assert coefficient >= 1
                found = form.column(column)
                assert found is not None
                assert found.numeric
    # All zero is a valid (empty) report of any form.
    assert form.check({}) == []


def test_01_tcd_layout() -> None:
    form = catalogue().in_effect("01/TCD", dt.date(2026, 12, 14))
    assert form is not None
    assert (form.version, len(form.columns)) == ("TT02-2021", 30)
    first, last = form.column(1), form.column(30)
    assert first is not None
    assert last is not None
    assert first.label == "Tổng số lượt tiếp"
    assert (last.kind, last.numeric) == ("note", False)
    printed = [i.text for i in form.identities if i.printed]
    assert printed == ["1 = 4 + 13 + 22", "2 = 5 + 14 + 23", "3 = 6 + 7 + 15 + 16 + 24 + 25"]
    assert form.column(31) is None
    assert form.column(0) is None


def test_2a_reads_crowd_groups_as_disjoint_from_individuals() -> None:
    path = FORMS_DIR / "2a.TT03-2013.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    form = load_form(path)
    assert raw["crowd_reading"] == "disjoint"
    individuals, crowds = {1, 2}, {5, 6}
    for identity in form.identities:
        columns = {column for side in identity.sides for _, column in side.terms}
        assert not (columns & individuals and columns & crowds), identity.text
    # 3 individuals' turns (4 people) and 1 crowd group of 7: columns 1-2 do not include the group.
    assert form.check({"1": 3, "2": 4, "5": 1, "6": 7}) == []


def test_2a_is_the_legacy_form_and_01_tcd_the_current_one() -> None:
    forms = catalogue()
    assert forms.codes_in_effect(dt.date(2020, 12, 14)) == ["2a", "2b"]
    assert forms.codes_in_effect(dt.date(2026, 12, 14)) == ["01/KQGQ", "01/TCD", "01/XLD", "02/TCD", "03/KQGQ"]
    legacy = forms.in_effect("2a", dt.date(2020, 12, 14))
    assert legacy is not None
    assert legacy.version == "TT03-2013"


def test_identity_texts_parse() -> None:
    chained = parse_identity("1 = 2 + 3 = 4")
    figures = {1: Decimal(5), 2: Decimal(2), 3: Decimal(3), 4: Decimal(5)}
    assert chained.breaches(figures) is None
    assert chained.breaches({**figures, 4: Decimal(6)}) == "1 = 2 + 3 = 4 does not hold: 1 is 5; 2 + 3 is 5; 4 is 6"
    scaled = parse_identity("9 >= 5*8")
    assert scaled.sides[1].terms == ((5, 8),)
    for bad in ("1 = ", "1 <= 2 <= 3", "a = b", "1 + = 2"):
        with pytest.raises(ValueError, match="identity"):
            parse_identity(bad)


def test_a_form_file_with_gaps_in_its_columns_is_refused(tmp_path: Path) -> None:
    raw = json.loads((FORMS_DIR / "2a.TT03-2013.json").read_text(encoding="utf-8"))
    raw["columns"] = raw["columns"][:3] + raw["columns"][4:]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="numbered"):
        load_form(broken)


SHIPPED = {
    "01/TCD": ["TT02-2021"],
    "02/TCD": ["TT02-2021"],
    "01/XLD": ["TT02-2021", "TT01-2024"],
    "01/KQGQ": ["TT02-2021"],
    "03/KQGQ": ["TT02-2021"],
    "2a": ["TT03-2013"],
    "2b": ["TT03-2013"],
}
WIDTHS = {
    "01/TCD": 30,
    "02/TCD": 17,
    "01/KQGQ": 27,
    "03/KQGQ": 32,
    "2a": 31,
    "2b": 32,
    "TT02-2021": 27,
    "TT01-2024": 22,
}


def test_every_form_of_the_brief_is_shipped_with_its_width() -> None:
    forms = catalogue()
    assert forms.codes == sorted(SHIPPED)
    for code, versions in SHIPPED.items():
        for version in versions:
            form = forms.version(code, version)
            assert form is not None, (code, version)
            assert len(form.columns) == WIDTHS[version if code == "01/XLD" else code]
            assert form.notes, f"{code} {version} must say where its layout comes from"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_column_has_a_meaning_and_a_compute_spec(path: Path) -> None:
    form = load_form(path)
    assert path.name == f"{form.code.replace('/', '-')}.{form.version}.json"
    for column in form.columns:
        assert column.meaning.strip(), column.number
        assert column.compute.kind in {"count", "sum_of", "notes"}
        assert all(unicodedata.is_normalized("NFC", g) and g.strip() for g in column.group)
        if column.compute.sum_of:
            # A total is a sum only where an identity of the form defines it so.
            sides = [{tuple(sorted(c for _, c in side.terms)) for side in i.sides} for i in form.identities]
            assert any({(column.number,), tuple(sorted(column.compute.sum_of))} <= s for s in sides), column.number


def test_01_xld_changes_layout_in_2024() -> None:
    forms = catalogue()
    old, new = forms.in_effect("01/XLD", dt.date(2024, 3, 14)), forms.in_effect("01/XLD", dt.date(2024, 3, 15))
    assert old is not None
    assert new is not None
    assert (old.version, len(old.columns), new.version, len(new.columns)) == ("TT02-2021", 27, "TT01-2024", 22)
    assert forms.in_effect("01/XLD", dt.date(2021, 7, 31)) is None
    assert forms.in_effect("2b", dt.date(2021, 7, 31)) is not None
    assert forms.in_effect("2b", dt.date(2021, 8, 1)) is None
    # The signatory split of 2021 is gone in 2024.
    assert any("multi_signatory" in (c.compute.count.where if c.compute.count else {}) for c in old.columns)
    assert not any("multi_signatory" in (c.compute.count.where if c.compute.count else {}) for c in new.columns)


def _single_terms(form: FormVersion, comparator: str) -> list[tuple[int, int]]:
    pairs = []
    for identity in form.identities:
        left, right = identity.sides
        if identity.comparator == comparator and len(left.terms) == len(right.terms) == 1:
            (k1, a), (k2, b) = left.terms[0], right.terms[0]
            if k1 == k2 == 1:
                pairs.append((a, b))
    return pairs


def _narrower(small: Count, big: Count) -> bool:
    """``small`` selects a subset of ``big``'s records: same records and measure, and every filter of ``big``."""
    same = (small.from_, small.scope, small.stage, small.measure, small.of) == (
        big.from_,
        big.scope,
        big.stage,
        big.measure,
        big.of,
    )
    return same and all(small.where.get(k) == v for k, v in big.where.items())


def test_01_tcd_crowd_columns_are_of_which_subsets() -> None:
    form = catalogue().version("01/TCD", "TT02-2021")
    assert form is not None
    subsets = _single_terms(form, "<=")
    assert len(subsets) == 12
    for small, big in subsets:
        inner, outer = form.columns[small - 1].compute.count, form.columns[big - 1].compute.count
        assert inner is not None
        assert outer is not None
        assert inner.where.get("crowd_group") is True, small
        assert "crowd_group" not in outer.where, big
        assert _narrower(inner, outer), (small, big)
    crowd = [c.number for c in form.columns if c.compute.count and c.compute.count.where.get("crowd_group") is True]
    assert crowd == [8, 9, 10, 11, 17, 18, 19, 20, 26, 27, 28, 29]
    totals = {n for i in form.identities if i.printed for side in i.sides for _, n in side.terms}
    assert not totals & set(crowd), "crowd columns are never added into totals"


def test_2a_blocks_of_individuals_and_crowds_are_disjoint_siblings() -> None:
    form = catalogue().version("2a", "TT03-2013")
    assert form is not None
    for first in (1, 9):
        individuals = [form.columns[n - 1] for n in range(first, first + 4)]
        crowds = [form.columns[n - 1] for n in range(first + 4, first + 8)]
        for person, group in zip(individuals, crowds, strict=True):
            assert person.compute.count is not None
            assert group.compute.count is not None
            assert person.compute.count.where["crowd_group"] is False
            assert group.compute.count.where["crowd_group"] is True
            # Siblings under the same channel: [channel, "Cá nhân", ...] beside [channel, "Đoàn đông người", ...].
            assert person.group[0] == group.group[0]
            assert (person.group[1], group.group[1]) == ("Cá nhân", "Đoàn đông người")
            assert not any("Trong đó" in g for g in group.group), "2a crowds are siblings, not 'of which'"


def test_2a_turns_and_people_are_not_swapped() -> None:
    """A vendor wrote "people" under the "turns" header and the reverse."""
    form = catalogue().version("2a", "TT03-2013")
    assert form is not None
    turns, people = form.columns[0], form.columns[1]
    assert (turns.label, people.label) == ("Số lượt", "Số người")
    assert turns.compute.count is not None
    assert people.compute.count is not None
    assert (turns.compute.count.measure, people.compute.count.measure, people.compute.count.of) == (
        "rows",
        "sum",
        "people",
    )


def _disjoint(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Some key the two filters share admits no common value."""
    for key in a.keys() & b.keys():
        x, y = a[key], b[key]
        if isinstance(x, NotIn) and isinstance(y, NotIn):
            continue
        if isinstance(x, NotIn):
            x, y = y, x
        if isinstance(y, NotIn):
            if set(values_of(x)) <= set(values_of(y)):
                return True
        elif not set(values_of(x)) & set(values_of(y)):
            return True
    return False


def test_2a_content_columns_never_overlap() -> None:
    """Vendors mapped columns 18 and 20 to one category, and counted corruption in administrative too."""
    form = catalogue().version("2a", "TT03-2013")
    assert form is not None
    specs = {n: form.columns[n - 1].compute.count for n in range(17, 27)}
    for a, spec_a in specs.items():
        for b, spec_b in specs.items():
            if a < b:
                assert spec_a is not None
                assert spec_b is not None
                assert _disjoint(spec_a.case_by, spec_b.case_by), (a, b)


def test_01_xld_2024_column_1_is_the_total_to_handle() -> None:
    """A 2024 template's top header says "carried over" where the code says "total to handle"."""
    form = catalogue().version("01/XLD", "TT01-2024")
    assert form is not None
    total, carried = form.columns[0], form.columns[1]
    assert total.compute.sum_of == [2, 3]
    assert "chuyển sang" not in " ".join((*total.group, total.label)).lower()
    assert carried.label == "Kỳ trước chuyển sang"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_carried_over_comes_from_the_history_not_todays_state(path: Path) -> None:
    """Carried-over columns use the 'carried_over' scope (state as of the period's start), never a state filter."""
    for column in load_form(path).columns:
        spec = column.compute.count
        if "chuyển sang" in " ".join((*column.group, column.label)).lower() and spec is not None:
            assert spec.scope == "carried_over", column.number
            assert "state" not in spec.where, column.number


def test_the_header_tree_spans_the_columns_of_each_group() -> None:
    form = catalogue().version("01/TCD", "TT02-2021")
    assert form is not None
    top = form.header()
    assert [(c.label, c.first, c.last) for c in top] == [
        ("Tổng số", 1, 3),
        ("Tiếp thường xuyên", 4, 11),
        ("Tiếp định kỳ và đột xuất của Thủ trưởng", 12, 29),
        ("Ghi chú", 30, 30),
    ]
    assert form.header_depth == 4
    assert (top[3].row, top[3].rows) == (0, 4)
    head = top[2]
    assert [(c.label, c.first, c.last) for c in head.children] == [
        ("Thủ trưởng tiếp", 12, 20),
        ("Ủy quyền tiếp", 21, 29),
    ]
    cases = head.children[0].children[3]
    assert (cases.label, cases.first, cases.last, cases.row) == ("Số vụ việc", 15, 16, 2)
    assert [(c.label, c.row, c.rows) for c in cases.children] == [("Tiếp lần đầu", 3, 1), ("Tiếp nhiều lần", 3, 1)]


def test_a_form_version_can_key_a_cache() -> None:
    form = catalogue().version("01/TCD", "TT02-2021")
    assert form is not None
    again = load_form(FORMS_DIR / "01-TCD.TT02-2021.json")
    assert again == form
    assert {form: 1}[again] == 1
    assert len({*form.columns, *again.columns}) == 30
