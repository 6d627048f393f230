"""Work-order statistics for the console's work-order page: per fault and per maintaining unit, within the caller's
scope, with the unit's id that the order list filters by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import HUICHENG, HUIYANG, Registry, add_user, api_key, build_registry
from tianyan.core.clock import FakeClock
from tianyan.health.models import WorkOrder
from tianyan.registry import service

AT = datetime(2026, 10, 3, 9, 0, tzinfo=UTC)


def _camera(registry: Registry, region: str):  # type: ignore[no-untyped-def]
    return next(c for c in registry.cameras if c.region == region and not c.sensitive and c.network == "police")


@pytest.fixture
async def world(session: AsyncSession, clock: FakeClock) -> tuple[int, dict[str, dict[str, str]]]:
    registry = await build_registry(session)
    unit = await service.add_organisation(session, kind="maintainer", code="M-HY", name="惠阳维保公司")
    users = {
        "admin": await add_user(session, "boss", "admin", all_regions=True),
        "huicheng.maintainer": await add_user(session, "hc.maint", "maintainer", regions=[HUICHENG]),
    }
    headers = {name: await api_key(session, user) for name, user in users.items()}
    huicheng, huiyang = _camera(registry, HUICHENG), _camera(registry, HUIYANG)
    # 惠阳: an offline fault repaired in two hours by its maintainer, and a picture fault still open.
    session.add(WorkOrder(camera_id=huiyang.id, fault="offline", detail="offline", status="closed", unit_id=unit.id,
                          opened_at=AT, fault_since=AT - timedelta(minutes=30), resolved_at=AT + timedelta(hours=1),
                          closed_at=AT + timedelta(minutes=90), fixed_by="auto", evidence={}))  # fmt: skip
    session.add(WorkOrder(camera_id=huiyang.id, fault="vqd", detail="blur", status="open", unit_id=unit.id,
                          opened_at=AT, fault_since=AT, evidence={}))  # fmt: skip
    # 惠城: one open offline order with no unit to send it to.
    session.add(WorkOrder(camera_id=huicheng.id, fault="offline", detail="offline", status="open", opened_at=AT,
                          fault_since=AT, evidence={}))  # fmt: skip
    await session.commit()
    clock.advance((AT + timedelta(days=1) - clock.now()).total_seconds())
    return unit.id, headers


async def test_order_statistics_per_fault_and_unit_with_mttr(client: httpx.AsyncClient, world) -> None:  # type: ignore[no-untyped-def]
    unit_id, headers = world
    answer = await client.get("/api/v1/work-orders/stats", params={"from": "2026-10-01"}, headers=headers["admin"])
    assert answer.status_code == 200, answer.text
    stats = answer.json()
    assert (stats["total"]["opened"], stats["total"]["closed"], stats["total"]["open_now"]) == (3, 1, 2)
    by_fault = {row["fault"]: row for row in stats["by_fault"]}
    assert by_fault["offline"]["opened"] == 2 and by_fault["offline"]["mttr_s"] == 2 * 3600
    assert by_fault["vqd"]["open_now"] == 1 and by_fault["vqd"]["mttr_s"] is None
    assert by_fault["retention"]["opened"] == 0
    units = {row["unit"]: row for row in stats["by_unit"]}
    assert units["惠阳维保公司"]["unit_id"] == unit_id and units["惠阳维保公司"]["opened"] == 2
    # The unit id is what the list filters by.
    listed = await client.get("/api/v1/work-orders", params={"unit": unit_id}, headers=headers["admin"])
    assert listed.json()["total"] == 2


async def test_order_statistics_stay_in_scope_and_refuse_a_bad_period(client: httpx.AsyncClient, world) -> None:  # type: ignore[no-untyped-def]
    _, headers = world
    mine = await client.get("/api/v1/work-orders/stats", params={"from": "2026-10-01"},
                            headers=headers["huicheng.maintainer"])  # fmt: skip
    assert mine.json()["total"]["opened"] == 1
    assert [row["unit_id"] for row in mine.json()["by_unit"]] == [None]
    bad = await client.get("/api/v1/work-orders/stats", params={"from": "October"}, headers=headers["admin"])
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
