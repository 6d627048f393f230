"""RTSP pull with PyAV from the simulated camera: units in order and decodable, auth, errors, loss, stop; plus the
pure conversions (parameter sets from extradata, length-prefixed NAL units, ADTS, the 90 kHz timeline)."""

from __future__ import annotations

import asyncio
import io
import itertools
import subprocess
from collections.abc import AsyncIterator
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import pytest

from tianyan.core.errors import NotFound, Unavailable, UpstreamError, UpstreamTimeout
from tianyan.media.hub import StreamHub
from tianyan.media.nal import nal_types
from tianyan.media.rtsp_convert import AacConfig, PacketConverter, Timeline
from tianyan.media.rtsp_pull import RtspUpstream, RtspUpstreamFactory, redact
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec
from tianyan.sim.rtsp import CameraPath, RtspCamera, frame_number


class Sink:
    def __init__(self) -> None:
        self.video: list[tuple[VideoCodec, VideoAccessUnit]] = []
        self.audio: list[tuple[AudioCodec, AudioAccessUnit]] = []
        self.ends: list[str] = []

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        self.video.append((codec, unit))

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        self.audio.append((codec, unit))

    def on_end(self, reason: str) -> None:
        self.ends.append(reason)


async def eventually(condition: object, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def camera() -> AsyncIterator[RtspCamera]:
    camera = RtspCamera((CameraPath("main", "cif"), CameraPath("hevc", "cif", "h265")), password="pa ss:wd")
    await camera.start()
    yield camera
    await camera.stop()


def factory_for(camera: RtspCamera, **options: object) -> RtspUpstreamFactory:
    return RtspUpstreamFactory(lambda channel, stream: camera.url(stream), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(("transport", "path"), [("tcp", "main"), ("udp", "main"), ("tcp", "hevc"), ("udp", "hevc")])
async def test_pulled_units_decode_and_come_in_order(camera: RtspCamera, transport: str, path: str) -> None:
    sink = Sink()
    upstream = await factory_for(camera, transport=transport).open("44130200001310000001", path, sink, print)
    try:
        await eventually(lambda: len(sink.video) >= 30)
    finally:
        await upstream.stop()
    codec = VideoCodec.H264 if path == "main" else VideoCodec.H265
    units = [unit for c, unit in sink.video if c is codec]
    assert len(units) == len(sink.video) and units[0].keyframe
    wanted = {7, 8} if codec is VideoCodec.H264 else {32, 33, 34}
    assert all(wanted <= set(nal_types(u.data, codec)) for u in units if u.keyframe)
    numbers = [frame_number(u.data) for u in units]
    assert None not in numbers and numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # type: ignore
    steps = {b.pts_90k - a.pts_90k for a, b in itertools.pairwise(units)}
    assert steps == {3600}  # 25 fps on the 90 kHz clock, none lost, none repeated
    with av.open(io.BytesIO(b"".join(u.data for u in units)), format="h264" if path == "main" else "hevc") as c:
        assert len(list(c.decode(video=0))) == len(units)
    assert sink.ends == ["stopped"] and not upstream.running


async def test_wrong_password_404_and_refused_connections_say_so(camera: RtspCamera) -> None:
    port = camera.port
    cases = [
        (f"rtsp://admin:wrong@127.0.0.1:{port}/main", UpstreamError, "401"),
        (camera.url("nope"), UpstreamError, "404"),
    ]
    for url, error, words in cases:
        with pytest.raises(error) as caught:
            await RtspUpstreamFactory(lambda c, s, url=url: url).open("c", "main", Sink(), print)
        assert words in str(caught.value) and "wrong" not in str(caught.value)
    await camera.stop()
    with pytest.raises(Unavailable, match="refused"):
        await factory_for(camera).open("c", "main", Sink(), print)
    with pytest.raises(NotFound):
        await RtspUpstreamFactory(lambda c, s: None).open("c", "main", Sink(), print)


async def test_a_camera_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(UpstreamTimeout, match="no answer"):
            factory = RtspUpstreamFactory(lambda c, s: f"rtsp://127.0.0.1:{port}/main", timeout_s=1, open_timeout_s=1)
            await factory.open("c", "main", Sink(), print)
    finally:
        server.close()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_the_camera_going_away_is_reported_once(camera: RtspCamera, transport: str) -> None:
    sink, lost = Sink(), []
    upstream = await factory_for(camera, transport=transport, timeout_s=2).open("c", "main", sink, lost.append)
    await eventually(lambda: len(sink.video) >= 5)
    await camera.stop()
    await eventually(lambda: bool(lost))
    await asyncio.sleep(0.5)
    assert len(lost) == 1 and sink.ends == lost
    await upstream.stop()
    assert sink.ends == lost and not upstream.running


async def test_a_silent_stream_is_lost_after_the_timeout(camera: RtspCamera) -> None:
    sink, lost = Sink(), []
    upstream = await factory_for(camera, timeout_s=1.5).open("c", "main", sink, lost.append)
    await eventually(lambda: len(sink.video) >= 5)
    for session in camera.sessions.values():
        session.output.paused = True  # the connection stays open, but nothing more is sent
    await eventually(lambda: bool(lost))
    assert lost == ["no data from the camera for 1.5 s"]
    await upstream.stop()


async def test_stop_ends_the_reader_promptly(camera: RtspCamera) -> None:
    sink = Sink()
    upstream = await factory_for(camera).open("c", "main", sink, print)
    await eventually(lambda: len(sink.video) >= 3)
    await asyncio.wait_for(upstream.stop(), 5)
    # The thread says it is done just before it returns: give it that moment, not more.
    await eventually(lambda: not upstream.running, 2)
    count = len(sink.video)
    await asyncio.sleep(0.3)
    assert len(sink.video) == count and sink.ends == ["stopped"]
    await eventually(lambda: not camera.sessions)  # the reader said TEARDOWN


async def test_the_hub_shares_and_reopens_an_rtsp_upstream(camera: RtspCamera) -> None:
    losses: list[tuple[str, str, str]] = []
    hub = StreamHub(factory_for(camera, timeout_s=2), retry_min_s=0.2, retry_max_s=0.5,
                    on_lost=lambda *args: losses.append(args))  # fmt: skip
    first, second = Sink(), Sink()
    try:
        await hub.attach("44130200001310000001", first)
        await hub.attach("44130200001310000001", second)
        await eventually(lambda: len(second.video) >= 5)
        assert camera.playing == 1
        for session in list(camera.sessions.values()):
            session.connection.close()  # the camera drops the client
        await eventually(lambda: bool(losses))
        count = len(first.video)
        await eventually(lambda: len(first.video) > count + 5)  # re-opened by the hub
        assert hub.feed("44130200001310000001").stats.opened == 2  # type: ignore[union-attr]
    finally:
        await hub.close()


# The pure conversions.


def _stream(name: str, extradata: bytes | None = None, **context: object) -> SimpleNamespace:
    return SimpleNamespace(codec_context=SimpleNamespace(name=name, extradata=extradata, **context))


SPS = bytes([0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x05, 0x82, 0x5A])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])


def test_parameter_sets_from_extradata_go_in_front_of_keyframes() -> None:
    converter = PacketConverter(_stream("h264", b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS), None)
    idr = b"\x00\x00\x00\x01\x65\x88\x84"
    unit = converter.video(idr, 9000, 9000, Fraction(1, 90000), True)
    assert unit is not None and unit.keyframe
    assert unit.data == b"\x00\x00\x00\x01" + SPS + b"\x00\x00\x00\x01" + PPS + idr
    slice_ = converter.video(b"\x00\x00\x00\x01\x41\x9a", 12600, 12600, Fraction(1, 90000), False)
    assert slice_ is not None and not slice_.keyframe and slice_.data == b"\x00\x00\x00\x01\x41\x9a"


def test_length_prefixed_video_becomes_annex_b(h264_mp4: Path) -> None:
    with av.open(str(h264_mp4)) as container:
        stream = container.streams.video[0]
        converter = PacketConverter(stream, None)
        units = [converter.video(bytes(p), p.pts, p.dts, p.time_base, p.is_keyframe) for p in container.demux(stream)
                 if p.size]  # fmt: skip
    assert all(u is not None and u.data.startswith(b"\x00\x00\x00\x01") for u in units)
    assert [u.keyframe for u in units if u is not None].count(True) == 2  # GOP 10 over 20 frames
    with av.open(io.BytesIO(b"".join(u.data for u in units if u is not None)), format="h264") as c:
        assert len(list(c.decode(video=0))) == 20
    dts = [u.dts_90k if u.dts_90k is not None else u.pts_90k for u in units if u is not None]
    assert dts == sorted(dts) and any(u.dts_90k is not None for u in units if u is not None)  # B-frames


def test_raw_aac_gets_adts_headers(ffmpeg: str, adts_aac: Path, tmp_path: Path) -> None:
    m4a = tmp_path / "tone.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(adts_aac), "-c", "copy", str(m4a)], check=True, timeout=60)
    with av.open(str(m4a)) as container:
        stream = container.streams.audio[0]
        converter = PacketConverter(_stream("h264"), stream)
        units = [converter.audio(bytes(p), p.pts, p.time_base) for p in container.demux(stream) if p.size]
    assert converter.audio_codec is AudioCodec.AAC
    adts = b"".join(u.data for u in units if u is not None)
    assert adts.startswith(b"\xff\xf1")
    with av.open(io.BytesIO(adts), format="aac") as c:
        frames = list(c.decode(audio=0))
    assert frames and frames[0].sample_rate == 8000
    assert AacConfig.of(None, 16000, 1) == AacConfig(2, 8, 1)


def test_the_timeline_never_runs_backwards() -> None:
    timeline = Timeline()
    tb = Fraction(1, 90000)
    times = [timeline.video(t, t, tb)[0] for t in (1000, 4600, 8200)]
    restarted = [timeline.video(t, t, tb)[0] for t in (0, 3600)]  # the camera restarted its clock
    assert times == [1000, 4600, 8200] and restarted == [11800, 15400] and timeline.corrections == 1
    assert timeline.video(None, None, tb) == (19000, None)
    assert Timeline().video(200, 100, Fraction(1, 1000)) == (18000, 9000)


def test_urls_lose_their_password_in_messages() -> None:
    assert redact("rtsp://admin:secret@10.0.0.1:554/main") == "rtsp://admin:***@10.0.0.1:554/main"
    assert redact("rtsp://10.0.0.1/main") == "rtsp://10.0.0.1/main"


async def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RtspUpstreamFactory(lambda c, s: "rtsp://x", transport="http")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        RtspUpstream("rtsp://x", Sink(), print, timeout_s=0)
    with pytest.raises(UpstreamError, match="not an rtsp"):
        await RtspUpstreamFactory(lambda c, s: "http://x/main").open("c", "main", Sink(), print)
