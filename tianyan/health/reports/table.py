"""A KPI document as plain text for a terminal: the cover lines, then each section as aligned columns."""

from __future__ import annotations

import unicodedata
from typing import Any

from tianyan.health.reports.document import KpiDocument
from tianyan.health.reports.sections import cover_lines, sections


def cell_text(value: Any, share: bool) -> str:
    if value is None:
        return "-"
    if share and isinstance(value, float | int):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def as_table(doc: KpiDocument) -> str:
    lines = [doc.title, *(f"{label}: {text}" for label, text in cover_lines(doc))]
    for section in sections(doc):
        cells = [[cell_text(v, i in section.share_columns) for i, v in enumerate(row)] for row in section.rows]
        widths = [max(_width(c) for c in column) for column in zip(section.columns, *cells, strict=True)]
        lines += ["", section.title]
        for row in [section.columns, *cells]:
            lines.append("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"
