"""Cells a spreadsheet program could run as formulas are written as text, and read back as written."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from tianyan.core.sheet_text import csv_cell, csv_cells, from_csv_cell, without_formulas


@pytest.mark.parametrize("text", ["=1+1", "+86 752", "-2", "@SUM(A1)", "\t=1", "\r=1", "'=1"])
def test_a_cell_that_could_be_a_formula_is_marked_as_text_and_reads_back(text: str) -> None:
    assert csv_cell(text) == "'" + text
    assert from_csv_cell(csv_cell(text)) == text


@pytest.mark.parametrize("text", ["", "惠州东门", "1+1", "a=b", "'quoted'", "'"])
def test_ordinary_text_is_untouched(text: str) -> None:
    assert csv_cell(text) == text == from_csv_cell(text)


def test_only_strings_in_a_row_are_changed() -> None:
    assert csv_cells([-1, -0.5, None, "-1", "ok"]) == [-1, -0.5, None, "'-1", "ok"]


def test_a_workbook_keeps_formula_looking_strings_as_text() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(['=HYPERLINK("http://example.invalid")', "+1", 3])
    out = io.BytesIO()
    without_formulas(workbook).save(out)
    cells = next(load_workbook(out).active.iter_rows())  # type: ignore[union-attr]
    assert [(cell.value, cell.data_type) for cell in cells] == [
        ('=HYPERLINK("http://example.invalid")', "s"), ("+1", "s"), (3, "n"),
    ]  # fmt: skip
