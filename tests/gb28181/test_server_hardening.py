"""Hostile and broken input over real sockets: refused or dropped, never fatal; replays refused; restarts honest."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181.conftest import FAST, BareDevice, Recorder, add_device
from tianyan.bus.memory import MemoryBus
from tianyan.config import SipConfig
from tianyan.gb28181.server import SipServer
from tianyan.gb28181.transport import Peer
from tianyan.registry.models import AvailabilityTransition, Device

IPC = "44130200001320000001"
OTHER = "44130200001320000002"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>&lol3;</DeviceID><Status>OK</Status></Notify>"""


async def registered(server: SipServer, sessions: async_sessionmaker[AsyncSession], gb_id: str) -> BareDevice:
    await add_device(sessions, gb_id)
    await server.directory.load(server.endpoint.now())
    device = BareDevice(gb_id, server.port)
    await device.start()
    assert (await device.register()).status == 200
    return device


async def test_hostile_bodies_get_400_and_the_server_carries_on(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await registered(server, sessions, IPC)
    try:
        bomb = await device.send(device.request("MESSAGE", body=BILLION_LAUGHS))
        assert bomb.status == 400
        deep = b"<Notify>" + b"<a>" * 500 + b"</a>" * 500 + b"</Notify>"
        assert (await device.send(device.request("MESSAGE", body=deep))).status == 400
        assert (await device.send(device.request("MESSAGE", body=b"\xff\xfe not xml"))).status == 400
        assert (await device.keepalive()).status == 200
        assert server.stats.bad_bodies == 3
    finally:
        await device.close()


async def test_garbage_and_oversized_datagrams_are_dropped(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    device = await registered(server, sessions, IPC)
    try:
        peer = Peer("UDP", "127.0.0.1", server.port)
        before = server.endpoint.stats.parse_errors
        for junk in (b"\x00" * 1000, b"REGISTER\r\n\r\n", b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
                     b"MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 99999999\r\n\r\nx", b"A" * 60_000):  # fmt: skip
            device.endpoint.transport.send(junk, peer)
        assert (await device.keepalive()).status == 200
        assert server.endpoint.stats.parse_errors - before == 5
    finally:
        await device.close()


async def test_a_tcp_peer_sending_garbage_is_cut_off_and_others_are_not(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, IPC)
    await server.directory.load(server.endpoint.now())
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"MESSAGE sip:x@y SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    writer.close()
    good = BareDevice(IPC, server.port, "TCP")
    await good.start()
    try:
        assert (await good.register()).status == 200
    finally:
        await good.close()


async def test_a_replayed_authorization_is_not_accepted_again(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession]
) -> None:
    server, _ = sip
    await add_device(sessions, IPC)
    await server.directory.load(server.endpoint.now())
    device = BareDevice(IPC, server.port)
    await device.start()
    try:
        first = await device.send(device.request("REGISTER", headers=[("Expires", "3600")]))
        from tianyan.gb28181.sip.digest import authorization

        answer = authorization(first.headers.get("WWW-Authenticate") or "", "REGISTER",
                               "sip:44130000002000000001@4413000000", IPC, "Huizhou-2026", use_qop=False)  # fmt: skip
        ok = await device.send(device.request("REGISTER", headers=[("Expires", "3600"), ("Authorization", answer)]))
        assert ok.status == 200
        replay = await device.send(device.request("REGISTER", headers=[("Expires", "3600"), ("Authorization", answer)]))
        assert replay.status == 401 and "stale=true" in (replay.headers.get("WWW-Authenticate") or "")
    finally:
        await device.close()


async def test_a_restart_keeps_live_devices_online_and_dead_ones_go_offline_when_they_died(
    sip_config: SipConfig, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = SipServer(sip_config, sessions, MemoryBus(), timers=FAST)
    await first.start()
    live = await registered(first, sessions, IPC)
    dead = await registered(first, sessions, OTHER)
    await first.writer.flush()
    await dead.close()  # this one is gone for good
    await first.close()

    # The platform is down for a while; the live device keeps trying, the dead one is silent.
    second = SipServer(sip_config.model_copy(update={"port": first.port}), sessions, MemoryBus(), timers=FAST)
    second.core.clock = _Later(seconds=20)
    await second.start()
    try:
        live.server = Peer("UDP", "127.0.0.1", second.port)
        assert (await live.keepalive()).status == 200  # no re-register needed: its registration still holds
        # One keepalive window later the silent device is given up on; the live one is still talking.
        second.core.clock = _Later(seconds=20 + 3 * sip_config.keepalive_interval_s + 1)
        assert (await live.keepalive()).status == 200
        await second.sweep()
        await second.writer.flush()
        async with sessions() as session:
            online = dict((await session.execute(select(Device.gb_id, Device.online))).tuples().all())
            gone = (
                await session.execute(
                    select(AvailabilityTransition).where(AvailabilityTransition.online.is_(False))
                )
            ).scalars().all()  # fmt: skip
        assert online == {IPC: True, OTHER: False}
        assert [(t.reason, t.device_id) for t in gone] == [("keepalives missed", 2)]
        # Backdated to when three keepalive intervals had passed, not the moment of the restart.
        registered_at = await _registered_at(sessions, OTHER)
        assert gone[0].at == registered_at + timedelta(seconds=3 * sip_config.keepalive_interval_s)
    finally:
        await live.close()
        await second.close()


class _Later:
    def __init__(self, seconds: float) -> None:
        self.offset = timedelta(seconds=seconds)

    def now(self):  # type: ignore[no-untyped-def]
        from datetime import UTC, datetime

        return datetime.now(UTC) + self.offset


async def _registered_at(sessions: async_sessionmaker[AsyncSession], gb_id: str):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return (
            await session.execute(
                select(AvailabilityTransition.at)
                .join(Device, Device.id == AvailabilityTransition.device_id)
                .where(Device.gb_id == gb_id, AvailabilityTransition.online.is_(True))
            )
        ).scalar_one()
