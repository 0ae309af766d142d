"""Form data files: columns 1..N with Vietnamese labels, identities that parse and mean what they say."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest

from models.forms import FORMS_DIR, catalogue, load_form, parse_identity

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
