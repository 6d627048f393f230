"""Live view's muxer and HLS playlist: what a viewer receives plays, starts at a keyframe, and never grows memory.

Also home of `SyntheticFactory`, a StreamHub upstream factory that feeds SyntheticVideo in real time, which the live
API and browser tests use in place of GB/T 28181 INVITEs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from tianyan.core.errors import Unavailable
from tianyan.media import mp4boxes
from tianyan.media.hls import HlsPlaylist
from tianyan.media.hub import StreamHub, StreamUnavailable
from tianyan.media.live import CLOSE_ENDED, CLOSE_TOO_SLOW, LiveMuxer, LiveViews, Viewer, ViewerClosed
from tianyan.media.units import MediaSink, VideoAccessUnit, VideoCodec
from tianyan.sim.video import FileVideo, SyntheticVideo

CAMERA = "44130200001320000001"
FPS = 10  # SyntheticVideo's GOP is 2 s: a keyframe every 20 pictures


# --- a real-time synthetic upstream, shared with the API and browser tests --------------------------------------


class SyntheticUpstream:
    """SyntheticVideo encoded in a worker thread and handed to the sink at its frame rate."""

    def __init__(self, sink: MediaSink, *, width: int, height: int, fps: int, label: str) -> None:
        self.sink = sink
        self.stopped = False
        self.units = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-synthetic")
        self._task = asyncio.ensure_future(self._run(width, height, fps, label))

    async def _run(self, width: int, height: int, fps: int, label: str) -> None:
        loop = asyncio.get_running_loop()
        source = await loop.run_in_executor(self._executor, lambda: SyntheticVideo(width, height, fps, label))
        start = loop.time()
        while True:
            unit = await loop.run_in_executor(self._executor, next, source)
            delay = start + unit.pts_90k / 90_000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                start -= delay  # fell behind (a loaded machine): carry on from now rather than burst
            self.units += 1
            self.sink.on_video(VideoCodec.H264, unit)

    async def stop(self) -> None:
        self.stopped = True
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)


class SyntheticFactory:
    """An UpstreamFactory for tests: every channel is a synthetic picture, except those listed as offline."""

    def __init__(self, *, width: int = 320, height: int = 240, fps: int = 25, offline: tuple[str, ...] = ()) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.offline = set(offline)
        self.opened: list[tuple[str, str]] = []
        self.upstreams: list[SyntheticUpstream] = []

    async def open(
        self, channel_gb_id: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]
    ) -> SyntheticUpstream:
        if channel_gb_id in self.offline:
            raise Unavailable(f"device of {channel_gb_id} is offline")
        self.opened.append((channel_gb_id, stream))
        upstream = SyntheticUpstream(sink, width=self.width, height=self.height, fps=self.fps, label=channel_gb_id)
        self.upstreams.append(upstream)
        return upstream

    @property
    def running(self) -> int:
        return sum(not u.stopped for u in self.upstreams)


# --- fixtures ---------------------------------------------------------------------------------------------------


def synthetic_units(count: int, *, width: int = 160, height: int = 120, start_pts_90k: int = 0) -> list:
    video = SyntheticVideo(width, height, FPS, "live test", start_pts_90k=start_pts_90k)
    return [next(video) for _ in range(count)]


@pytest.fixture(scope="module")
def units() -> list[VideoAccessUnit]:
    """65 pictures at 10 fps: keyframes at 0, 20, 40 and 60."""
    return synthetic_units(65)


def drain(viewer: Viewer) -> list[str | bytes]:
    return viewer.take_all()


def decoded_frames(path: Path) -> list[tuple[int, int]]:
    """(width, height) of every picture a decoder gets from the file."""
    sizes = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            sizes.append((frame.width, frame.height))
    return sizes


def write(path: Path, messages: list[str | bytes]) -> Path:
    path.write_bytes(b"".join(m for m in messages if isinstance(m, bytes)))
    return path


def feed(muxer: LiveMuxer, units: list[VideoAccessUnit], codec: VideoCodec = VideoCodec.H264) -> None:
    for unit in units:
        muxer.on_video(codec, unit)


def fragment_runs(init: bytes, fragments: list[bytes]) -> list[mp4boxes.TrackRun]:
    info = mp4boxes.parse_init(init)
    assert info is not None and info.video is not None
    runs = []
    for data in fragments:
        for fragment in mp4boxes.split_fragments(data, info.tracks):
            run = fragment.run(info.video.track_id)
            if run is not None:
                runs.append(run)
    return runs


# --- the muxer ----------------------------------------------------------------------------------------------------


async def test_a_viewer_gets_a_header_the_init_segment_then_fragments_that_play(
    units: list[VideoAccessUnit], tmp_path: Path
) -> None:
    muxer = LiveMuxer(CAMERA)
    viewer = muxer.add_viewer()
    feed(muxer, units[:45])
    messages = drain(viewer)
    header = json.loads(messages[0])  # type: ignore[arg-type]
    assert header["mime_codec"].startswith('video/mp4; codecs="avc1.')
    assert (header["codec"], header["width"], header["height"], header["version"]) == ("h264", 160, 120, 1)
    assert messages[1] == muxer.init_segment
    assert all(isinstance(m, bytes) for m in messages[1:])
    # One fragment per picture, each out when the next picture arrives.
    assert len(messages) - 2 == 44
    assert decoded_frames(write(tmp_path / "view.mp4", messages)) == [(160, 120)] * 44


async def test_a_viewer_who_joins_late_starts_at_the_last_keyframe(
    units: list[VideoAccessUnit], tmp_path: Path
) -> None:
    muxer = LiveMuxer(CAMERA)
    feed(muxer, units[:30])  # keyframes at 0 and 20; the 21st picture's fragment is out, up to the 29th
    late = muxer.add_viewer()
    messages = drain(late)
    assert json.loads(messages[0])["version"] == 1  # type: ignore[arg-type]
    runs = fragment_runs(messages[1], messages[2:])  # type: ignore[arg-type]
    assert runs[0].starts_with_sync and runs[0].base_decode_time == 20 * 9000
    assert len(runs) == 9
    feed(muxer, units[30:40])
    messages += drain(late)
    assert decoded_frames(write(tmp_path / "late.mp4", messages)) == [(160, 120)] * 19


async def test_a_slow_viewer_is_dropped_with_a_reason_and_never_grows(units: list[VideoAccessUnit]) -> None:
    muxer = LiveMuxer(CAMERA)
    slow = muxer.add_viewer(max_bytes=30_000)
    fine = muxer.add_viewer()
    peak = 0
    for unit in units:
        muxer.on_video(VideoCodec.H264, unit)
        peak = max(peak, slow.queued_bytes)
        drain(fine)
    assert peak <= 30_000
    assert slow.closed is not None and slow.closed.code == CLOSE_TOO_SLOW
    assert "too slow" in slow.closed.reason and "reconnect" in slow.closed.reason
    assert slow.queued_bytes == 0 and slow not in muxer.viewers
    with pytest.raises(ViewerClosed, match="too slow"):
        await slow.next()
    assert fine.closed is None and fine in muxer.viewers
    assert muxer.dropped_viewers == 1


async def test_new_parameter_sets_start_a_new_init_segment(units: list[VideoAccessUnit], tmp_path: Path) -> None:
    muxer = LiveMuxer(CAMERA)
    viewer = muxer.add_viewer()
    feed(muxer, units[:25])
    first_init = muxer.init_segment
    bigger = synthetic_units(25, width=320, height=240, start_pts_90k=units[25].pts_90k)
    feed(muxer, bigger)
    messages = drain(viewer)
    headers = [json.loads(m) for m in messages if isinstance(m, str)]
    assert [(h["version"], h["width"], h["height"]) for h in headers] == [(1, 160, 120), (2, 320, 240)]
    assert muxer.init_segment != first_init
    second = messages.index(next(m for m in messages if isinstance(m, str) and '"version": 2' in m))
    # Everything before the new header is the old run, complete: the old fragmenter was flushed.
    assert decoded_frames(write(tmp_path / "a.mp4", messages[:second])) == [(160, 120)] * 25
    assert decoded_frames(write(tmp_path / "b.mp4", messages[second:])) == [(320, 240)] * 24


async def test_a_jump_in_source_time_keeps_the_output_running_on(units: list[VideoAccessUnit]) -> None:
    muxer = LiveMuxer(CAMERA)
    viewer = muxer.add_viewer()
    feed(muxer, units[:20])
    # The upstream was re-opened: the device's clock now reads an hour later, and it starts mid-GOP.
    later = synthetic_units(45, start_pts_90k=3600 * 90_000)
    feed(muxer, later[15:])
    messages = drain(viewer)
    runs = fragment_runs(messages[1], [m for m in messages[2:] if isinstance(m, bytes)])  # type: ignore[arg-type]
    for previous, run in itertools.pairwise(runs):
        assert run.base_decode_time == previous.base_decode_time + previous.duration
    # The pictures before the next keyframe could not be decoded and were left out.
    assert len(runs) == 20 + 24


async def test_an_ended_stream_closes_its_viewers_after_what_was_queued(units: list[VideoAccessUnit]) -> None:
    muxer = LiveMuxer(CAMERA)
    viewer = muxer.add_viewer()
    feed(muxer, units[:5])
    muxer.on_end("the device went offline")
    messages = []
    with pytest.raises(ViewerClosed) as closed:
        while True:
            messages.append(await viewer.next())
    assert closed.value.code == CLOSE_ENDED and "device went offline" in closed.value.reason
    assert len(messages) == 2 + 5  # the last picture's fragment was flushed out
    late = muxer.add_viewer()
    assert late.closed is not None


async def test_h265_streams_get_an_hvc1_mime_type(hevc_mp4: Path) -> None:
    source = FileVideo(hevc_mp4, loop=False)
    muxer = LiveMuxer(CAMERA)
    viewer = muxer.add_viewer()
    feed(muxer, list(source), VideoCodec.H265)
    header = json.loads(drain(viewer)[0])  # type: ignore[arg-type]
    assert header["codec"] == "h265" and 'codecs="hvc1.' in header["mime_codec"]


async def test_a_picture_that_cannot_be_muxed_does_not_end_the_view(units: list[VideoAccessUnit]) -> None:
    muxer = LiveMuxer(CAMERA)
    viewer = muxer.add_viewer()
    muxer.on_video(VideoCodec.H264, VideoAccessUnit(b"\x00\x00\x01\x65garbage", 0, True))  # a keyframe, no SPS
    assert muxer.mux_errors == 1 and muxer.header is None
    feed(muxer, units[:3])
    assert viewer.closed is None and muxer.header is not None


# --- HLS ----------------------------------------------------------------------------------------------------------


async def test_the_hls_playlist_lists_keyframe_aligned_segments(units: list[VideoAccessUnit], tmp_path: Path) -> None:
    muxer = LiveMuxer(CAMERA)
    feed(muxer, units[:25])
    playlist = muxer.enable_hls(target_s=1.0, window=2)
    feed(muxer, units[25:])  # to the keyframe at 60, which opens a third segment
    assert [s.sequence for s in playlist.segments] == [0, 1]
    text = playlist.render()
    lines = text.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:7"]
    assert "#EXT-X-TARGETDURATION:2" in lines and '#EXT-X-MAP:URI="init-1.mp4"' in lines
    assert "#EXT-X-MEDIA-SEQUENCE:0" in lines
    assert [line for line in lines if line.startswith("seg-")] == ["seg-0.m4s", "seg-1.m4s"]
    assert [line for line in lines if line.startswith("#EXTINF")] == ["#EXTINF:2.000,"] * 2
    assert any(line.startswith("#EXT-X-PROGRAM-DATE-TIME:") for line in lines)
    # The first segment started at the keyframe before HLS was asked for, and each one plays on its own.
    assert playlist.segments[0].start_90k == 20 * 9000
    init = playlist.init(1)
    assert init is not None
    for segment in playlist.segments:
        path = tmp_path / f"seg-{segment.sequence}.mp4"
        path.write_bytes(init + segment.data)
        assert len(decoded_frames(path)) == 20


def _fake_fragment(tag: int) -> bytes:
    return bytes([tag]) * 10


def test_hls_playlist_rolls_its_window_and_marks_new_inits() -> None:
    playlist = HlsPlaylist(target_s=1.0, window=3, spare=1)
    with pytest.raises(ValueError, match="set_init"):
        playlist.push(b"x", start_90k=0, end_90k=1, keyframe=True)
    playlist.set_init(b"init-a")
    frame = 9000
    t = 0
    for index in range(60):  # a keyframe every 15 pictures (1.5 s)
        playlist.push(_fake_fragment(index), start_90k=t, end_90k=t + frame, keyframe=index % 15 == 0)
        t += frame
    assert [s.sequence for s in playlist.segments] == [0, 1, 2]  # the fourth is still open
    playlist.set_init(b"init-b")  # a new resolution: the open segment closes, a new run starts
    for index in range(31):
        playlist.push(_fake_fragment(index), start_90k=index * frame, end_90k=(index + 1) * frame,
                      keyframe=index % 15 == 0)  # fmt: skip
    text = playlist.render()
    assert [s.sequence for s in playlist.segments] == [2, 3, 4, 5]  # window 3 plus 1 spare
    assert [s.sequence for s in playlist.listed] == [3, 4, 5]
    assert "#EXT-X-MEDIA-SEQUENCE:3" in text
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert '#EXT-X-MAP:URI="init-1.mp4"' in text and '#EXT-X-MAP:URI="init-2.mp4"' in text
    assert playlist.segment(1) is None and playlist.segment(2) is not None  # the spare: still fetchable
    assert playlist.init(1) == b"init-a" and playlist.init(2) == b"init-b"
    for _ in range(3):
        for index in range(15):
            playlist.push(b"z", start_90k=t, end_90k=t + frame, keyframe=index == 0)
            t += frame
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in playlist.render()
    assert playlist.init(1) is None  # no segment uses it any more
    assert playlist.bytes_held < 2000


def test_hls_segments_never_start_without_a_keyframe() -> None:
    playlist = HlsPlaylist(target_s=1.0)
    playlist.set_init(b"i")
    playlist.push(b"p", start_90k=0, end_90k=9000, keyframe=False)
    playlist.push(b"k", start_90k=9000, end_90k=18000, keyframe=True)
    playlist.mark_discontinuity()
    assert [s.data for s in playlist.segments] == [b"k"]
    assert not playlist.segments[0].discontinuity
    with pytest.raises(ValueError):
        HlsPlaylist(window=1)


# --- the views and the hub ----------------------------------------------------------------------------------------


class ListUpstream:
    """Feeds a list of units as fast as the loop allows, then idles."""

    def __init__(self, sink: MediaSink, units: list[VideoAccessUnit]) -> None:
        self.stopped = False
        self._task = asyncio.ensure_future(self._run(sink, units))

    async def _run(self, sink: MediaSink, units: list[VideoAccessUnit]) -> None:
        for unit in units:
            sink.on_video(VideoCodec.H264, unit)
            await asyncio.sleep(0)

    async def stop(self) -> None:
        self.stopped = True
        self._task.cancel()


class ListFactory:
    def __init__(self, units: list[VideoAccessUnit]) -> None:
        self.units = units
        self.upstreams: list[ListUpstream] = []

    async def open(self, channel: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]) -> ListUpstream:
        if channel != CAMERA:
            raise Unavailable("device offline")
        self.upstreams.append(ListUpstream(sink, self.units))
        return self.upstreams[-1]


async def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_viewers_of_a_channel_share_one_upstream_released_after_the_last(units: list[VideoAccessUnit]) -> None:
    factory = ListFactory(units)
    hub = StreamHub(factory)
    views = LiveViews(hub, grace_s=0.0)
    first, second = await asyncio.gather(views.watch(CAMERA), views.watch(CAMERA))
    assert len(factory.upstreams) == 1 and first.muxer is second.muxer
    header = await first.next()
    assert isinstance(header, str) and json.loads(header)["width"] == 160
    await views.leave(first)
    assert not factory.upstreams[0].stopped
    await views.leave(second)
    assert factory.upstreams[0].stopped and views.muxer(CAMERA) is None
    with pytest.raises(StreamUnavailable, match="device offline"):
        await views.watch("44130200001320000099")
    assert views.muxer("44130200001320000099") is None
    await views.close()


async def test_an_hls_player_keeps_the_feed_while_it_keeps_asking(units: list[VideoAccessUnit]) -> None:
    factory = ListFactory(units)
    views = LiveViews(StreamHub(factory), grace_s=0.0, hls_idle_s=0.4)
    muxer = await views.hls(CAMERA, lease="nonce-1")
    assert muxer.hls is not None and views.hls_session_alive("nonce-1")
    await _until(lambda: muxer.hls is not None and muxer.hls.ready)
    await _until(lambda: factory.upstreams[0].stopped)  # nobody asked again
    assert not views.hls_session_alive("nonce-1") and views.muxer(CAMERA) is None
    await views.close()


def test_the_synthetic_factory_is_an_iterator_of_real_pictures() -> None:
    # Guard for the helpers above: the same encoder the simulator uses.
    units: Iterator[VideoAccessUnit] = iter(synthetic_units(2))
    assert next(units).keyframe and not next(units).keyframe
