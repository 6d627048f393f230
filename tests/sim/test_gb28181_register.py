"""The simulated device registers with digest (UDP and TCP), backs off when refused, keeps alive, reboots."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest

from tests.sim.gb28181_platform import FAST, FakePlatform, eventually
from tianyan.gb28181.manscdp.device_control import DeviceControl
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.events import DeviceRegistered, RegistrationFailed, SimEvent
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec

DEVICE = "44130200001320000001"
QUICK = Behaviour(keepalive_s=0.2, retry_s=0.2, retry_max_s=0.8, reboot_s=0.2, timers=FAST)


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    platform = await FakePlatform().start()
    yield platform
    await platform.close()


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_registers_with_digest_and_keeps_alive(platform: FakePlatform, transport: str) -> None:
    events: list[SimEvent] = []
    device = await SimDevice.standalone(
        DeviceSpec.build(DEVICE, "secret"), platform.address, transport=transport, behaviour=QUICK,
        on_event=events.append,
    )  # fmt: skip
    try:
        await eventually(lambda: len(platform.keepalives[DEVICE]) >= 4, 3)
        first, second = platform.registers[:2]
        # Challenged first, then the digest answer on the same registration (Call-ID) is accepted.
        assert (first.status, second.status) == (401, 200) and first.call_id == second.call_id
        assert second.peer.transport == transport
        assert device.registered and device.online and device.last_outcome is not None
        assert isinstance(events[0], DeviceRegistered) and events[0].attempt == 1
        times = platform.keepalives[DEVICE]
        gaps = [b - a for a, b in itertools.pairwise(times[1:])]
        assert all(0.15 <= gap <= 0.35 for gap in gaps), gaps
        # The platform has seen 4 keepalives; the answer to the last may still be on its way back.
        await eventually(lambda: device.stats.keepalives_answered >= 4, 2)
    finally:
        await device.stop()
    # Stopping unregisters: a REGISTER with Expires 0 went through.
    assert DEVICE not in platform.registered


async def test_digest_with_qop_when_the_device_is_set_to(platform: FakePlatform) -> None:
    behaviour = Behaviour(keepalive_s=5, timers=FAST, digest_qop=True)
    device = await SimDevice.standalone(DeviceSpec.build(DEVICE, "secret"), platform.address, behaviour=behaviour)
    try:
        await eventually(lambda: device.registered, 3)
    finally:
        await device.stop()


async def test_wrong_password_is_retried_with_back_off_not_hammered(platform: FakePlatform) -> None:
    events: list[SimEvent] = []
    device = await SimDevice.standalone(DeviceSpec.build(DEVICE, "wrong"), platform.address, behaviour=QUICK,
                                        on_event=events.append)  # fmt: skip
    await asyncio.sleep(2.0)
    await device.stop()
    refused = [a for a in platform.registers if a.status == 403]
    # 0.2, 0.4, 0.8, 0.8 s (±20 %) between tries: four or five tries in two seconds, never a burst.
    assert 3 <= len(refused) <= 6, len(refused)
    gaps = [b.at - a.at for a, b in itertools.pairwise(refused)]
    assert all(0.15 <= gap <= 1.0 for gap in gaps) and gaps[-1] > gaps[0], gaps
    failures = [e for e in events if isinstance(e, RegistrationFailed)]
    assert failures and failures[0].status == 403 and not device.registered
    assert device.stats.register_failures == len(refused)


async def test_no_platform_means_timeouts_and_back_off() -> None:
    # Nothing listens on the discard port: every REGISTER times out (64·T1 = 1.28 s with these timers).
    platform = await FakePlatform().start()
    address = platform.address
    await platform.close()
    events: list[SimEvent] = []
    device = await SimDevice.standalone(DeviceSpec.build(DEVICE, "secret"), address, behaviour=QUICK,
                                        on_event=events.append)  # fmt: skip
    await eventually(lambda: any(isinstance(e, RegistrationFailed) for e in events), 3)
    await device.stop()
    failed = next(e for e in events if isinstance(e, RegistrationFailed))
    assert failed.status is None and "no answer" in failed.reason


async def test_teleboot_drops_off_and_registers_afresh(platform: FakePlatform) -> None:
    device = await SimDevice.standalone(DeviceSpec.build(DEVICE, "secret"), platform.address, behaviour=QUICK)
    try:
        await eventually(lambda: device.registered, 3)
        response = await platform.send(DEVICE, DeviceControl(platform.next_sn(), DEVICE, tele_boot=True))
        assert response.status == 200
        await eventually(lambda: not device.registered, 2)
        await eventually(lambda: device.registered, 3)
        calls = {a.call_id for a in platform.registers if a.status == 200}
        assert len(calls) == 2, "after a reboot the device registers with a new Call-ID"
    finally:
        await device.stop()


async def test_keepalive_refused_means_register_again(platform: FakePlatform) -> None:
    device = await SimDevice.standalone(DeviceSpec.build(DEVICE, "secret"), platform.address, behaviour=QUICK)
    try:
        await eventually(lambda: len(platform.keepalives[DEVICE]) >= 1, 3)
        before = sum(1 for a in platform.registers if a.status == 200)
        # The platform forgets the device (a restart that lost its state) and answers keepalives with 404.
        platform.refuse_keepalives = True
        await eventually(lambda: sum(1 for a in platform.registers if a.status == 200) > before, 3)
    finally:
        platform.refuse_keepalives = False
        await device.stop()
