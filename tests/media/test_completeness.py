"""Recording completeness and retention compliance on constructed timelines: overlaps counted once, local days
in Asia/Shanghai (UTC+8), gaps with their causes, first and current days partly planned; compliance as the plans
define it (footage back 30 / 15 days, each day at least 99 % complete) over what exists now."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tianyan.core import gbid
from tianyan.db.engine import make_sessionmaker
from tianyan.media import completeness
from tianyan.media.completeness import day_bounds, figure_day, local_day
from tianyan.media.models import RecordingDay, RecordingGap, RecordingPlan, RecordingSegment
from tianyan.registry import service
from tianyan.registry.models import Camera

DAY = date(2026, 11, 20)  # local: 2026-11-19 16:00 UTC to 2026-11-20 16:00 UTC


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


SEGMENTS = [
    (utc(19, 15, 30), utc(19, 16, 30)),  # crosses local midnight: 30 min belong to the 20th
    (utc(19, 16, 20), utc(19, 17, 0)),  # overlaps the one before by 10 min
    (utc(19, 18), utc(19, 20)),
    (utc(20, 15), utc(20, 16, 30)),  # crosses the next local midnight: 1 h belongs to the 20th
]
KNOWN_GAPS = [(utc(19, 17), utc(19, 18), "stream_lost")]


def test_the_local_day_is_asia_shanghai() -> None:
    assert day_bounds(DAY) == (utc(19, 16), utc(20, 16))
    assert local_day(utc(19, 15, 59)) == date(2026, 11, 19) and local_day(utc(19, 16)) == DAY
    assert completeness.local_days(utc(19, 15), utc(20, 17)) == [date(2026, 11, 19), DAY, date(2026, 11, 21)]


def test_a_full_day_counts_overlaps_once_and_names_its_gaps() -> None:
    figures = figure_day(
        camera_id=1, day=DAY, segments=SEGMENTS, known_gaps=KNOWN_GAPS, plan_from=utc(1, 0), now=utc(25, 0)
    )
    assert figures.recorded_s == 3600 + 7200 + 3600
    assert (figures.planned_s, figures.gap_s) == (86_400, 86_400 - 14_400)
    assert figures.completeness == pytest.approx(14_400 / 86_400)
    assert [(g.start_at, g.end_at, g.cause) for g in figures.gaps] == [
        (utc(19, 17), utc(19, 18), "stream_lost"),
        (utc(19, 20), utc(20, 15), "unknown"),
    ]


def test_the_first_and_the_current_day_are_planned_only_in_part() -> None:
    first = figure_day(camera_id=1, day=DAY, segments=SEGMENTS, plan_from=utc(19, 18), now=utc(25, 0))
    assert first.planned_s == 22 * 3600 and first.completeness == pytest.approx(10_800 / (22 * 3600))
    assert first.recorded_s == 14_400  # recorded seconds are the day's, planned or not
    today = figure_day(camera_id=1, day=DAY, segments=SEGMENTS, plan_from=utc(1, 0), now=utc(20, 4))
    assert today.planned_s == 12 * 3600 and today.gap_s == 12 * 3600 - 10_800
    unplanned = figure_day(camera_id=1, day=DAY, segments=SEGMENTS, plan_from=None, now=utc(25, 0))
    assert (unplanned.planned_s, unplanned.completeness, unplanned.recorded_s) == (0, 0, 14_400)
    perfect = figure_day(camera_id=1, day=DAY, segments=[day_bounds(DAY)] * 2, plan_from=utc(1, 0), now=utc(25, 0))
    assert perfect.completeness == 1.0 and perfect.gaps == []


# --- on the database -----------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # 12:00 in Huizhou
TODAY = local_day(NOW)


async def _cameras(sessions: async_sessionmaker[AsyncSession], spec: dict[str, tuple[int, date | None]]) -> dict:
    ids = {}
    async with sessions() as session:
        await service.add_region(session, code="440000", name="广东省", level="province")
        await service.add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
        region = await service.add_region(session, code="441302", name="惠城区", level="county", parent_code="441300")
        for serial, (name, (cls, installed)) in enumerate(spec.items(), start=1):
            camera = Camera(
                gb_id=gbid.build(centre="441302", serial=serial).value, name=name, cls=cls, network="police",
                region_id=region.id, install_date=installed, labels=[],
            )  # fmt: skip
            session.add(camera)
            await session.flush()
            ids[name] = camera.id
        await session.commit()
    return ids


async def _record(sessions: async_sessionmaker[AsyncSession], camera_id: int, spans: list[tuple[datetime, datetime]]):
    rows = [
        {"camera_id": camera_id, "pool": "p", "path": f"{camera_id}/{a:%Y%m%d%H%M%S}-{n}.mp4", "start_at": a,
         "end_at": b, "bytes": 1, "codec": "h264", "status": "closed"}
        for n, (a, b) in enumerate(spans)
    ]  # fmt: skip
    async with sessions() as session:
        await session.execute(insert(RecordingSegment), rows)
        await session.commit()


def continuous(since: datetime, until: datetime, *, hours: int = 6) -> list[tuple[datetime, datetime]]:
    spans, at = [], since
    while at < until:
        spans.append((at, min(at + timedelta(hours=hours), until)))
        at += timedelta(hours=hours)
    return spans


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


async def test_refresh_writes_one_camera_day_from_its_own_segments(sessions: async_sessionmaker[AsyncSession]) -> None:
    ids = await _cameras(sessions, {"a": (1, None), "b": (1, None), "c3": (3, None)})
    await _record(sessions, ids["a"], SEGMENTS)
    await _record(sessions, ids["b"], [day_bounds(DAY)])  # another camera's footage never counts for "a"
    await _record(sessions, ids["c3"], [(utc(19, 18), utc(19, 20))])
    async with sessions() as session:
        session.add(RecordingGap(camera_id=ids["a"], start_at=utc(19, 17), end_at=utc(19, 18), cause="stream_lost"))
        await session.commit()
    async with sessions() as session:
        first = await completeness.refresh(session, ids["a"], DAY, now=NOW)
        await session.commit()
    # Its first recorded day: planned from its first footage (15:30 UTC the day before, so the whole day).
    assert (first.recorded_s, first.planned_s) == (14_400, 86_400)
    assert [g.cause for g in first.gaps] == ["stream_lost", "unknown"]
    await _record(sessions, ids["a"], [(utc(19, 20), utc(20, 15))])
    async with sessions() as session:
        again = await completeness.refresh(session, ids["a"], DAY, now=NOW)
        unplanned = await completeness.refresh(session, ids["c3"], DAY, now=NOW)
        await session.commit()
    assert again.completeness == pytest.approx((86_400 - 3600) / 86_400)
    assert (unplanned.recorded_s, unplanned.planned_s) == (7200, 0)  # class 3 is not recorded by default
    async with sessions() as session:
        rows = (await session.execute(select(RecordingDay).order_by(RecordingDay.camera_id))).scalars().all()
        assert [(r.camera_id, r.day, r.recorded_s) for r in rows] == [(ids["a"], DAY, 82_800), (ids["c3"], DAY, 7200)]
        session.add(RecordingPlan(camera_id=ids["c3"], enabled=True))
        await session.commit()
    async with sessions() as session:
        planned = await completeness.refresh(session, ids["c3"], DAY, now=NOW)
    # Its own plan now asks for it, from its first footage on (02:00 local).
    assert planned.planned_s == 22 * 3600 and planned.completeness == pytest.approx(7200 / (22 * 3600))


async def test_retention_compliance(sessions: async_sessionmaker[AsyncSession]) -> None:
    ids = await _cameras(
        sessions,
        {
            "steady": (1, None),  # 35 days without a break
            "holed": (1, None),  # a two-hour hole five days ago
            "trimmed": (1, None),  # days 16 to 20 back deleted after they were recorded
            "new": (2, None),  # recording for five days only
            "silent": (1, TODAY - timedelta(days=3)),  # installed three days ago, nothing recorded
            "never": (1, None),  # no install date, nothing recorded
            "c3": (3, None),
        },
    )
    start = day_bounds(TODAY - timedelta(days=35))[0]
    for name in ("steady", "holed", "trimmed"):
        await _record(sessions, ids[name], continuous(start, NOW))
    await _record(sessions, ids["new"], continuous(day_bounds(TODAY - timedelta(days=5))[0], NOW))
    hole_day = TODAY - timedelta(days=5)
    hole = (day_bounds(hole_day)[0] + timedelta(hours=7), day_bounds(hole_day)[0] + timedelta(hours=9))
    async with sessions() as session:
        segments = RecordingSegment.__table__
        await session.execute(
            delete(segments).where(
                segments.c.camera_id == ids["holed"], segments.c.start_at == hole[0] - timedelta(hours=1)
            )
        )
        await session.commit()
    await _record(
        sessions, ids["holed"], [(hole[0] - timedelta(hours=1), hole[0]), (hole[1], hole[1] + timedelta(hours=3))]
    )
    async with sessions() as session:
        for back in range(36, 0, -1):
            await completeness.refresh_many(session, TODAY - timedelta(days=back), now=NOW)
        await session.commit()
    # Footage of "trimmed" deleted for space after it was recorded: once its days are refreshed, it is gone.
    trim_from, trim_to = day_bounds(TODAY - timedelta(days=20))[0], day_bounds(TODAY - timedelta(days=16))[1]
    async with sessions() as session:
        await session.execute(
            delete(RecordingSegment).where(
                RecordingSegment.camera_id == ids["trimmed"],
                RecordingSegment.start_at >= trim_from,
                RecordingSegment.end_at <= trim_to,
            )
        )
        await completeness.refresh_touched(session, [(ids["trimmed"], trim_from, trim_to)], now=NOW)
        await session.commit()

    async with sessions() as session:
        cameras = (
            (await session.execute(select(Camera.id, Camera.gb_id, Camera.name, Camera.cls, Camera.install_date)))
            .tuples()
            .all()
        )
        judged = {c.name: c for c in await completeness.compliance_of(session, cameras, now=NOW)}

    steady = judged["steady"]
    assert steady.status == "compliant" and steady.reaches_back and steady.required_days == 30
    assert (steady.window_from, steady.window_to) == (TODAY - timedelta(days=29), TODAY - timedelta(days=1))
    assert steady.days_checked == steady.days_complete == 29 and steady.failing_days == []
    assert judged["holed"].status == "non_compliant" and judged["holed"].failing_days == [hole_day]
    trimmed = judged["trimmed"]
    assert trimmed.status == "non_compliant"
    assert trimmed.failing_days == [TODAY - timedelta(days=n) for n in range(20, 15, -1)]
    new = judged["new"]
    assert new.status == "compliant" and new.required_days == 15
    assert (new.days_checked, new.days_before_start) == (5, 9)
    silent = judged["silent"]
    assert silent.status == "non_compliant" and silent.days_checked == 3 and len(silent.failing_days) == 3
    assert judged["never"].status == "no_recordings" and not judged["never"].compliant
    assert judged["c3"].status == "not_required" and judged["c3"].compliant
