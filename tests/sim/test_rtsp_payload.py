"""RTP payload formats: H.264 (RFC 6184) and H.265 (RFC 7798) packetisation round-trips and header bits."""

from __future__ import annotations

import io
import itertools

import av
import pytest

from tianyan.media.nal import split_nal_units
from tianyan.media.rtp import parse_rtp
from tianyan.media.units import VideoCodec
from tianyan.sim.rtsp.rtp_video import H264_FU_A, H264_STAP_A, H265_FU, VideoDepacketizer, VideoPacketizer
from tianyan.sim.rtsp.sdp import build_sdp, video_fmtp
from tianyan.sim.rtsp.source import CameraPath, PathSource, frame_number, probe

SPS = bytes([0x67, 0x42, 0xC0, 0x1E]) + bytes(range(1, 12))
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes((i % 251) + 1 for i in range(5000))
SMALL_SLICE = bytes([0x41]) + b"\x9a" * 300


def annexb(*units: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + u for u in units)


def test_h264_parameter_sets_aggregate_and_big_slices_fragment() -> None:
    packetizer = VideoPacketizer(VideoCodec.H264, ssrc=0x1234, next_sequence=65534, max_payload_bytes=1400)
    packets = packetizer.packetize(annexb(SPS, PPS, IDR), timestamp=(1 << 32) + 5)
    first = packets[0].payload
    assert first[0] & 0x1F == H264_STAP_A and first[0] & 0x60 == 0x60  # NRI is the highest of the units'
    assert first[1:3] == len(SPS).to_bytes(2, "big") and SPS in first and PPS in first
    fragments = packets[1:]
    assert all(p.payload[0] & 0x1F == H264_FU_A for p in fragments)
    assert fragments[0].payload[1] & 0x80 and not fragments[0].payload[1] & 0x40  # start bit
    assert fragments[-1].payload[1] & 0x40 and not fragments[-1].payload[1] & 0x80  # end bit
    assert all(p.payload[1] & 0x1F == 5 for p in fragments)
    assert all(len(p.payload) <= 1400 for p in packets)
    assert [p.marker for p in packets] == [False] * (len(packets) - 1) + [True]
    assert [p.sequence for p in packets[:3]] == [65534, 65535, 0]
    assert {p.timestamp for p in packets} == {5}


def test_h264_small_slice_goes_alone_without_aggregation() -> None:
    packetizer = VideoPacketizer(VideoCodec.H264, ssrc=1, aggregate=False)
    packets = packetizer.packetize(annexb(SPS, PPS, SMALL_SLICE), 0)
    assert [p.payload for p in packets] == [SPS, PPS, SMALL_SLICE]


@pytest.mark.parametrize("max_payload", [100, 1400])
@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_real_encoded_video_round_trips_through_rtp_and_decodes(codec: VideoCodec, max_payload: int) -> None:
    source = PathSource.of(CameraPath("main", "cif", codec), "test").open()
    units = list(itertools.islice(source, 30))
    packetizer = VideoPacketizer(codec, ssrc=7, next_sequence=65500, max_payload_bytes=max_payload)
    depacketizer = VideoDepacketizer(codec)
    received = []
    for unit in units:
        for packet in packetizer.packetize(unit.data, unit.pts_90k):
            assert len(packet.payload) <= max_payload
            out = depacketizer.push(parse_rtp(packet.to_bytes()))
            if out is not None:
                received.append(out)
    assert [split_nal_units(data) for data, _ in received] == [split_nal_units(u.data) for u in units]
    assert [ts for _, ts in received] == [u.pts_90k for u in units]
    with av.open(io.BytesIO(b"".join(d for d, _ in received)), format=codec.value.replace("h265", "hevc")) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 30 and frames[0].width == 352
    assert [frame_number(d) for d, _ in received] == list(range(30))


def test_h265_fragments_keep_the_layer_and_type() -> None:
    idr = bytes([0x26, 0x01]) + b"\x55" * 3000  # IDR_W_RADL, layer 0, tid 1
    packets = VideoPacketizer(VideoCodec.H265, ssrc=1).packetize(annexb(idr), 0)
    assert len(packets) == 3
    for packet in packets:
        assert (packet.payload[0] >> 1) & 0x3F == H265_FU and packet.payload[1] == 0x01
        assert packet.payload[2] & 0x3F == 19
    assert packets[0].payload[2] & 0x80 and packets[-1].payload[2] & 0x40


def test_a_lost_packet_drops_only_its_picture() -> None:
    packetizer = VideoPacketizer(VideoCodec.H264, ssrc=1)
    depacketizer = VideoDepacketizer(VideoCodec.H264)
    first = packetizer.packetize(annexb(SPS, PPS, IDR), 0)
    second = packetizer.packetize(annexb(SMALL_SLICE), 3600)
    results = [depacketizer.push(p) for p in first[:2] + first[3:]] + [depacketizer.push(p) for p in second]
    assert [r for r in results if r is not None] == [(annexb(SMALL_SLICE), 3600)]


def test_sdp_carries_the_parameter_sets() -> None:
    fmt = probe(PathSource.of(CameraPath("main", "cif", "h264"), "t"))
    fmtp = video_fmtp(fmt.codec, fmt.parameter_sets)
    assert "packetization-mode=1" in fmtp and "sprop-parameter-sets=" in fmtp and "profile-level-id=" in fmtp
    hevc = probe(PathSource.of(CameraPath("main", "cif", "h265"), "t"))
    sdp = build_sdp(hevc.codec, hevc.parameter_sets, host="127.0.0.1", session_id=1, fps=25, width=352, height=288)
    assert "a=rtpmap:96 H265/90000" in sdp
    assert all(f"sprop-{name}=" in sdp for name in ("vps", "sps", "pps"))
    assert sdp.endswith("a=control:trackID=0\r\n")
