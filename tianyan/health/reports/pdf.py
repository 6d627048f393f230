"""A KPI document as a PDF a bureau can hand to its leaders: a cover with scope, period and plan, the headline
figures and the verdicts; per breakdown (district, sector...) a bar chart of online, integrity and recording
completeness with the plan's minimums and a table of every KPI; the daily trend; the work-order statistics; the
worst cameras; and how the figures are counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator, PercentFormatter

from tianyan.health.kpi.model import Figures, GroupFigures, Verdict
from tianyan.health.reports.document import KpiDocument
from tianyan.health.reports.pdf_layout import ACCENT, INK, MARGIN_IN, MUTED, RULE, Book, Table, render, wrap
from tianyan.health.reports.periods import describe
from tianyan.health.reports.sections import (
    DIMENSION_TITLES,
    KPIS,
    STATUS_LABELS,
    Section,
    basis,
    breakdown_section,
    cover_lines,
    highlights,
    orders_by_fault_section,
    orders_section,
    worst_section,
)
from tianyan.health.reports.table import cell_text

PDF_MEDIA_TYPE = "application/pdf"
# The rates charted per group and per day, with their colours.
CHARTED = (
    ("online_rate", "在线率 online", "#1f5fa8"),
    ("integrity_rate", "完好率 integrity", "#2e9b5f"),
    ("recording_completeness", "录像完整率 recording", "#e08a1e"),
)
STATUS_COLOURS = {"pass": "#c6efce", "fail": "#ffc7ce", "n/a": "#ededed"}
# Table headings: the Chinese name and one English word, so narrow columns need not break words.
SHORT = {
    "online_rate": "在线率\nonline",
    "integrity_rate": "完好率\nintegrity",
    "recording_completeness": "录像完整率\nrecording",
    "retention_compliance": "存储达标率\nretention",
    "networking_rate": "联网率\nnetworked",
    "hd_share": "高清占比\nHD share",
    "format_compliance": "格式达标率\nformat",
}
MAX_CHART_GROUPS = 20
# Behind bar values, so a threshold line crossing them leaves them readable.
_LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 0.4, "alpha": 0.85}
DEFINITIONS = (
    "在线率 online rate: seconds online / seconds in the period, summed over the cameras (time-weighted).",
    "完好率 integrity rate: seconds online with a fault-free latest picture diagnosis / seconds in the period.",
    "录像完整率 recording completeness: recorded / planned seconds over each camera's retention window.",
    "存储达标率 retention compliance: class 1 and 2 cameras whose footage reaches back 30 (class 1) or 15 "
    "(class 2) days with completeness ≥ 99 %.",
    "联网率 networking rate: cameras reachable from the police platform / cameras.",
    "高清占比 HD share: cameras whose main stream is ≥ 1280×720 at ≥ 25 fps / cameras.",
    "格式达标率 format compliance: cameras meeting the SD minimum (D1/4CIF 704×576 at ≥ 25 fps) or HD / cameras.",
    "MTTR: mean time from the start of a fault to the closing of its work order, over orders closed in the period.",
)


def _pct(value: float | None) -> str:
    return cell_text(value, True)


def _table(section: Section, widths: Sequence[float], *, align_from: int = 1, size: float = 7.5) -> Table:
    columns = [SHORT.get(_kpi_of(c), c) for c in section.columns]
    rows = [[cell_text(v, i in section.share_columns) for i, v in enumerate(row)] for row in section.rows]
    align = ["left"] * align_from + ["right"] * (len(columns) - align_from)
    totals = frozenset({len(rows) - 1}) if section.total_row else frozenset()
    return Table(columns, rows, widths, align=align, total_rows=totals, size=size)


def _kpi_of(column: str) -> str:
    for key, zh, en in KPIS:
        if column == f"{zh} {en}":
            return key
    return column


# --- cover ---------------------------------------------------------------------------------------------------


def _cover(book: Book, doc: KpiDocument) -> None:
    book.new_page()
    book.cursor += 0.25
    chinese, _, english = doc.title.partition(" · ")
    book.text(chinese, size=20, color=ACCENT, gap=0.04)
    if english:
        book.text(english, size=13, color=ACCENT, gap=0.2)
    for label, text in cover_lines(doc):
        lines = wrap(text, (book.width_in - 1.25) * 72, 9, max_lines=3)
        book.ensure(0.24 * len(lines))
        book.put(MARGIN_IN, book.cursor + 0.16, label, fontsize=9, color=MUTED, va="baseline")
        for line in lines:
            book.put(MARGIN_IN + 1.25, book.cursor + 0.16, line, fontsize=9, color=INK, va="baseline")
            book.cursor += 0.2
        book.cursor += 0.04
    book.cursor += 0.2
    _tiles(book, doc.kpi.figures)
    book.heading("要点 · Highlights", keep_with=0.6)
    for line in highlights(doc):
        book.text(f"• {line}", size=9)
    _verdicts(book, doc)


def _tiles(book: Book, figures: Figures) -> None:
    """The seven KPIs as tiles, four to a row. Not coloured by the verdicts: those mostly judge one class, and a
    red or green figure of all cameras would say more than they do."""
    per_row, gap, tile_h = 4, 0.12, 1.15
    tile_w = (book.width_in - gap * (per_row - 1)) / per_row
    for start in range(0, len(KPIS), per_row):
        book.ensure(tile_h + gap)
        for n, (key, zh, en) in enumerate(KPIS[start : start + per_row]):
            x, y = MARGIN_IN + n * (tile_w + gap), book.cursor
            book.box(x, y, tile_w, tile_h, fill="#f7f9fc")
            book.put(x + 0.1, y + 0.2, zh, fontsize=9, color=INK, va="baseline")
            book.put(x + 0.1, y + 0.34, en, fontsize=7, color=MUTED, va="baseline")
            book.put(x + 0.1, y + 0.7, _pct(getattr(figures, key)), fontsize=20, color=ACCENT, va="baseline")
            for n_line, line in enumerate(wrap(basis(figures, key), (tile_w - 0.2) * 72, 6, max_lines=2)):
                book.put(x + 0.1, y + 0.86 + n_line * 0.11, line, fontsize=6, color=MUTED, va="baseline")
        book.cursor += tile_h + gap
    book.cursor += 0.1


def _verdicts(book: Book, doc: KpiDocument) -> None:
    kpi = doc.kpi
    if kpi.plan_id is None:
        book.text("No plan is configured (health.plan): figures are not judged against thresholds.", color=MUTED)
        return
    book.heading("考核结论 · Verdicts against the plan", keep_with=1.0)
    counts = {s: sum(v.status == s for v in kpi.verdicts) for s in ("pass", "fail", "n/a")}
    book.text(
        f"Plan {kpi.plan_id}: {counts['pass']} of {len(kpi.verdicts)} thresholds met, {counts['fail']} not met, "
        f"{counts['n/a']} without cameras to judge.",
        size=9,
    )
    if not kpi.verdicts:
        return
    columns = ["指标\nKPI", "适用\napplies to", "要求\nminimum", "实际\nvalue", "点位\ncameras", "结论\nstatus",
               "差距\ngap", "说明\nfinding"]  # fmt: skip
    rows = [
        [SHORT.get(v.kpi, v.kpi).replace("\n", " "), v.applies_to, _pct(v.minimum), _pct(v.value), str(v.cameras),
         STATUS_LABELS.get(v.status, v.status), str(v.gap_cameras), v.message]
        for v in kpi.verdicts
    ]  # fmt: skip
    fills = {(i, 5): STATUS_COLOURS.get(v.status, "white") for i, v in enumerate(kpi.verdicts)}
    align = ["left", "left", "right", "right", "right", "left", "right", "left"]
    book.table(Table(columns, rows, [1.3, 1.5, 0.8, 0.8, 0.7, 1.0, 0.6, 2.5], align=align, fills=fills),
               continued="考核结论 · Verdicts (continued)")  # fmt: skip


# --- charts --------------------------------------------------------------------------------------------------


def _minimums(verdicts: Sequence[Verdict], kpi: str) -> list[Verdict]:
    return [v for v in verdicts if v.kpi == kpi and v.status != "n/a"]


def _group_chart(axes: Axes, groups: Sequence[GroupFigures], verdicts: Sequence[Verdict]) -> None:
    """Horizontal grouped bars: a row per group, one bar per charted rate, labelled with its value."""
    count = len(groups)
    thickness = 0.8 / len(CHARTED)
    for n, (key, label, colour) in enumerate(CHARTED):
        values = [getattr(g.figures, key) for g in groups]
        positions = [i + (n - 1) * thickness for i in range(count)]
        bars = axes.barh(positions, [v or 0 for v in values], height=thickness * 0.92, color=colour, label=label)
        for bar, value in zip(bars, values, strict=True):
            if value is None:
                continue
            axes.text(bar.get_width() + 0.006, bar.get_y() + bar.get_height() / 2, _pct(value), va="center",
                      fontsize=5.8, color=MUTED, bbox=_LABEL_BOX)  # fmt: skip
        for verdict in _minimums(verdicts, key):
            axes.axvline(verdict.minimum, color=colour, linestyle="--", linewidth=0.8,
                         label=f"{verdict.applies_to} minimum {_pct(verdict.minimum)}")  # fmt: skip
    axes.set_yticks(range(count), [g.label for g in groups], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1.1)
    axes.xaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    axes.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.grid(axis="x", color=RULE, linewidth=0.4, alpha=0.6)
    axes.set_axisbelow(True)
    height_in = axes.get_position().height * axes.figure.get_size_inches()[1]
    # Below the tick labels, whatever the chart's height.
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3 / height_in), ncol=3, fontsize=7, frameon=False)


def _breakdown(book: Book, doc: KpiDocument, dimension: str, groups: list[GroupFigures], *, first: bool) -> None:
    """The chart and the table of one breakdown; the first starts a page, the next follow on it when they fit."""
    title = DIMENSION_TITLES.get(dimension, dimension)
    shown = groups[:MAX_CHART_GROUPS]
    lines = len({v.applies_to + v.kpi for key, _, _ in CHARTED for v in _minimums(doc.kpi.verdicts, key)})
    legend_rows = -(-(len(CHARTED) + lines) // 3)
    bottom = 0.4 + 0.17 * legend_rows
    height = min(6.2, 0.5 + 0.34 * len(shown) + bottom)
    if first:
        book.new_page()
    book.heading(title, keep_with=height + 0.8)
    if not groups:
        book.text("No cameras in this breakdown.", color=MUTED)
        return
    if len(groups) > len(shown):
        book.text(f"The chart shows the first {len(shown)} of {len(groups)} groups; the table lists all.", size=8,
                  color=MUTED)  # fmt: skip
    _group_chart(book.axes(height, left_in=1.3, bottom_in=bottom), shown, doc.kpi.verdicts)
    book.cursor += 0.1
    section = breakdown_section(doc, dimension, groups)
    book.table(_table(section, [2.0, 0.8, *([1.0] * len(KPIS))]), continued=f"{title} (continued)")


def _trend(book: Book, doc: KpiDocument) -> None:
    days = doc.kpi.trend
    book.new_page()
    book.heading("每日趋势 · Daily trend")
    axes = book.axes(3.6, left_in=0.6, bottom_in=0.75)
    labels = [day[5:] for day, _ in days]
    lowest = 1.0
    for key, label, colour in CHARTED:
        values = [getattr(f, key) for _, f in days]
        known = [v for v in values if v is not None]
        lowest = min([lowest, *known])
        axes.plot(range(len(days)), [float("nan") if v is None else v for v in values], color=colour, label=label,
                  linewidth=1.6, marker="o" if len(days) <= 31 else None, markersize=2.5)  # fmt: skip
        for verdict in _minimums(doc.kpi.verdicts, key):
            axes.axhline(verdict.minimum, color=colour, linestyle="--", linewidth=0.8,
                         label=f"{verdict.applies_to} minimum {_pct(verdict.minimum)}")  # fmt: skip
    axes.set_ylim(max(0.0, (int(lowest * 20) - 1) / 20), 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=0))
    step = -(-len(days) // 16)  # at most 16 dates under the axis
    ticks = list(range(0, len(days), step))
    axes.set_xticks(ticks, [labels[t] for t in ticks], fontsize=7, rotation=45, ha="right")
    axes.grid(color=RULE, linewidth=0.4, alpha=0.6)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=7, frameon=False)
    book.cursor += 0.35
    for key, label, _ in CHARTED:
        judged = [(day, getattr(f, key)) for day, f in days if getattr(f, key) is not None]
        if judged:
            worst_day, worst = min(judged, key=lambda x: x[1])
            best_day, best = max(judged, key=lambda x: x[1])
            book.text(f"{label}: lowest {_pct(worst)} on {worst_day}, highest {_pct(best)} on {best_day}.", size=8.5)


def _orders(book: Book, doc: KpiDocument) -> None:
    orders = doc.orders
    book.heading("运维工单 · Work orders", keep_with=3.2)
    total = orders.total
    mttr = "-" if total.mttr_s is None else f"{total.mttr_s / 3600:.1f} h"
    book.text(f"In the period {total.opened} orders were opened and {total.closed} closed (mean time to repair "
              f"{mttr}); {total.open_now} are open now.", size=9)  # fmt: skip
    axes = book.axes(2.6, left_in=0.6, bottom_in=0.55)
    faults = orders.by_fault
    width = 0.26
    for n, (name, colour) in enumerate((("opened", "#1f5fa8"), ("closed", "#2e9b5f"), ("open now", "#b3261e"))):
        values = [(s.opened, s.closed, s.open_now)[n] for s in faults]
        bars = axes.bar([i + (n - 1) * width for i in range(len(faults))], values, width * 0.92, color=colour,
                        label=name)  # fmt: skip
        axes.bar_label(bars, fontsize=6.5, color=MUTED, padding=1)
    by_fault = orders_by_fault_section(doc)
    axes.set_xticks(range(len(faults)), [row[0] for row in by_fault.rows[:-1]], fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", color=RULE, linewidth=0.4, alpha=0.6)
    axes.set_axisbelow(True)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, fontsize=7, frameon=False)
    book.cursor += 0.1
    book.table(_table(by_fault, [2.2, 1, 1, 1, 1]))
    book.heading("按维护单位 · By maintaining unit", keep_with=0.8)
    book.table(_table(orders_section(doc), [2.6, 1.2, 1.6, 0.8, 0.8, 0.8, 0.8], align_from=3),
               continued="按维护单位 · By maintaining unit (continued)")  # fmt: skip


def _worst(book: Book, doc: KpiDocument) -> None:
    section = worst_section(doc)
    if section is None:
        return
    book.new_page(landscape=True)
    book.heading(f"问题点位 · The {len(section.rows)} worst cameras (lowest online rate first)")
    table = _table(section, [1.7, 2.0, 0.5, 1.1, 0.6, 0.9, 0.9, 1.3, 0.9, 1.3], size=7)
    table.align = ["left", "left", "right", "left", "left", "right", "right", "left", "right", "left"]
    book.table(table, continued="问题点位 · Worst cameras (continued)")


def _definitions(book: Book) -> None:
    book.heading("说明 · How the figures are counted", keep_with=1.0)
    for line in DEFINITIONS:
        book.text(line, size=8, color=INK)


def as_pdf(doc: KpiDocument) -> bytes:
    kpi = doc.kpi
    period = describe(kpi.period, measured_to=kpi.computed_at)

    def draw(book: Book) -> None:
        _cover(book, doc)
        for n, (dimension, groups) in enumerate(kpi.breakdowns.items()):
            _breakdown(book, doc, dimension, groups, first=n == 0)
        if kpi.trend:
            _trend(book, doc)
        _orders(book, doc)
        _definitions(book)
        _worst(book, doc)

    metadata: dict[str, Any] = {"Subject": f"{doc.scope}; {period}", "Author": doc.viewer}
    return render(doc.title, f"{doc.title} · {doc.scope} · {period}", metadata, draw)
