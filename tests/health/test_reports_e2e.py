"""KPI reports end to end on SQLite and PostgreSQL: the engine's figures, the work-order statistics and the
selection by codes, for January 2026 in Huizhou (tests/health/report_world.py has the hand-worked figures)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.kpi_fixtures import END, MONTH
from tests.health.report_world import CITY_ONLINE, HUICHENG_ONLINE, HUIYANG_ONLINE, MTTR_H, build_month
from tianyan.core.errors import InvalidInput, NotFound
from tianyan.health.kpi.model import BY_DISTRICT, BY_SECTOR, CameraSet
from tianyan.health.kpi.selection import resolve
from tianyan.health.reports.criteria import Criteria, resolve_criteria
from tianyan.health.reports.document import kpi_document
from tianyan.health.reports.monthly import monthly_document
from tianyan.health.reports.order_stats import NO_UNIT, order_stats
from tianyan.planning.catalogue import load_plan
from tianyan.security.scope import SYSTEM, Principal

HUIZHOU = load_plan("huizhou-2012-2014")
HUIYANG_ONLY = Principal(user_id=7, username="hy", role="maintainer", region_paths=("/440000/441300/441303/",),
                         networks=frozenset({"police", "social", "local"}), classes=frozenset({1, 2, 3}))  # fmt: skip


async def test_order_statistics_per_unit_and_fault(session: AsyncSession) -> None:
    await build_month(session)
    clauses = (await resolve(session, CameraSet(), SYSTEM)).clauses
    stats = await order_stats(session, camera_clauses=clauses, period=MONTH, now=END)
    rows = {(s.unit, s.fault): (s.opened, s.closed, s.open_now, s.mttr_s) for s in stats.rows}
    assert rows == {
        ("惠城区运维中心", "offline"): (1, 1, 0, 24.5 * 3600),
        ("惠阳区电信分公司", "offline"): (1, 0, 1, None),  # the December order is in neither count
        ("惠阳区电信分公司", "vqd"): (1, 1, 0, 240 * 3600),
        (NO_UNIT, "retention"): (0, 0, 1, None),  # opened in December, still open
    }
    assert [s.unit for s in stats.rows][-1] == NO_UNIT
    assert [(s.fault, s.opened, s.closed, s.open_now) for s in stats.by_fault] == [
        ("offline", 2, 1, 1), ("vqd", 1, 1, 0), ("retention", 0, 0, 1)
    ]  # fmt: skip
    total = stats.total
    assert (total.opened, total.closed, total.open_now) == (3, 2, 2)
    assert total.mttr_s == pytest.approx(MTTR_H * 3600, abs=0.01)
    mine = await order_stats(session, camera_clauses=(await resolve(session, CameraSet(), HUIYANG_ONLY)).clauses,
                             period=MONTH, now=END)  # fmt: skip
    assert (mine.total.opened, mine.total.closed, mine.total.open_now) == (2, 1, 1)
    assert mine.total.mttr_s == pytest.approx(240 * 3600, abs=0.01)


async def test_document_carries_the_engines_figures_and_the_orders(session: AsyncSession) -> None:
    await build_month(session)
    doc = await kpi_document(session, criteria=Criteria(), period=MONTH, principal=SYSTEM, plan=HUIZHOU, now=END,
                             breakdowns=(BY_DISTRICT,))  # fmt: skip
    assert doc.scope == "all cameras in scope" and doc.plan_title == HUIZHOU.title
    assert doc.kpi.figures.cameras == 3
    assert doc.kpi.figures.online_rate == pytest.approx(CITY_ONLINE)
    districts = {g.label: g.figures.online_rate for g in doc.kpi.breakdowns[BY_DISTRICT]}
    assert districts == {"惠城区": pytest.approx(HUICHENG_ONLINE), "惠阳区": pytest.approx(HUIYANG_ONLINE)}
    assert doc.orders.total.opened == 3 and doc.kpi.verdicts

    scoped = await kpi_document(session, criteria=Criteria(), period=MONTH, principal=HUIYANG_ONLY, plan=None,
                                now=END)  # fmt: skip
    assert scoped.kpi.figures.cameras == 2 and scoped.kpi.figures.online_rate == pytest.approx(HUIYANG_ONLINE)
    assert scoped.orders.total.opened == 2 and scoped.kpi.verdicts == [] and scoped.viewer == "hy"


async def test_criteria_by_codes_and_their_label(session: AsyncSession) -> None:
    month = await build_month(session)
    found = await resolve_criteria(session, Criteria(region="441303", cls=2, sector="S-EDU"), SYSTEM)
    assert found.cameras == CameraSet(region_code="441303", cls=2, sector_id=month.world.orgs["S-EDU"])
    assert found.label == "惠阳区 (441303) · class 2 二类点 · sector 教育"
    camera = await resolve_criteria(session, Criteria(camera=month.gb_ids["c1"]), SYSTEM)
    assert camera.cameras.camera_id == month.cameras["c1"] and camera.label.endswith("江北大道口")
    doc = await kpi_document(session, criteria=Criteria(unit="U-SCHOOL"), period=MONTH, principal=SYSTEM, plan=None,
                             now=END)  # fmt: skip
    assert doc.kpi.figures.cameras == 0 and doc.scope == "unit 第一中学"
    with pytest.raises(NotFound, match="no industry sector with code 'S-NONE'"):
        await resolve_criteria(session, Criteria(sector="S-NONE"), SYSTEM)
    with pytest.raises(NotFound, match="no owning unit with code 'S-EDU'"):  # a sector is not a unit
        await resolve_criteria(session, Criteria(unit="S-EDU"), SYSTEM)
    with pytest.raises(NotFound, match="in your scope"):  # c1 is in 惠城区
        await resolve_criteria(session, Criteria(camera=month.gb_ids["c1"]), HUIYANG_ONLY)
    with pytest.raises(InvalidInput, match="20 digits"):
        await resolve_criteria(session, Criteria(camera="12345"), SYSTEM)
    with pytest.raises(InvalidInput, match="network must be one of"):
        await resolve_criteria(session, Criteria(network="wifi"), SYSTEM)


async def test_monthly_document_is_the_month_by_district_and_sector_with_a_trend(session: AsyncSession) -> None:
    await build_month(session)
    doc = await monthly_document(session, month="2026-01", region=None, principal=SYSTEM, plan=HUIZHOU, now=END)
    assert doc.title.startswith("视频监控系统运行月报 2026年1月")
    assert doc.kpi.period == MONTH
    assert list(doc.kpi.breakdowns) == [BY_DISTRICT, BY_SECTOR]
    assert [day for day, _ in doc.kpi.trend][:2] == ["2026-01-01", "2026-01-02"] and len(doc.kpi.trend) == 31
    sectors = {g.label: g.figures.cameras for g in doc.kpi.breakdowns[BY_SECTOR]}
    assert sectors["教育"] == 1
    huiyang = await monthly_document(session, month="2026-01", region="441303", principal=SYSTEM, plan=None, now=END)
    # one district: broken down by the station areas under it
    assert {g.label for g in huiyang.kpi.breakdowns[BY_DISTRICT]} <= {"惠阳区", "淡水派出所"}
    assert huiyang.kpi.figures.cameras == 2 and huiyang.scope == "惠阳区 (441303)"
