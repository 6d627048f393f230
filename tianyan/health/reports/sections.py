"""A KPI document as titled tables (cover lines, headline figures, verdicts, breakdowns, trend, worst cameras,
work orders), shared by the terminal table, the workbook and the PDF so the three always say the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tianyan.health.kpi.model import (
    BY_CLASS,
    BY_DISTRICT,
    BY_NETWORK,
    BY_SECTOR,
    BY_UNIT,
    CameraRow,
    Figures,
    GroupFigures,
)
from tianyan.health.reports.document import KpiDocument
from tianyan.health.reports.order_stats import OrderStats
from tianyan.health.reports.periods import describe
from tianyan.media.completeness import LOCAL_TZ

# (Figures attribute, Chinese, English): the order reports list the KPIs in.
KPIS = (
    ("online_rate", "在线率", "online rate"),
    ("integrity_rate", "完好率", "integrity rate"),
    ("recording_completeness", "录像完整率", "recording completeness"),
    ("retention_compliance", "存储达标率", "retention compliance"),
    ("networking_rate", "联网率", "networking rate"),
    ("hd_share", "高清占比", "HD share"),
    ("format_compliance", "格式达标率", "format compliance"),
)
KPI_LABELS = {key: f"{zh} {en}" for key, zh, en in KPIS}
DIMENSION_TITLES = {
    BY_DISTRICT: "按辖区 · By district",
    BY_CLASS: "按类别 · By class",
    BY_NETWORK: "按网络 · By network",
    BY_SECTOR: "按行业 · By sector",
    BY_UNIT: "按建设单位 · By owning unit",
}
STATUS_LABELS = {"pass": "pass 达标", "fail": "fail 未达标", "n/a": "n/a 无法判定"}
FAULT_LABELS = {"offline": "offline 离线", "vqd": "picture 图像故障", "retention": "retention 存储不达标"}
RETENTION_LABELS = {
    "compliant": "compliant 达标",
    "non_compliant": "non-compliant 不达标",
    "no_recordings": "no recordings 无录像",
    "not_required": "not required 不要求",
}
TOTAL = "合计 total"
HOUR_S = 3600.0


@dataclass(frozen=True)
class Section:
    key: str  # figures, verdicts, breakdown:<dimension>, trend, worst, orders, orders_by_fault
    title: str
    columns: list[str]
    rows: list[list[Any]]
    share_columns: frozenset[int] = field(default_factory=frozenset)  # fractions, shown as percentages
    total_row: bool = False  # the last row sums the others (charts leave it out)


def local_time(doc: KpiDocument) -> str:
    return doc.kpi.computed_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def cover_lines(doc: KpiDocument) -> list[tuple[str, str]]:
    """(label, text) pairs naming what the report is about."""
    kpi = doc.kpi
    plan = f"{kpi.plan_id} · {doc.plan_title}" if kpi.plan_id else "none (no thresholds judged)"
    return [
        ("范围 scope", f"{doc.scope} ({kpi.figures.cameras} camera{'' if kpi.figures.cameras == 1 else 's'})"),
        ("期间 period", describe(kpi.period, measured_to=kpi.computed_at)),
        ("规划 plan", plan),
        ("视角 seen by", f"{doc.viewer} (only cameras in this account's scope count)"),
        ("生成 computed", f"{local_time(doc)} Asia/Shanghai"),
    ]


def _hours(seconds: float) -> str:
    return f"{seconds / HOUR_S:,.0f} h"


def basis(f: Figures, key: str) -> str:
    """What a rate is taken of, in the counts a person can check."""
    return {
        "online_rate": f"{f.online_now} of {f.cameras} online now; {_hours(f.online_s)} of {_hours(f.period_s)}",
        "integrity_rate": f"{f.intact_now} of {f.cameras} intact now; {f.undiagnosed} never diagnosed",
        "recording_completeness": f"{_hours(f.recorded_s)} of {_hours(f.planned_s)} recorded",
        "retention_compliance": f"{f.retention_compliant} of {f.retention_required} cameras",
        "networking_rate": f"{f.networked} of {f.cameras} cameras",
        "hd_share": f"{f.hd} of {f.cameras} cameras",
        "format_compliance": f"{f.format_ok} of {f.cameras} cameras",
    }[key]


def highlights(doc: KpiDocument) -> list[str]:
    """The few sentences a reader should take away: failed thresholds, the weakest groups, the worst day, orders."""
    kpi = doc.kpi
    found = [f"Not met: {KPI_LABELS.get(v.kpi, v.kpi)} of {v.applies_to}: {v.message}." for v in kpi.verdicts
             if v.status == "fail"]  # fmt: skip
    for dimension, groups in kpi.breakdowns.items():
        rated = [g for g in groups if g.figures.online_rate is not None]
        if len(rated) > 1:
            low = min(rated, key=lambda g: g.figures.online_rate or 0.0)
            high = max(rated, key=lambda g: g.figures.online_rate or 0.0)
            title = DIMENSION_TITLES.get(dimension, dimension).split(" · ")[-1].lower()
            lowest, highest = _share(low.figures.online_rate), _share(high.figures.online_rate)
            found.append(f"Online rate {title}: lowest {low.label} {lowest} ({low.figures.cameras} cameras), "
                         f"highest {high.label} {highest}.")  # fmt: skip
    days = [(day, f.online_rate) for day, f in kpi.trend if f.online_rate is not None]
    if days:
        day, rate = min(days, key=lambda d: d[1])
        found.append(f"Lowest daily online rate: {_share(rate)} on {day}.")
    total = doc.orders.total
    mttr = "-" if total.mttr_s is None else f"{total.mttr_s / HOUR_S:.1f} h"
    found.append(f"Work orders: {total.opened} opened and {total.closed} closed in the period (MTTR {mttr}); "
                 f"{total.open_now} open now.")  # fmt: skip
    return found


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def figures_section(doc: KpiDocument) -> Section:
    f = doc.kpi.figures
    rows = [[KPI_LABELS[key], getattr(f, key), basis(f, key)] for key, _, _ in KPIS]
    return Section("figures", "指标 · Figures", ["KPI", "value", "of"], rows, frozenset({1}))


def verdicts_section(doc: KpiDocument) -> Section | None:
    if not doc.kpi.verdicts:
        return None
    rows = [
        [KPI_LABELS.get(v.kpi, v.kpi), v.applies_to, v.minimum, v.value, v.cameras,
         STATUS_LABELS.get(v.status, v.status), v.gap_cameras, v.message, v.source]
        for v in doc.kpi.verdicts
    ]  # fmt: skip
    columns = ["KPI", "applies to", "minimum", "value", "cameras", "status", "gap (cameras)", "finding", "source"]
    return Section("verdicts", "考核结论 · Verdicts against the plan", columns, rows, frozenset({2, 3}))


BREAKDOWN_COLUMNS = ["cameras", *(KPI_LABELS[key] for key, _, _ in KPIS)]


def _figure_cells(f: Figures) -> list[Any]:
    return [f.cameras, *(getattr(f, key) for key, _, _ in KPIS)]


def breakdown_section(doc: KpiDocument, dimension: str, groups: list[GroupFigures]) -> Section:
    rows = [[g.label, *_figure_cells(g.figures)] for g in groups]
    rows.append([TOTAL, *_figure_cells(doc.kpi.figures)])
    title = DIMENSION_TITLES.get(dimension, f"By {dimension}")
    shares = frozenset(range(2, 2 + len(KPIS)))
    return Section(f"breakdown:{dimension}", title, ["group", *BREAKDOWN_COLUMNS], rows, shares, total_row=True)


def trend_section(doc: KpiDocument) -> Section | None:
    if not doc.kpi.trend:
        return None
    rows = [
        [day, f.cameras, f.online_rate, f.integrity_rate, f.recording_completeness, f.online_now]
        for day, f in doc.kpi.trend
    ]
    columns = ["day", "cameras", KPI_LABELS["online_rate"], KPI_LABELS["integrity_rate"],
               KPI_LABELS["recording_completeness"], "online at day end"]  # fmt: skip
    return Section("trend", "每日趋势 · Daily trend", columns, rows, frozenset({2, 3, 4}))


def _worst_cells(c: CameraRow) -> list[Any]:
    retention = RETENTION_LABELS.get(c.retention_status, c.retention_status)
    return [
        c.gb_id, c.name, c.cls, c.region, "yes" if c.online_now else "no", c.online_rate, c.integrity_rate,
        ", ".join(c.faults) or "-", c.recording_completeness, retention,
    ]  # fmt: skip


def worst_section(doc: KpiDocument) -> Section | None:
    if not doc.kpi.worst:
        return None
    rates = [KPI_LABELS["online_rate"], KPI_LABELS["integrity_rate"]]
    columns = ["GB ID", "name", "class", "region", "online now", *rates, "picture faults",
               KPI_LABELS["recording_completeness"], "retention"]  # fmt: skip
    rows = [_worst_cells(c) for c in doc.kpi.worst]
    return Section("worst", "问题点位 · Worst cameras", columns, rows, frozenset({5, 6, 8}))


def mttr_hours(stats: OrderStats) -> float | None:
    return None if stats.mttr_s is None else round(stats.mttr_s / HOUR_S, 1)


ORDER_COLUMNS = ["opened", "closed", "open now", "MTTR (h)"]


def _order_cells(s: OrderStats) -> list[Any]:
    return [s.opened, s.closed, s.open_now, mttr_hours(s)]


def orders_section(doc: KpiDocument) -> Section:
    rows = [[s.unit, s.unit_code or "-", FAULT_LABELS.get(s.fault, s.fault), *_order_cells(s)] for s in doc.orders.rows]
    rows.append([TOTAL, "", "", *_order_cells(doc.orders.total)])
    columns = ["maintaining unit", "unit code", "fault", *ORDER_COLUMNS]
    return Section("orders", "运维工单 · Work orders by maintaining unit", columns, rows, total_row=True)


def orders_by_fault_section(doc: KpiDocument) -> Section:
    rows = [[FAULT_LABELS.get(s.fault, s.fault), *_order_cells(s)] for s in doc.orders.by_fault]
    rows.append([TOTAL, *_order_cells(doc.orders.total)])
    columns = ["fault", *ORDER_COLUMNS]
    return Section("orders_by_fault", "故障类型 · Work orders by fault", columns, rows, total_row=True)


def breakdown_sections(doc: KpiDocument) -> list[Section]:
    return [breakdown_section(doc, dimension, groups) for dimension, groups in doc.kpi.breakdowns.items()]


def sections(doc: KpiDocument) -> list[Section]:
    found = [
        figures_section(doc),
        verdicts_section(doc),
        *breakdown_sections(doc),
        trend_section(doc),
        worst_section(doc),
        orders_by_fault_section(doc),
        orders_section(doc),
    ]
    return [s for s in found if s is not None]
