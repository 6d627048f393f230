"""The recordings API as operators, analysts and administrators meet it: timelines and recording days within scope
(a Huiyang operator does not see a Huicheng camera's recordings), compliance, evidence locks (audited), media
alarms, storage pools, and a sweep run by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import HUICHENG, HUIYANG, Registry, add_user, api_key, build_registry
from tianyan.app.platform import Platform
from tianyan.config import StoragePool
from tianyan.core.clock import FakeClock
from tianyan.media import completeness
from tianyan.media.models import EvidenceLock, MediaAlarm, RecordingGap, RecordingSegment
from tianyan.security.models import AuditEntry

API = "/api/v1"
NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)


@dataclass
class World:
    client: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    huiyang: str  # a class 1 camera in 惠阳区
    huicheng: str  # a class 1 camera in 惠城区
    pool: Path
    ids: dict[str, int]


@pytest.fixture
async def world(
    client: httpx.AsyncClient, session: AsyncSession, platform: Platform, clock: FakeClock, tmp_path: Path
) -> World:
    clock._now = NOW
    pool = tmp_path / "pool"
    pool.mkdir()
    platform.config.media.pools = [StoragePool(name="main", path=pool, capacity_gb=1.0)]
    registry: Registry = await build_registry(session, sensitive=(False,))
    facts = {
        region: next(c for c in registry.cameras if c.region == region and c.cls == 1 and c.network == "police")
        for region in (HUIYANG, HUICHENG)
    }
    users = {
        "admin": await add_user(session, "boss", "admin", all_regions=True),
        "huiyang.operator": await add_user(session, "hy.op", "operator", regions=[HUIYANG]),
        "huiyang.analyst": await add_user(session, "hy.ana", "analyst", regions=[HUIYANG]),
    }
    headers = {name: await api_key(session, user) for name, user in users.items()}
    rows = []
    for camera in facts.values():
        for n in range(3):  # 08:00-09:00, 09:00-10:00 and 10:30-11:00 local on 2026-11-20
            start = datetime(2026, 11, 20, n, tzinfo=UTC) + (timedelta(minutes=30) if n == 2 else timedelta())
            end = datetime(2026, 11, 20, n + 1, tzinfo=UTC)
            rows.append({"camera_id": camera.id, "pool": "main", "path": f"{camera.gb_id}/{n}.mp4", "start_at": start,
                         "end_at": end, "bytes": 10, "codec": "h264", "status": "closed"})  # fmt: skip
    await session.execute(insert(RecordingSegment), rows)
    session.add(RecordingGap(camera_id=facts[HUIYANG].id, start_at=datetime(2026, 11, 20, 2, tzinfo=UTC),
                             end_at=datetime(2026, 11, 20, 2, 30, tzinfo=UTC), cause="device_offline"))  # fmt: skip
    await session.commit()
    ids = {region: camera.id for region, camera in facts.items()}
    return World(client, headers, facts[HUIYANG].gb_id, facts[HUICHENG].gb_id, pool, ids)


WINDOW = {"from": "2026-11-20T08:00:00+08:00", "to": "2026-11-20T12:00:00+08:00"}


async def test_a_timeline_shows_segments_and_gaps_within_scope(world: World) -> None:
    operator = world.headers["huiyang.operator"]
    answer = await world.client.get(f"{API}/cameras/{world.huiyang}/recordings", params=WINDOW, headers=operator)
    assert answer.status_code == 200, answer.text
    timeline = answer.json()
    assert len(timeline["segments"]) == 3 and timeline["recorded_s"] == 2.5 * 3600
    assert [(g["cause"], g["start_at"][:16]) for g in timeline["gaps"]] == [
        ("device_offline", "2026-11-20T02:00"),
        ("unknown", "2026-11-20T03:00"),
    ]
    paged = await world.client.get(f"{API}/cameras/{world.huiyang}/recordings", params={**WINDOW, "limit": 2},
                                   headers=operator)  # fmt: skip
    more = {**WINDOW, "cursor": paged.json()["next_cursor"]}
    rest = await world.client.get(f"{API}/cameras/{world.huiyang}/recordings", params=more, headers=operator)
    assert [s["id"] for s in paged.json()["segments"] + rest.json()["segments"]] == [
        s["id"] for s in timeline["segments"]
    ]
    assert rest.json()["next_cursor"] is None
    hidden = await world.client.get(f"{API}/cameras/{world.huicheng}/recordings", params=WINDOW, headers=operator)
    assert hidden.status_code == 404  # a Huiyang operator does not see a Huicheng camera's recordings
    days = await world.client.get(f"{API}/cameras/{world.huicheng}/recording-days",
                                  params={"from": "2026-11-20", "to": "2026-11-20"}, headers=operator)  # fmt: skip
    assert days.status_code == 404
    naive = await world.client.get(f"{API}/cameras/{world.huiyang}/recordings",
                                   params={"from": "2026-11-20T08:00:00", "to": "2026-11-20T09:00:00"},
                                   headers=operator)  # fmt: skip
    assert naive.status_code == 422 and "time zone" in naive.json()["detail"]


async def test_recording_days_and_compliance(world: World, platform: Platform) -> None:
    async with platform.sessions() as session:
        await completeness.refresh_many(session, completeness.local_day(NOW) - timedelta(days=1), now=NOW)
        await session.commit()
    analyst = world.headers["huiyang.analyst"]
    days = await world.client.get(f"{API}/cameras/{world.huiyang}/recording-days",
                                  params={"from": "2026-11-19", "to": "2026-11-21"}, headers=analyst)  # fmt: skip
    assert days.status_code == 200, days.text
    assert [(d["day"], d["recorded_s"]) for d in days.json()] == [("2026-11-20", 9000)]
    report = await world.client.get(f"{API}/recordings/compliance", params={"failing": True}, headers=analyst)
    assert report.status_code == 200, report.text
    items = report.json()["items"]
    assert world.huiyang in {i["gb_id"] for i in items} and world.huicheng not in {i["gb_id"] for i in items}
    mine = next(i for i in items if i["gb_id"] == world.huiyang)
    assert mine["status"] == "non_compliant" and mine["failing_days"] == ["2026-11-20"]
    denied = await world.client.get(f"{API}/recordings/compliance", headers=world.headers["huiyang.operator"])
    assert denied.status_code == 403


async def test_evidence_locks_through_the_api_are_scoped_and_audited(world: World, platform: Platform) -> None:
    analyst = world.headers["huiyang.analyst"]
    body = {"camera": world.huiyang, "from": "2026-11-20T08:00:00+08:00", "to": "2026-11-20T09:00:00+08:00",
            "case_ref": "惠阳刑 2026-7", "reason": "抢夺"}  # fmt: skip
    refused = await world.client.post(f"{API}/evidence-locks", json=body, headers=world.headers["huiyang.operator"])
    assert refused.status_code == 403
    outside = await world.client.post(f"{API}/evidence-locks", json={**body, "camera": world.huicheng},
                                      headers=analyst)  # fmt: skip
    assert outside.status_code == 404
    made = await world.client.post(f"{API}/evidence-locks", json=body, headers=analyst)
    assert made.status_code == 201, made.text
    lock = made.json()
    assert lock["active"] and lock["camera"] == world.huiyang
    listed = await world.client.get(f"{API}/evidence-locks", params={"active": True}, headers=analyst)
    assert [item["id"] for item in listed.json()["items"]] == [lock["id"]]
    released = await world.client.post(f"{API}/evidence-locks/{lock['id']}/release", json={"reason": "结案"},
                                       headers=analyst)  # fmt: skip
    assert released.status_code == 200 and not released.json()["active"]
    again = await world.client.post(f"{API}/evidence-locks/{lock['id']}/release", json={"reason": "结案"},
                                    headers=analyst)  # fmt: skip
    assert again.status_code == 409
    async with platform.sessions() as session:
        entries = (await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target))).all()
    assert ("hy.ana", "evidence.lock", f"camera:{world.huiyang}") in entries
    assert ("hy.ana", "evidence.release", f"camera:{world.huiyang}") in entries


async def test_storage_pools_alarms_and_a_sweep_by_hand(world: World, platform: Platform, clock: FakeClock) -> None:
    admin = world.headers["admin"]
    pools = await world.client.get(f"{API}/storage/pools", headers=admin)
    assert pools.status_code == 200, pools.text
    assert pools.json() == [
        {"pool": "main", "path": str(world.pool), "capacity_bytes": 10**9, "used_bytes": 60, "fraction": 0.0,
         "indexed_bytes": 60, "segments": 6, "high_water": 0.9, "low_water": 0.85}
    ]  # fmt: skip
    async with platform.sessions() as session:
        session.add(MediaAlarm(kind="pool_nearly_full", pool="main", message="full", raised_at=NOW))
        session.add(MediaAlarm(kind="stream_lost", camera_id=world.ids[HUICHENG], message="lost", raised_at=NOW))
        await session.commit()
    seen = await world.client.get(f"{API}/media/alarms", headers=world.headers["huiyang.analyst"])
    assert [a["kind"] for a in seen.json()["items"]] == ["pool_nearly_full"]  # the Huicheng camera's is not in scope
    assert len((await world.client.get(f"{API}/media/alarms", headers=admin)).json()["items"]) == 2

    refused = await world.client.post(f"{API}/storage/sweep", headers=world.headers["huiyang.analyst"])
    assert refused.status_code == 403
    clock._now = NOW + timedelta(days=31)  # the Huiyang footage is past its 30 days, the Huicheng one is locked
    async with platform.sessions() as session:
        session.add(EvidenceLock(camera_id=world.ids[HUICHENG], start_at=datetime(2026, 11, 20, tzinfo=UTC),
                                 end_at=datetime(2026, 11, 21, tzinfo=UTC), case_ref="C", reason="r"))  # fmt: skip
        await session.commit()
    swept = await world.client.post(f"{API}/storage/sweep", headers=admin)
    assert swept.status_code == 200, swept.text
    assert swept.json()["expired"]["segments"] == 3 and swept.json()["expired"]["missing_files"] == 3
    async with platform.sessions() as session:
        left = (await session.execute(select(RecordingSegment.camera_id))).scalars().all()
        actions = (await session.execute(select(AuditEntry.actor, AuditEntry.action))).all()
    assert set(left) == {world.ids[HUICHENG]} and len(left) == 3
    assert ("boss", "storage.sweep") in actions
