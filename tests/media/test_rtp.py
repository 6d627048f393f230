"""RTP packets, the PS packetizer and RFC 4571 framing: golden bytes, malformed input, any split of a TCP stream."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.media.rtp import (
    MAX_RTP_PACKET_BYTES,
    Rfc4571Deframer,
    RtpError,
    RtpExtension,
    RtpPacket,
    RtpPacketizer,
    build_rtp,
    frame_rfc4571,
    parse_rtp,
)

# A GB/T 28181 PS packet as a camera sends it: V=2, marker, PT 96, seq 0x1234, ts 90000, SSRC 0200000001.
PLAIN = bytes.fromhex("80e01234 00015f90 0bebc201 000001ba")
# Every optional part: padding, extension, two CSRCs, PT 8, seq 65535, ts 2^32-1.
FULL = bytes.fromhex(
    "b208ffff ffffffff 12345678"  # V=2 P X CC=2; M=0 PT=8
    "01020304 0a0b0c0d"  # CSRCs
    "bede0001 10aa0000"  # extension: profile 0xBEDE, one word
    "616263"  # payload "abc"
    "000003"  # padding, 3 bytes counting the last
)


def test_parse_plain_golden_packet() -> None:
    packet = parse_rtp(PLAIN)
    assert packet == RtpPacket(
        payload_type=96, sequence=0x1234, timestamp=90000, ssrc=200000001, payload=b"\x00\x00\x01\xba", marker=True
    )
    assert build_rtp(packet) == PLAIN
    assert packet.to_bytes() == PLAIN


def test_parse_full_golden_packet() -> None:
    packet = parse_rtp(FULL)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (8, 0xFFFF, 0xFFFFFFFF, 0x12345678)
    assert packet.marker is False
    assert packet.csrc == (0x01020304, 0x0A0B0C0D)
    assert packet.extension == RtpExtension(0xBEDE, bytes.fromhex("10aa0000"))
    assert packet.payload == b"abc"
    assert packet.padding_bytes == 3
    assert packet.size_bytes == len(FULL)
    assert build_rtp(packet) == FULL


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (PLAIN[:11], "truncated"),
        (bytes([0x40]) + PLAIN[1:], "version must be 2"),
        (bytes([0xC0]) + PLAIN[1:], "version must be 2"),
        (bytes([0x83]) + PLAIN[1:12] + b"\x00" * 8, "3 CSRCs"),
        (bytes([0x90]) + PLAIN[1:12] + b"\xbe\xde", "no extension header"),
        (bytes([0x90]) + PLAIN[1:12] + b"\xbe\xde\x00\x02" + b"\x00" * 4, "extension of 2 words"),
        (bytes([0xA0]) + PLAIN[1:12], "ends at the header"),
        (bytes([0xA0]) + PLAIN[1:12] + b"ab\x00", "padding count is 0"),
        (bytes([0xA0]) + PLAIN[1:12] + b"ab\x04", "padding of 4 bytes"),
        (PLAIN[:12] + bytes(MAX_RTP_PACKET_BYTES), "exceeds"),
    ],
)
def test_malformed_packets_raise_rtp_error(data: bytes, reason: str) -> None:
    with pytest.raises(RtpError, match=reason):
        parse_rtp(data)


def test_padding_may_fill_the_whole_payload() -> None:
    packet = parse_rtp(bytes([0xA0]) + PLAIN[1:12] + b"\x00\x00\x03")
    assert packet.payload == b"" and packet.padding_bytes == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"payload_type": 128},
        {"sequence": 65536},
        {"timestamp": -1},
        {"ssrc": 2**32},
        {"csrc": tuple(range(16))},
        {"padding_bytes": 256},
        {"payload": bytes(MAX_RTP_PACKET_BYTES)},
    ],
)
def test_packets_that_cannot_be_built_are_refused(kwargs: dict) -> None:
    fields = {"payload_type": 96, "sequence": 1, "timestamp": 1, "ssrc": 1} | kwargs
    with pytest.raises(RtpError):
        RtpPacket(**fields)


def test_extension_data_must_be_whole_words() -> None:
    with pytest.raises(RtpError, match="32-bit words"):
        RtpExtension(1, b"abc")


packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(RtpExtension, st.integers(0, 0xFFFF), st.binary(max_size=12).map(lambda b: b[: len(b) // 4 * 4])),
    padding_bytes=st.integers(0, 255),
)


@given(packets)
def test_build_then_parse_is_identity(packet: RtpPacket) -> None:
    assert parse_rtp(build_rtp(packet)) == packet


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_rtp_error(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
    except RtpError:
        return
    if not packet.padding_bytes:
        # Without padding (whose filler bytes are free) a packet rebuilds to the very same bytes.
        assert build_rtp(packet) == data


def test_packetizer_splits_a_frame_with_one_timestamp_and_the_marker_last() -> None:
    frame = bytes(range(256)) * 12  # 3072 bytes
    packetizer = RtpPacketizer(ssrc=200000001, next_sequence=10)
    out = packetizer.packetize(frame, 3600)
    assert [len(p.payload) for p in out] == [1400, 1400, 272]
    assert [p.sequence for p in out] == [10, 11, 12]
    assert {p.timestamp for p in out} == {3600}
    assert [p.marker for p in out] == [False, False, True]
    assert {(p.ssrc, p.payload_type) for p in out} == {(200000001, 96)}
    assert b"".join(p.payload for p in out) == frame
    assert packetizer.next_sequence == 13


def test_packetizer_wraps_sequence_and_timestamp() -> None:
    packetizer = RtpPacketizer(ssrc=1, max_payload_bytes=4, next_sequence=65534)
    out = packetizer.packetize(b"0123456789", 2**32 + 5)
    assert [p.sequence for p in out] == [65534, 65535, 0]
    assert {p.timestamp for p in out} == {5}
    assert packetizer.packetize(b"x", 6)[0].sequence == 1


def test_packetizer_refuses_empty_frames_and_bad_settings() -> None:
    with pytest.raises(RtpError):
        RtpPacketizer(ssrc=1).packetize(b"", 0)
    with pytest.raises(RtpError):
        RtpPacketizer(ssrc=1, max_payload_bytes=0)
    with pytest.raises(RtpError):
        RtpPacketizer(ssrc=2**32)


def test_rfc4571_frame_prefixes_the_length() -> None:
    assert frame_rfc4571(PLAIN) == b"\x00\x10" + PLAIN
    with pytest.raises(RtpError):
        frame_rfc4571(b"")
    with pytest.raises(RtpError):
        frame_rfc4571(bytes(MAX_RTP_PACKET_BYTES + 1))


def test_deframer_fed_one_byte_at_a_time() -> None:
    stream = b"".join(frame_rfc4571(p) for p in (PLAIN, FULL, PLAIN))
    deframer = Rfc4571Deframer()
    out = []
    for i in range(len(stream)):
        out += deframer.feed(stream[i : i + 1])
    assert out == [PLAIN, FULL, PLAIN]
    assert deframer.buffered_bytes == 0


def test_deframer_fed_everything_at_once_keeps_the_unfinished_tail() -> None:
    stream = frame_rfc4571(PLAIN) + frame_rfc4571(FULL)
    deframer = Rfc4571Deframer()
    assert deframer.feed(stream + b"\x00\x05ab") == [PLAIN, FULL]
    assert deframer.buffered_bytes == 4
    assert deframer.feed(b"cde") == [b"abcde"]


@given(
    st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    st.lists(st.integers(0, 4000), max_size=20),
)
def test_deframer_any_split_gives_back_the_packets(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(frame_rfc4571(p) for p in payloads)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    deframer = Rfc4571Deframer()
    out = []
    for start, end in itertools.pairwise(points):
        out += deframer.feed(stream[start:end])
        assert deframer.buffered_bytes <= 2 + 300
    assert out == payloads


def test_deframer_zero_length_is_fatal() -> None:
    deframer = Rfc4571Deframer()
    assert deframer.feed(b"\x00") == []
    with pytest.raises(RtpError, match="length of 0"):
        deframer.feed(b"\x00\x01")
    # Out of step once means out of step for good: the caller must drop the connection.
    with pytest.raises(RtpError):
        deframer.feed(frame_rfc4571(PLAIN))


def test_deframer_oversized_length_is_fatal() -> None:
    deframer = Rfc4571Deframer(max_packet_bytes=1500)
    assert deframer.feed(frame_rfc4571(PLAIN)) == [PLAIN]
    with pytest.raises(RtpError, match="exceeds the 1500-byte bound"):
        deframer.feed(b"\x05\xdd")  # 1501
