"""A whole report: the worst cameras in order, and the daily trend (local days) worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.health.kpi_fixtures import END, LONG_AGO, MONTH, MONTH_S, at, build_world, report
from tianyan.core.errors import InvalidInput
from tianyan.health.kpi.engine import compute_report
from tianyan.health.kpi.model import DIMENSIONS, CameraSet, Period
from tianyan.security.scope import SYSTEM

DAY, HOUR = 86_400, 3_600


async def test_the_worst_cameras_come_first_by_online_rate_then_integrity(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        world = await build_world(session)
        histories = {
            "half": ([(LONG_AGO, True), (at(16, 12), False)], [(LONG_AGO, True)]),
            "always, faulty ten days": ([(LONG_AGO, True)], [(LONG_AGO, True), (at(5), False), (at(15), True)]),
            "always, fine": ([(LONG_AGO, True)], [(LONG_AGO, True)]),
            "three days off": ([(LONG_AGO, True), (at(10), False), (at(13), True)], [(LONG_AGO, True)]),
            "three days off, faulty now": ([(LONG_AGO, True), (at(10), False), (at(13), True)],
                                           [(LONG_AGO, True), (at(31), False)]),
        }  # fmt: skip
        for name, (availability, verdicts) in histories.items():
            camera = await world.camera(name=name)
            await world.transitions(camera, availability)
            await world.diagnoses(camera, verdicts)
        await session.commit()
    rows = (await report(engine, worst=3)).worst
    assert [r.name for r in rows] == ["half", "three days off, faulty now", "three days off"]
    first, second = rows[0], rows[1]
    assert (first.online_rate, first.online_now, first.period_s) == (0.5, False, MONTH_S)
    assert (first.cls, first.region, first.gb_id, first.faults) == (1, "江北派出所", "44130200001320000001", [])
    assert (second.online_s, second.intact_s, second.faults) == (MONTH_S - 3 * DAY, MONTH_S - 4 * DAY, ["blur"])
    assert second.retention_status == "no_recordings"
    assert (await report(engine, worst=0)).worst == []
    with pytest.raises(InvalidInput, match="cannot be negative"):
        await report(engine, worst=-1)


async def test_the_trend_has_one_figure_per_local_day(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        world = await build_world(session)
        a = await world.camera(name="a")
        # Offline from 2 January 06:00 to 3 January 06:00 (across midnight); faulty 5 January 12:00 to 6 January 12:00.
        await world.transitions(a, [(LONG_AGO, True), (at(2, 6), False), (at(3, 6), True)])
        await world.diagnoses(a, [(LONG_AGO, True), (at(5, 12), False), (at(6, 12), True)])
        await world.recording_days(a, [(date(2026, 1, d), 0.5 if d == 4 else 1.0, float(DAY)) for d in range(1, 32)])
        # Created 10 January 12:00, online from 13:00, never diagnosed.
        b = await world.camera(name="b", created_at=at(10, 12))
        await world.transitions(b, [(at(10, 13), True)])
        await session.commit()
    result = await report(engine, trend=True, now=at(20, 12))
    days = dict(result.trend)
    assert list(days) == [f"2026-01-{d:02d}" for d in range(1, 21)]
    second, third = days["2026-01-02"], days["2026-01-03"]
    assert (second.online_s, second.online_now, second.period_s) == (6 * HOUR, 0, DAY)
    assert (third.online_s, third.online_now) == (18 * HOUR, 1)
    fifth, sixth = days["2026-01-05"], days["2026-01-06"]
    assert (fifth.online_s, fifth.intact_s, fifth.intact_now) == (DAY, 12 * HOUR, 0)
    assert (sixth.intact_s, sixth.intact_now, sixth.integrity_rate) == (12 * HOUR, 1, 0.5)
    # Recording is judged over the legal window at the end, not per day.
    assert (days["2026-01-04"].recording_completeness, days["2026-01-04"].planned_s) == (None, 0)
    ninth, tenth = days["2026-01-09"], days["2026-01-10"]
    assert (ninth.cameras, ninth.undiagnosed, tenth.cameras, tenth.undiagnosed) == (1, 0, 2, 1)
    assert (tenth.period_s, tenth.online_s) == (DAY + 12 * HOUR, DAY + 11 * HOUR)
    # The last day is measured up to now (noon): both cameras online.
    last = days["2026-01-20"]
    assert (last.period_s, last.online_s, last.online_now, last.cameras) == (DAY, DAY, 2, 2)
    assert (last.retention_required, last.retention_compliance) == (0, None)
    # The days add up to the period.
    assert sum(f.online_s for f in days.values()) == result.figures.online_s
    assert sum(f.intact_s for f in days.values()) == result.figures.intact_s
    assert sum(f.period_s for f in days.values()) == result.figures.period_s


async def test_a_trend_over_more_than_a_year_is_refused(engine: AsyncEngine) -> None:
    with pytest.raises(InvalidInput, match="at most 366 days"):
        await report(engine, period=Period(at(1), at(1 + 400)), now=at(1 + 400), trend=True)
    assert (await report(engine, period=MONTH, now=END, trend=False)).trend == []


async def test_the_callers_transaction_keeps_its_settings_and_tables(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        world = await build_world(session)
        await world.camera()
        await session.commit()
        settings = "SELECT current_setting('work_mem'), current_setting('jit')"
        if engine.dialect.name == "postgresql":
            before = (await session.execute(text(settings))).one()
        await compute_report(session, selection=CameraSet(), period=MONTH, principal=SYSTEM, plan=None, now=END,
                             breakdowns=DIMENSIONS, trend=True)  # fmt: skip
        if engine.dialect.name == "postgresql":
            after = (await session.execute(text(settings))).one()
            assert after == before
            temporary = "SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema() AND relname LIKE 'kpi%'"
        else:
            temporary = "SELECT count(*) FROM sqlite_temp_master WHERE name LIKE 'kpi_%'"
        assert (await session.execute(text(temporary))).scalar_one() == 0
