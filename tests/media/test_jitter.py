"""Reordering, loss, duplicate and jitter accounting, the bitrate meter, and frame assembly around gaps."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianyan.media.jitter import BitrateMeter, FrameAssembler, JitterError, ReorderBuffer

PACK = b"\x00\x00\x01\xba"


class Recorder:
    def __init__(self, window_ms: float = 100, max_packets: int = 64) -> None:
        self.delivered: list[int] = []
        self.gaps: list[int] = []
        self.buffer = ReorderBuffer(self.deliver, self.gaps.append, window_ms=window_ms, max_packets=max_packets)

    def deliver(self, timestamp: int, marker: bool, payload: bytes | memoryview) -> None:
        self.delivered.append(int.from_bytes(payload, "big"))

    def push(self, sequence: int, now_s: float, timestamp: int = 0) -> None:
        self.buffer.push(sequence & 0xFFFF, timestamp, False, sequence.to_bytes(4, "big"), now_s)


def test_in_order_packets_go_straight_through_across_the_wrap() -> None:
    r = Recorder(window_ms=0)
    for i, seq in enumerate(range(65530, 65546)):
        r.push(seq, i * 0.001)
    assert r.delivered == list(range(65530, 65546))
    assert (r.buffer.received, r.buffer.lost, r.buffer.reordered, r.buffer.duplicates) == (16, 0, 0, 0)
    assert r.buffer.held == 0


def test_reordered_packets_are_put_back_in_order_within_the_window() -> None:
    r = Recorder()
    order = [10, 12, 11, 13, 16, 14, 15, 17]
    for i, seq in enumerate(order):
        r.push(seq, 0.2 + i * 0.001)
    r.buffer.expire(0.5)  # the start waits one window for stragglers
    assert r.delivered == list(range(10, 18))
    assert r.buffer.lost == 0 and r.buffer.reordered == 3 and r.gaps == []


def test_the_start_waits_for_packets_that_overtook_the_first() -> None:
    r = Recorder()
    for i, seq in enumerate([102, 100, 101, 103]):
        r.push(seq, i * 0.01)
    assert r.delivered == []
    r.buffer.expire(1.0)
    assert r.delivered == [100, 101, 102, 103] and r.buffer.lost == 0


def test_duplicates_are_dropped_and_counted() -> None:
    r = Recorder(window_ms=100)
    for i, seq in enumerate([1, 2, 2, 3, 1, 5, 5, 4]):
        r.push(seq, i * 0.001)
    r.buffer.flush()
    assert r.delivered == [1, 2, 3, 4, 5]
    assert r.buffer.duplicates == 3


def test_a_gap_is_given_up_after_the_window_and_counted() -> None:
    r = Recorder(window_ms=100)
    r.push(1, 0.0)
    r.buffer.expire(0.2)
    r.push(2, 0.2)
    r.push(5, 0.21)
    r.push(6, 0.22)
    r.buffer.expire(0.25)
    assert r.delivered == [1, 2]
    r.buffer.expire(0.32)
    assert r.delivered == [1, 2, 5, 6]
    assert r.buffer.lost == 2 and r.gaps == [2]
    r.push(3, 0.4)  # too late: its gap was given up on
    assert r.buffer.late == 1 and r.delivered == [1, 2, 5, 6]


def test_a_gap_is_given_up_when_too_many_packets_wait() -> None:
    r = Recorder(window_ms=10_000, max_packets=4)
    r.push(0, 0.0)
    r.buffer.expire(20.0)
    for seq in range(2, 8):
        r.push(seq, 20.0)
    assert r.delivered == [0, 2, 3, 4, 5, 6, 7] and r.buffer.lost == 1


def test_a_sender_restarting_its_numbering_is_followed() -> None:
    r = Recorder(window_ms=0)
    for i, seq in enumerate([100, 101, 102, 40000, 40001, 40002]):
        r.push(seq, i * 0.001)
    assert r.delivered == [100, 101, 102, 40001, 40002]
    assert r.buffer.restarts == 1 and r.gaps == [0]


def test_jitter_is_zero_for_steady_arrival_and_grows_with_variation() -> None:
    steady = ReorderBuffer(lambda *a: None, lambda n: None, window_ms=0)
    for i in range(100):
        steady.push(i, i * 3600, False, b"x", i * 0.04)
    assert steady.jitter_ms == pytest.approx(0, abs=1e-6)
    shaky = ReorderBuffer(lambda *a: None, lambda n: None, window_ms=0)
    rng = random.Random(3)
    for i in range(2000):
        shaky.push(i & 0xFFFF, (i * 3600) & 0xFFFFFFFF, False, b"x", i * 0.04 + rng.choice((0, 0.010)))
    # Alternating 0/10 ms at random: mean |D| is 5 ms.
    assert 3 < shaky.jitter_ms < 7


def test_bad_settings_are_refused() -> None:
    with pytest.raises(JitterError):
        ReorderBuffer(lambda *a: None, lambda n: None, window_ms=-1)
    with pytest.raises(JitterError):
        ReorderBuffer(lambda *a: None, lambda n: None, max_packets=0)
    with pytest.raises(JitterError):
        BitrateMeter(window_s=1, bucket_s=2)


def test_bitrate_meter() -> None:
    meter = BitrateMeter(window_s=2.0, bucket_s=0.25)
    assert meter.bps(0.0) == 0
    for i in range(400):  # 1250 bytes every 10 ms: 1 Mbit/s
        meter.add(1250, i * 0.01)
    assert meter.bps(4.0) == pytest.approx(1_000_000, rel=0.15)
    assert meter.bps(60.0) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0xFFFF), st.lists(st.booleans(), min_size=1, max_size=300), st.randoms(use_true_random=False))
def test_any_loss_and_shuffle_delivers_in_order_once(start: int, keep: list[bool], rng: random.Random) -> None:
    sequence = [start + i for i, kept in enumerate(keep) if kept]
    arrival = sequence[:]
    for i in range(0, len(arrival), 6):
        chunk = arrival[i : i + 6]
        rng.shuffle(chunk)
        arrival[i : i + 6] = chunk
    if arrival and rng.random() < 0.5:
        arrival.insert(rng.randrange(len(arrival)), rng.choice(arrival))  # a duplicate
    r = Recorder(window_ms=50, max_packets=32)
    for i, seq in enumerate(arrival):
        r.push(seq, i * 0.001)
    r.buffer.flush()
    assert r.delivered == sorted(set(r.delivered))  # in order, once each
    assert set(r.delivered) <= set(sequence)
    assert len(r.delivered) + r.buffer.lost >= len(set(r.delivered))


class Frames:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.damaged = 0
        self.assembler = FrameAssembler(self.on_frame, self.on_damaged)

    def on_frame(self, parts: list, timestamp: int) -> None:
        self.frames.append(b"".join(parts))

    def on_damaged(self) -> None:
        self.damaged += 1


def test_frames_end_at_the_marker_or_at_a_new_timestamp() -> None:
    f = Frames()
    f.assembler.packet(1, False, PACK + b"a")
    f.assembler.packet(1, True, b"b")
    f.assembler.packet(2, False, PACK + b"c")
    f.assembler.packet(3, False, PACK + b"d")  # no marker on frame 2
    assert f.frames == [PACK + b"ab", PACK + b"c"]
    assert f.assembler.frames == 2


def test_a_gap_inside_a_frame_drops_it_whole() -> None:
    f = Frames()
    f.assembler.packet(1, False, PACK + b"a")
    f.assembler.gap(1)
    f.assembler.packet(1, True, b"c")  # the rest of the damaged frame
    f.assembler.packet(2, True, PACK + b"d")
    assert f.frames == [PACK + b"d"]
    assert f.assembler.lost_frames == 1 and f.damaged == 1


def test_a_gap_that_took_the_start_of_the_next_frame_drops_that_too() -> None:
    f = Frames()
    f.assembler.packet(1, True, PACK + b"a")
    f.assembler.gap(2)
    f.assembler.packet(2, False, b"middle")
    f.assembler.packet(2, True, b"end")
    f.assembler.packet(3, True, PACK + b"e")
    assert f.frames == [PACK + b"a", PACK + b"e"]
    assert f.assembler.lost_frames == 1


def test_a_gap_of_whole_frames_loses_none_of_the_neighbours() -> None:
    f = Frames()
    f.assembler.packet(1, True, PACK + b"a")
    f.assembler.gap(3)
    f.assembler.packet(5, True, PACK + b"e")
    assert f.frames == [PACK + b"a", PACK + b"e"]
    assert f.assembler.lost_frames == 1 and f.damaged == 1
