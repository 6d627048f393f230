"""Text that spreadsheet programs must show as text and never run as a formula (CSV and formula injection).

Names in our exports come from outside: a device's catalog names its channels, an operator types a reason. Opened in
Excel or WPS, a CSV cell beginning with = + - @ (or a tab or carriage return) is evaluated as a formula, and openpyxl
writes any string beginning with = as one. CSV cells that could be read so get a leading apostrophe (what the
spreadsheet programs themselves use to mean "text"), and our own CSV reader takes it off again, so an export imports
back unchanged; in .xlsx the cell is simply typed as text.
"""

from __future__ import annotations

from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """The text as a CSV cell that a spreadsheet program shows as written (text already so marked gets one more
    apostrophe, so that reading it back is exact)."""
    return "'" + text if text.lstrip("'").startswith(_FORMULA_START) else text


def csv_cells(cells: list[Any]) -> list[Any]:
    """A row with every string made safe; numbers and the rest stay as they are."""
    return [csv_cell(cell) if isinstance(cell, str) else cell for cell in cells]


def from_csv_cell(text: str) -> str:
    """Undo `csv_cell`: a file we exported reads back as what was exported."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(_FORMULA_START) else text


def keep_as_text(cell: Any) -> Any:
    """An openpyxl cell whose string value begins with = stays text instead of becoming a formula."""
    if cell.data_type == "f":
        cell.data_type = "s"
    return cell


def without_formulas(workbook: Any) -> Any:
    """Every cell of a (normal-mode) openpyxl workbook that would be a formula kept as text: reports have none."""
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                keep_as_text(cell)
    return workbook
