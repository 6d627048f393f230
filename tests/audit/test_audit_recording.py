"""What the product writes to the audit log: logins (both outcomes) and changes to cameras, devices and accounts,
each with who, when, from where, what, on which target, and the reason where one was given."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.audit.auditlog import REMOTE_ADDRESS, Accounts, log_rows, verify_db
from tests.registry_fixtures import PASSWORD, add_user
from tianyan.core import gbid
from tianyan.core.clock import FakeClock

CAMERA = gbid.build(centre="441302", network="0", serial=901).value
NVR = gbid.build(centre="441303", type_code="118", serial=77).value


def _only(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


async def test_successful_login_is_recorded(
    remote: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, clock: FakeClock
) -> None:
    await add_user(session, "zhang", "operator")
    await session.commit()
    response = await remote.post("/api/v1/auth/login", json={"username": "zhang", "password": PASSWORD})
    assert response.status_code == 200, response.text
    entry = _only(await log_rows(engine, "auth.login"))
    assert {k: entry[k] for k in ("at", "actor", "source", "target", "outcome")} == {
        "at": clock.now(),
        "actor": "zhang",
        "source": REMOTE_ADDRESS,
        "target": "user:zhang",
        "outcome": "ok",
    }
    assert (await verify_db(engine)).ok


async def test_failed_logins_are_recorded_without_the_password(
    remote: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, clock: FakeClock
) -> None:
    await add_user(session, "zhang", "operator")
    await session.commit()
    wrong = "Wrong-Password-2026!"
    for username in ("zhang", "ghost"):
        response = await remote.post("/api/v1/auth/login", json={"username": username, "password": wrong})
        assert response.status_code == 401
        clock.advance(5)
    first, second = await log_rows(engine, "auth.login")
    for entry, username, why in ((first, "zhang", "bad password"), (second, "ghost", "unknown user")):
        assert (entry["actor"], entry["target"], entry["source"], entry["outcome"]) == (
            username,
            f"user:{username}",
            REMOTE_ADDRESS,
            "denied",
        )
        assert entry["detail"]["why"] == why
        assert wrong not in json.dumps(entry, default=str)
    assert second["at"] > first["at"]
    assert (await verify_db(engine)).ok


async def test_camera_create_and_delete_with_reason_are_recorded(
    remote: httpx.AsyncClient, accounts: Accounts, engine: AsyncEngine
) -> None:
    body = {"gb_id": CAMERA, "name": "江北大道与演达路口", "class": 1, "network": "police", "region": "441302"}
    created = await remote.post("/api/v1/cameras", json=body, headers=accounts.admin)
    assert created.status_code == 201, created.text
    entry = _only(await log_rows(engine, "camera.create"))
    assert (entry["actor"], entry["source"], entry["target"], entry["outcome"]) == (
        "boss",
        REMOTE_ADDRESS,
        f"camera:{CAMERA}",
        "ok",
    )
    assert entry["detail"]["name"] == "江北大道与演达路口"

    deleted = await remote.delete(f"/api/v1/cameras/{CAMERA}", params={"reason": "设备拆除，点位迁移"},
                                  headers=accounts.admin)  # fmt: skip
    assert deleted.status_code == 204, deleted.text
    entry = _only(await log_rows(engine, "camera.delete"))
    assert (entry["actor"], entry["target"], entry["reason"]) == ("boss", f"camera:{CAMERA}", "设备拆除，点位迁移")
    assert entry["detail"]["name"] == "江北大道与演达路口"
    assert (await verify_db(engine)).ok


async def test_refused_change_writes_no_change_entry(
    client: httpx.AsyncClient, accounts: Accounts, engine: AsyncEngine
) -> None:
    body = {"gb_id": CAMERA, "name": "越权", "class": 1, "network": "police", "region": "441302"}
    response = await client.post("/api/v1/cameras", json=body, headers=accounts.operator)
    assert response.status_code == 403
    assert await log_rows(engine, "camera.create") == []


async def test_scope_change_is_recorded_with_before_and_after(
    remote: httpx.AsyncClient, accounts: Accounts, engine: AsyncEngine
) -> None:
    scope = {"regions": ["441303"], "networks": ["police"], "classes": [1]}
    response = await remote.patch("/api/v1/users/xiao", json={"scope": scope}, headers=accounts.admin)
    assert response.status_code == 200, response.text
    entry = _only(await log_rows(engine, "user.scope"))
    assert (entry["actor"], entry["source"], entry["target"]) == ("boss", REMOTE_ADDRESS, "user:xiao")
    assert entry["detail"]["before"]["regions"] == ["441302"]
    assert entry["detail"]["after"]["regions"] == ["441303"]
    assert entry["detail"]["after"]["networks"] == ["police"]
    assert entry["detail"]["after"]["classes"] == [1]
    assert (await verify_db(engine)).ok


async def test_role_change_is_recorded(remote: httpx.AsyncClient, accounts: Accounts, engine: AsyncEngine) -> None:
    response = await remote.patch("/api/v1/users/xiao", json={"role": "analyst"}, headers=accounts.admin)
    assert response.status_code == 200, response.text
    entry = _only(await log_rows(engine, "user.role"))
    assert (entry["actor"], entry["target"], entry["detail"]) == (
        "boss",
        "user:xiao",
        {"before": "operator", "after": "analyst"},
    )


async def test_device_create_is_recorded(remote: httpx.AsyncClient, accounts: Accounts, engine: AsyncEngine) -> None:
    body = {"gb_id": NVR, "name": "淡水 NVR 2", "region": "441303", "manufacturer": "海康威视"}
    response = await remote.post("/api/v1/devices", json=body, headers=accounts.admin)
    assert response.status_code == 201, response.text
    entry = _only(await log_rows(engine, "device.create"))
    assert (entry["actor"], entry["source"], entry["target"]) == ("boss", REMOTE_ADDRESS, f"device:{NVR}")
    assert entry["detail"]["name"] == "淡水 NVR 2"
    assert entry["detail"]["manufacturer"] == "海康威视"
    assert (await verify_db(engine)).ok
