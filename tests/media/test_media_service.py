"""The media plane end to end over loopback: simulated GB/T 28181 and RTSP cameras, live fMP4 and recordings."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.gb28181 import conftest as gb_fixtures
from tests.gb28181.conftest import PASSWORD, Recorder
from tests.gb28181.test_with_simulator import FAST_DEVICE, simulated
from tianyan.config import Config, MediaConfig, ServerConfig
from tianyan.core.errors import Forbidden, InvalidInput
from tianyan.gb28181.server import SipServer
from tianyan.media import service as media_service
from tianyan.media.fmp4 import Fmp4Fragmenter
from tianyan.media.models import MediaAlarm, RecordingGap, RecordingSegment
from tianyan.media.service import MediaService
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec
from tianyan.registry import service as registry_service
from tianyan.registry.models import Camera
from tianyan.sim.gb28181.device import SimDevice
from tianyan.sim.gb28181.profile import DeviceSpec, PlatformAddress, VideoSettings
from tianyan.sim.rtsp import RtspCamera

# The signaling fixtures: a SIP server on loopback over a migrated database.
sip_config = gb_fixtures.sip_config
sessions = gb_fixtures.sessions
sip = gb_fixtures.sip

IPC = "44130200001320000001"
NVR = "44130200001180000001"
CHANNEL = "44130200001310000001"


class Collector:
    def __init__(self) -> None:
        self.video: list[tuple[VideoCodec, VideoAccessUnit]] = []
        self.ended: str | None = None

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        self.video.append((codec, unit))

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        pass

    def on_end(self, reason: str) -> None:
        self.ended = reason


def media_config(tmp_path: Path, **media: object) -> Config:
    return Config(
        server=ServerConfig(data_dir=tmp_path),
        media=MediaConfig(
            rtp_port_min=33000,
            rtp_port_max=33999,
            segment_s=10,
            fragment_ms=500,
            stream_timeout_s=3,
            retry_min_s=0.5,
            retry_max_s=2,
            **media,
        ),
    )


@pytest.fixture
async def platform_media(
    sip: tuple[SipServer, Recorder],
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[MediaService]:
    server, _ = sip
    # The recording schedule's periodic pass (10 s) is what resumes a returning camera whose online flag was written
    # after the DeviceCameOnline poke; a shorter pass keeps the test from waiting on it, and changes nothing else.
    monkeypatch.setattr(media_service, "SCHEDULE_INTERVAL_S", 0.5)
    transport = getattr(request, "param", "udp")
    media = MediaService(media_config(tmp_path, rtp_transport=transport), sessions, server.core.bus, sip=server)
    try:
        yield media
    finally:
        await media.close()


async def until(condition, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def decode_fmp4(data: bytes) -> list[int]:
    """The presentation times of every picture PyAV decodes from an fMP4 byte string."""
    import io

    with av.open(io.BytesIO(data), "r") as container:
        return [frame.pts for frame in container.decode(video=0)]


# The RTP transport and the database are independent, so each transport runs on SQLite and one on PostgreSQL too.
@pytest.mark.parametrize(
    ("backend", "platform_media"),
    [("sqlite", "udp"), ("sqlite", "tcp-passive"), ("sqlite", "tcp-active"), ("postgresql", "udp")],
    indirect=["platform_media"],
)
async def test_a_live_invite_gives_fmp4_that_decodes_in_order(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], platform_media: MediaService
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD, channels=1))
    try:
        channel = device.spec.channel_ids[0]
        await until(lambda: server.directory.cached(IPC) is not None)
        await _camera_exists(sessions, channel)
        viewer = Collector()
        attachment = await platform_media.hub.attach(channel, viewer)
        await until(lambda: len(viewer.video) >= 50)
        feed = platform_media.hub.feed(channel)
        assert feed is not None and feed.upstream is not None
        stats = feed.upstream.stream.stats  # type: ignore[attr-defined]
        assert stats.lost == 0 and stats.frames >= 50 and stats.wrong_ssrc == 0
        await platform_media.hub.detach(attachment)
        assert platform_media.hub.feed(channel) is None  # no linger: the upstream went with the last viewer
        assert device.stats.streams_active == 0 or await _eventually_zero(device)
    finally:
        await device.stop()
    codec, first = viewer.video[0]
    assert first.keyframe  # a viewer starts on a picture it can decode
    fragmenter = Fmp4Fragmenter(codec, first)  # which muxes the first picture too
    data = bytearray(fragmenter.init_segment)
    for _, unit in viewer.video[1:]:
        for fragment in fragmenter.push_video(unit):
            data += fragment
    for fragment in fragmenter.flush():
        data += fragment
    times = decode_fmp4(bytes(data))
    assert len(times) == len(viewer.video)
    steps = {b - a for a, b in itertools.pairwise(times)}
    assert len(steps) == 1 and steps.pop() > 0  # every picture, in order, evenly spaced


async def _eventually_zero(device) -> bool:  # type: ignore[no-untyped-def]
    await until(lambda: device.stats.streams_active == 0, 5)
    return True


async def _camera_exists(sessions: async_sessionmaker[AsyncSession], gb_id: str) -> None:
    for _ in range(200):
        async with sessions() as session:
            found = (await session.execute(select(Camera.id).where(Camera.gb_id == gb_id))).first()
        if found is not None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"camera {gb_id} never appeared")


async def _segments(sessions: async_sessionmaker[AsyncSession]) -> list[RecordingSegment]:
    async with sessions() as session:
        return list((await session.execute(select(RecordingSegment).order_by(RecordingSegment.id))).scalars())


async def test_an_online_class_1_camera_is_recorded_without_anyone_asking(
    sip: tuple[SipServer, Recorder],
    sessions: async_sessionmaker[AsyncSession],
    platform_media: MediaService,
    tmp_path: Path,
    probe,  # type: ignore[no-untyped-def]
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(IPC, PASSWORD, channels=1), channel_class=1)
    try:
        channel = device.spec.channel_ids[0]
        await _camera_exists(sessions, channel)
        await platform_media.start()
        platform_media.poke()
        await until(lambda: any(r.recorder.stats.frames >= 75 for r in platform_media.recordings.values()), 30)
    finally:
        await platform_media.close()
        await device.stop()
    segments = await _segments(sessions)
    assert segments and all(s.status == "closed" for s in segments)
    path = tmp_path / "recordings" / segments[0].path
    info = probe(path)
    assert info["streams"][0]["codec_name"] == "h264"
    assert float(info["format"]["duration"]) >= 2.5
    assert sum(s.frames for s in segments) >= 75


async def test_an_rtsp_camera_is_recorded(
    sip: tuple[SipServer, Recorder],
    sessions: async_sessionmaker[AsyncSession],
    platform_media: MediaService,
    tmp_path: Path,
    probe,  # type: ignore[no-untyped-def]
) -> None:
    async with RtspCamera() as camera:
        async with sessions() as session:
            region = await registry_service.region_by_code(session, "441302")
            session.add(
                Camera(gb_id="44130200001310009999", name="RTSP 摄像机", cls=1, network="police", region_id=region.id,
                       stream_url=camera.url("main"))
            )  # fmt: skip
            await session.commit()
        await platform_media.start()
        await until(lambda: any(r.recorder.stats.frames >= 50 for r in platform_media.recordings.values()), 30)
        await platform_media.close()
    segments = await _segments(sessions)
    assert segments and segments[0].codec == "h264"
    assert probe(tmp_path / "recordings" / segments[0].path)["streams"][0]["codec_name"] == "h264"


async def test_footage_kept_on_an_nvr_plays_through_gb_playback_and_is_steered(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], platform_media: MediaService
) -> None:
    server, _ = sip
    device = await simulated(server, sessions, DeviceSpec.build(NVR, PASSWORD, kind="nvr", channels=2))
    playbacks = platform_media.device_playbacks
    try:
        channel = device.spec.channel_ids[0]
        await _camera_exists(sessions, channel)
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        playback = await playbacks.start(channel, end - timedelta(minutes=10), end, user_id=7)
        viewer = playbacks.watch(playback.id, user_id=7)
        header = json.loads(await viewer.next())
        assert header["mime_codec"].startswith("video/mp4")
        init = await viewer.next()
        assert init[4:8] == b"ftyp"
        assert (await viewer.next())[4:8] == b"moof"  # pictures from the NVR's own recording
        with pytest.raises(Forbidden):
            await playbacks.control(playback.id, "pause", user_id=8)  # someone else's playback
        await playbacks.control(playback.id, "pause", user_id=7)
        await playbacks.control(playback.id, "scale", user_id=7, scale=2.0)
        await playbacks.control(playback.id, "seek", user_id=7, seek_s=300)
        with pytest.raises(InvalidInput):
            await playbacks.control(playback.id, "seek", user_id=7, seek_s=3600)
        history = [s for s in device.media.sessions if s.history is not None]
        assert history and history[0].history.scale == 2.0  # the device really changed speed
        await playbacks.leave(playback.id, viewer)
        assert playback.id not in playbacks.sessions
        await until(lambda: device.stats.streams_active == 0, 5)
    finally:
        await device.stop()


async def test_a_lost_stream_raises_an_alarm_and_a_gap_and_recording_resumes_when_the_camera_returns(
    sip: tuple[SipServer, Recorder], sessions: async_sessionmaker[AsyncSession], platform_media: MediaService
) -> None:
    server, _ = sip
    spec = DeviceSpec.build(IPC, PASSWORD, channels=1)
    device = await simulated(server, sessions, spec, channel_class=1)
    await _camera_exists(sessions, spec.channel_ids[0])
    await platform_media.start()
    platform_media.poke()
    await until(lambda: any(r.recorder.stats.frames >= 25 for r in platform_media.recordings.values()), 30)
    await device.stop()  # the camera goes away mid-recording
    await until(lambda: bool(platform_media._lost_cameras), 15)
    await until(lambda: not platform_media._alarm_tasks, 5)
    async with sessions() as session:
        alarm = (await session.execute(select(MediaAlarm))).scalar_one()
    assert alarm.kind == "stream_lost" and alarm.cleared_at is None
    device = await SimDevice.standalone(
        spec, PlatformAddress.of("127.0.0.1", server.port, gb_fixtures.PLATFORM_ID, gb_fixtures.DOMAIN),
        behaviour=FAST_DEVICE, video=VideoSettings(main_size="cif", sub_size="cif"),
    )  # fmt: skip
    try:
        await until(lambda: any(r.recorder.stats.frames >= 25 for r in platform_media.recordings.values()), 30)
        platform_media.poke()
        await until(lambda: not platform_media._lost_cameras, 15)
        await until(lambda: not platform_media._alarm_tasks, 5)
    finally:
        await platform_media.close()
        await device.stop()
    async with sessions() as session:
        alarm = (await session.execute(select(MediaAlarm))).scalar_one()
        gaps = (await session.execute(select(RecordingGap))).scalars().all()
    assert alarm.cleared_at is not None
    assert any(gap.cause in ("stream_lost", "device_offline") for gap in gaps)
    assert len(await _segments(sessions)) >= 2  # one before the outage, one after
