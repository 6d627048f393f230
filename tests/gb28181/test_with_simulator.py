"""The platform's SIP server and the device simulator over loopback: everything a device does, end to end."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import av
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181.conftest import DOMAIN, PASSWORD, PLATFORM_ID, Recorder, add_device
from tests.gb28181.rtp_counter import RtpReceiver
from tianyan.gb28181 import control
from tianyan.gb28181.events import AlarmReceived, PositionReported
from tianyan.gb28181.manscdp.record_info import RecordInfoQuery
from tianyan.gb28181.media_sessions import Receiver
from tianyan.gb28181.models import DeviceAlarm, MobilePosition
from tianyan.gb28181.sdp_types import SessionName, Transport
from tianyan.gb28181.server import SipServer
from tianyan.registry.models import Camera, Device
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress, VideoSettings

IPC = "44130200001320000001"
NVR = "44130200001180000001"
VEHICLE = "44130200001320000777"
FAST_DEVICE = Behaviour(keepalive_s=1.0, expires_s=3600, retry_s=0.5, retry_max_s=2.0)


async def until(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def simulated(
    server: SipServer,
    sessions: async_sessionmaker[AsyncSession],
    spec: DeviceSpec,
    transport: str = "UDP",
    **values: object,
) -> SimDevice:
    await add_device(sessions, spec.device_id, **values)
    await server.directory.load(server.endpoint.now())
    platform = PlatformAddress.of("127.0.0.1", server.port, PLATFORM_ID, DOMAIN)
    device = await SimDevice.standalone(
        spec, platform, transport=transport, behaviour=FAST_DEVICE, video=VideoSettings(main_size="cif", sub_size="cif")
    )
    await until(lambda: _true(device.online and server.presence.is_online(server.directory.cached(spec.device_id).id)))
    return device


async def _true(value: bool) -> bool:
    return value


async def camera_count(sessions: async_sessionmaker[AsyncSession], device_gb: str) -> int:
    async with sessions() as session:
        return (
            await session.execute(
                select(func.count(Camera.id))
                .join(Device, Camera.device_id == Device.id)
                .where(Device.gb_id == device_gb)
            )
        ).scalar_one()


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_a_simulated_camera_registers_goes_online_and_its_channel_appears(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], transport: str
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD), transport)
    try:
        await until(lambda: _eq(camera_count(sessions, IPC), 1))  # the follow-up synced its catalog

        async def identified() -> bool:  # and, alongside, asked the device who it is
            async with sessions() as session:
                return (
                    await session.execute(select(Device.manufacturer).where(Device.gb_id == IPC))
                ).scalar_one() is not None

        await until(identified)
        async with sessions() as session:
            row = (await session.execute(select(Device).where(Device.gb_id == IPC))).scalar_one()
            camera = (await session.execute(select(Camera).where(Camera.device_id == row.id))).scalar_one()
        assert row.online and row.manufacturer == "Tianyan" and row.model == "TY-IPC-2T"
        assert camera.online and camera.channel_status == "ON"
    finally:
        await device.stop()


async def _eq(awaitable, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return await awaitable == expected


async def test_a_catalog_of_600_channels_arrives_complete(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(NVR, PASSWORD, kind="nvr", channels=600))
    try:
        binding = server.binding_for(server.directory.cached(NVR).id, NVR)  # type: ignore[union-attr]
        changes = await server.sync_catalog(binding)
        assert len(changes.added) + len(changes.updated) + len(changes.removed) >= 0
        assert await camera_count(sessions, NVR) == 600
        assert device.stats.queries_answered >= 1
    finally:
        await device.stop()


async def test_ptz_reaches_the_device_with_a_correct_checksum(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD))
    try:
        binding = server.binding_for(server.directory.cached(IPC).id, IPC)  # type: ignore[union-attr]
        channel = device.spec.channel_ids[0]
        sent = await control.send_ptz(server.queries, binding, channel, control.ptz_command("up-left", speed=200))
        preset = await control.send_ptz(server.queries, binding, channel, control.ptz_command("preset-call", preset=7))
        await until(lambda: _true(len(device.ptz_log(channel)) == 2))
        arrived = device.ptz_log(channel)
        assert [a.raw for a in arrived] == [sent, preset]
        data = bytes.fromhex(sent)
        assert data[0] == 0xA5 and data[7] == sum(data[:7]) % 256  # the checksum the device verified too
        assert (await control.send_device_action(server.queries, binding, channel, "record")) == "OK"
        assert device.channel_state(channel).recording
    finally:
        await device.stop()


async def test_an_alarm_arrives_is_stored_published_and_acknowledged(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, events = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD))
    try:
        await device.send_alarm(priority=1, description="越界侦测", wait_ack_s=5)
        await server.writer.flush()
        async with sessions() as session:
            alarm = (await session.execute(select(DeviceAlarm))).scalar_one()
        assert (alarm.channel_gb_id, alarm.priority, alarm.description) == (device.spec.channel_ids[0], 1, "越界侦测")
        await until(lambda: _true(len(events.of(AlarmReceived)) == 1))
        assert device.stats.alarms_acknowledged == 1  # the platform's Alarm Response reached the device
    finally:
        await device.stop()


async def test_a_vehicle_reports_its_position_on_subscription(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, events = sip
    device = await simulated(server, sessions, DeviceSpec.build(VEHICLE, PASSWORD, kind="vehicle"))
    try:
        binding = server.binding_for(server.directory.cached(VEHICLE).id, VEHICLE)  # type: ignore[union-attr]
        await server.subscriptions.subscribe(binding, "MobilePosition", interval_s=1)
        await until(lambda: _true(len(events.of(PositionReported)) >= 2), timeout_s=10)
        await server.writer.flush()
        async with sessions() as session:
            positions = (await session.execute(select(MobilePosition))).scalars().all()
        assert len(positions) >= 2
        assert all(22.5 < p.latitude < 23.5 and 113.8 < p.longitude < 115.5 for p in positions)  # in Huizhou
    finally:
        await device.stop()


# The RTP transport and the database are independent: both transports on SQLite, and UDP on PostgreSQL too.
@pytest.mark.parametrize(
    ("backend", "media_transport"),
    [("sqlite", Transport.UDP), ("sqlite", Transport.TCP_PASSIVE), ("postgresql", Transport.UDP)],
)
async def test_live_invite_makes_rtp_arrive_with_the_agreed_ssrc_and_bye_stops_it(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], media_transport: Transport
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD))
    receiver = await RtpReceiver("udp" if media_transport is Transport.UDP else "tcp").start()
    try:
        binding = server.binding_for(server.directory.cached(IPC).id, IPC)  # type: ignore[union-attr]
        session = await server.media.invite(
            binding, device.spec.channel_ids[0], Receiver("127.0.0.1", receiver.port, media_transport)
        )
        await until(lambda: _true(receiver.counter.total() > 50), timeout_s=15)
        assert set(receiver.counter.per_ssrc) == {session.ssrc.value}
        assert not session.ssrc_mismatch
        # Real video: the PS payload demuxes and decodes as H.264.
        container = av.open(io.BytesIO(bytes(receiver.counter.payloads[session.ssrc.value])), format="mpeg")
        frames = sum(1 for _ in container.decode(video=0))
        assert frames > 5
        await server.media.bye(session.call_id)
        await asyncio.sleep(0.5)
        settled = receiver.counter.total()
        await asyncio.sleep(1.0)
        assert receiver.counter.total() == settled  # nothing after the BYE
    finally:
        await receiver.close()
        await device.stop()


async def test_device_recordings_are_listed_across_messages(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD))
    try:
        binding = server.binding_for(server.directory.cached(IPC).id, IPC)  # type: ignore[union-attr]
        end = datetime.now(UTC).astimezone(server.zone).replace(tzinfo=None, minute=0, second=0, microsecond=0)
        query = RecordInfoQuery(
            sn=server.queries.next_sn(),
            device_id=device.spec.channel_ids[0],
            start_time=end - timedelta(days=2),
            end_time=end,
        )
        collected = await server.queries.record_list(binding, query, device.spec.channel_ids[0])
        assert collected.complete and len(collected.items) >= 24
        assert all(item.start_time < item.end_time for item in collected.items)
    finally:
        await device.stop()


async def test_playback_with_pause_and_resume_ends_with_media_status(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD))
    receiver = await RtpReceiver("udp").start()
    try:
        binding = server.binding_for(server.directory.cached(IPC).id, IPC)  # type: ignore[union-attr]
        start = int((datetime.now(UTC) - timedelta(hours=3)).timestamp())
        session = await server.media.invite(
            binding,
            IPC,
            Receiver("127.0.0.1", receiver.port),
            session=SessionName.PLAYBACK,
            start_s=start,
            stop_s=start + 3,
        )
        await until(lambda: _true(receiver.counter.total() > 10), timeout_s=10)
        await server.media.pause(session.call_id)
        await asyncio.sleep(0.3)
        paused = receiver.counter.total()
        await asyncio.sleep(0.6)
        assert receiver.counter.total() - paused < 5  # (packets in flight at the pause aside)
        await server.media.resume(session.call_id, scale=4.0)
        # Three seconds of recording at four times the speed: over soon, announced with MediaStatus 121.
        await until(lambda: _true(session.call_id not in server.media.sessions), timeout_s=15)
    finally:
        await receiver.close()
        await device.stop()


async def test_an_nvr_is_subscribed_to_and_a_channel_going_off_takes_its_camera_offline(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(NVR, PASSWORD, kind="nvr", channels=4))
    try:
        # The follow-up syncs the catalog and subscribes to its changes (NVRs change their channel lists).
        await until(lambda: _eq(camera_count(sessions, NVR), 4))
        await until(lambda: _true(bool(device.subscriptions.of_kind("Catalog"))), timeout_s=10)
        gone = device.spec.channel_ids[2]
        device.change_status(gone, "OFF")

        async def offline() -> bool:
            async with sessions() as session:
                camera = (await session.execute(select(Camera).where(Camera.gb_id == gone))).scalar_one()
                return camera.channel_status == "OFF" and not camera.online

        await until(offline, timeout_s=10)
        async with sessions() as session:
            from tianyan.registry.models import AvailabilityTransition

            rows = await session.execute(
                select(AvailabilityTransition.online, AvailabilityTransition.reason)
                .join(Camera, Camera.id == AvailabilityTransition.camera_id)
                .where(Camera.gb_id == gone)
                .order_by(AvailabilityTransition.id)
            )
            assert [tuple(row) for row in rows] == [(True, "catalog: new channel"), (False, "channel OFF")]
    finally:
        await device.stop()
