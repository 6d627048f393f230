"""The active plan's thresholds as verdicts: which clauses each shipped plan sets, pass and fail with the gap in
cameras worked out exactly, and a report judged against a plan."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.health.kpi_fixtures import LONG_AGO, MONTH_S, at, build_world, report
from tianyan.health.kpi.model import Figures
from tianyan.health.kpi.thresholds import (
    CLASS_1,
    HD_SHARE,
    INTEGRITY,
    NETWORKING,
    ONLINE,
    RETENTION,
    Applies,
    Threshold,
    judge,
    thresholds_of,
)
from tianyan.planning.catalogue import Plan, load_plan

TODAY = date(2026, 2, 1)
EMPTY = Figures(
    cameras=0, online_s=0.0, period_s=0.0, online_rate=None, online_now=0, intact_s=0.0, integrity_rate=None,
    intact_now=0, undiagnosed=0, recorded_s=0.0, planned_s=0.0, recording_completeness=None, retention_required=0,
    retention_compliant=0, retention_compliance=None, networked=0, networking_rate=None, hd=0, hd_share=None,
    format_ok=0, format_compliance=None,
)  # fmt: skip


def of(plan_id: str) -> dict[tuple[str, str], float]:
    return {(t.kpi, t.applies.label): t.minimum for t in thresholds_of(load_plan(plan_id), at=TODAY)}


def test_huizhou_judges_class_1_online_class_2_integrity_retention_and_new_hd() -> None:
    assert of("huizhou-2012-2014") == {
        (ONLINE, "class 1"): 0.95,
        (RETENTION, "class 1"): 1.0,
        (HD_SHARE, "new class 1 points (installed 2012-01-01 .. 2014-12-31)"): 0.4,
        (INTEGRITY, "class 2"): 0.9,
        (RETENTION, "class 2"): 1.0,
        (HD_SHARE, "new class 2 points (installed 2012-01-01 .. 2014-12-31)"): 0.3,
    }


def test_ningxia_judges_every_camera() -> None:
    assert of("ningxia-2014") == {(ONLINE, "all cameras"): 0.9, (INTEGRITY, "all cameras"): 0.97}


def test_national_goals_judge_key_public_areas_and_key_industries() -> None:
    assert of("national-2020") == {
        (INTEGRITY, "class 1"): 0.98,
        (INTEGRITY, "key industries (cameras with a sector)"): 0.95,
        (NETWORKING, "class 1"): 1.0,
    }


def test_no_plan_or_a_plan_without_thresholds_gives_no_verdicts() -> None:
    assert thresholds_of(None, at=TODAY) == []
    bare = Plan(id="bare", title="bare", shape="unknown", origin="user", data={"id": "bare", "targets": {}})
    assert thresholds_of(bare, at=TODAY) == []


def test_new_points_stop_at_the_report_day_while_the_plan_runs() -> None:
    during = thresholds_of(load_plan("huizhou-2012-2014"), at=date(2013, 6, 30))
    hd = next(t for t in during if t.kpi == HD_SHARE)
    assert (hd.applies.installed_from, hd.applies.installed_to) == (date(2012, 1, 1), date(2013, 6, 30))


def online(cameras: int, online_fraction: float) -> Figures:
    period = cameras * 1000.0
    return replace(EMPTY, cameras=cameras, period_s=period, online_s=period * online_fraction,
                   online_rate=online_fraction)  # fmt: skip


@pytest.mark.parametrize(
    ("cameras", "online_fraction", "status", "gap", "message"),
    [
        (100, 0.95, "pass", 0, "online rate 95.0 % meets 95 %"),
        (100, 0.94, "fail", 1, "1 more camera must be online to reach 95 %"),
        # 95 % of 740 is 703 cameras; 666 camera-equivalents online: 37 short.
        (740, 666 / 740, "fail", 37, "37 more cameras must be online to reach 95 %"),
        # Half a camera short still needs a whole camera.
        (100, 0.945, "fail", 1, "1 more camera must be online to reach 95 %"),
        (0, 0.0, "n/a", 0, "no class 1 cameras to judge online rate by"),
    ],
)
def test_online_gap_is_in_whole_cameras(
    cameras: int, online_fraction: float, status: str, gap: int, message: str
) -> None:
    verdict = judge(Threshold(ONLINE, CLASS_1, 0.95, "plan: clause"), online(cameras, online_fraction))
    assert (verdict.status, verdict.gap_cameras, verdict.message) == (status, gap, message)
    assert (verdict.cameras, verdict.source, verdict.applies_to) == (cameras, "plan: clause", "class 1")


def test_counted_kpis_use_exact_shares() -> None:
    # 30 % of 20 new points is 6 points, not 7 (0.3 * 20 is 6.000000000000001 in floating point).
    new = Applies("new class 2 points", cls=2)
    figures = replace(EMPTY, cameras=20, hd=5, hd_share=0.25)
    verdict = judge(Threshold(HD_SHARE, new, 0.3, "p"), figures)
    assert (verdict.status, verdict.gap_cameras, verdict.message) == (
        "fail", 1, "1 more new point must be HD to reach 30 %"
    )  # fmt: skip
    assert judge(Threshold(HD_SHARE, new, 0.3, "p"), replace(figures, hd=6)).status == "pass"
    retention = replace(EMPTY, cameras=12, retention_required=10, retention_compliant=7, retention_compliance=0.7)
    verdict = judge(Threshold(RETENTION, CLASS_1, 1.0, "p"), retention)
    assert (verdict.gap_cameras, verdict.message) == (3, "3 more cameras must become compliant to reach 100 %")
    networking = replace(EMPTY, cameras=8, networked=8, networking_rate=1.0)
    assert judge(Threshold(NETWORKING, CLASS_1, 1.0, "p"), networking).status == "pass"


def test_integrity_gap_says_cameras_must_be_fixed() -> None:
    figures = replace(online(50, 1.0), intact_s=50 * 1000.0 * 0.8, integrity_rate=0.8)
    verdict = judge(Threshold(INTEGRITY, CLASS_1, 0.9, "p"), figures)
    assert (verdict.gap_cameras, verdict.message) == (5, "5 more cameras must be fixed to reach 90 %")


async def test_a_report_is_judged_against_the_active_plan(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        await _month_of_class_1_and_2(session)
    result = await report(engine, plan=load_plan("huizhou-2012-2014"))
    verdicts = {(v.kpi, v.applies_to): v for v in result.verdicts}
    online_class_1 = verdicts[(ONLINE, "class 1")]
    assert (online_class_1.status, online_class_1.gap_cameras, online_class_1.cameras) == ("fail", 1, 20)
    assert online_class_1.value == pytest.approx(18 * MONTH_S / (20 * MONTH_S))
    assert online_class_1.message == "1 more camera must be online to reach 95 %"
    integrity_class_2 = verdicts[(INTEGRITY, "class 2")]
    assert (integrity_class_2.status, integrity_class_2.gap_cameras, integrity_class_2.value) == ("fail", 1, 0.0)
    assert result.plan_id == "huizhou-2012-2014"
    assert (await report(engine)).verdicts == []


async def _month_of_class_1_and_2(session: AsyncSession) -> None:
    world = await build_world(session)
    # 20 class 1 cameras: 18 online all month, 2 never; 95 % of 20 is 19 cameras: one more must come online.
    for n in range(20):
        camera = await world.camera(cls=1)
        await world.transitions(camera, [(LONG_AGO, True)] if n < 18 else [])
    # A class 2 camera faulty for the whole month: integrity 0 %, 1 camera to fix.
    camera = await world.camera(cls=2, network="social")
    await world.transitions(camera, [(LONG_AGO, True)])
    await world.diagnoses(camera, [(at(-1), False)])
    await session.commit()
