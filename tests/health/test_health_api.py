"""The health API: a camera's diagnosis and its evidence picture, tuning thresholds, failing cameras, and work
orders handled by a maintainer — all inside the caller's scope and audited."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import httpx
import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import HUICHENG, HUIYANG, Registry, add_user, api_key, build_registry
from tianyan.app.platform import Platform
from tianyan.health.models import VqdLatest, VqdSetting, WorkOrder
from tianyan.health.paths import health_dir
from tianyan.security.models import AuditEntry

AT = datetime(2026, 10, 3, 9, 0, tzinfo=UTC)


def _camera(registry: Registry, region: str):  # type: ignore[no-untyped-def]
    return next(c for c in registry.cameras if c.region == region and not c.sensitive and c.network == "police")


@pytest.fixture
async def world(session: AsyncSession, platform: Platform) -> tuple[Registry, dict[str, dict[str, str]]]:
    registry = await build_registry(session)
    users = {
        "admin": await add_user(session, "boss", "admin", all_regions=True),
        "huiyang.maintainer": await add_user(session, "hy.maint", "maintainer", regions=[HUIYANG]),
        "operator": await add_user(session, "op", "operator", all_regions=True),
    }
    headers = {name: await api_key(session, user) for name, user in users.items()}
    huicheng, huiyang = _camera(registry, HUICHENG), _camera(registry, HUIYANG)
    root = health_dir(platform.config.server.data_dir)
    frame = "frames/x/blurred.jpg"
    (root / "frames" / "x").mkdir(parents=True)
    cv2.imwrite(str(root / frame), np.full((48, 64, 3), 90, np.uint8))
    for camera in (huicheng, huiyang):
        session.add(
            VqdLatest(
                camera_id=camera.id,
                at=AT,
                source="live",
                ok=False,
                faults=["blur"],
                scores={"blur": 0.8},
                frame_path=frame,
                detail="blur: soft edges",
                consecutive_failures=2,
            )
        )
        session.add(
            WorkOrder(
                camera_id=camera.id,
                fault="vqd",
                detail="blur",
                status="open",
                opened_at=AT,
                fault_since=AT,
                evidence={"frame_path": frame},
            )
        )
    await session.commit()
    return registry, headers


async def test_a_camera_diagnosis_and_its_picture(client: httpx.AsyncClient, world) -> None:  # type: ignore[no-untyped-def]
    registry, headers = world
    camera = _camera(registry, HUIYANG)
    answer = await client.get(f"/api/v1/cameras/{camera.gb_id}/vqd", headers=headers["huiyang.maintainer"])
    assert answer.status_code == 200
    body = answer.json()
    assert (body["ok"], body["faults"], body["has_frame"]) == (False, ["blur"], True)
    picture = await client.get(f"/api/v1/cameras/{camera.gb_id}/vqd/frame", headers=headers["huiyang.maintainer"])
    assert picture.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR).shape == (48, 64, 3)
    # Out of scope looks like absent; a role without health.read is refused.
    other = _camera(registry, HUICHENG)
    assert (
        await client.get(f"/api/v1/cameras/{other.gb_id}/vqd", headers=headers["huiyang.maintainer"])
    ).status_code == 404
    assert (await client.get(f"/api/v1/cameras/{camera.gb_id}/vqd", headers=headers["operator"])).status_code == 403


async def test_thresholds_are_validated_stored_and_audited(
    client: httpx.AsyncClient,
    world,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    registry, headers = world
    camera = _camera(registry, HUIYANG)
    url = f"/api/v1/cameras/{camera.gb_id}/vqd/settings"
    bad = await client.put(url, json={"thresholds": {"sharpness": {"threshold": 1}}}, headers=headers["admin"])
    assert bad.status_code == 422 and "sharpness" in bad.json()["detail"]
    good = {"thresholds": {"too_dark": {"threshold": 15}, "colour_cast": {"enabled": False}}}
    assert (await client.put(url, json=good, headers=headers["huiyang.maintainer"])).status_code == 200
    stored = (await session.execute(select(VqdSetting).where(VqdSetting.camera_id == camera.id))).scalar_one()
    assert stored.thresholds == good["thresholds"]
    actions = (await session.execute(select(AuditEntry.action, AuditEntry.actor))).all()
    assert ("vqd.settings", "hy.maint") in actions


async def test_work_orders_are_listed_in_scope_reported_fixed_and_closed_with_a_reason(
    client: httpx.AsyncClient,
    world,
    session: AsyncSession,  # type: ignore[no-untyped-def]
) -> None:
    registry, headers = world
    mine = await client.get("/api/v1/work-orders?status=open", headers=headers["huiyang.maintainer"])
    assert mine.status_code == 200
    items = mine.json()["items"]
    assert [i["camera_gb_id"] for i in items] == [_camera(registry, HUIYANG).gb_id]
    assert (await client.get("/api/v1/work-orders", headers=headers["admin"])).json()["total"] == 2
    order = items[0]["id"]
    frame = await client.get(f"/api/v1/work-orders/{order}/frame", headers=headers["huiyang.maintainer"])
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"

    fixed = await client.post(
        f"/api/v1/work-orders/{order}/fixed", json={"note": "refocused"}, headers=headers["huiyang.maintainer"]
    )
    assert fixed.status_code == 200
    assert (fixed.json()["status"], fixed.json()["fixed_by"]) == ("resolved", "hy.maint")
    no_reason = await client.post(f"/api/v1/work-orders/{order}/close", json={"reason": ""}, headers=headers["admin"])
    assert no_reason.status_code == 422
    closed = await client.post(
        f"/api/v1/work-orders/{order}/close", json={"reason": "camera replaced"}, headers=headers["admin"]
    )
    assert closed.json()["status"] == "closed"
    # The other district's order is out of this maintainer's reach.
    others = (await client.get("/api/v1/work-orders", headers=headers["admin"])).json()["items"]
    theirs = next(i["id"] for i in others if i["id"] != order)
    assert (
        await client.post(f"/api/v1/work-orders/{theirs}/fixed", json={}, headers=headers["huiyang.maintainer"])
    ).status_code == 404
    actions = [a for (a,) in (await session.execute(select(AuditEntry.action))).all()]
    assert "workorder.fixed" in actions and "workorder.close" in actions


async def test_failing_cameras_and_diagnose_now_without_a_health_worker(
    client: httpx.AsyncClient,
    world,  # type: ignore[no-untyped-def]
) -> None:
    registry, headers = world
    failing = await client.get("/api/v1/vqd/failures?fault=blur", headers=headers["admin"])
    assert len(failing.json()) == 2
    camera = _camera(registry, HUIYANG)
    answer = await client.post(f"/api/v1/cameras/{camera.gb_id}/vqd/run", headers=headers["admin"])
    assert answer.status_code == 503
