"""The simulated device answers every query, takes controls, sends alarms and position notifications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from tests.sim.gb28181_platform import FAST, FakePlatform, eventually
from tianyan.gb28181 import ptz
from tianyan.gb28181.manscdp.catalog import CatalogNotify, CatalogQuery
from tianyan.gb28181.manscdp.config_download import ConfigDownloadQuery, ConfigDownloadResponse
from tianyan.gb28181.manscdp.device_control import DeviceControl, DeviceControlResponse
from tianyan.gb28181.manscdp.device_info import DeviceInfoQuery, DeviceInfoResponse
from tianyan.gb28181.manscdp.device_status import DeviceStatusQuery, DeviceStatusResponse
from tianyan.gb28181.manscdp.mobile_position import MobilePositionNotify, MobilePositionQuery
from tianyan.gb28181.manscdp.preset import PresetQuery, PresetQueryResponse
from tianyan.gb28181.manscdp.record_info import RecordInfoQuery, RecordInfoResponse
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, beijing_now

NVR = "44130200001180000001"
VEHICLE = "44130200001320000009"
BEHAVIOUR = Behaviour(keepalive_s=5, timers=FAST)


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    platform = await FakePlatform().start()
    yield platform
    await platform.close()


@pytest.fixture
async def nvr(platform: FakePlatform) -> AsyncIterator[SimDevice]:
    spec = DeviceSpec.build(NVR, "secret", kind="nvr", channels=520, alarm_inputs=4)
    device = await SimDevice.standalone(spec, platform.address, behaviour=BEHAVIOUR)
    await eventually(lambda: device.registered, 3)
    yield device
    await device.stop()


async def test_a_catalog_of_520_channels_arrives_complete_over_many_messages(
    platform: FakePlatform, nvr: SimDevice
) -> None:
    sn = platform.next_sn()
    response = await platform.send(NVR, CatalogQuery(sn, NVR))
    assert response.status == 200
    await eventually(lambda: (NVR, sn) in platform.catalogs, 5)
    collected = platform.catalogs[(NVR, sn)]
    assert collected.complete and collected.sum_num == 524 and len(collected.items) == 524
    assert platform.catalog_messages > 10, "a catalog this long spans many messages, as devices send it"
    ids = {item.device_id for item in collected.items}
    assert set(nvr.spec.channel_ids) | set(nvr.spec.alarm_input_ids) == ids
    camera = next(i for i in collected.items if i.device_id == nvr.spec.channel_ids[0])
    assert camera.parent_id == NVR and camera.status == "ON" and camera.ptz_type == 1
    assert 22 < (camera.latitude or 0) < 24 and 113 < (camera.longitude or 0) < 116


async def test_device_info_status_config_and_records(platform: FakePlatform, nvr: SimDevice) -> None:
    channel = nvr.spec.channel_ids[3]
    now = beijing_now()
    for query in (
        DeviceInfoQuery(platform.next_sn(), NVR),
        DeviceStatusQuery(platform.next_sn(), NVR),
        ConfigDownloadQuery(platform.next_sn(), NVR, ("BasicParam",)),
        RecordInfoQuery(platform.next_sn(), channel, now - timedelta(days=3), now),
    ):
        assert (await platform.send(NVR, query, target=channel)).status == 200
    await eventually(lambda: bool(platform.of_type(ConfigDownloadResponse)), 5)
    info = platform.of_type(DeviceInfoResponse)[0]
    assert isinstance(info, DeviceInfoResponse) and info.channel == 520 and info.manufacturer
    status = platform.of_type(DeviceStatusResponse)[0]
    assert isinstance(status, DeviceStatusResponse) and status.online == "ONLINE" and len(status.alarm_status) == 4
    config = platform.of_type(ConfigDownloadResponse)[0]
    assert isinstance(config, ConfigDownloadResponse) and config.basic_param is not None
    assert (config.basic_param.heart_beat_interval, config.basic_param.heart_beat_count) == (5, 3)

    def all_records_arrived() -> bool:
        answers = platform.of_type(RecordInfoResponse)
        return bool(answers) and sum(len(r.items) for r in answers) == answers[0].sum_num

    await eventually(all_records_arrived, 5)
    answers = platform.of_type(RecordInfoResponse)
    records = [item for r in answers for item in r.items]
    # Three days of hour-long files, a few missing or short: about 72 of them, none in the future.
    assert 60 <= len(records) <= 73 and all(r.end_time <= beijing_now() for r in records)
    assert len({r.sn for r in answers}) == 1 and len(answers) >= 2


async def test_ptz_reaches_the_channel_verified_and_presets_follow(platform: FakePlatform, nvr: SimDevice) -> None:
    channel = nvr.spec.channel_ids[0]
    for command in (ptz.Move.towards("left", 0x40), ptz.Stop(), ptz.Preset("set", 7), ptz.Preset("delete", 1)):
        control = DeviceControl.of_ptz(platform.next_sn(), channel, command)
        assert (await platform.send(NVR, control)).status == 200
    await eventually(lambda: len(nvr.ptz_log(channel)) == 4, 2)
    arrived = nvr.ptz_log(channel)
    assert arrived[0].command == ptz.Move(pan="left", pan_speed=0x40)
    raw = bytes.fromhex(arrived[0].raw)
    assert raw[0] == 0xA5 and raw[7] == sum(raw[:7]) % 256
    # A PTZCmd with a wrong checksum is refused and changes nothing.
    bad = ptz.encode(ptz.Stop())[:14] + "00"
    refused = await platform.send(NVR, DeviceControl(platform.next_sn(), channel, ptz_cmd=bad))
    assert refused.status == 400 and len(nvr.ptz_log(channel)) == 4
    await platform.send(NVR, PresetQuery(platform.next_sn(), channel))
    await eventually(lambda: bool(platform.of_type(PresetQueryResponse)), 2)
    presets = platform.of_type(PresetQueryResponse)[0]
    assert isinstance(presets, PresetQueryResponse)
    assert [p.preset_id for p in presets.presets] == [2, 7]


async def test_record_and_guard_controls_are_answered(platform: FakePlatform, nvr: SimDevice) -> None:
    channel, alarm_input = nvr.spec.channel_ids[1], nvr.spec.alarm_input_ids[0]
    await platform.send(NVR, DeviceControl(platform.next_sn(), channel, record_cmd="Record"))
    await platform.send(NVR, DeviceControl(platform.next_sn(), alarm_input, guard_cmd="SetGuard"))
    await eventually(lambda: len(platform.of_type(DeviceControlResponse)) == 2, 2)
    assert nvr.channel_state(channel).recording and nvr.channel_state(alarm_input).guarded


async def test_an_alarm_arrives_and_its_acknowledgement_comes_back(platform: FakePlatform, nvr: SimDevice) -> None:
    acknowledged = await nvr.send_alarm(nvr.spec.alarm_input_ids[1], method=2, alarm_type=None, wait_ack_s=2)
    assert acknowledged and nvr.stats.alarms_acknowledged == 1
    alarm = platform.alarms[0]
    assert alarm.device_id == nvr.spec.alarm_input_ids[1] and alarm.alarm_method == 2
    assert alarm.longitude == nvr.spec.longitude


async def test_catalog_subscription_notifies_changes(platform: FakePlatform, nvr: SimDevice) -> None:
    dialog, response = await platform.subscribe(NVR, CatalogQuery(platform.next_sn(), NVR), expires_s=30)
    assert dialog is not None and response.status == 200 and response.expires == 30
    nvr.change_status(nvr.spec.channel_ids[5], "OFF")
    await eventually(lambda: bool(platform.notifies), 2)
    request, body = platform.notifies[0]
    assert isinstance(body, CatalogNotify) and body.items[0].event == "OFF" and body.items[0].status == "OFF"
    assert request.call_id == dialog.id.call_id
    assert (await platform.unsubscribe(NVR, dialog)).status == 200
    await eventually(lambda: "terminated" in (platform.notifies[-1][0].headers.get("Subscription-State") or ""), 2)


async def test_a_vehicle_reports_its_moving_position_while_subscribed(platform: FakePlatform) -> None:
    spec = DeviceSpec.build(VEHICLE, "secret", kind="vehicle", route=1)
    fast_car = Behaviour(keepalive_s=5, timers=FAST, vehicle_speed_kmh=200)
    vehicle = await SimDevice.standalone(spec, platform.address, behaviour=fast_car)
    try:
        await eventually(lambda: vehicle.registered, 3)
        query = MobilePositionQuery(platform.next_sn(), VEHICLE, interval_s=1)
        dialog, response = await platform.subscribe(VEHICLE, query, expires_s=20, event="presence")
        assert dialog is not None and response.status == 200
        await eventually(lambda: len(platform.notifies) >= 2, 3)
        fixes = [body for _, body in platform.notifies if isinstance(body, MobilePositionNotify)]
        assert fixes[0].device_id == VEHICLE and 22.9 < fixes[0].latitude < 23.2 and 114.3 < fixes[0].longitude < 114.5
        assert (fixes[0].longitude, fixes[0].latitude) != (fixes[1].longitude, fixes[1].latitude)
        assert fixes[1].speed_kmh == 200 and fixes[1].direction_deg is not None
        await platform.unsubscribe(VEHICLE, dialog)
    finally:
        await vehicle.stop()


async def test_a_fixed_camera_refuses_a_position_subscription(platform: FakePlatform, nvr: SimDevice) -> None:
    response = await platform.subscribe(NVR, MobilePositionQuery(platform.next_sn(), NVR), event="presence")
    assert response[1].status == 489


async def test_random_alarms_and_unsolicited_positions_at_their_rates(platform: FakePlatform) -> None:
    busy = Behaviour(keepalive_s=5, timers=FAST, alarm_rate_per_h=20 * 3600, position_interval_s=0.1)
    spec = DeviceSpec.build(VEHICLE, "secret", kind="vehicle", alarm_inputs=1)
    vehicle = await SimDevice.standalone(spec, platform.address, behaviour=busy)
    try:
        await eventually(lambda: len(platform.alarms) >= 3 and len(platform.of_type(MobilePositionNotify)) >= 3, 3)
        await eventually(lambda: vehicle.stats.alarms_acknowledged >= 3, 2)
        assert {a.device_id for a in platform.alarms} <= {*spec.channel_ids, *spec.alarm_input_ids}
    finally:
        await vehicle.stop()
