"""The RTP ingest over loopback: UDP (in order, shuffled, lossy), TCP passive and active, SSRCs, silence, ports."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import struct
from collections.abc import Callable

import av
import pytest

from tianyan.media.ingest import IngestError, RtpIngest
from tianyan.media.ps import AudioAccessUnit, PsMuxer, StreamType, VideoAccessUnit
from tianyan.media.rtp import RtpPacketizer, frame_rfc4571
from tianyan.media.units import AudioCodec, VideoCodec
from tianyan.sim.video import SyntheticVideo

HOST = "127.0.0.1"
SSRC = 110_000_0001
FRAMES = 110  # keyframes at 0, 50 and 100


class Sink:
    def __init__(self) -> None:
        self.video: list[VideoAccessUnit] = []
        self.audio: list[AudioAccessUnit] = []
        self.codecs: set[object] = set()
        self.ended: list[str] = []

    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        self.codecs.add(codec)
        self.video.append(unit)

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        self.codecs.add(codec)
        self.audio.append(unit)

    def on_end(self, reason: str) -> None:
        self.ended.append(reason)


def luma(units: list[VideoAccessUnit]) -> list[bytes]:
    decoder = av.CodecContext.create("h264", "r")
    pictures: list[bytes] = []
    for unit in units:
        pictures += [f.to_ndarray(format="gray").tobytes() for f in decoder.decode(av.Packet(unit.data))]
    pictures += [f.to_ndarray(format="gray").tobytes() for f in decoder.decode(None)]
    return pictures


@pytest.fixture(scope="module")
def source() -> list[VideoAccessUnit]:
    return list(itertools.islice(SyntheticVideo(640, 360, bitrate_bps=1_000_000, label="ingest"), FRAMES))


@pytest.fixture(scope="module")
def reference(source: list[VideoAccessUnit]) -> dict[bytes, int]:
    """Each source picture's decoded Y plane → its frame number: identical bytes decode identically."""
    return {picture: index for index, picture in enumerate(luma(source))}


def packetize_frames(units: list[VideoAccessUnit], ssrc: int = SSRC, sequence: int = 65_500) -> list[list[bytes]]:
    muxer = PsMuxer(video=StreamType.H264)
    packetizer = RtpPacketizer(ssrc=ssrc, next_sequence=sequence)
    return [[p.to_bytes() for p in packetizer.packetize(muxer.mux_video(u), 123_456 + u.pts_90k)] for u in units]


def packetize(units: list[VideoAccessUnit], ssrc: int = SSRC, sequence: int = 65_500) -> list[bytes]:
    return [packet for frame in packetize_frames(units, ssrc, sequence) for packet in frame]


def frame_numbers(sink: Sink, reference: dict[bytes, int]) -> list[int]:
    """The frame numbers of the pictures the sink's video decodes to; every one must be a source picture."""
    pictures = luma(sink.video)
    assert len(pictures) == len(sink.video), "every unit decodes to one picture"
    assert all(p in reference for p in pictures), "a picture that is not one of the source's: decoded from a hole"
    return [reference[p] for p in pictures]


async def until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def send_udp(port: int, packets: list[bytes], per_pause: int = 20) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i, packet in enumerate(packets):
            sock.sendto(packet, (HOST, port))
            if i % per_pause == per_pause - 1:
                await asyncio.sleep(0.002)  # a camera paces its frames; loopback must not overflow


@pytest.fixture
async def ingest():
    ingest = RtpIngest(HOST, 39_100, 39_160, reorder_window_ms=80, stream_timeout_s=10)
    yield ingest
    await ingest.close()


async def test_udp_in_order(ingest: RtpIngest, source: list[VideoAccessUnit], reference: dict[bytes, int]) -> None:
    sink, lost = Sink(), []
    stream = await ingest.open_stream(SSRC, "udp", sink, lost.append)
    assert ingest.ports.port_min <= stream.port <= ingest.ports.port_max
    packets = packetize(source)
    await send_udp(stream.port, packets)
    await until(lambda: len(sink.video) == FRAMES)
    assert frame_numbers(sink, reference) == list(range(FRAMES))
    assert [u.pts_90k for u in sink.video] == [u.pts_90k for u in source]
    stats = stream.stats
    assert (stats.packets, stats.lost, stats.lost_frames, stats.frames) == (len(packets), 0, 0, FRAMES)
    assert stats.bytes == sum(map(len, packets)) and stats.bitrate_bps > 0 and stats.last_packet_at is not None
    assert sink.codecs == {VideoCodec.H264}
    await stream.close()
    assert sink.ended == ["stopped"] and lost == []


async def test_udp_shuffled_and_lossy_stays_decodable(
    ingest: RtpIngest, source: list[VideoAccessUnit], reference: dict[bytes, int]
) -> None:
    sink = Sink()
    stream = await ingest.open_stream(SSRC, "udp", sink)
    packets = packetize(source)
    per_frame = [len(frame) for frame in packetize_frames(source)]
    first_of = list(itertools.accumulate([0, *per_frame]))
    # Lose the middle packet of frame 10 and the first one of frame 70: each GOP goes on only from the next keyframe.
    dropped = {first_of[10] + per_frame[10] // 2, first_of[70]}
    kept = [p for i, p in enumerate(packets) if i not in dropped]
    rng = random.Random(11)
    for i in range(0, len(kept), 5):
        window = kept[i : i + 5]
        rng.shuffle(window)
        kept[i : i + 5] = window
    kept.insert(30, kept[29])  # and a duplicate
    await send_udp(stream.port, kept)
    await until(
        lambda: stream.stats.packets == len(kept) and sink.video and sink.video[-1].pts_90k == source[-1].pts_90k
    )
    numbers = frame_numbers(sink, reference)
    assert numbers == [*range(10), *range(50, 70), *range(100, FRAMES)]
    stats = stream.stats
    assert stats.lost == 2 and stats.lost_frames == 2 and stats.duplicates == 1
    # The damaged frames themselves never reach the demuxer; the rest of their GOPs are held back.
    assert stats.reordered > 0 and stats.skipped_frames == 39 + 29


async def test_tcp_passive_rfc4571(
    ingest: RtpIngest, source: list[VideoAccessUnit], reference: dict[bytes, int]
) -> None:
    sink, lost = Sink(), []
    stream = await ingest.open_stream(SSRC, "tcp-passive", sink, lost.append)
    _, writer = await asyncio.open_connection(HOST, stream.port)
    data = b"".join(frame_rfc4571(p) for p in packetize(source))
    for i in range(0, len(data), 3000):
        writer.write(data[i : i + 3000])
        await writer.drain()
    await until(lambda: len(sink.video) == FRAMES)
    assert frame_numbers(sink, reference) == list(range(FRAMES))
    writer.close()
    await until(lambda: lost == ["the device closed the media connection"])
    await stream.close()


async def test_tcp_passive_with_dollar_framing_and_garbage(
    ingest: RtpIngest, source: list[VideoAccessUnit], reference: dict[bytes, int]
) -> None:
    sink = Sink()
    stream = await ingest.open_stream(SSRC, "tcp-passive", sink)
    _, writer = await asyncio.open_connection(HOST, stream.port)
    packets = packetize(source[:60])
    framed = [b"$\x00" + struct.pack("!H", len(p)) + p for p in packets]
    framed[20] += b"garbage between packets"
    writer.write(b"".join(framed))
    await writer.drain()
    await until(lambda: len(sink.video) == 60)
    assert frame_numbers(sink, reference) == list(range(60))
    writer.close()
    await stream.close()


async def test_tcp_active_connects_to_the_device(
    ingest: RtpIngest, source: list[VideoAccessUnit], reference: dict[bytes, int]
) -> None:
    data = b"".join(frame_rfc4571(p) for p in packetize(source))
    peers: list[tuple[str, int]] = []

    async def device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[:2])
        writer.write(data)
        await writer.drain()
        await reader.read()  # until the platform hangs up
        writer.close()

    server = await asyncio.start_server(device, HOST, 0)
    device_port = server.sockets[0].getsockname()[1]
    sink = Sink()
    stream = await ingest.open_stream(SSRC, "tcp-active", sink)
    await stream.connect(HOST, device_port)
    await until(lambda: len(sink.video) == FRAMES)
    assert frame_numbers(sink, reference) == list(range(FRAMES))
    assert peers == [(HOST, stream.port)], "we connect from the port the SDP offer named"
    await stream.close()
    server.close()
    await server.wait_closed()


async def test_tcp_active_refused_is_a_clear_error(ingest: RtpIngest) -> None:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        free_port = probe.getsockname()[1]
    stream = await ingest.open_stream(SSRC, "tcp-active", Sink())
    with pytest.raises(IngestError, match="cannot connect"):
        await stream.connect(HOST, free_port)
    await stream.close()


async def test_wrong_ssrc_is_counted_and_dropped(
    ingest: RtpIngest, source: list[VideoAccessUnit], reference: dict[bytes, int]
) -> None:
    sink = Sink()
    stream = await ingest.open_stream(SSRC, "udp", sink)
    good = packetize(source[:50])
    bad = packetize(source[:50], ssrc=SSRC + 1, sequence=100)
    mixed = [p for pair in itertools.zip_longest(good, bad) for p in pair if p is not None]
    await send_udp(stream.port, mixed)
    await until(lambda: stream.stats.packets + stream.stats.wrong_ssrc == len(mixed) and len(sink.video) == 50)
    assert frame_numbers(sink, reference) == list(range(50))
    assert stream.stats.wrong_ssrc == len(bad) and stream.stats.ssrc == SSRC


async def test_accept_any_ssrc_keys_to_the_first_seen(ingest: RtpIngest, source: list[VideoAccessUnit]) -> None:
    sink = Sink()
    stream = await ingest.open_stream(SSRC, "udp", sink, accept_any_ssrc=True)
    await send_udp(stream.port, packetize(source[:20], ssrc=77))
    await until(lambda: len(sink.video) == 20)
    assert stream.ssrc == 77 and stream.stats.wrong_ssrc == 0


async def test_ssrc_named_after_the_answer(ingest: RtpIngest, source: list[VideoAccessUnit]) -> None:
    """As the GB upstream does it: open without an SSRC, INVITE, then name the one in the device's answer."""
    sink = Sink()
    stream = await ingest.open_stream(None, "udp", sink)
    stream.expect_ssrc(SSRC)
    await send_udp(stream.port, packetize(source[:3], ssrc=SSRC + 5) + packetize(source[:20]))
    await until(lambda: len(sink.video) == 20)
    assert stream.stats.wrong_ssrc > 0


async def test_audio_comes_through_with_video(ingest: RtpIngest, source: list[VideoAccessUnit]) -> None:
    muxer = PsMuxer(video=StreamType.H264, audio=StreamType.G711A)
    packetizer = RtpPacketizer(ssrc=SSRC)
    sound = [AudioAccessUnit(bytes([i]) * 320, i * 3600) for i in range(20)]
    frames = []
    for video, audio in zip(source[:20], sound, strict=True):
        frames += [(muxer.mux_video(video), video.pts_90k), (muxer.mux_audio(audio), audio.pts_90k + 1)]
    packets = [p.to_bytes() for frame, ts in frames for p in packetizer.packetize(frame, ts)]
    sink = Sink()
    stream = await ingest.open_stream(SSRC, "udp", sink)
    await send_udp(stream.port, packets)
    await until(lambda: len(sink.video) == 20 and len(sink.audio) == 20)
    assert sink.audio == sound and sink.codecs == {VideoCodec.H264, AudioCodec.G711A}


async def test_silence_is_reported_once() -> None:
    ingest = RtpIngest(HOST, 39_170, 39_171, reorder_window_ms=50, stream_timeout_s=0.3)
    lost: list[str] = []
    stream = await ingest.open_stream(SSRC, "udp", Sink(), lost.append)
    await until(lambda: bool(lost), timeout_s=10)
    await asyncio.sleep(0.5)
    assert lost == ["no media for 0.3s"]
    await stream.close()
    await ingest.close()


async def test_ports_come_back_to_the_pool() -> None:
    ingest = RtpIngest(HOST, 39_180, 39_181, stream_timeout_s=30)
    first = await ingest.open_stream(1, "udp", Sink())
    second = await ingest.open_stream(2, "tcp-passive", Sink())
    assert {first.port, second.port} == {39_180, 39_181}
    with pytest.raises(IngestError, match="no free RTP port"):
        await ingest.open_stream(3, "udp", Sink())
    await first.close()
    third = await ingest.open_stream(3, "udp", Sink())
    assert third.port == first.port and ingest.ports.free == 0
    with pytest.raises(IngestError, match="transport"):
        await ingest.open_stream(4, "sctp", Sink())
    await ingest.close()
    assert ingest.ports.free == 2 and not ingest.streams
