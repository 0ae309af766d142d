"""XLSX and CSV of a computed form, opened back and read cell by cell."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from models.form_export import FIRST_HEADER_ROW, Report, render_csv, render_xlsx
from models.forms import FORMS_DIR, FormVersion, HeaderCell, catalogue, load_form

RESULT = {
    "columns": {
        "1": 12,
        "2": 15,
        "3": 9,
        "4": 10,
        "5": 13,
        "6": 7,
        "8": 1,
        "9": 5,
        "13": 2,
        "30": "1 kỳ tiếp không ai đến",
    },
    "children": [
        {"unit": "79", "columns": {"1": 8, "2": 10, "4": 7, "5": 9}},
        {"unit": "80", "columns": {"1": 4, "2": 5, "4": 3, "5": 4, "30": "ghi chú riêng"}},
    ],
}
VERSIONS = [(f.code, f.version) for f in map(load_form, sorted(FORMS_DIR.glob("*.json")))]
NAMES = {"79": "Thành phố Hồ Chí Minh", "80": "Tỉnh Tây Ninh"}


def form(code: str, version: str) -> FormVersion:
    found = catalogue().version(code, version)
    assert found is not None
    return found


def report(code: str = "01/TCD", version: str = "TT02-2021", result: dict[str, Any] | None = None) -> Report:
    return Report.from_result(
        form(code, version),
        RESULT if result is None else result,
        unit=("VN", "Thanh tra Chính phủ"),
        period="2026-Q4",
        starts_on=dt.date(2026, 9, 15),
        ends_on=dt.date(2026, 12, 14),
        names=NAMES,
    )


def sheet_of(data: bytes) -> Any:
    return openpyxl.load_workbook(io.BytesIO(data)).active


def merged(sheet: Any) -> set[str]:
    return {str(r) for r in sheet.merged_cells.ranges}


def test_01_tcd_xlsx_is_laid_out_like_the_paper_form() -> None:
    sheet = sheet_of(render_xlsx(report()))
    assert sheet.title == "01-TCD"
    assert sheet["A1"].value == "Đơn vị báo cáo: Thanh tra Chính phủ (VN)"
    assert sheet["AD1"].value == "Biểu số 01/TCD"
    assert sheet["A2"].value == "TỔNG HỢP KẾT QUẢ TIẾP CÔNG DÂN THƯỜNG XUYÊN, ĐỊNH KỲ VÀ ĐỘT XUẤT"
    assert sheet["A3"].value == "Kỳ báo cáo 2026-Q4 (số liệu tính từ ngày 15/09/2026 đến ngày 14/12/2026)"
    assert "Thông tư 02/2021/TT-TTCP" in sheet["A4"].value
    # Header: four rows (6-9). Form column n sits in sheet column n + 2, after the unit's code and name.
    cells = merged(sheet)
    expected = {
        "A6:A9": "Mã đơn vị",
        "B6:B9": "Tên đơn vị",
        "C6:E6": "Tổng số",
        "C7:C9": "Tổng số lượt tiếp",
        "F6:M6": "Tiếp thường xuyên",
        "F7:F9": "Số lượt tiếp",
        "H7:I7": "Số vụ việc",
        "J7:M7": "Trong đó đoàn đông người",
        "N6:AE6": "Tiếp định kỳ và đột xuất của Thủ trưởng",
        "N7:V7": "Thủ trưởng tiếp",
        "W7:AE7": "Ủy quyền tiếp",
        "N8:N9": "Số kỳ tiếp",
        "Q8:R8": "Số vụ việc",
        "AF6:AF9": "Ghi chú",
    }
    for span, label in expected.items():
        assert span in cells, span
        assert sheet[span.split(":")[0]].value == label, span
    assert sheet["H8"].value == "Tiếp lần đầu"
    assert sheet["I8"].value == "Tiếp nhiều lần"
    assert "H8:H9" in cells
    # The row of column numbers, then the children, then the total.
    assert [c.value for c in sheet[10]] == ["A", "B", *range(1, 31)]
    assert [sheet.cell(row=11, column=c).value for c in (1, 2, 3, 4, 6, 7)] == ["79", NAMES["79"], 8, 10, 7, 9]
    assert [sheet.cell(row=12, column=c).value for c in (1, 2, 3, 6, 32)] == ["80", NAMES["80"], 4, 3, "ghi chú riêng"]
    assert sheet["A13"].value == "Tổng cộng"
    assert "A13:B13" in cells
    assert [sheet.cell(row=13, column=n + 2).value for n in (1, 2, 3, 4, 5, 8, 9, 12, 13)] == [
        12,
        15,
        9,
        10,
        13,
        1,
        5,
        0,
        2,
    ]
    assert sheet["AF13"].value == "1 kỳ tiếp không ai đến"
    assert sheet["C13"].number_format == "#,##0"
    assert sheet["C13"].font.bold
    assert sheet.freeze_panes == "C11"
    # Signatures under the table, and a page that prints like the paper form.
    assert (sheet["A15"].value, sheet["A16"].value) == ("NGƯỜI LẬP BIỂU", "(Ký, ghi rõ họ tên)")
    assert (sheet["Q15"].value, sheet["Q16"].value) == ("THỦ TRƯỞNG ĐƠN VỊ", "(Ký tên, đóng dấu)")
    assert {"A15:P15", "Q15:AF15"} <= cells
    assert sheet.max_row == 16
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == "$6:$10"


def test_amounts_keep_their_decimals() -> None:
    result = {"columns": {"7": Decimal("1250.5"), "8": 300, "1": 4, "2": 1, "3": 3}, "children": []}
    sheet = sheet_of(render_xlsx(report("01/KQGQ", "TT02-2021", result)))
    numbers_row = FIRST_HEADER_ROW + form("01/KQGQ", "TT02-2021").header_depth
    assert sheet.cell(row=numbers_row, column=9).value == 7
    money, land = sheet.cell(row=numbers_row + 1, column=9), sheet.cell(row=numbers_row + 1, column=10)
    assert (money.value, land.value) == (1250.5, 300)
    assert money.number_format == "#,##0.00"
    assert sheet.cell(row=numbers_row + 1, column=1).value == "Tổng cộng"
    assert sheet.cell(row=6, column=9).value == "Kiến nghị thu hồi cho Nhà nước"
    assert sheet.cell(row=7, column=9).value == "Tiền (triệu đồng)"


def _walk(cells: tuple[HeaderCell, ...]) -> list[HeaderCell]:
    out: list[HeaderCell] = []
    for cell in cells:
        out += [cell, *_walk(cell.children)]
    return out


@pytest.mark.parametrize(("code", "version"), VERSIONS, ids=["-".join(v) for v in VERSIONS])
def test_every_form_prints_its_whole_header_tree(code: str, version: str) -> None:
    shape = form(code, version)
    sheet = sheet_of(render_xlsx(report(code, version, {"columns": {}, "children": []})))
    cells = merged(sheet)
    for cell in _walk(shape.header()):
        top, left = FIRST_HEADER_ROW + cell.row, cell.first + 2
        bottom, right = top + cell.rows - 1, cell.last + 2
        assert sheet.cell(row=top, column=left).value == cell.label
        if (top, left) != (bottom, right):
            span = f"{get_column_letter(left)}{top}:{get_column_letter(right)}{bottom}"
            assert span in cells, (cell.label, span)
    numbers = FIRST_HEADER_ROW + shape.header_depth
    assert [c.value for c in sheet[numbers]][2:] == [c.number for c in shape.columns]
    total = [c.value for c in sheet[numbers + 1]]
    assert total[0] == "Tổng cộng"
    assert all(v == 0 for v, c in zip(total[2:], shape.columns, strict=True) if c.numeric)


def test_csv_has_a_bom_numbered_labels_and_the_same_rows() -> None:
    data = render_csv(report())
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, *body = rows
    assert header[:2] == ["Mã đơn vị", "Tên đơn vị"]
    assert header[2] == "(1) Tổng số > Tổng số lượt tiếp"
    assert header[5] == "(4) Tiếp thường xuyên > Số lượt tiếp"
    assert header[15] == "(14) Tiếp định kỳ và đột xuất của Thủ trưởng > Thủ trưởng tiếp > Số người được tiếp"
    assert header[-1] == "(30) Ghi chú"
    assert len(header) == 32
    assert [row[:4] for row in body] == [
        ["79", NAMES["79"], "8", "10"],
        ["80", NAMES["80"], "4", "5"],
        ["", "Tổng cộng", "12", "15"],
    ]
    assert body[2][-1] == "1 kỳ tiếp không ai đến"
    assert body[0][-1] == ""
    assert body[0][12] == "0"


def test_csv_writes_amounts_as_plain_decimals() -> None:
    result = {"columns": {"7": Decimal("1250.5"), "8": 300.0}, "children": []}
    rows = list(csv.reader(io.StringIO(render_csv(report("01/KQGQ", "TT02-2021", result)).decode("utf-8-sig"))))
    assert rows[0][8] == "(7) Kiến nghị thu hồi cho Nhà nước > Tiền (triệu đồng)"
    assert rows[1][8:10] == ["1250.5", "300"]


def test_text_typed_by_people_never_becomes_a_formula() -> None:
    risky = '=HYPERLINK("http://example.invalid","bấm vào đây")'
    result = {"columns": {"1": 1, "4": 1, "30": risky}, "children": [{"unit": "+79", "columns": {"30": "@SUM(A1)"}}]}
    sheet = sheet_of(render_xlsx(report(result=result)))
    assert (sheet["AF12"].value, sheet["AF12"].data_type) == (risky, "s")  # the total row: one child above it
    assert (sheet["A11"].value, sheet["A11"].data_type) == ("+79", "s")
    assert (sheet["AF11"].value, sheet["AF11"].data_type) == ("@SUM(A1)", "s")
    rows = list(csv.reader(io.StringIO(render_csv(report(result=result)).decode("utf-8-sig"))))
    assert (rows[1][0], rows[1][-1], rows[2][-1]) == ("'+79", "'@SUM(A1)", "'" + risky)
