"""Who owns what: catalogs never destroy registry records or take another device's cameras; keepalives move a
device only within its host; devices are seen by the accounts that may see their cameras."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181.conftest import BareDevice, Recorder, add_device
from tests.registry_fixtures import add_user, api_key
from tianyan.api.app import create_app
from tianyan.app.platform import Platform, secret_file
from tianyan.gb28181.catalog_sync import apply_items
from tianyan.gb28181.directory import KnownDevice
from tianyan.gb28181.manscdp.catalog import CatalogItem
from tianyan.gb28181.server import SipServer
from tianyan.gb28181.transport import Peer
from tianyan.registry import service
from tianyan.registry.models import AvailabilityTransition, Camera, Device, Organisation

NVR = "44130200001180000001"
OTHER_NVR = "44130200001180000002"
CHANNELS = [f"4413020000131000000{n}" for n in range(1, 4)]
NOW = datetime(2026, 11, 21, 8, tzinfo=UTC)


async def registered_nvr(server: SipServer, sessions: async_sessionmaker[AsyncSession]) -> KnownDevice:
    """The NVR as the SIP server knows it once added to the registry."""
    await add_device(sessions, NVR)
    await server.directory.load(server.endpoint.now())
    known = server.directory.cached(NVR)
    assert known is not None
    return known


async def test_a_channel_left_out_of_the_catalog_is_detached_not_deleted(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    known = await registered_nvr(sip[0], sessions)
    async with sessions() as session:
        added = await apply_items(
            session,
            known,
            [CatalogItem(c, name=f"通道{c[-1]}", status="ON") for c in CHANNELS],
            complete=True,
            device_online=True,
            now=NOW,
        )
        assert sorted(added.added) == CHANNELS
        # The bureau classifies one of them; then the NVR stops listing it.
        camera = (await session.execute(select(Camera).where(Camera.gb_id == CHANNELS[2]))).scalar_one()
        camera.cls, camera.network = 2, "social"
        later = await apply_items(
            session, known, [CatalogItem(c) for c in CHANNELS[:2]], complete=True, device_online=True, now=NOW
        )
        await session.commit()
    assert later.removed == [CHANNELS[2]]
    async with sessions() as session:
        kept = (await session.execute(select(Camera).where(Camera.gb_id == CHANNELS[2]))).scalar_one()
        history = (
            await session.execute(
                select(AvailabilityTransition.online, AvailabilityTransition.reason)
                .where(AvailabilityTransition.camera_id == kept.id)
                .order_by(AvailabilityTransition.id)
            )
        ).all()
    assert (kept.device_id, kept.online, kept.cls, kept.network) == (None, False, 2, "social")
    assert [tuple(h) for h in history] == [(True, "catalog: new channel"), (False, "removed from the device's catalog")]


async def test_a_catalog_that_reports_a_new_ptz_type_changes_what_the_camera_can_do(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A bullet swapped for a dome (PTZType 1) gets the PTZ pad; a checkpoint camera stays a checkpoint camera."""
    known = await registered_nvr(sip[0], sessions)
    async with sessions() as session:
        await apply_items(session, known, [CatalogItem(c, ptz_type=3) for c in CHANNELS], complete=True,
                          device_online=True, now=NOW)  # fmt: skip
        checkpoint = (await session.execute(select(Camera).where(Camera.gb_id == CHANNELS[2]))).scalar_one()
        checkpoint.kind = "checkpoint"
        changes = await apply_items(
            session, known, [CatalogItem(CHANNELS[0], ptz_type=1), CatalogItem(CHANNELS[1], ptz_type=3),
                             CatalogItem(CHANNELS[2], ptz_type=1)],
            complete=True, device_online=True, now=NOW,
        )  # fmt: skip
        await session.commit()
    assert sorted(changes.updated) == [CHANNELS[0], CHANNELS[2]]
    async with sessions() as session:
        kinds = dict((await session.execute(select(Camera.gb_id, Camera.kind).where(Camera.gb_id.in_(CHANNELS)))).all())
    assert kinds == {CHANNELS[0]: "ptz", CHANNELS[1]: "fixed", CHANNELS[2]: "checkpoint"}


async def test_a_catalog_never_takes_over_another_devices_camera(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, NVR)
    await add_device(sessions, OTHER_NVR)
    await server.directory.load(server.endpoint.now())
    first, second = server.directory.cached(NVR), server.directory.cached(OTHER_NVR)
    assert first is not None and second is not None
    async with sessions() as session:
        await apply_items(
            session, first, [CatalogItem(CHANNELS[0], name="原名")], complete=False, device_online=True, now=NOW
        )
        claim = await apply_items(
            session, second, [CatalogItem(CHANNELS[0], name="冒名")], complete=False, device_online=True, now=NOW
        )
        await session.commit()
        camera = (await session.execute(select(Camera).where(Camera.gb_id == CHANNELS[0]))).scalar_one()
    assert claim.conflicts == [CHANNELS[0]] and claim.added == claim.updated == []
    assert (camera.device_id, camera.name) == (first.id, "原名")


async def test_keepalives_follow_a_port_change_but_not_a_host_change(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, NVR)
    await server.directory.load(server.endpoint.now())
    device = BareDevice(NVR, server.port)
    await device.start()
    try:
        assert (await device.register()).status == 200
        known = server.directory.cached(NVR)
        assert known is not None
        before = server.bindings.get(known.id)
        assert before is not None
        # The NAT gives the device a new port: its next keepalive comes from there.
        moved = BareDevice(NVR, server.port)
        await moved.start()
        try:
            assert (await moved.keepalive()).status == 200
            now = server.bindings.get(known.id)
            assert now is not None and now.peer == Peer("UDP", "127.0.0.1", moved.endpoint.transport.port)
            await server.writer.flush()
            # Another host with the device's ID: answered, but requests do not follow it there.
            server.inbox._follow_address(now, Peer("UDP", "10.9.9.9", 5060))
            assert server.bindings.get(known.id) == now
        finally:
            await moved.close()
    finally:
        await device.close()


async def test_a_keepalive_without_status_is_taken_without_an_error(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, NVR)
    await server.directory.load(server.endpoint.now())
    device = BareDevice(NVR, server.port)
    await device.start()
    try:
        assert (await device.register()).status == 200
        body = (
            f'<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType><SN>7</SN><DeviceID>{NVR}</DeviceID></Notify>'
        ).encode()
        assert (await device.send(device.request("MESSAGE", body=body))).status == 200
        await asyncio.sleep(0.05)
        assert server.endpoint.stats.handler_errors == 0 and server.stats.keepalives == 1
    finally:
        await device.close()


async def test_an_industry_user_sees_its_sectors_devices_not_the_polices(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], platform: Platform
) -> None:
    server, _ = sip
    police = await add_device(sessions, NVR)
    school = await add_device(sessions, OTHER_NVR, channel_class=2, channel_network="social")
    async with sessions() as session:
        region = await service.region_by_code(session, "441302")
        sector = Organisation(kind="sector", code="SEC02", name="市教育局")
        session.add(sector)
        await session.flush()
        session.add_all(
            [
                Camera(
                    gb_id=CHANNELS[0],
                    name="路口",
                    cls=1,
                    network="police",
                    region_id=region.id,
                    device_id=police,
                    labels=[],
                ),
                Camera(
                    gb_id=CHANNELS[1],
                    name="校门",
                    cls=2,
                    network="social",
                    region_id=region.id,
                    device_id=school,
                    sector_id=sector.id,
                    labels=[],
                ),
            ]
        )
        user = await add_user(
            session, "edu", "industry", all_regions=True, networks=["social"], classes=[2], sector="SEC02"
        )
        admin = await add_user(session, "boss", "admin", all_regions=True)
        headers, admin_headers = await api_key(session, user), await api_key(session, admin)
        await session.commit()
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        seen = (await client.get("/api/v1/devices", headers=headers)).json()["items"]
        assert [d["gb_id"] for d in seen] == [OTHER_NVR]
        assert (await client.get(f"/api/v1/devices/{NVR}", headers=headers)).status_code == 404
        everything = (await client.get("/api/v1/devices", headers=admin_headers)).json()["items"]
        assert sorted(d["gb_id"] for d in everything) == [NVR, OTHER_NVR]
        # A control naming a channel of another device is refused.
        platform.sip = server
        try:
            wrong = await client.post(
                f"/api/v1/devices/{OTHER_NVR}/control",
                json={"action": "record", "channel": CHANNELS[0]},
                headers=admin_headers,
            )
        finally:
            platform.sip = None
        assert wrong.status_code == 422 and "not a channel of" in wrong.json()["detail"]
        # The administrator sets what class and network new channels of a device get, and can disable it.
        patched = await client.patch(
            f"/api/v1/devices/{NVR}",
            json={"channel_class": 2, "channel_network": "social", "enabled": False},
            headers=admin_headers,
        )
        assert patched.status_code == 200, patched.text
    async with sessions() as session:
        row = (await session.execute(select(Device).where(Device.gb_id == NVR))).scalar_one()
    assert (row.channel_class, row.channel_network, row.enabled) == (2, "social", False)


def test_the_nonce_key_survives_restarts_and_only_its_owner_reads_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "secrets" / "sip-nonce.key"
    first = secret_file(path, size_bytes=32)
    assert secret_file(path, size_bytes=32) == first and len(first) == 32
    assert path.stat().st_mode & 0o777 == 0o600
