"""The simulator's pure parts: recordings, routes, controls, the catalog, answers and stream choice."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tianyan.gb28181 import ptz
from tianyan.gb28181.manscdp.catalog import CatalogQuery, CatalogResponse
from tianyan.gb28181.manscdp.device_control import DeviceControl
from tianyan.gb28181.manscdp.mobile_position import MobilePositionNotify, MobilePositionQuery
from tianyan.gb28181.manscdp.xml import ManscdpError
from tianyan.gb28181.sdp import make_offer
from tianyan.gb28181.sdp_types import MediaFormat, SessionName, Transport
from tianyan.sim.gb28181.answers import DeviceView, answer_query
from tianyan.sim.gb28181.channels import catalog_items
from tianyan.sim.gb28181.controls import ChannelState, apply_control
from tianyan.sim.gb28181.media import stream_size
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress, VideoSettings
from tianyan.sim.gb28181.records import recordings
from tianyan.sim.gb28181.routes import ROUTES, Fix, fix_at

CHANNEL = "44130200001310000001"
NOW = datetime(2026, 3, 10, 12, 30)
PLATFORM = PlatformAddress.of("127.0.0.1", 5060, "44130000002000000001")


def test_recordings_are_hour_files_with_gaps_the_same_every_time() -> None:
    week = recordings(CHANNEL, NOW - timedelta(days=7), NOW, now=NOW)
    assert week == recordings(CHANNEL, NOW - timedelta(days=7), NOW, now=NOW)
    assert 150 <= len(week) <= 169
    assert all(r.end_time - r.start_time <= timedelta(hours=1) for r in week)
    assert any(r.end_time - r.start_time < timedelta(hours=1) for r in week), "some files are short"
    hours = {r.start_time.replace(minute=0) for r in week}
    assert len(hours) < 169, "some hours were not recorded at all"
    assert week[-1].end_time == NOW, "the file being written ends now"
    # Asking for a piece gives the same files that overlap it; nothing before the retention window.
    piece = recordings(CHANNEL, NOW - timedelta(hours=5, minutes=30), NOW - timedelta(hours=2), now=NOW)
    assert piece == [r for r in week if r.end_time > NOW - timedelta(hours=5, minutes=30)
                     and r.start_time < NOW - timedelta(hours=2)]  # fmt: skip
    assert recordings(CHANNEL, NOW - timedelta(days=90), NOW - timedelta(days=60), now=NOW) == []
    assert all(r.type == "alarm" for r in recordings(CHANNEL, NOW - timedelta(days=7), NOW, now=NOW,
                                                     type_filter="alarm"))  # fmt: skip


def where(fix: Fix) -> tuple[float, float]:
    return (fix.longitude, fix.latitude)


def test_routes_are_driven_round_and_there_and_back() -> None:
    loop, line = ROUTES[0], ROUTES[1]
    assert loop.closed and not line.closed
    assert where(loop.fix_at(loop.length_m, 40)) == where(loop.fix_at(0, 40)) == loop.points[0]
    # An open route: at its far end after one length, back at the start after two, heading the other way.
    assert where(line.fix_at(line.length_m, 40)) == line.points[-1]
    assert where(line.fix_at(2 * line.length_m, 40)) == line.points[0]
    back = line.fix_at(1.5 * line.length_m, 40)
    assert abs(back.direction_deg - line.fix_at(0.5 * line.length_m, 40).direction_deg) == pytest.approx(180, abs=1)
    # 36 km/h for 100 s is 1 km along the route.
    moved = fix_at(0, 100, 36)
    assert moved != fix_at(0, 0, 36) and moved.speed_kmh == 36


def test_controls_move_presets_and_answer_record_and_guard() -> None:
    state = ChannelState()
    for command in (ptz.Preset("set", 9), ptz.Move.towards("up"), ptz.Preset("call", 9), ptz.Preset("delete", 2)):
        assert apply_control(DeviceControl.of_ptz(1, CHANNEL, command), state).response is None
    assert state.at_preset == 9 and sorted(state.presets) == [1, 9] and len(state.ptz_log) == 4
    outcome = apply_control(DeviceControl(2, CHANNEL, record_cmd="Record"), state)
    assert state.recording and outcome.response is not None and outcome.response.sn == 2
    assert apply_control(DeviceControl(3, CHANNEL, guard_cmd="SetGuard"), state).response is not None
    assert apply_control(DeviceControl(4, CHANNEL, tele_boot=True), state).reboot
    with pytest.raises(ManscdpError):
        apply_control(DeviceControl(5, CHANNEL, ptz_cmd="A50F0100000000FF"), state)
    assert len(state.ptz_log) == 4


def test_catalog_answer_is_split_under_one_sn() -> None:
    spec = DeviceSpec.build("44130200001180000001", "pw", kind="nvr", channels=64, alarm_inputs=2)
    view = DeviceView(spec, VideoSettings(), Behaviour(catalog_items_per_message=10), PLATFORM, {},
                      {spec.channel_ids[3]: "OFF"}, NOW)  # fmt: skip
    answers = answer_query(CatalogQuery(77, spec.device_id), view)
    assert answers is not None and len(answers) == 7
    assert all(isinstance(a, CatalogResponse) and a.sn == 77 and a.sum_num == 66 for a in answers)
    items = catalog_items(spec, VideoSettings(), {spec.channel_ids[3]: "OFF"})
    assert [i.status for i in items].count("OFF") == 1 and items[-1].device_id == spec.alarm_input_ids[-1]


def test_a_standing_camera_reports_where_it_stands() -> None:
    spec = DeviceSpec.build("44130200001320000001", "pw", latitude=23.1, longitude=114.4)
    view = DeviceView(spec, VideoSettings(), Behaviour(), PLATFORM, {}, {}, NOW)
    (notify,) = answer_query(MobilePositionQuery(5, spec.device_id), view) or []
    assert isinstance(notify, MobilePositionNotify) and (notify.latitude, notify.longitude) == (23.1, 114.4)


def test_stream_size_follows_the_offer() -> None:
    video = VideoSettings(main_size="1080p", sub_size="cif")
    offer = make_offer(session=SessionName.PLAY, sender_id=PLATFORM.server_id, address="127.0.0.1", port=9000,
                       transport=Transport.UDP, ssrc="0413000001")  # fmt: skip
    assert stream_size(offer, video) == "1080p"
    sub = replace(offer, media=(replace(offer.video, attributes=(("streamprofile", "1"),)),))
    assert stream_size(sub, video) == "cif"
    d1 = replace(offer, media_format=MediaFormat(video_codec=2, resolution=3))
    assert stream_size(d1, video) == "4cif"
