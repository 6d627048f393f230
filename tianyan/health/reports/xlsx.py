"""A KPI document as an Excel workbook: a summary sheet (cover, figures, verdicts coloured pass/fail), a sheet per
breakdown with a bar chart, the daily trend with a line chart, the worst cameras, and the work orders with a chart
per fault kind. Charts are native Excel charts drawn from the sheet's own cells."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from tianyan.core.sheet_text import without_formulas
from tianyan.health.reports.document import KpiDocument
from tianyan.health.reports.sections import (
    STATUS_LABELS,
    Section,
    breakdown_sections,
    cover_lines,
    figures_section,
    orders_by_fault_section,
    orders_section,
    trend_section,
    verdicts_section,
    worst_section,
)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
_STATUS_FILLS = {
    STATUS_LABELS["pass"]: PatternFill("solid", fgColor="C6EFCE"),
    STATUS_LABELS["fail"]: PatternFill("solid", fgColor="FFC7CE"),
    STATUS_LABELS["n/a"]: PatternFill("solid", fgColor="EDEDED"),
}
_SHEET_NAME_BAD = re.compile(r"[\\/?*\[\]:]")
# Rates charted per group and per day: online, integrity, recording completeness.
_CHARTED = 3


def _sheet_title(text: str) -> str:
    return _SHEET_NAME_BAD.sub("-", text)[:31]


def _write(sheet: Worksheet, section: Section, row: int, *, title: bool = True) -> tuple[int, int]:
    """Write `section` from `row` down; returns its header row and last row."""
    if title:
        sheet.cell(row=row, column=1, value=section.title).font = Font(bold=True, size=12)
        row += 1
    header = row
    for column, name in enumerate(section.columns, start=1):
        cell = sheet.cell(row=header, column=column, value=name)
        cell.font, cell.fill = _BOLD, _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for offset, values in enumerate(section.rows, start=1):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=header + offset, column=column, value=value)
            if column - 1 in section.share_columns:
                cell.number_format = "0.0%"
            if value in _STATUS_FILLS:
                cell.fill = _STATUS_FILLS[value]
        if section.total_row and offset == len(section.rows):
            for cell in sheet[header + offset]:
                cell.font = _BOLD
    return header, header + len(section.rows)


def _widths(sheet: Worksheet, widths: dict[int, float]) -> None:
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = width


def _rate_axis(chart: BarChart | LineChart) -> None:
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    chart.y_axis.number_format = "0%"
    chart.y_axis.title = "rate"
    # openpyxl 3.1 leaves axes "deleted" unless told otherwise, and Excel then hides them.
    chart.x_axis.delete = False
    chart.y_axis.delete = False


def _summary(workbook: Workbook, doc: KpiDocument) -> None:
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "概要 Summary"
    sheet.cell(row=1, column=1, value=doc.title).font = Font(bold=True, size=14)
    row = 2
    for label, text in cover_lines(doc):
        sheet.cell(row=row, column=1, value=label).font = _BOLD
        sheet.cell(row=row, column=2, value=text)
        row += 1
    header, last = _write(sheet, figures_section(doc), row + 1)
    chart = BarChart()
    chart.type = "bar"
    chart.title = "指标 · Figures"
    chart.legend = None
    chart.add_data(Reference(sheet, min_col=2, min_row=header, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=header + 1, max_row=last))
    _rate_axis(chart)
    chart.x_axis.scaling.orientation = "maxMin"  # the first KPI at the top, as in the table
    chart.width, chart.height = 16, 8
    sheet.add_chart(chart, "K2")  # right of the verdicts table
    verdicts = verdicts_section(doc)
    if verdicts is not None:
        _write(sheet, verdicts, last + 2)
    _widths(sheet, {1: 30, 2: 34, 3: 40, 4: 10, 5: 9, 6: 14, 7: 12, 8: 50, 9: 50})
    sheet.freeze_panes = "A2"


def _breakdown(workbook: Workbook, section: Section) -> None:
    sheet = workbook.create_sheet(_sheet_title(section.title))
    header, last = _write(sheet, section, 1, title=False)
    groups_last = last - 1 if section.total_row else last
    _widths(sheet, {1: 24, **{c: 14 for c in range(2, len(section.columns) + 1)}})
    sheet.freeze_panes = sheet.cell(row=header + 1, column=2)
    if groups_last <= header:
        return
    chart = BarChart()
    chart.type = "col"
    chart.title = section.title
    chart.add_data(Reference(sheet, min_col=3, max_col=2 + _CHARTED, min_row=header, max_row=groups_last),
                   titles_from_data=True)  # fmt: skip
    chart.set_categories(Reference(sheet, min_col=1, min_row=header + 1, max_row=groups_last))
    _rate_axis(chart)
    chart.width, chart.height = 24, 12
    sheet.add_chart(chart, f"A{last + 3}")


def _trend(workbook: Workbook, section: Section) -> None:
    sheet = workbook.create_sheet(_sheet_title(section.title))
    header, last = _write(sheet, section, 1, title=False)
    _widths(sheet, {1: 12, 2: 10, 3: 18, 4: 18, 5: 22, 6: 16})
    sheet.freeze_panes = "A2"
    chart = LineChart()
    chart.title = section.title
    chart.add_data(Reference(sheet, min_col=3, max_col=2 + _CHARTED, min_row=header, max_row=last),
                   titles_from_data=True)  # fmt: skip
    chart.set_categories(Reference(sheet, min_col=1, min_row=header + 1, max_row=last))
    _rate_axis(chart)
    chart.width, chart.height = 26, 12
    sheet.add_chart(chart, "H2")


def _worst(workbook: Workbook, section: Section) -> None:
    sheet = workbook.create_sheet(_sheet_title(section.title))
    _write(sheet, section, 1, title=False)
    _widths(sheet, {1: 22, 2: 28, 3: 7, 4: 14, 5: 10, 6: 14, 7: 14, 8: 20, 9: 16, 10: 22})
    sheet.freeze_panes = "C2"


def _orders(workbook: Workbook, doc: KpiDocument) -> None:
    sheet = workbook.create_sheet("工单 Work orders")
    by_fault = orders_by_fault_section(doc)
    header, last = _write(sheet, by_fault, 1)
    _, _ = _write(sheet, orders_section(doc), last + 3)
    _widths(sheet, {1: 30, 2: 14, 3: 22, 4: 10, 5: 10, 6: 10, 7: 10})
    chart = BarChart()
    chart.type = "col"
    chart.title = by_fault.title
    chart.add_data(Reference(sheet, min_col=2, max_col=4, min_row=header, max_row=last - 1), titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=header + 1, max_row=last - 1))
    chart.y_axis.title = "orders"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.width, chart.height = 18, 9
    sheet.add_chart(chart, "I2")


def as_xlsx(doc: KpiDocument) -> bytes:
    workbook = Workbook()
    _summary(workbook, doc)
    for section in breakdown_sections(doc):
        _breakdown(workbook, section)
    trend = trend_section(doc)
    if trend is not None:
        _trend(workbook, trend)
    worst = worst_section(doc)
    if worst is not None:
        _worst(workbook, worst)
    _orders(workbook, doc)
    out = io.BytesIO()
    without_formulas(workbook).save(out)
    return out.getvalue()
