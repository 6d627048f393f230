"""Device access against the real SIP server over loopback: register, keep alive, go offline, be refused."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181.conftest import BareDevice, Recorder, add_device
from tianyan.gb28181.events import DeviceCameOnline, DeviceWentOffline
from tianyan.gb28181.models import SipRegistration
from tianyan.gb28181.server import SipServer
from tianyan.registry.models import AvailabilityTransition, Device
from tianyan.security.models import AuditEntry

IPC = "44130200001320000001"


async def settle(server: SipServer) -> None:
    await server.writer.flush()


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_a_device_registers_with_digest_and_keeps_alive(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], transport: str
) -> None:
    server, events = sip
    device_pk = await add_device(sessions, IPC)
    await server.directory.load(server.endpoint.now())
    device = BareDevice(IPC, server.port, transport)
    await device.start()
    try:
        ok = await device.register()
        assert ok.status == 200
        assert ok.headers.get("Expires") == "3600"
        assert ok.headers.get("Date") and "T" in (ok.headers.get("Date") or "")
        assert (await device.keepalive()).status == 200
        await settle(server)
        async with sessions() as session:
            row = (await session.execute(select(Device).where(Device.id == device_pk))).scalar_one()
            registration = await session.get(SipRegistration, device_pk)
            transitions = (await session.execute(select(AvailabilityTransition))).scalars().all()
        assert row.online and registration is not None and registration.transport == transport
        assert registration.last_keepalive_at is not None
        assert [(t.online, t.reason, t.camera_id) for t in transitions] == [(True, "registered", None)]
        assert [e.device_id for e in events.of(DeviceCameOnline)] == [IPC]
    finally:
        await device.close()


async def test_missed_keepalives_take_the_device_offline_with_the_transition_stored(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, events = sip
    server.presence.keepalive_interval_s = 0.2  # three missed = 0.6 s
    await add_device(sessions, IPC)
    device = BareDevice(IPC, server.port)
    await device.start()
    try:
        assert (await device.register()).status == 200
        await asyncio.sleep(2.0)
        await settle(server)
        async with sessions() as session:
            transitions = await session.execute(select(AvailabilityTransition).order_by(AvailabilityTransition.id))
            rows = [(t.online, t.reason) for t in transitions.scalars()]
            online = (await session.execute(select(Device.online).where(Device.gb_id == IPC))).scalar_one()
        assert rows == [(True, "registered"), (False, "keepalives missed")]
        assert not online
        assert [e.reason for e in events.of(DeviceWentOffline)] == ["keepalives missed"]
        # A keepalive now is refused: the device has to register again.
        assert (await device.keepalive()).status == 403
    finally:
        await device.close()


async def test_a_wrong_password_is_refused_and_audited(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, IPC)
    device = BareDevice(IPC, server.port)
    await device.start()
    try:
        refused = await device.register(password="not-the-password")
        assert refused.status == 403
        async with sessions() as session:
            found = await session.execute(select(AuditEntry).where(AuditEntry.action == "device.register"))
            entry = found.scalar_one()
        assert (entry.actor, entry.outcome, entry.source) == (IPC, "denied", "127.0.0.1")
        assert "password" in entry.detail["why"]
    finally:
        await device.close()


async def test_unknown_devices_are_refused_unless_auto_enrolment_is_on(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    stranger = BareDevice("44130200001320000099", server.port)
    await stranger.start()
    try:
        assert (await stranger.register()).status == 403
        server.config.auto_enrol = True
        pending = await stranger.register()
        assert (pending.status, pending.reason) == (403, "Pending approval")
        async with sessions() as session:
            device = (await session.execute(select(Device).where(Device.gb_id == stranger.gb_id))).scalar_one()
        assert device.approval == "pending" and device.region_id is not None
    finally:
        await stranger.close()


async def test_unregister_takes_the_device_offline(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, IPC)
    device = BareDevice(IPC, server.port)
    await device.start()
    try:
        assert (await device.register()).status == 200
        assert (await device.register(expires=0)).status == 200
        await settle(server)
        async with sessions() as session:
            reasons = (await session.execute(select(AvailabilityTransition.reason))).scalars().all()
            assert await session.get(SipRegistration, 1) is None
        assert reasons == ["registered", "unregistered"]
    finally:
        await device.close()
