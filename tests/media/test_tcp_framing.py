"""RTP over TCP: RFC 4571 and `$` framing detected, split anywhere, garbage skipped and counted, limits enforced."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tianyan.media.rtp import RtpPacket, frame_rfc4571
from tianyan.media.tcp_framing import Framing, TcpFramingError, TcpRtpDeframer

SSRC = 0x0102_0304


def packets(count: int, size: int = 200, ssrc: int = SSRC) -> list[bytes]:
    rng = random.Random(count * 7 + size)
    return [
        RtpPacket(96, i, i * 3600, ssrc, bytes(rng.randrange(256) for _ in range(size + i % 13))).to_bytes()
        for i in range(count)
    ]


def dollar(packet: bytes, channel: int = 0) -> bytes:
    return b"$" + bytes([channel]) + struct.pack("!H", len(packet)) + packet


def feed_in_pieces(deframer: TcpRtpDeframer, data: bytes, step: int) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(data), step):
        out += deframer.feed(data[i : i + step])
    return out


@pytest.mark.parametrize("step", [1, 3, 100, 1500, 100_000])
def test_rfc4571_is_detected_and_split_anywhere(step: int) -> None:
    sent = packets(30)
    deframer = TcpRtpDeframer()
    assert feed_in_pieces(deframer, b"".join(frame_rfc4571(p) for p in sent), step) == sent
    assert deframer.framing is Framing.RFC4571
    assert deframer.skipped_bytes == 0 and deframer.buffered_bytes == 0


@pytest.mark.parametrize("step", [1, 5, 1000])
def test_dollar_interleaving_is_detected_and_rtcp_channel_passes(step: int) -> None:
    sent = packets(20)
    rtcp = bytes([0x80, 200, 0, 6]) + bytes(24)
    stream = b"".join(dollar(p) for p in sent[:10]) + dollar(rtcp, 1) + b"".join(dollar(p) for p in sent[10:])
    deframer = TcpRtpDeframer()
    assert feed_in_pieces(deframer, stream, step) == [*sent[:10], rtcp, *sent[10:]]
    assert deframer.framing is Framing.INTERLEAVED
    assert deframer.channels == {0, 1}


@pytest.mark.parametrize("framing", [Framing.RFC4571, Framing.INTERLEAVED])
def test_garbage_is_skipped_up_to_the_next_packet_of_the_stream(framing: Framing) -> None:
    sent = packets(20)
    frame = frame_rfc4571 if framing is Framing.RFC4571 else dollar
    junk = bytes(random.Random(1).randrange(256) for _ in range(777))
    stream = b"".join(frame(p) for p in sent[:10]) + junk + b"".join(frame(p) for p in sent[10:])
    deframer = TcpRtpDeframer()
    got = feed_in_pieces(deframer, stream, 512)
    assert got[:10] == sent[:10] and got[-10:] == sent[10:]
    assert len(got) == 20
    assert deframer.resyncs >= 1 and deframer.skipped_bytes >= len(junk)


def test_garbage_at_the_start_is_skipped() -> None:
    sent = packets(5)
    deframer = TcpRtpDeframer()
    assert deframer.feed(b"\x00\x00\x00\x00\x00\x00" + b"".join(frame_rfc4571(p) for p in sent)) == sent
    assert deframer.skipped_bytes == 6


def test_a_stream_of_nothing_but_garbage_fails_clearly() -> None:
    deframer = TcpRtpDeframer(max_garbage_bytes=4096)
    with pytest.raises(TcpFramingError, match="no RTP"):
        for _ in range(10):
            deframer.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 40)
    with pytest.raises(TcpFramingError):
        deframer.feed(frame_rfc4571(packets(1)[0]))  # it stays failed


def test_lengths_over_the_limit_are_refused() -> None:
    deframer = TcpRtpDeframer(max_packet_bytes=1000, max_garbage_bytes=5000)
    big = packets(1, size=1200)[0]
    small = packets(3, size=100)
    got = deframer.feed(b"".join(frame_rfc4571(p) for p in [small[0], big, small[1], small[2]]))
    assert got == [small[0], small[1], small[2]]
    assert deframer.resyncs >= 1
    with pytest.raises(TcpFramingError):
        TcpRtpDeframer(max_packet_bytes=5)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000), st.integers(1, 700))
def test_fuzzed_streams_only_raise_the_framing_error(data: bytes, step: int) -> None:
    deframer = TcpRtpDeframer(max_garbage_bytes=2000)
    try:
        for packet in feed_in_pieces(deframer, data, step):
            assert 12 <= len(packet) <= 0xFFFF
    except TcpFramingError:
        pass
    assert deframer.buffered_bytes <= 0xFFFF + 4


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 19), st.binary(min_size=1, max_size=50)), max_size=4), st.integers(1, 300))
# Junk that reads as a 4,716-byte RTCP packet whose first length fits: it once held back every packet behind it.
@example(junk=[(0, b"\x12l\x80\xc8")], step=1)
def test_valid_streams_with_injected_junk_keep_most_packets(junk: list[tuple[int, bytes]], step: int) -> None:
    sent = packets(60, size=60)
    pieces = [frame_rfc4571(p) for p in sent]
    for at, blob in junk:
        pieces[at] += blob
    deframer = TcpRtpDeframer()
    # Junk may look like the header of a long packet: the bytes that follow it show that it is not.
    got = feed_in_pieces(deframer, b"".join(pieces), step)
    # Every packet that comes out is one that was sent, in order; junk costs at most the packet after it.
    assert got == [p for p in sent if p in got]
    assert len([p for p in got if p in sent[:20]]) >= 20 - 2 * len(junk)
