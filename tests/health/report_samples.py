"""Hand-built KPI documents for the renderer tests: a month of a city with seven districts and four sectors, whose
numbers are chosen so each rate has a distinct, recognisable percentage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tianyan.health.kpi.model import (
    BY_DISTRICT,
    BY_SECTOR,
    CameraRow,
    CameraSet,
    Figures,
    GroupFigures,
    KpiReport,
    Period,
    Verdict,
)
from tianyan.health.reports.document import KpiDocument
from tianyan.health.reports.order_stats import OrderStats, OrderSummary

# May 2024 in Asia/Shanghai.
MAY = Period(datetime(2024, 4, 30, 16, tzinfo=UTC), datetime(2024, 5, 31, 16, tzinfo=UTC))
COMPUTED = datetime(2024, 6, 1, 2, tzinfo=UTC)
DAY_S = 86_400.0

# name, cameras, online, integrity, completeness
DISTRICTS = (
    ("惠城区", 400, 0.9625, 0.9350, 0.9910),
    ("惠阳区", 200, 0.9150, 0.8800, 0.9720),
    ("惠东县", 160, 0.8875, 0.8125, 0.9500),
    ("博罗县", 120, 0.9417, 0.9083, 0.9850),
    ("龙门县", 80, 0.7750, 0.7250, 0.9025),
    ("大亚湾区", 24, 0.9583, 0.9167, 0.9960),
    ("仲恺区", 16, 1.0, 0.9375, None),
)
SECTORS = (
    ("教育", 300, 0.9433, 0.9100, 0.9800),
    ("卫生", 250, 0.9360, 0.8960, 0.9700),
    ("金融", 200, 0.9550, 0.9300, 0.9900),
    ("交通", 250, 0.8640, 0.8240, 0.9500),
)


def figures(cameras: int, online: float, integrity: float, completeness: float | None, days: float = 31) -> Figures:
    period_s = cameras * days * DAY_S
    planned_s = cameras * 15 * DAY_S if completeness is not None else 0.0
    required = cameras * 2 // 3
    compliant = required * 9 // 10
    return Figures(
        cameras=cameras,
        online_s=online * period_s,
        period_s=period_s,
        online_rate=online,
        online_now=round(cameras * online),
        intact_s=integrity * period_s,
        integrity_rate=integrity,
        intact_now=round(cameras * integrity),
        undiagnosed=cameras // 20,
        recorded_s=(completeness or 0.0) * planned_s,
        planned_s=planned_s,
        recording_completeness=completeness,
        retention_required=required,
        retention_compliant=compliant,
        retention_compliance=compliant / required if required else None,
        networked=cameras - cameras // 50,
        networking_rate=(cameras - cameras // 50) / cameras,
        hd=cameras * 45 // 100,
        hd_share=(cameras * 45 // 100) / cameras,
        format_ok=cameras - cameras // 25,
        format_compliance=(cameras - cameras // 25) / cameras,
    )


TOTAL = figures(1000, 0.9312, 0.8951, 0.9734)


def verdicts() -> list[Verdict]:
    source = "huizhou-2012-2014: class_requirements"
    online = "12 more cameras must be online to reach 95 %"
    return [
        Verdict("online_rate", "class 1", 0.95, 0.9312, 600, "fail", 12, online, f"{source}.class1.min_online_rate"),
        Verdict("integrity_rate", "class 2", 0.90, 0.9187, 350, "pass", 0, "integrity rate 91.9 % meets 90 %",
                f"{source}.class2.min_integrity_rate"),
        Verdict("hd_share", "new class 1 points", 0.40, None, 0, "n/a", 0, "no new class 1 points to judge",
                f"{source}.class1.min_hd_share_of_new"),
    ]  # fmt: skip


def worst(count: int = 20) -> list[CameraRow]:
    rows = []
    for n in range(count):
        online = 0.05 + n * 0.04
        rows.append(
            CameraRow(
                camera_id=n + 1,
                gb_id=f"44130200001320{n + 1:06d}",
                name=f"龙门县{['永汉镇', '龙城街道', '平陵镇'][n % 3]}路口 {n + 1}",
                cls=1 + n % 2,
                region="龙门县",
                online_now=n % 2 == 0,
                online_s=online * 31 * DAY_S,
                period_s=31 * DAY_S,
                online_rate=online,
                intact_s=online * 0.9 * 31 * DAY_S,
                integrity_rate=online * 0.9,
                faults=["blur", "colour_cast"] if n % 4 == 0 else [],
                recording_completeness=0.5 + n * 0.02 if n % 5 else None,
                retention_status=("non_compliant", "compliant", "no_recordings", "not_required")[n % 4],
            )
        )
    return rows


def trend() -> list[tuple[str, Figures]]:
    days = []
    for n in range(31):
        day = (datetime(2024, 5, 1) + timedelta(days=n)).date().isoformat()
        online = 0.9712 if n == 9 else (0.8012 if n == 14 else 0.93 + (n % 5) * 0.005)
        days.append((day, figures(1000, online, online - 0.03, 0.97, days=1)))
    return days


def orders() -> OrderSummary:
    rows = [
        OrderStats("M-HC", "惠城区运维中心", "offline", 12, 10, 3, 10 * 5.5 * 3600),
        OrderStats("M-HC", "惠城区运维中心", "vqd", 7, 6, 1, 6 * 20 * 3600),
        OrderStats("M-LM", "龙门县电信分公司", "offline", 30, 18, 14, 18 * 36 * 3600),
        OrderStats("", "(no maintaining unit)", "retention", 2, 0, 2, 0.0),
    ]

    def total(found: list[OrderStats], *, code: str = "", unit: str = "", fault: str = "") -> OrderStats:
        return OrderStats(code, unit, fault, sum(s.opened for s in found), sum(s.closed for s in found),
                          sum(s.open_now for s in found), sum(s.repair_s for s in found))  # fmt: skip

    by_fault = [total([s for s in rows if s.fault == f], fault=f) for f in ("offline", "vqd", "retention")]
    units = dict.fromkeys((s.unit_code, s.unit) for s in rows)
    by_unit = [total([s for s in rows if s.unit == u], code=c, unit=u) for c, u in units]
    return OrderSummary(rows=rows, by_fault=by_fault, by_unit=by_unit, total=total(rows))


def groups(dimension: str, table: tuple[tuple[str, int, float, float, float | None], ...]) -> list[GroupFigures]:
    return [GroupFigures(dimension, str(n), name, figures(c, o, i, r)) for n, (name, c, o, i, r) in enumerate(table)]


def sample_report(*, plan: bool = True, with_trend: bool = True, worst_count: int = 20) -> KpiReport:
    return KpiReport(
        selection=CameraSet(region_code="441300"),
        period=MAY,
        computed_at=COMPUTED,
        plan_id="huizhou-2012-2014" if plan else None,
        figures=TOTAL,
        verdicts=verdicts() if plan else [],
        worst=worst(worst_count),
        breakdowns={BY_DISTRICT: groups(BY_DISTRICT, DISTRICTS), BY_SECTOR: groups(BY_SECTOR, SECTORS)},
        trend=trend() if with_trend else [],
    )


def sample_document(**options: bool | int) -> KpiDocument:
    report = sample_report(**options)  # type: ignore[arg-type]
    return KpiDocument(
        title="视频监控系统运行月报 2024年5月 · Monthly report 2024-05",
        scope="惠州市 (441300)",
        viewer="boss",
        plan_title="惠州市社会治安视频监控系统建设规划 2012-2014" if report.plan_id else None,
        kpi=report,
        orders=orders(),
    )
