"""Online rate from hand-made transition histories, to the second, on SQLite and PostgreSQL.

January 2026 (local days) is measured. Each camera has a history whose answer is worked out by hand in its test:
steady, never online, cut by both ends of the period, flapping, repeating states, created during the month,
a platform restart (transitions produced by the platform's own presence table), simultaneous transitions, and
transitions exactly at the period's edges.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import BACKENDS
from tests.health.kpi_fixtures import END, LONG_AGO, MONTH, MONTH_S, START, at, build_world, migrated, report
from tianyan.core.errors import InvalidInput
from tianyan.gb28181.presence import PresenceTable
from tianyan.health.kpi.engine import camera_online_seconds, compute_figures
from tianyan.health.kpi.model import CameraSet, Period
from tianyan.security.scope import SYSTEM

pytestmark = pytest.mark.asyncio(loop_scope="module")

DAY, HOUR, MINUTE = 86_400, 3_600, 60


def platform_history(*, survives_restart: bool) -> list[tuple[datetime, bool]]:
    """What the platform writes for a device registered on 3 January 08:00 that keeps alive every minute until the
    platform goes down at 10 January 12:00:30 for half an hour. If it does not survive, it fell silent after its
    12:00 keepalive and comes back on 11 January 09:00; otherwise it keeps alive throughout."""
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    written: list[tuple[datetime, bool]] = []
    registered = table.registered(1, now=at(3, 8), expires_s=40 * DAY)
    assert registered is not None
    written.append((registered.at, True))
    now = at(3, 8)
    while now < at(10, 12):
        now += timedelta(minutes=1)
        table.keepalive(1, now=now)
        written += [(t.at, t.online) for t in table.sweep(now)]
    # The platform is down from 12:00:30 to 12:30:00 and starts again from what the database says.
    table = PresenceTable(keepalive_interval_s=60, missed=3)
    restored = table.restore(1, now=at(10, 12, 30), registered_until=at(3, 8) + timedelta(days=40), last_seen=now)
    assert restored is None  # a restart alone writes nothing
    now = at(10, 12, 30, 20)
    while now < at(10, 13):
        if survives_restart:
            assert table.keepalive(1, now=now)
        written += [(t.at, t.online) for t in table.sweep(now)]
        now += timedelta(minutes=1)
    if not survives_restart:
        back = table.registered(1, now=at(11, 9), expires_s=40 * DAY)
        assert back is not None
        written.append((back.at, True))
    return written


@dataclass(frozen=True)
class Histories:
    engine: AsyncEngine
    ids: dict[str, int]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def histories(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Histories]:
    async with migrated(request.param, tmp_path_factory.mktemp("kpi-online")) as engine:
        async with AsyncSession(engine) as session:
            world = await build_world(session)
            flapping = [(LONG_AGO, True)]
            for cycle in range(30):  # an hour apart from 5 January: 10 minutes offline each time
                flapping += [(at(5, cycle), False), (at(5, cycle, 10), True)]
            plans = {
                "steady": [(LONG_AGO, True)],
                "never": [],
                "cut_by_both_ends": [(at(-10), True), (at(10, 8), False), (at(31, 20), True)],
                "flapping": flapping,
                "repeats": [
                    (LONG_AGO, False),
                    (at(2), True),
                    (at(3), True),
                    (at(4), False),
                    (at(5), False),
                    (at(6), True),
                ],
                "restart_down": platform_history(survives_restart=False),
                "restart_alive": platform_history(survives_restart=True),
                # Written in this order at the same instant: the later row is the state.
                "simultaneous": [(LONG_AGO, True), (at(15), False), (at(15), True)],
                "edges": [(LONG_AGO, True), (START, False), (END, True)],
                "sub_second": [
                    (LONG_AGO, False),
                    (at(1, 0, 0, 0) + timedelta(milliseconds=250), True),
                    (at(1, 0, 0, 1) + timedelta(milliseconds=750), False),
                ],
            }
            ids = {}
            for name, history in plans.items():
                ids[name] = await world.camera(name=name)
                await world.transitions(ids[name], history)
            ids["created_mid_month"] = await world.camera(name="created", created_at=at(10, 12))
            await world.transitions(ids["created_mid_month"], [(at(10, 13), True), (at(20, 13), False)])
            ids["created_never_online"] = await world.camera(name="created, never online", created_at=at(15))
            ids["created_after"] = await world.camera(name="created after the month", created_at=at(33))
            await world.transitions(ids["created_after"], [(at(33, 1), True)])
            await session.commit()
        yield Histories(engine, ids)


async def one(histories: Histories, name: str, **options: object) -> tuple[float, float, bool]:
    """Online seconds, seconds counted and online at the end, from a report on that camera alone."""
    result = await report(histories.engine, CameraSet(camera_id=histories.ids[name]), **options)  # type: ignore[arg-type]
    f = result.figures
    assert f.cameras == 1
    return f.online_s, f.period_s, f.online_now == 1


async def test_a_camera_online_since_before_the_month_is_online_all_month(histories: Histories) -> None:
    assert await one(histories, "steady") == (MONTH_S, MONTH_S, True)


async def test_a_camera_that_never_came_online_is_offline_all_month(histories: Histories) -> None:
    assert await one(histories, "never") == (0, MONTH_S, False)


async def test_intervals_are_cut_at_both_ends_of_the_period(histories: Histories) -> None:
    # Online from before the month to 10 January 08:00, and again from 31 January 20:00 to the end.
    assert await one(histories, "cut_by_both_ends") == (9 * DAY + 8 * HOUR + 4 * HOUR, MONTH_S, True)


async def test_a_flapping_camera_loses_exactly_its_offline_minutes(histories: Histories) -> None:
    assert await one(histories, "flapping") == (MONTH_S - 30 * 10 * MINUTE, MONTH_S, True)


async def test_repeated_states_change_nothing(histories: Histories) -> None:
    # Online 2 to 4 January and from 6 January on; the repeated rows on the 3rd and the 5th are no change.
    assert await one(histories, "repeats") == ((2 + 26) * DAY, MONTH_S, True)


async def test_after_a_platform_restart_the_device_went_offline_at_its_missed_deadline(histories: Histories) -> None:
    # Online 3 January 08:00 to 10 January 12:03 (last keepalive 12:00 + 3 minutes), then from 11 January 09:00.
    first = 7 * DAY + 4 * HOUR + 3 * MINUTE
    second = 20 * DAY + 15 * HOUR
    assert await one(histories, "restart_down") == (first + second, MONTH_S, True)


async def test_a_platform_restart_alone_costs_a_device_nothing(histories: Histories) -> None:
    assert await one(histories, "restart_alive") == (MONTH_S - 2 * DAY - 8 * HOUR, MONTH_S, True)


async def test_simultaneous_transitions_leave_the_later_written_state(histories: Histories) -> None:
    assert await one(histories, "simultaneous") == (MONTH_S, MONTH_S, True)


async def test_transitions_at_the_start_count_and_at_the_end_do_not(histories: Histories) -> None:
    assert await one(histories, "edges") == (0, MONTH_S, False)


async def test_milliseconds_count(histories: Histories) -> None:
    online_s, _, _ = await one(histories, "sub_second")
    assert online_s == pytest.approx(1.5, abs=1e-9)


async def test_a_camera_created_during_the_month_counts_from_its_creation(histories: Histories) -> None:
    # Created 10 January 12:00, online 13:00 to 20 January 13:00: 10 days of 21.5.
    assert await one(histories, "created_mid_month") == (10 * DAY, 21 * DAY + 12 * HOUR, False)
    assert await one(histories, "created_never_online") == (0, 17 * DAY, False)


async def test_a_camera_created_after_the_period_is_not_counted(histories: Histories) -> None:
    result = await report(histories.engine)
    assert histories.ids["created_after"] not in {row.camera_id for row in result.worst}
    assert result.figures.cameras == len(histories.ids) - 1


async def test_a_set_adds_up_its_cameras_seconds(histories: Histories) -> None:
    singles = {name: await one(histories, name) for name in histories.ids if name != "created_after"}
    whole = (await report(histories.engine)).figures
    assert whole.online_s == pytest.approx(sum(s[0] for s in singles.values()), abs=1e-6)
    assert whole.period_s == sum(s[1] for s in singles.values())
    assert whole.online_rate == pytest.approx(whole.online_s / whole.period_s)
    assert whole.online_now == sum(s[2] for s in singles.values())
    async with AsyncSession(histories.engine) as session:
        seconds = await camera_online_seconds(session, list(histories.ids.values()), MONTH)
    assert seconds == {histories.ids[name]: s[0] for name, s in singles.items()}


async def test_a_period_reaching_past_now_is_measured_up_to_now(histories: Histories) -> None:
    online_s, period_s, online_now = await one(histories, "cut_by_both_ends", now=at(10, 20))
    assert (online_s, period_s, online_now) == (9 * DAY + 8 * HOUR, 9 * DAY + 20 * HOUR, False)


async def test_a_short_period_inside_the_month(histories: Histories) -> None:
    period = Period(at(5, 0, 30), at(5, 3))  # the flapping camera: offline 00:00-00:10, 01:00-01:10, 02:00-02:10
    assert await one(histories, "flapping", period=period, now=END) == (2.5 * HOUR - 20 * MINUTE, 2.5 * HOUR, True)


async def test_a_period_that_ends_before_it_starts_is_refused(histories: Histories) -> None:
    with pytest.raises(InvalidInput, match="end after it starts"):
        await report(histories.engine, period=Period(END, START))


async def test_figures_alone_are_the_reports_figures(histories: Histories) -> None:
    async with AsyncSession(histories.engine) as session:
        alone = await compute_figures(session, selection=CameraSet(), period=MONTH, principal=SYSTEM, now=END)
    assert alone == (await report(histories.engine)).figures


async def test_times_without_a_time_zone_are_refused(histories: Histories) -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        await report(histories.engine, period=Period(START.replace(tzinfo=None), END))
