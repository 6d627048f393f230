"""The generated Huizhou registry: deterministic from its seed, and, at the demo's size, a plan report with a
realistic mix of met, missed and pending milestones and passing and failing HD shares (SQLite and PostgreSQL)."""

from __future__ import annotations

import inspect
from collections import Counter
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.app.demo import run_demo
from tianyan.planning import catalogue
from tianyan.planning.progress import PlanProgress, plan_progress
from tianyan.security.scope import SYSTEM
from tianyan.sim import plan_pacing
from tianyan.sim.huizhou import DISTRICTS, PLAN_ID, load_huizhou
from tianyan.sim.registry_gen import GeneratedRegistry, generate, load_registry

DEMO_CAMERAS: int = inspect.signature(run_demo).parameters["cameras"].default
DEMO_SEED: int = inspect.signature(run_demo).parameters["seed"].default
# What plan_pacing's table promises for class 1 (and HD checkpoints), whatever the seed.
MET_2012 = {"惠城区", "博罗县", "大亚湾区", "仲恺区"}
MET_2013 = {"惠城区", "博罗县", "惠东县", "大亚湾区"}
HD_PASS = {"惠城区", "博罗县", "大亚湾区", "仲恺区"}
UNITS = {d.name for d in DISTRICTS}


@pytest.fixture(scope="module")
def demo_registry() -> GeneratedRegistry:
    return generate(seed=DEMO_SEED, cameras=DEMO_CAMERAS)


async def loaded(session: AsyncSession, registry: GeneratedRegistry) -> AsyncSession:
    """The way the demo fills its database (tianyan.app.demo.seed_demo)."""
    await load_huizhou(session)
    await load_registry(session, registry)
    await session.commit()
    return session


async def progress(session: AsyncSession, day: str) -> PlanProgress:
    plan = catalogue.load_plan(PLAN_ID)
    return await plan_progress(session, plan=plan, at=date.fromisoformat(day), principal=SYSTEM)


def milestone(p: PlanProgress, metric: str, index: int) -> dict[str, str]:
    return {u.unit: u.measure(metric).milestones[index].status for u in p.units}


def hd_share_class1(p: PlanProgress) -> dict[str, str]:
    return {r.unit: r.status for r in p.rates if r.metric == "hd_share_of_new_class1" and r.unit != "total"}


def test_same_seed_same_registry_and_another_seed_another() -> None:
    first, again, other = (generate(seed=s, cameras=1000) for s in (7, 7, 8))
    assert first == again
    assert [c.gb_id for c in first.cameras] == [c.gb_id for c in again.cameras]
    assert first.cameras != other.cameras
    assert len(first.cameras) == len(other.cameras) == 1000


def test_the_demo_holds_the_plans_class1_targets(demo_registry: GeneratedRegistry) -> None:
    assert DEMO_CAMERAS >= 5000 and len(demo_registry.cameras) == DEMO_CAMERAS
    targets = plan_pacing.unit_targets()
    assert sum(t.class1 for t in targets.values()) == 3000 and sum(t.hd_checkpoints for t in targets.values()) == 120
    new_class1 = Counter(c.region[:6] for c in demo_registry.cameras if c.cls == 1 and c.install_date.year >= 2012)
    for code, target in targets.items():
        # Not scaled down: the plan's own target times the district's achievement.
        assert new_class1[code] == round(target.class1 * plan_pacing.ACHIEVEMENT[code])
    classes = Counter(c.cls for c in demo_registry.cameras)
    assert classes[2] > 2000 and classes[3] > 1000  # a class 2/3 population beside the plan's class 1
    assert all(c.install_date.year >= 2009 for c in demo_registry.cameras)


async def test_demo_plan_report_has_met_missed_pending_pass_and_fail(
    session: AsyncSession, demo_registry: GeneratedRegistry
) -> None:
    session = await loaded(session, demo_registry)
    p = await progress(session, "2013-12-31")
    first = milestone(p, "class1", 0)
    assert {u for u, s in first.items() if s == "met"} == MET_2012
    assert {u for u, s in first.items() if s == "missed"} == UNITS - MET_2012
    assert milestone(p, "hd_checkpoints", 0) == first
    assert set(milestone(p, "class1", 2).values()) == {"pending"}  # the 2014 milestone
    assert set(milestone(p, "class1", 1).values()) == {"pending"}  # 2013-12-31 is still open on its last day
    hd = hd_share_class1(p)
    assert {u for u, s in hd.items() if s == "pass"} == HD_PASS
    assert {u for u, s in hd.items() if s == "fail"} == UNITS - HD_PASS
    # Class 2 lags far behind its 27,000 target, as industry integration did.
    assert set(milestone(p, "class2", 0).values()) == {"missed"}

    later = await progress(session, "2014-06-30")
    second = milestone(later, "class1", 1)
    assert {u for u, s in second.items() if s == "met"} == MET_2013
    assert {u for u, s in second.items() if s == "missed"} == UNITS - MET_2013
    assert set(milestone(later, "class1", 2).values()) == {"pending"}
    on_track = {u.unit for u in later.units if u.measure("class1").milestones[2].on_track}
    assert on_track == {"大亚湾区"}


async def test_a_small_registry_scales_the_plan_down(session: AsyncSession) -> None:
    registry = generate(seed=DEMO_SEED, cameras=300)
    assert len(registry.cameras) == 300
    session = await loaded(session, registry)
    p = await progress(session, "2014-12-31")
    assert p.totals is not None
    assert 0 < p.totals.measure("class1").built <= 300 * plan_pacing.MAX_PLAN_SHARE
    assert all(u.measure("class1").built > 0 for u in p.units)
    assert {r.status for r in p.rates} <= {"pass", "fail", "n/a"}


@pytest.mark.parametrize("cameras", [0, 1, 7, 50])
def test_tiny_registries_add_up(cameras: int) -> None:
    assert len(generate(seed=1, cameras=cameras).cameras) == cameras


def test_by_year_keeps_each_year_end_on_its_side_of_a_milestone() -> None:
    assert plan_pacing.by_year(500, (0.3, 0.4, 0.3, 0.0, 0.0)) == (150, 200, 150, 0, 0)
    assert sum(plan_pacing.by_year(17, plan_pacing.PACE["441371"])) == 17
    assert plan_pacing.by_year(0, (0.5, 0.5)) == (0, 0)
