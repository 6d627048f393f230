"""Integrity rate: seconds online with a fault-free picture verdict, from transitions × VQD verdict changes.

A verdict holds from its event until the camera's next one; a camera never diagnosed counts as intact while
online and is reported as undiagnosed. January 2026 (local days) is measured on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import BACKENDS
from tests.health.kpi_fixtures import LONG_AGO, MONTH_S, at, build_world, migrated, report
from tianyan.health.kpi.model import CameraSet, Figures

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAY, HOUR = 86_400, 3_600
ALWAYS_ONLINE = [(LONG_AGO, True)]


@dataclass(frozen=True)
class World:
    engine: AsyncEngine
    ids: dict[str, int]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with migrated(request.param, tmp_path_factory.mktemp("kpi-integrity")) as engine:
        async with AsyncSession(engine) as session:
            built = await build_world(session)
            cases = {
                # name: (availability history, verdict history)
                "fault_mid_month": (ALWAYS_ONLINE, [(LONG_AGO, True), (at(5), False), (at(7), True)]),
                "fault_while_offline": (
                    [(LONG_AGO, True), (at(10), False), (at(12), True)],
                    [(LONG_AGO, True), (at(11), False), (at(13), True)],
                ),
                "undiagnosed": (ALWAYS_ONLINE, []),
                "diagnosed_mid_month": (ALWAYS_ONLINE, [(at(10), False), (at(12), True)]),
                "faulty_since_before": (ALWAYS_ONLINE, [(at(-10), False), (at(3), True)]),
                "changing_faults": (ALWAYS_ONLINE, [(LONG_AGO, True), (at(5), False), (at(6), False), (at(8), True)]),
                "faulty_at_the_end": (ALWAYS_ONLINE, [(LONG_AGO, True), (at(31, 12), False)]),
                "faulty_and_offline": ([], [(LONG_AGO, False)]),
                "flapping_and_faulty": (
                    [(LONG_AGO, True)] + [(at(20, h, m), m == 30) for h in range(4) for m in (0, 30)],
                    [(LONG_AGO, True), (at(20, 1), False), (at(20, 3, 15), True)],
                ),
            }
            ids = {}
            for name, (availability, verdicts) in cases.items():
                ids[name] = await built.camera(name=name)
                await built.transitions(ids[name], availability)
                await built.diagnoses(ids[name], verdicts)
            await session.commit()
        yield World(engine, ids)


# name, online seconds, intact seconds, online at the end, intact at the end
EXPECTED = [
    ("fault_mid_month", MONTH_S, MONTH_S - 2 * DAY, 1, 1),
    # Offline 10-12 January, faulty 11-13: only the 12th-13th is a fault while online.
    ("fault_while_offline", MONTH_S - 2 * DAY, MONTH_S - 3 * DAY, 1, 1),
    ("undiagnosed", MONTH_S, MONTH_S, 1, 1),
    ("diagnosed_mid_month", MONTH_S, MONTH_S - 2 * DAY, 1, 1),
    ("faulty_since_before", MONTH_S, MONTH_S - 2 * DAY, 1, 1),
    ("changing_faults", MONTH_S, MONTH_S - 3 * DAY, 1, 1),
    ("faulty_at_the_end", MONTH_S, MONTH_S - 12 * HOUR, 1, 0),
    ("faulty_and_offline", 0, 0, 0, 0),
    # 20 January: offline 00:00-00:30, 01:00-01:30, 02:00-02:30, 03:00-03:30; faulty 01:00-03:15.
    # Online while faulty: 01:30-02:00 and 02:30-03:00.
    ("flapping_and_faulty", MONTH_S - 2 * HOUR, MONTH_S - 2 * HOUR - HOUR, 1, 1),
]


async def figures_of(world: World, name: str) -> Figures:
    return (await report(world.engine, CameraSet(camera_id=world.ids[name]))).figures


@pytest.mark.parametrize(("name", "online_s", "intact_s", "online_now", "intact_now"), EXPECTED)
async def test_intact_seconds(
    world: World, name: str, online_s: float, intact_s: float, online_now: int, intact_now: int
) -> None:
    f = await figures_of(world, name)
    assert (f.online_s, f.intact_s, f.online_now, f.intact_now) == (online_s, intact_s, online_now, intact_now)
    assert f.integrity_rate == pytest.approx(intact_s / MONTH_S)


async def test_only_cameras_never_diagnosed_by_the_end_are_undiagnosed(world: World) -> None:
    assert (await figures_of(world, "undiagnosed")).undiagnosed == 1
    assert (await figures_of(world, "diagnosed_mid_month")).undiagnosed == 0
    whole = (await report(world.engine)).figures
    assert whole.undiagnosed == 1
    assert (whole.online_s, whole.intact_s) == (sum(e[1] for e in EXPECTED), sum(e[2] for e in EXPECTED))
    assert (whole.online_now, whole.intact_now) == (sum(e[3] for e in EXPECTED), sum(e[4] for e in EXPECTED))


async def test_the_worst_list_shows_the_latest_faults(world: World) -> None:
    rows = {row.name: row for row in (await report(world.engine, worst=20)).worst}
    assert rows["faulty_at_the_end"].faults == ["blur"]
    assert rows["fault_mid_month"].faults == []
    assert rows["undiagnosed"].faults == []
    assert rows["faulty_at_the_end"].integrity_rate == pytest.approx((MONTH_S - 12 * HOUR) / MONTH_S)
