"""Plan progress as people read it: a text table, a JSON-able dict, and an Excel workbook (a sheet per section)."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from tianyan.core.sheet_text import without_formulas
from tianyan.planning.progress import Measure, PlanProgress, UnitProgress
from tianyan.planning.rules import MilestoneResult

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("table", "json", "xlsx")

METRIC_LABELS = {
    "class1": "class 1",
    "class2": "class 2",
    "hd_checkpoints": "HD checkpoints",
    "police_hd_cameras": "police HD cameras",
    "police_1080p_cameras": "of which 1080P",
    "social_cameras": "social cameras",
    "hd_share_of_new_class1": "HD share of new class 1",
    "hd_share_of_new_class2": "HD share of new class 2",
}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --- JSON ---------------------------------------------------------------------------------------------


def _milestone_dict(m: MilestoneResult) -> dict[str, Any]:
    return {
        "by": m.by.isoformat(), "min_share": m.min_share, "needed": m.needed, "built": m.built,
        "share": _round(m.share), "status": m.status, "on_track": m.on_track,
    }  # fmt: skip


def _measure_dict(m: Measure) -> dict[str, Any]:
    return {
        "target": m.target, "built": m.built, "share": _round(m.share), "gap": m.gap,
        "milestones": [_milestone_dict(x) for x in m.milestones],
    }  # fmt: skip


def _unit_dict(u: UnitProgress) -> dict[str, Any]:
    return {
        "unit": u.unit, "region_code": u.region_code, "matched_by": u.matched_by, "note": u.note,
        "measures": {m.metric: _measure_dict(m) for m in u.measures},
    }  # fmt: skip


def as_dict(p: PlanProgress) -> dict[str, Any]:
    """The report as JSON-able data; shares are fractions (0.3 = 30 %) rounded to four places."""
    return {
        "plan": p.plan_id,
        "title": p.title,
        "shape": p.shape,
        "at": p.at.isoformat(),
        "period": {"start": _iso(p.period_start), "end": _iso(p.period_end)},
        "units": [_unit_dict(u) for u in p.units],
        "totals": _unit_dict(p.totals) if p.totals else None,
        "rates": [
            {"unit": r.unit, "metric": r.metric, "count": r.count, "of": r.of, "share": _round(r.share),
             "min_share": r.min_share, "needed": r.needed, "status": r.status, "deadline": _iso(r.deadline)}
            for r in p.rates
        ],
        "sectors": [
            {"lead": s.lead, "scope": s.scope, "sector_codes": list(s.sector_codes), "points": s.verdict.points,
             "integrated": s.verdict.integrated, "share": _round(s.verdict.share), "min_share": s.verdict.min_share,
             "min_points": s.verdict.min_points, "needed_for_share": s.verdict.needed_for_share,
             "pass": s.verdict.passed, "passed_by": s.verdict.passed_by, "note": s.note}
            for s in p.sectors
        ],
        "not_measurable": list(p.not_measurable),
        "notes": list(p.notes),
    }  # fmt: skip


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


# --- sections shared by the text table and the workbook -------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    share_columns: frozenset[int] = field(default_factory=frozenset)  # shown as percentages
    in_table: bool = True


def _milestone_cell(m: MilestoneResult) -> str:
    text = f"{m.status} {m.built}/{m.needed}"
    return text + (" (on track)" if m.on_track else "")


def _progress_section(p: PlanProgress) -> Section | None:
    units = [*p.units, *([p.totals] if p.totals else [])]
    if not units:
        return None
    dates = sorted({(m.by, m.min_share) for u in units for x in u.measures for m in x.milestones})
    columns = ["unit", "region", "metric", "target", "built", "share", "to build"]
    columns += [f"by {by.isoformat()} ≥{min_share:.0%}" for by, min_share in dates]
    rows = []
    for u in units:
        for x in u.measures:
            cells: list[Any] = [u.unit, u.region_code or "-", METRIC_LABELS.get(x.metric, x.metric), x.target,
                                x.built, x.share, x.gap]  # fmt: skip
            found = {(m.by, m.min_share): m for m in x.milestones}
            cells += [_milestone_cell(found[d]) if d in found else None for d in dates]
            rows.append(cells)
    return Section("Built vs target", columns, rows, share_columns=frozenset({5}))


def _milestone_section(p: PlanProgress) -> Section | None:
    units = [*p.units, *([p.totals] if p.totals else [])]
    rows = [
        [u.unit, METRIC_LABELS.get(x.metric, x.metric), m.by.isoformat(), m.min_share, m.target, m.needed, m.built,
         m.share, m.status, m.on_track]
        for u in units for x in u.measures for m in x.milestones
    ]  # fmt: skip
    if not rows:
        return None
    columns = ["unit", "metric", "by", "min share", "target", "needed", "built", "share", "status", "on track"]
    return Section("Milestones", columns, rows, share_columns=frozenset({3, 7}), in_table=False)


def _rate_section(p: PlanProgress) -> Section | None:
    if not p.rates:
        return None
    rows = [
        [r.unit, METRIC_LABELS.get(r.metric, r.metric), r.count, r.of, r.share, r.min_share, r.needed, r.status]
        for r in p.rates
    ]
    columns = ["unit", "metric", "count", "of", "share", "min share", "needed", "status"]
    return Section("Shares", columns, rows, share_columns=frozenset({4, 5}))


def _sector_section(p: PlanProgress) -> Section | None:
    if not p.sectors:
        return None
    rows = [
        [s.lead, s.verdict.points, s.verdict.integrated, s.verdict.share, s.verdict.min_share, s.verdict.min_points,
         s.verdict.needed_for_share, ("pass by " + s.verdict.passed_by) if s.verdict.passed_by else "fail"]
        for s in p.sectors
    ]  # fmt: skip
    columns = ["lead department", "points", "integrated", "share", "min share", "min points", "needed", "result"]
    return Section("Industry integration", columns, rows, share_columns=frozenset({3, 4}))


def sections(p: PlanProgress) -> list[Section]:
    found = [_progress_section(p), _milestone_section(p), _rate_section(p), _sector_section(p)]
    return [s for s in found if s is not None]


def _summary_lines(p: PlanProgress) -> list[str]:
    period = f" (plan period {_iso(p.period_start)} .. {_iso(p.period_end)})" if p.period_start else ""
    lines = [p.title, f"plan {p.plan_id} at {p.at.isoformat()}{period}"]
    lines += [f"not measurable yet: {item}" for item in p.not_measurable]
    lines += [f"note: {note}" for note in p.notes]
    lines += [f"note: {u.unit}: {u.note}" for u in p.units if u.note]
    unmatched = [s.lead for s in p.sectors if s.verdict.points == 0 and not s.sector_codes]
    if unmatched:
        lines.append(f"note: no sector organisation is named {'; '.join(unmatched)}: counted as zero")
    return lines


# --- text table -----------------------------------------------------------------------------------------


def _text(value: Any, share: bool) -> str:
    if value is None:
        return "-"
    if share and isinstance(value, float | int):
        return f"{value:.1%}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def as_table(p: PlanProgress) -> str:
    lines = _summary_lines(p)
    for section in sections(p):
        if not section.in_table:
            continue
        cells = [[_text(v, i in section.share_columns) for i, v in enumerate(row)] for row in section.rows]
        widths = [max(_width(c) for c in column) for column in zip(section.columns, *cells, strict=True)]
        lines += ["", section.title]
        for row in [section.columns, *cells]:
            lines.append("  ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


# --- workbook -------------------------------------------------------------------------------------------


def as_xlsx(p: PlanProgress) -> bytes:
    workbook = Workbook()
    summary = workbook.active
    assert summary is not None
    summary.title = "Summary"
    for line in _summary_lines(p):
        summary.append([line])
    summary.column_dimensions["A"].width = 100
    bold = Font(bold=True)
    for section in sections(p):
        sheet = workbook.create_sheet(section.title[:31])
        sheet.append(section.columns)
        for cell in sheet[1]:
            cell.font = bold
        for row in section.rows:
            sheet.append(row)
        for index in section.share_columns:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
                cell.number_format = "0.0%"
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    without_formulas(workbook).save(out)
    return out.getvalue()
