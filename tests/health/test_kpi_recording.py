"""Recording completeness and retention compliance from recording_days rows, as of the end of January 2026.

The period ends at local midnight on 1 February: a class 1 camera's window is 3-31 January (the 29 full days of
its last 30; its oldest footage must reach back to 2 January), a class 2 camera's 18-31 January. The same rows
judged by media.completeness.compliance_of (the per-camera rule) must give the same status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import BACKENDS
from tests.health.kpi_fixtures import END, at, build_world, migrated, report
from tianyan.health.kpi.model import CameraSet, Period
from tianyan.media.completeness import compliance_of
from tianyan.registry.models import Camera

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAY = 86_400.0


def january(first: int, last: int, completeness: float = 1.0) -> list[tuple[date, float, float]]:
    return [(date(2026, 1, d), completeness, DAY) for d in range(first, last + 1)]


def days_from(start: date, last: date) -> list[tuple[date, float, float]]:
    return [(start + timedelta(days=n), 1.0, DAY) for n in range((last - start).days + 1)]


# name: class, recording days, oldest footage (None: none), install date, expected status
CASES = {
    "complete": (1, january(1, 31), at(-5), None, "compliant"),
    "one_bad_day": (1, january(1, 19) + january(20, 20, 0.98) + january(21, 31), at(-5), None, "non_compliant"),
    "footage_deleted_early": (1, days_from(date(2025, 12, 1), date(2026, 1, 31)), at(10), None, "non_compliant"),
    "started_recently": (1, january(25, 31), at(25), None, "compliant"),
    "never_recorded": (1, [], None, None, "no_recordings"),
    "installed_without_footage": (1, [], None, date(2026, 1, 20), "non_compliant"),
    "class2_complete": (2, january(10, 31), at(10), None, "compliant"),
    "class2_bad_day_before_its_window": (2, january(10, 16, 0.5) + january(17, 31), at(10), None, "compliant"),
    "class2_missing_day": (2, january(10, 20) + january(22, 31), at(10), None, "non_compliant"),
    "class3": (3, january(1, 31, 0.5), at(-5), None, "not_required"),
}


@dataclass(frozen=True)
class World:
    engine: AsyncEngine
    ids: dict[str, int]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with migrated(request.param, tmp_path_factory.mktemp("kpi-recording")) as engine:
        async with AsyncSession(engine) as session:
            built = await build_world(session)
            ids = {}
            for name, (cls, days, oldest, installed, _) in CASES.items():
                network = {1: "police", 2: "social", 3: "local"}[cls]
                ids[name] = await built.camera(name=name, cls=cls, network=network, install_date=installed)
                await built.recording_days(ids[name], days)
                if oldest is not None:
                    await built.footage_since(ids[name], oldest)
            await session.commit()
        yield World(engine, ids)


async def test_each_camera_has_the_status_the_rule_gives(world: World) -> None:
    rows = {row.name: row for row in (await report(world.engine, worst=50)).worst}
    assert {name: rows[name].retention_status for name in CASES} == {name: c[4] for name, c in CASES.items()}


async def test_the_statuses_agree_with_the_per_camera_rule(world: World) -> None:
    rows = {row.camera_id: row.retention_status for row in (await report(world.engine, worst=50)).worst}
    async with AsyncSession(world.engine) as session:
        cameras = (
            await session.execute(select(Camera.id, Camera.gb_id, Camera.name, Camera.cls, Camera.install_date))
        ).tuples()
        judged = await compliance_of(session, list(cameras), now=END)
    assert {c.camera_id: c.status for c in judged} == rows


async def test_completeness_is_planned_seconds_recorded_over_the_window(world: World) -> None:
    one = (await report(world.engine, CameraSet(camera_id=world.ids["one_bad_day"]))).figures
    # 3-31 January: 28 complete days and one at 98 %.
    assert (one.recorded_s, one.planned_s) == (pytest.approx(28 * DAY + 0.98 * DAY), 29 * DAY)
    assert one.recording_completeness == pytest.approx((28 + 0.98) / 29)
    recent = (await report(world.engine, CameraSet(camera_id=world.ids["started_recently"]))).figures
    assert (recent.recorded_s, recent.planned_s, recent.recording_completeness) == (7 * DAY, 7 * DAY, 1.0)
    class2 = (await report(world.engine, CameraSet(camera_id=world.ids["class2_bad_day_before_its_window"]))).figures
    assert (class2.recorded_s, class2.planned_s) == (14 * DAY, 14 * DAY)


async def test_the_set_counts_required_and_compliant_cameras(world: World) -> None:
    f = (await report(world.engine)).figures
    required = [name for name, c in CASES.items() if c[0] in (1, 2)]
    compliant = [name for name, c in CASES.items() if c[4] == "compliant"]
    assert (f.retention_required, f.retention_compliant) == (len(required), len(compliant))
    assert f.retention_compliance == pytest.approx(len(compliant) / len(required))
    class3 = (await report(world.engine, CameraSet(camera_id=world.ids["class3"]))).figures
    assert (class3.retention_required, class3.retention_compliance, class3.recording_completeness) == (0, None, None)


async def test_a_period_ending_earlier_judges_the_window_before_its_end(world: World) -> None:
    # Ending at local midnight on 22 January: class 2's window is 8-21 January; 10-16 are at 50 % now.
    selection = CameraSet(camera_id=world.ids["class2_bad_day_before_its_window"])
    f = (await report(world.engine, selection, period=Period(at(1), at(22)), now=END)).figures
    assert (f.retention_required, f.retention_compliant) == (1, 0)
    assert f.planned_s == 12 * DAY  # 10-21 January: the camera started on the 10th
