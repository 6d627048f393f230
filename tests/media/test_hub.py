"""The stream hub: one upstream per channel however many consumers, GOP replay, linger, and retry after a loss."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from tianyan.core.errors import UpstreamTimeout
from tianyan.media.hub import StreamHub, StreamUnavailable
from tianyan.media.units import AudioAccessUnit, AudioCodec, MediaSink, VideoAccessUnit, VideoCodec


class Sink:
    def __init__(self) -> None:
        self.pts: list[int] = []

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        self.pts.append(unit.pts_90k)

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        pass

    def on_end(self, reason: str) -> None:
        pass


class FakeUpstream:
    def __init__(self, sink: MediaSink, on_lost: Callable[[str], None]) -> None:
        self.sink, self.on_lost, self.stopped = sink, on_lost, False

    def send(self, pts: int, keyframe: bool = False) -> None:
        self.sink.on_video(VideoCodec.H264, VideoAccessUnit(b"\x00\x00\x00\x01\x65", pts, keyframe))

    async def stop(self) -> None:
        self.stopped = True


class Factory:
    def __init__(self, failures: int = 0) -> None:
        self.opened: list[FakeUpstream] = []
        self.failures = failures
        self.attempts = 0

    async def open(self, channel: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]) -> FakeUpstream:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise UpstreamTimeout(f"device for {channel} did not answer the INVITE")
        upstream = FakeUpstream(sink, on_lost)
        self.opened.append(upstream)
        return upstream


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_viewers_share_one_upstream_and_a_latecomer_starts_at_the_last_keyframe() -> None:
    factory = Factory()
    hub = StreamHub(factory)
    first, late = Sink(), Sink()
    attached = await hub.attach("ch", first)
    upstream = factory.opened[0]
    for pts, key in ((0, True), (3600, False), (7200, True), (10800, False)):
        upstream.send(pts, key)
    second = await hub.attach("ch", late)
    upstream.send(14400)
    assert len(factory.opened) == 1
    assert first.pts == [0, 3600, 7200, 10800, 14400]
    assert late.pts == [7200, 10800, 14400]  # from the last keyframe, not from the middle of a GOP
    await hub.detach(attached)
    assert not upstream.stopped
    await hub.detach(second)
    assert upstream.stopped and hub.feed("ch") is None


async def test_the_last_viewer_leaving_stops_the_upstream_after_its_linger_unless_someone_returns() -> None:
    factory = Factory()
    hub = StreamHub(factory)
    attached = await hub.attach("ch", Sink(), linger_s=0.2)
    await hub.detach(attached)
    back = await hub.attach("ch", Sink(), linger_s=0.2)  # within the grace period: the same upstream
    await asyncio.sleep(0.3)
    assert len(factory.opened) == 1 and not factory.opened[0].stopped
    await hub.detach(back)
    await until(lambda: factory.opened[0].stopped)


async def test_a_viewer_is_told_why_a_stream_cannot_start() -> None:
    hub = StreamHub(Factory(failures=1), retry_min_s=0.05)
    with pytest.raises(StreamUnavailable, match="did not answer the INVITE"):
        await hub.attach("ch", Sink())
    assert hub.feed("ch") is None


async def test_a_recorder_waits_out_failures_and_a_lost_stream_is_asked_for_again_with_back_off() -> None:
    lost: list[str] = []
    factory = Factory(failures=2)
    hub = StreamHub(factory, retry_min_s=0.05, retry_max_s=0.2, on_lost=lambda ch, s, why: lost.append(why))
    recorder = Sink()
    attached = await hub.attach("ch", recorder, wait=False)
    await until(lambda: len(factory.opened) == 1)
    assert factory.attempts == 3 and lost[0].startswith("could not start")
    factory.opened[0].send(0, True)
    factory.opened[0].on_lost("no media for 5s")
    await until(lambda: len(factory.opened) == 2)
    assert factory.opened[0].stopped and lost[-1] == "lost: no media for 5s"
    factory.opened[1].send(900_000, True)
    assert recorder.pts == [0, 900_000]  # the same consumer, across the outage
    await hub.detach(attached)
    assert factory.opened[1].stopped
