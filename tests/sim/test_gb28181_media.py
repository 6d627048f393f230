"""INVITE makes the simulated device stream RTP/PS with real H.264, over UDP and both TCP roles; BYE, INFO, EOF."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.sim.gb28181_platform import FAST, FakePlatform, RtpReceiver, decode_ps, eventually
from tianyan.gb28181 import mansrtsp
from tianyan.gb28181.manscdp.media_status import MediaStatusNotify
from tianyan.gb28181.sdp_types import SessionName, Transport
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.events import SimEvent, StreamEnded, StreamStarted
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, VideoSettings
from tianyan.sim.video import SyntheticVideo

IPC = "44130200001320000001"
CHANNEL = "44130200001310000001"
VIDEO = VideoSettings(main_size="4cif", sub_size="cif")


@pytest.fixture
async def platform() -> AsyncIterator[FakePlatform]:
    platform = await FakePlatform().start()
    yield platform
    await platform.close()


@pytest.fixture
async def receiver() -> AsyncIterator[RtpReceiver]:
    receiver = RtpReceiver()
    await receiver.start()
    yield receiver
    await receiver.close()


@pytest.fixture
async def events() -> list[SimEvent]:
    return []


@pytest.fixture
async def ipc(platform: FakePlatform, events: list[SimEvent]) -> AsyncIterator[SimDevice]:
    device = await SimDevice.standalone(DeviceSpec.build(IPC, "secret"), platform.address,
                                        behaviour=Behaviour(keepalive_s=5, timers=FAST), video=VIDEO,
                                        on_event=events.append)  # fmt: skip
    await eventually(lambda: device.registered, 3)
    yield device
    await device.stop()


async def test_live_over_udp_carries_decodable_h264_with_the_agreed_ssrc_until_bye(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice, events: list[SimEvent]
) -> None:
    call = await platform.invite(IPC, CHANNEL, receiver, stream_number=1)
    answer = call.answer
    assert answer.ssrc == call.offer.ssrc and answer.video.direction == "sendonly"
    assert answer.video.transport is Transport.UDP and answer.session_name == "Play"
    await eventually(lambda: receiver.count(call.ssrc) > 0 and len(receiver.packets) == 1, 3)
    await asyncio.sleep(0.6)
    assert (await platform.bye(call)).status == 200
    await asyncio.sleep(0.1)
    count = receiver.count(call.ssrc)
    await asyncio.sleep(0.3)
    assert receiver.count(call.ssrc) == count, "BYE stops the stream"
    assert ipc.stats.streams_active == 0 and any(isinstance(e, StreamEnded) for e in events)
    packets = receiver.packets[call.ssrc]
    assert {p.payload_type for p in packets} == {96}
    # One 90 kHz timestamp per frame, the marker on each frame's last packet, 25 frames a second.
    frames = sorted({p.timestamp for p in packets})
    assert len(frames) >= 15 and all(b - a == 3600 for a, b in itertools.pairwise(frames))
    assert sum(p.marker for p in packets) == len(frames)
    pictures = decode_ps(receiver.ps_bytes(call.ssrc))
    assert len(pictures) >= 10 and (pictures[0].width, pictures[0].height) == (352, 288)  # the sub stream
    started = next(e for e in events if isinstance(e, StreamStarted))
    assert (started.channel_id, started.session, started.ssrc) == (CHANNEL, "Play", call.offer.ssrc)


@pytest.mark.parametrize("transport", [Transport.TCP_PASSIVE, Transport.TCP_ACTIVE])
async def test_tcp_media_in_either_role(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice, transport: Transport
) -> None:
    call = await platform.invite(IPC, CHANNEL, receiver, transport=transport, stream_number=0)
    # The device takes the other role: it connects to a listening platform, or listens for one that connects.
    assert call.answer.video.transport is transport.counterpart
    assert call.answer.video.protocol == "TCP/RTP/AVP"
    await eventually(lambda: receiver.count(call.ssrc) > 30, 3)
    pictures = decode_ps(receiver.ps_bytes(call.ssrc))
    assert pictures and (pictures[0].width, pictures[0].height) == (704, 576)  # the main stream
    await platform.bye(call)


async def test_two_viewers_of_one_channel_share_the_encoder(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice
) -> None:
    first = await platform.invite(IPC, CHANNEL, receiver)
    second = await platform.invite(IPC, CHANNEL, receiver)
    await eventually(lambda: receiver.count(first.ssrc) > 0 and receiver.count(second.ssrc) > 0, 3)
    assert ipc.streamer.live_feeds == 1 and first.ssrc != second.ssrc
    await platform.bye(first)
    await platform.bye(second)
    await eventually(lambda: ipc.streamer.live_feeds == 0, 2)


async def test_no_ack_means_the_device_hangs_up(platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice) -> None:
    platform.ack_invites = False
    call = await platform.invite(IPC, CHANNEL, receiver)
    # Timer L is 64·T1 = 1.28 s here; then the device says BYE, having sent nothing.
    await eventually(lambda: call.dialog.id.call_id in platform.byes, 3)
    assert receiver.count(call.ssrc) == 0


async def test_an_unknown_channel_is_not_found(platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice) -> None:
    with pytest.raises(AssertionError, match="404"):
        await platform.invite(IPC, "44130200001310009999", receiver)


async def test_playback_pauses_resumes_and_ends_with_media_status_121(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice
) -> None:
    start = int(time.time()) - 7200
    call = await platform.invite(IPC, CHANNEL, receiver, session=SessionName.PLAYBACK, start_s=start,
                                 stop_s=start + 3)  # fmt: skip
    assert call.answer.time_range_s == (start, start + 3) and call.offer.ssrc and call.offer.ssrc.startswith("1")
    await eventually(lambda: receiver.count(call.ssrc) > 10, 3)
    assert (await platform.info(call, mansrtsp.pause(1))).status == 200
    await asyncio.sleep(0.15)
    paused_at = receiver.count(call.ssrc)
    await asyncio.sleep(0.4)
    assert receiver.count(call.ssrc) == paused_at, "PAUSE holds the stream"
    # Resume at four times the speed: the remaining seconds arrive in well under their length.
    assert (await platform.info(call, mansrtsp.play(2, scale=4.0))).status == 200
    resumed = time.monotonic()
    await eventually(lambda: any(cid == call.dialog.id.call_id for cid, _ in platform.in_dialog_messages), 4)
    assert time.monotonic() - resumed < 1.5
    body = next(b for cid, b in platform.in_dialog_messages if cid == call.dialog.id.call_id)
    assert isinstance(body, MediaStatusNotify) and body.notify_type == 121 and body.device_id == CHANNEL
    # About three seconds of pictures, each shown once, from the recording's start time.
    timestamps = sorted({p.timestamp for p in receiver.packets[call.ssrc]})
    assert 60 <= len(timestamps) <= 76
    await platform.bye(call)


async def test_playback_seek_restarts_at_a_keyframe(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice
) -> None:
    start = int(time.time()) - 7200
    call = await platform.invite(IPC, CHANNEL, receiver, session=SessionName.PLAYBACK, start_s=start,
                                 stop_s=start + 600)  # fmt: skip
    await eventually(lambda: receiver.count(call.ssrc) > 5, 3)
    assert (await platform.info(call, mansrtsp.play(1, seek_s=300))).status == 200
    await asyncio.sleep(0.5)
    assert ipc.media.sessions[0].history is not None and 300 <= ipc.media.sessions[0].history.position_s < 302
    assert decode_ps(receiver.ps_bytes(call.ssrc))
    assert (await platform.info(call, mansrtsp.play(2, scale=-1.0))).status == 488
    await platform.bye(call)


async def test_download_goes_at_its_speed_and_offers_a_file_size(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice
) -> None:
    start = int(time.time()) - 7200
    began = time.monotonic()
    call = await platform.invite(IPC, CHANNEL, receiver, session=SessionName.DOWNLOAD, start_s=start,
                                 stop_s=start + 4, transport=Transport.TCP_PASSIVE, download_speed=4)  # fmt: skip
    assert call.answer.file_size_bytes == 4 * 2_000_000 // 8
    await eventually(lambda: any(cid == call.dialog.id.call_id for cid, _ in platform.in_dialog_messages), 4)
    assert time.monotonic() - began < 2.0, "four seconds of recording at speed 4"
    assert len({p.timestamp for p in receiver.packets[call.ssrc]}) >= 95
    await platform.bye(call)


async def test_a_closed_media_connection_makes_the_device_hang_up(
    platform: FakePlatform, receiver: RtpReceiver, ipc: SimDevice
) -> None:
    call = await platform.invite(IPC, CHANNEL, receiver, transport=Transport.TCP_PASSIVE)
    await eventually(lambda: receiver.count(call.ssrc) > 0, 3)
    receiver.drop_connections()
    await eventually(lambda: call.dialog.id.call_id in platform.byes, 3)
    assert ipc.stats.streams_active == 0


async def test_a_file_is_streamed_instead_of_synthetic_video(
    platform: FakePlatform, receiver: RtpReceiver, tmp_path: Path
) -> None:
    # A raw H.264 elementary stream (Annex B, no container) made by the synthetic source itself.
    path = tmp_path / "clip.h264"
    path.write_bytes(b"".join(unit.data for unit in itertools.islice(SyntheticVideo(320, 240, label="file"), 50)))
    device = await SimDevice.standalone(DeviceSpec.build(IPC, "secret"), platform.address,
                                        behaviour=Behaviour(keepalive_s=5, timers=FAST),
                                        video=VideoSettings(file=path))  # fmt: skip
    try:
        await eventually(lambda: device.registered, 3)
        call = await platform.invite(IPC, CHANNEL, receiver)
        await eventually(lambda: receiver.count(call.ssrc) > 20, 3)
        await platform.bye(call)
        pictures = decode_ps(receiver.ps_bytes(call.ssrc))
        assert pictures and (pictures[0].width, pictures[0].height) == (320, 240)
    finally:
        await device.stop()
