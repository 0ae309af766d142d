"""A computed form laid out like the official paper form: XLSX for people, CSV for spreadsheets.

The input is a computed result as the report requests return it (CONTRACT.md):
``{"columns": {"1": n, ...}, "children": [{"unit": code, "columns": {...}}, ...]}``,
with the form version it was computed for and the names that go on the page. The
XLSX has the title, unit and period lines, the header built from the form's header
tree as merged cells over several rows, the row of column numbers, one row per child
unit and the total row ("Tổng cộng"). The CSV carries the same figures, one header
line of column numbers and labels, in UTF-8 with a BOM so Excel shows Vietnamese.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from models.forms import Column, FormVersion, HeaderCell

TOTAL_LABEL = "Tổng cộng"
LEAD = ("Mã đơn vị", "Tên đơn vị")  # the two columns before the form's own, numbered A and B
COUNT_FORMAT = "#,##0"
AMOUNT_FORMAT = "#,##0.00"
FIRST_HEADER_ROW = 6
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTRED = Alignment(horizontal="center", vertical="center", wrap_text=True)

Figure = int | float | Decimal | str | None


@dataclass(frozen=True)
class UnitRow:
    code: str
    name: str
    columns: Mapping[str, Figure]


@dataclass(frozen=True)
class Report:
    """What one exported file shows: a form computed for a unit's subtree over a period."""

    form: FormVersion
    unit_code: str
    unit_name: str
    period: str
    starts_on: dt.date
    ends_on: dt.date
    total: Mapping[str, Figure]
    children: Sequence[UnitRow] = field(default_factory=tuple)

    @classmethod
    def from_result(
        cls,
        form: FormVersion,
        result: Mapping[str, Any],
        *,
        unit: tuple[str, str],
        period: str,
        starts_on: dt.date,
        ends_on: dt.date,
        names: Mapping[str, str] | None = None,
    ) -> Report:
        """Build from a report request's ``result``; ``names`` maps child unit codes to their names."""
        names = names or {}
        children = tuple(
            UnitRow(child["unit"], names.get(child["unit"], ""), child.get("columns", {}))
            for child in result.get("children", ())
        )
        return cls(form, unit[0], unit[1], period, starts_on, ends_on, result.get("columns", {}), children)

    def rows(self) -> list[tuple[str, str, Mapping[str, Figure]]]:
        """Children in order, then the total row."""
        return [(c.code, c.name, c.columns) for c in self.children] + [("", TOTAL_LABEL, self.total)]


def value(column: Column, figures: Mapping[str, Figure]) -> Figure:
    """A column's figure as the sheet shows it: absent numbers are 0, absent notes empty."""
    raw = figures.get(str(column.number))
    if not column.numeric:
        return "" if raw is None else str(raw)
    if raw is None:
        return 0
    return float(raw) if isinstance(raw, Decimal) else raw


def render_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook (one sheet), laid out like the official form."""
    book = Workbook()
    sheet = book.active
    sheet.title = report.form.code.replace("/", "-")
    width = len(LEAD) + len(report.form.columns)
    _title_lines(sheet, report, width)
    _header(sheet, report.form)
    numbers_row = FIRST_HEADER_ROW + report.form.header_depth
    _numbers(sheet, report.form, numbers_row)
    last_row = _body(sheet, report, numbers_row + 1)
    _signatures(sheet, last_row + 2, width)
    _widths(sheet, report.form)
    _page(sheet, numbers_row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _title_lines(sheet: Any, report: Report, width: int) -> None:
    form = report.form
    sheet.cell(row=1, column=1, value=f"Đơn vị báo cáo: {report.unit_name} ({report.unit_code})").font = Font(bold=True)
    corner_at = max(width - 2, 2)
    corner = sheet.cell(row=1, column=corner_at, value=f"Biểu số {form.code}")
    corner.font = Font(bold=True)
    sheet.merge_cells(start_row=1, start_column=corner_at, end_row=1, end_column=width)
    start, end = report.starts_on.strftime("%d/%m/%Y"), report.ends_on.strftime("%d/%m/%Y")
    lines = [
        (2, form.title.upper(), Font(bold=True, size=13)),
        (3, f"Kỳ báo cáo {report.period} (số liệu tính từ ngày {start} đến ngày {end})", Font(italic=True)),
        (4, f"Ban hành kèm theo {form.circular}; phiên bản {form.version}", Font(italic=True, size=9)),
    ]
    for row, text, font in lines:
        cell = sheet.cell(row=row, column=1, value=text)
        cell.font = font
        cell.alignment = Alignment(horizontal="center")
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)


def _header(sheet: Any, form: FormVersion) -> None:
    depth = form.header_depth
    for offset, label in enumerate(LEAD, start=1):
        _merged(sheet, FIRST_HEADER_ROW, offset, FIRST_HEADER_ROW + depth - 1, offset, label)
    for cell in _walk(form.header()):
        top = FIRST_HEADER_ROW + cell.row
        _merged(sheet, top, _xl(cell.first), top + cell.rows - 1, _xl(cell.last), cell.label)


def _walk(cells: Sequence[HeaderCell]) -> list[HeaderCell]:
    out: list[HeaderCell] = []
    for cell in cells:
        out += [cell, *_walk(cell.children)]
    return out


def _merged(sheet: Any, top: int, left: int, bottom: int, right: int, label: str) -> None:
    sheet.cell(row=top, column=left, value=label)
    if (top, left) != (bottom, right):
        sheet.merge_cells(start_row=top, start_column=left, end_row=bottom, end_column=right)
    for row in range(top, bottom + 1):
        for col in range(left, right + 1):
            box = sheet.cell(row=row, column=col)
            box.border = _BOX
            box.alignment = _CENTRED
            box.font = Font(bold=True)


def _numbers(sheet: Any, form: FormVersion, row: int) -> None:
    marks: list[str | int] = ["A", "B", *(c.number for c in form.columns)]
    for col, mark in enumerate(marks, start=1):
        cell = sheet.cell(row=row, column=col, value=mark)
        cell.border = _BOX
        cell.alignment = _CENTRED
        cell.font = Font(italic=True)


def _body(sheet: Any, report: Report, first_row: int) -> int:
    """The children and the total; returns the total's row."""
    rows = report.rows()
    for i, (code, name, figures) in enumerate(rows):
        row = first_row + i
        total = i == len(rows) - 1
        _text(sheet.cell(row=row, column=1), code)
        _text(sheet.cell(row=row, column=2), name)
        for column in report.form.columns:
            cell = sheet.cell(row=row, column=_xl(column.number))
            if column.numeric:
                cell.value = value(column, figures)
                cell.number_format = AMOUNT_FORMAT if column.kind == "amount" else COUNT_FORMAT
            else:
                _text(cell, str(value(column, figures)))
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        for col in range(1, len(LEAD) + len(report.form.columns) + 1):
            cell = sheet.cell(row=row, column=col)
            cell.border = _BOX
            if total:
                cell.font = Font(bold=True)
    last = first_row + len(rows) - 1
    sheet.merge_cells(start_row=last, start_column=1, end_row=last, end_column=2)
    sheet.cell(row=last, column=1, value=TOTAL_LABEL).alignment = Alignment(horizontal="center")
    return last


def _text(cell: Any, text: str) -> None:
    """Text typed by people (names, notes) stays text: "=..." must never become a formula."""
    cell.value = text or None
    if text:
        cell.data_type = "s"


def _signatures(sheet: Any, row: int, width: int) -> None:
    """Who signs the paper form: the preparer on the left, the head of the unit on the right."""
    half = width // 2
    for left, right, title, hint in (
        (1, half, "NGƯỜI LẬP BIỂU", "(Ký, ghi rõ họ tên)"),
        (half + 1, width, "THỦ TRƯỞNG ĐƠN VỊ", "(Ký tên, đóng dấu)"),
    ):
        for offset, text, font in ((0, title, Font(bold=True)), (1, hint, Font(italic=True))):
            cell = sheet.cell(row=row + offset, column=left, value=text)
            cell.font = font
            cell.alignment = Alignment(horizontal="center")
            sheet.merge_cells(start_row=row + offset, start_column=left, end_row=row + offset, end_column=right)


def _page(sheet: Any, numbers_row: int) -> None:
    """Landscape, one page wide, the header repeated on every printed page; panes frozen below it."""
    sheet.freeze_panes = sheet.cell(row=numbers_row + 1, column=len(LEAD) + 1)
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.print_title_rows = f"{FIRST_HEADER_ROW}:{numbers_row}"


def _widths(sheet: Any, form: FormVersion) -> None:
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 32
    for column in form.columns:
        sheet.column_dimensions[get_column_letter(_xl(column.number))].width = 11 if column.numeric else 30


def _xl(number: int) -> int:
    """The sheet column of a form column: after the unit code and name."""
    return number + len(LEAD)


def csv_header(form: FormVersion) -> list[str]:
    """``(4) Tiếp thường xuyên > Số lượt tiếp``: the number and the full header path, never ambiguous."""
    return [*LEAD, *(f"({c.number}) {' > '.join((*c.group, c.label))}" for c in form.columns)]


def render_csv(report: Report) -> bytes:
    """The report as CSV in UTF-8 with a BOM: a header line, one line per child, the total line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(csv_header(report.form))
    for code, name, figures in report.rows():
        cells = [
            _plain(value(c, figures)) if c.numeric else _inert(str(value(c, figures))) for c in report.form.columns
        ]
        writer.writerow([_inert(code), _inert(name), *cells])
    return out.getvalue().encode("utf-8-sig")


def _plain(figure: Figure) -> str:
    if isinstance(figure, float) and figure.is_integer():
        return str(int(figure))
    return "" if figure is None else str(figure)


def _inert(text: str) -> str:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
