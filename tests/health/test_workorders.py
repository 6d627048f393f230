"""Fault work orders: one order per fault, sent to the right unit, closed by itself once the fault is gone and
re-checked, reopened when it comes back, with manual fixes and closes kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.errors import InvalidInput
from tianyan.health import workorders
from tianyan.health.models import WorkOrder
from tianyan.health.workorders import WorkOrderClosed, WorkOrderOpened
from tianyan.registry import service
from tianyan.registry.models import AvailabilityTransition, Camera, Device, Organisation, Region

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


async def _setup(session: AsyncSession) -> dict[str, int]:
    await service.add_region(session, code="441300", name="惠州市", level="city")
    await service.add_region(session, code="441302", name="惠城区", level="county", parent_code="441300")
    regions = dict((await session.execute(select(Region.code, Region.id))).tuples().all())
    city_bureau = Organisation(kind="police_unit", code="PU-CITY", name="惠州市公安局", region_id=regions["441300"])
    district_bureau = Organisation(kind="police_unit", code="PU-HC", name="惠城分局", region_id=regions["441302"])
    maintainer = Organisation(kind="maintainer", code="M-1", name="惠州某运维公司", region_id=regions["441300"])
    session.add_all([city_bureau, district_bureau, maintainer])
    await session.flush()
    device = Device(gb_id="44130200001320000001", name="IPC", type_code="132", region_id=regions["441302"])
    session.add(device)
    await session.flush()
    cameras = {}
    for n, (name, region, maint) in enumerate(
        [("a", "441302", None), ("b", "441302", maintainer.id), ("c", "441300", None)], start=1
    ):
        camera = Camera(
            gb_id=f"441302000013200000{n:02d}", name=name, cls=1, network="police", region_id=regions[region],
            maintainer_id=maint, device_id=device.id, labels=[],
        )  # fmt: skip
        session.add(camera)
        await session.flush()
        cameras[name] = camera.id
    await session.commit()
    return {**cameras, "device": device.id, "city": city_bureau.id, "district": district_bureau.id,
            "maintainer": maintainer.id}  # fmt: skip


async def _transition(session: AsyncSession, ids: dict[str, int], camera: str, at: datetime, online: bool) -> None:
    session.add(
        AvailabilityTransition(at=at, device_id=ids["device"], camera_id=ids[camera], online=online, reason="test")
    )
    camera_row = await session.get(Camera, ids[camera])
    assert camera_row is not None
    camera_row.online = online
    await session.commit()


async def _orders(session: AsyncSession) -> list[WorkOrder]:
    return list((await session.execute(select(WorkOrder).order_by(WorkOrder.id))).scalars())


async def test_orders_go_to_the_maintainer_else_the_nearest_police_unit(session: AsyncSession) -> None:
    ids = await _setup(session)
    assert await workorders.responsible_unit(session, ids["a"]) == ids["district"]
    assert await workorders.responsible_unit(session, ids["b"]) == ids["maintainer"]
    assert await workorders.responsible_unit(session, ids["c"]) == ids["city"]


async def test_an_offline_camera_gets_exactly_one_order_that_closes_itself_on_recovery(session: AsyncSession) -> None:
    ids = await _setup(session)
    await _transition(session, ids, "a", T0, True)
    await _transition(session, ids, "a", T0 + timedelta(hours=1), False)
    sweep = {"after_s": 1800, "recheck_after_s": 300}

    # Offline 20 minutes: not yet an order.
    assert await workorders.sweep_offline(session, now=T0 + timedelta(minutes=80), **sweep) == []
    # Offline 40 minutes: one order, whatever the number of sweeps.
    events = []
    for minutes in (100, 101, 130, 200):
        events += await workorders.sweep_offline(session, now=T0 + timedelta(minutes=minutes), **sweep)
        await session.commit()
    assert [type(e) for e in events] == [WorkOrderOpened]
    (order,) = await _orders(session)
    assert (order.fault, order.status, order.unit_id) == ("offline", "open", ids["district"])
    assert order.fault_since == T0 + timedelta(hours=1)
    assert [t["online"] for t in order.evidence["transitions"]] == [False, True]

    # Back online: resolved at once, closed only after the re-check period has held.
    back = T0 + timedelta(minutes=210)
    await _transition(session, ids, "a", back, True)
    assert await workorders.sweep_offline(session, now=back + timedelta(seconds=60), **sweep) == []
    await session.commit()
    (order,) = await _orders(session)
    assert (order.status, order.resolved_at) == ("resolved", back)
    closed = await workorders.sweep_offline(session, now=back + timedelta(seconds=301), **sweep)
    await session.commit()
    assert [type(e) for e in closed] == [WorkOrderClosed]
    (order,) = await _orders(session)
    assert (order.status, order.fixed_by) == ("closed", "auto")
    # MTTR runs from the fault's start to the close.
    assert order.closed_at - order.fault_since == timedelta(minutes=150, seconds=301)


async def test_a_camera_back_offline_before_the_recheck_reopens_the_same_order(session: AsyncSession) -> None:
    ids = await _setup(session)
    sweep = {"after_s": 600, "recheck_after_s": 300}
    await _transition(session, ids, "a", T0, True)
    await _transition(session, ids, "a", T0 + timedelta(minutes=1), False)
    await workorders.sweep_offline(session, now=T0 + timedelta(minutes=20), **sweep)
    await session.commit()
    await _transition(session, ids, "a", T0 + timedelta(minutes=21), True)
    await workorders.sweep_offline(session, now=T0 + timedelta(minutes=22), **sweep)
    await session.commit()
    await _transition(session, ids, "a", T0 + timedelta(minutes=23), False)
    events = await workorders.sweep_offline(session, now=T0 + timedelta(minutes=40), **sweep)
    await session.commit()
    assert events == []  # no second order
    (order,) = await _orders(session)
    assert order.status == "open" and order.resolved_at is None
    assert "seen again" in (order.fix_note or "")


async def test_cameras_never_online_get_no_offline_orders(session: AsyncSession) -> None:
    await _setup(session)
    assert await workorders.sweep_offline(session, now=T0 + timedelta(days=3), after_s=60, recheck_after_s=60) == []


async def test_picture_faults_need_consecutive_failures_and_close_after_a_clean_recheck(session: AsyncSession) -> None:
    ids = await _setup(session)
    common = {"camera_id": ids["a"], "needed_failures": 2, "recheck_after_s": 300, "evidence": {"frame_path": "x"}}
    first = await workorders.on_diagnosis(
        session, faults=["blur"], consecutive_failures=1, at=T0, fault_since=T0, **common
    )
    assert first == []
    second = await workorders.on_diagnosis(
        session, faults=["blur"], consecutive_failures=2, at=T0 + timedelta(minutes=5), fault_since=T0, **common
    )
    await session.commit()
    assert [type(e) for e in second] == [WorkOrderOpened]
    (order,) = await _orders(session)
    assert (order.fault, order.detail, order.fault_since) == ("vqd", "blur", T0)
    clean_at = T0 + timedelta(hours=1)
    assert (
        await workorders.on_diagnosis(
            session, faults=[], consecutive_failures=0, at=clean_at, fault_since=clean_at, **common
        )
        == []
    )
    await session.commit()
    (order,) = await _orders(session)
    assert order.status == "resolved"
    recheck = clean_at + timedelta(seconds=300)
    closed = await workorders.on_diagnosis(
        session, faults=[], consecutive_failures=0, at=recheck, fault_since=recheck, **common
    )
    await session.commit()
    assert [type(e) for e in closed] == [WorkOrderClosed]


async def test_a_maintainer_reports_a_fix_and_the_recheck_decides(session: AsyncSession) -> None:
    ids = await _setup(session)
    order, _ = await workorders.fault_present(
        session, camera_id=ids["b"], fault="vqd", detail="too_dark", fault_since=T0, evidence={}, now=T0
    )
    await session.commit()
    workorders.report_fixed(order, user="maint1", note="cleaned the lens", now=T0 + timedelta(hours=2))
    await session.commit()
    assert order.status == "resolved" and order.fixed_by == "maint1"
    # The re-check still finds the fault: back to open, the note kept.
    await workorders.fault_present(
        session, camera_id=ids["b"], fault="vqd", detail="too_dark", fault_since=T0, evidence={},
        now=T0 + timedelta(hours=2, minutes=5),
    )  # fmt: skip
    await session.commit()
    assert order.status == "open" and "cleaned the lens" in (order.fix_note or "")
    with pytest.raises(InvalidInput):
        workorders.close_by_hand(order, user="admin", reason="  ", now=T0)
    event = workorders.close_by_hand(order, user="admin", reason="camera removed", now=T0 + timedelta(days=1))
    await session.commit()
    assert event.fixed_by == "admin" and order.status == "closed"
    with pytest.raises(InvalidInput):
        workorders.report_fixed(order, user="maint1", note="", now=T0)


async def test_the_database_refuses_a_second_open_order_for_one_fault(session: AsyncSession) -> None:
    ids = await _setup(session)
    for _ in range(2):
        await workorders.fault_present(
            session, camera_id=ids["a"], fault="retention", detail="x", fault_since=T0, evidence={}, now=T0
        )
    await session.commit()
    assert (await session.execute(select(func.count()).select_from(WorkOrder))).scalar_one() == 1
    with pytest.raises(IntegrityError):
        await session.execute(
            text(
                "INSERT INTO work_orders (camera_id, fault, detail, status, opened_at, fault_since, evidence, "
                "updated_at) VALUES (:c, 'retention', '', 'open', :t, :t, '{}', :t)"
            ),
            {"c": ids["a"], "t": T0},
        )
    await session.rollback()


async def test_retention_orders_follow_the_daily_compliance(session: AsyncSession) -> None:
    ids = await _setup(session)
    opened = await workorders.on_compliance(
        session, verdicts=[(ids["a"], False, {"status": "non_compliant"}), (ids["b"], True, {})], now=T0
    )
    await session.commit()
    assert [(type(e), e.camera_id) for e in opened] == [(WorkOrderOpened, ids["a"])]
    again = await workorders.on_compliance(session, verdicts=[(ids["a"], False, {"status": "x"})], now=T0)
    assert again == []
    closed = await workorders.on_compliance(session, verdicts=[(ids["a"], True, {})], now=T0 + timedelta(days=1))
    await session.commit()
    assert [type(e) for e in closed] == [WorkOrderClosed]
