"""The signaling API as operators use it: device state and channels, PTZ, catalog, recordings, controls, passwords;
scoped like every camera read, audited like every action, and honest when the SIP server is not on this node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181.conftest import DOMAIN, PASSWORD, PLATFORM_ID, Recorder
from tests.registry_fixtures import add_user, api_key
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.gb28181.models import DeviceCredential
from tianyan.gb28181.server import SipServer
from tianyan.registry import service
from tianyan.registry.models import Device, Region
from tianyan.security.models import AuditEntry
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress

API = "/api/v1"
HUICHENG, HUIYANG = "441302", "441303"
HUICHENG_IPC = gbid.build(centre=HUICHENG, type_code="132", serial=501).value
HUIYANG_IPC = gbid.build(centre=HUIYANG, type_code="132", serial=502).value


@dataclass
class World:
    client: httpx.AsyncClient
    headers: dict[str, dict[str, str]]
    devices: dict[str, SimDevice]
    server: SipServer
    sessions: async_sessionmaker[AsyncSession]

    def channel(self, device_id: str) -> str:
        return self.devices[device_id].spec.channel_ids[0]


@pytest.fixture
async def world(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], platform: Platform
) -> AsyncIterator[World]:
    server, _ = sip
    async with sessions() as session:
        await service.add_region(session, code=HUIYANG, name="惠阳区", level="county", parent_code="441300")
        regions = dict((await session.execute(select(Region.code, Region.id))).tuples().all())
        for gb_id, region in ((HUICHENG_IPC, HUICHENG), (HUIYANG_IPC, HUIYANG)):
            session.add(Device(gb_id=gb_id, name=f"IPC {region}", type_code="132", region_id=regions[region]))
        users = {
            "admin": await add_user(session, "boss", "admin", all_regions=True),
            "huiyang.operator": await add_user(session, "hy.op", "operator", regions=[HUIYANG]),
            "analyst": await add_user(session, "ana", "analyst", all_regions=True),
        }
        headers = {name: await api_key(session, user) for name, user in users.items()}
        await session.commit()
    await server.directory.load(server.endpoint.now())
    platform.sip = server
    address = PlatformAddress.of("127.0.0.1", server.port, PLATFORM_ID, DOMAIN)
    devices = {
        gb_id: await SimDevice.standalone(
            DeviceSpec.build(gb_id, PASSWORD), address, behaviour=Behaviour(keepalive_s=1)
        )
        for gb_id in (HUICHENG_IPC, HUIYANG_IPC)
    }
    for _ in range(200):
        if server.presence.online_count() == 2:
            break
        await asyncio.sleep(0.05)
    for gb_id in devices:
        known = server.directory.cached(gb_id)
        assert known is not None
        await server.sync_catalog(server.binding_for(known.id, gb_id))
    await server.writer.flush()
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
        try:
            yield World(client, headers, devices, server, sessions)
        finally:
            platform.sip = None
            for device in devices.values():
                await device.stop()


async def audit_actions(world: World) -> list[tuple[str, str, str]]:
    async with world.sessions() as session:
        rows = await session.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.target))
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_devices_list_their_live_state_within_scope(world: World) -> None:
    everything = (await world.client.get(f"{API}/devices", headers=world.headers["admin"])).json()["items"]
    assert {d["gb_id"] for d in everything} == {HUICHENG_IPC, HUIYANG_IPC}
    assert all(d["online"] and d["transport"] == "UDP" and d["address"].startswith("127.0.0.1:") for d in everything)
    assert all(d["last_keepalive_at"] and d["channels"] == 1 == d["channels_online"] for d in everything)
    mine = (await world.client.get(f"{API}/devices", headers=world.headers["huiyang.operator"])).json()["items"]
    assert [d["gb_id"] for d in mine] == [HUIYANG_IPC]  # a Huiyang operator never sees a Huicheng device
    hidden = await world.client.get(f"{API}/devices/{HUICHENG_IPC}/channels", headers=world.headers["huiyang.operator"])
    assert hidden.status_code == 404
    channels = (await world.client.get(f"{API}/devices/{HUIYANG_IPC}/channels",
                                       headers=world.headers["huiyang.operator"])).json()  # fmt: skip
    assert [(c["gb_id"], c["online"], c["channel_status"]) for c in channels] == [
        (world.channel(HUIYANG_IPC), True, "ON")
    ]


async def test_ptz_through_the_api_reaches_the_camera_and_is_audited(world: World) -> None:
    channel = world.channel(HUIYANG_IPC)
    answer = await world.client.post(f"{API}/cameras/{channel}/ptz", json={"action": "zoom-in", "speed": 255},
                                     headers=world.headers["huiyang.operator"])  # fmt: skip
    assert answer.status_code == 200, answer.text
    for _ in range(50):
        if world.devices[HUIYANG_IPC].ptz_log(channel):
            break
        await asyncio.sleep(0.05)
    assert [a.raw for a in world.devices[HUIYANG_IPC].ptz_log(channel)] == [answer.json()["ptz_cmd"]]
    assert ("hy.op", "ptz.zoom-in", f"camera:{channel}") in await audit_actions(world)
    # Out of scope looks absent; a role without PTZ is refused; a bad action is a 422.
    other = world.channel(HUICHENG_IPC)
    assert (await world.client.post(f"{API}/cameras/{other}/ptz", json={"action": "left"},
                                    headers=world.headers["huiyang.operator"])).status_code == 404  # fmt: skip
    assert (await world.client.post(f"{API}/cameras/{channel}/ptz", json={"action": "left"},
                                    headers=world.headers["analyst"])).status_code == 403  # fmt: skip
    assert (await world.client.post(f"{API}/cameras/{channel}/ptz", json={"action": "somersault"},
                                    headers=world.headers["admin"])).status_code == 422  # fmt: skip


async def test_presets_are_listed_and_a_new_one_appears_after_it_is_set(world: World) -> None:
    channel = world.channel(HUIYANG_IPC)
    operator = world.headers["huiyang.operator"]
    listed = await world.client.get(f"{API}/cameras/{channel}/presets", headers=operator)
    assert listed.status_code == 200, listed.text
    assert listed.json() == [{"id": 1, "name": "全景"}, {"id": 2, "name": "出入口"}]
    saved = await world.client.post(f"{API}/cameras/{channel}/ptz", json={"action": "preset-set", "preset": 7},
                                    headers=operator)  # fmt: skip
    assert saved.status_code == 200, saved.text
    for _ in range(50):
        again = await world.client.get(f"{API}/cameras/{channel}/presets", headers=operator)
        numbers = [p["id"] for p in again.json()]
        if 7 in numbers:
            break
        await asyncio.sleep(0.05)
    assert numbers == [1, 2, 7]
    assert (await world.client.get(f"{API}/cameras/{channel}/presets",
                                   headers=world.headers["analyst"])).status_code == 403  # fmt: skip


async def test_catalog_refresh_and_device_recordings(world: World) -> None:
    refreshed = await world.client.post(f"{API}/devices/{HUICHENG_IPC}/catalog", headers=world.headers["admin"])
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["added"] == []  # already synced: nothing new
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    listed = await world.client.get(
        f"{API}/cameras/{world.channel(HUICHENG_IPC)}/device-recordings",
        params={"start": (end - timedelta(hours=6)).isoformat(), "end": end.isoformat()},
        headers=world.headers["analyst"],
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["complete"] and len(body["items"]) >= 5
    assert all(item["start"] < item["end"] for item in body["items"])
    assert ("ana", "video.device-records", f"camera:{world.channel(HUICHENG_IPC)}") in await audit_actions(world)


async def test_controls_and_a_device_password(world: World) -> None:
    recorded = await world.client.post(f"{API}/devices/{HUICHENG_IPC}/control",
                                       json={"action": "record", "channel": world.channel(HUICHENG_IPC)},
                                       headers=world.headers["admin"])  # fmt: skip
    assert recorded.json() == {"result": "OK"}
    assert world.devices[HUICHENG_IPC].channel_state(world.channel(HUICHENG_IPC)).recording
    changed = await world.client.put(f"{API}/devices/{HUICHENG_IPC}/password", json={"password": "Own-secret-1"},
                                     headers=world.headers["admin"])  # fmt: skip
    assert changed.status_code == 204
    async with world.sessions() as session:
        stored = (await session.execute(select(DeviceCredential))).scalar_one()
    assert stored.realm == DOMAIN and "Own-secret-1" not in (stored.ha1_md5 + stored.ha1_sha256)
    actions = await audit_actions(world)
    assert ("boss", "device.record", f"device:{world.channel(HUICHENG_IPC)}") in actions
    assert ("boss", "device.password", f"device:{HUICHENG_IPC}") in actions


async def test_without_the_sip_server_on_this_node_actions_say_so(world: World, platform: Platform) -> None:
    platform.sip = None
    answer = await world.client.post(f"{API}/cameras/{world.channel(HUICHENG_IPC)}/ptz", json={"action": "stop"},
                                     headers=world.headers["admin"])  # fmt: skip
    assert answer.status_code == 503 and "--role sip" in answer.json()["detail"]
    # Reading state needs no SIP server: it is in the database.
    listed = await world.client.get(f"{API}/devices", headers=world.headers["admin"])
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2


async def test_an_offline_device_is_unavailable(world: World) -> None:
    await world.devices[HUIYANG_IPC].stop()
    for _ in range(50):
        if not world.server.presence.is_online(world.server.directory.cached(HUIYANG_IPC).id):  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.05)
    answer = await world.client.post(f"{API}/devices/{HUIYANG_IPC}/catalog", headers=world.headers["admin"])
    assert answer.status_code == 503 and "not online" in answer.json()["detail"]
