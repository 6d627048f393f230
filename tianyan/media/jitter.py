"""RTP receive-side bookkeeping (pure): reordering by sequence number, loss and jitter counts, and frame assembly.

`ReorderBuffer` puts one SSRC's packets back in sequence order within a window (time and packet
count), drops duplicates, and gives up on a gap once the window has passed, reporting it. In
order, a packet goes straight through without being stored: the common case costs a few
comparisons. `FrameAssembler` joins packets sharing an RTP timestamp into the byte stream of one
PS frame; a frame touched by a gap is dropped whole, never passed on with a hole in it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from tianyan.media.ps import PACK_START_CODE

# A jump of more sequence numbers than this is a sender restarting its numbering, not loss or reordering.
MAX_SEQUENCE_JUMP = 3000
# Lost sequence numbers remembered, so a straggler arriving after its gap was given up counts as late.
_LOST_MEMORY = 1024
_SEQ_MOD = 0x10000
_TS_MOD = 1 << 32

Deliver = Callable[[int, bool, bytes | memoryview], None]  # (rtp timestamp, marker, payload)
GapCallback = Callable[[int], None]  # number of packets given up on; 0 for a restart of the numbering


class JitterError(ValueError):
    """Settings a reorder buffer or meter cannot work with."""


class ReorderBuffer:
    """One SSRC's packets back in sequence order; `deliver` gets them in order, `on_gap` hears of each loss.

    Out-of-order packets wait until the missing ones arrive, until the first of them has waited
    `window_ms`, or until `max_packets` are held; then the gap is given up on. Call `expire(now_s)`
    now and then so a stream that stops does not keep its last packets forever.
    """

    __slots__ = (
        "_buffer",
        "_deliver",
        "_expected",
        "_gap_since",
        "_jitter",
        "_lost_seen",
        "_max_packets",
        "_on_gap",
        "_probe",
        "_rate",
        "_top",
        "_transit",
        "_window_s",
        "duplicates",
        "late",
        "lost",
        "received",
        "reordered",
        "restarts",
    )

    def __init__(
        self,
        deliver: Deliver,
        on_gap: GapCallback,
        *,
        window_ms: float = 120,
        max_packets: int = 512,
        clock_rate: int = 90_000,
    ) -> None:
        if window_ms < 0:
            raise JitterError(f"reorder window must not be negative, got {window_ms} ms")
        if not 1 <= max_packets <= MAX_SEQUENCE_JUMP:
            raise JitterError(f"max reorder packets must be 1-{MAX_SEQUENCE_JUMP}, got {max_packets}")
        if clock_rate <= 0:
            raise JitterError(f"clock rate must be positive, got {clock_rate}")
        self._deliver = deliver
        self._on_gap = on_gap
        self._window_s = window_ms / 1000
        self._max_packets = max_packets
        self._rate = clock_rate
        self._expected: int | None = None  # extended sequence number (no wrap) of the next packet to deliver
        self._buffer: dict[int, tuple[int, bool, bytes | memoryview, float]] = {}
        self._top = 0  # highest extended sequence number held
        self._gap_since = 0.0
        self._lost_seen: deque[int] = deque(maxlen=_LOST_MEMORY)
        self._probe: int | None = None
        self._transit: float | None = None
        self._jitter = 0.0
        self.received = 0
        self.lost = 0
        self.reordered = 0
        self.duplicates = 0
        self.late = 0
        self.restarts = 0

    @property
    def jitter_ms(self) -> float:
        """RFC 3550 §6.4.1 interarrival jitter, in milliseconds."""
        return self._jitter * 1000 / self._rate

    @property
    def held(self) -> int:
        return len(self._buffer)

    def push(self, sequence: int, timestamp: int, marker: bool, payload: bytes | memoryview, now_s: float) -> None:
        self.received += 1
        # RFC 3550 A.8: the change in transit time, smoothed by 1/16.
        transit = now_s * self._rate - timestamp
        if self._transit is not None:
            change = transit - self._transit
            if change < 0:
                change = -change
            if change > _TS_MOD / 2:  # the RTP clock wrapped between the two packets
                change = abs(change - _TS_MOD)
            self._jitter += (change - self._jitter) / 16
        self._transit = transit
        expected = self._expected
        if expected is None:
            self._prime(sequence, timestamp, marker, payload, now_s)
            return
        ahead = (sequence - expected) & 0xFFFF
        if ahead == 0 and not self._buffer:
            self._expected = expected + 1
            self._deliver(timestamp, marker, payload)
            return
        self._unusual(sequence, ahead, timestamp, marker, payload, now_s)

    def _prime(self, sequence: int, timestamp: int, marker: bool, payload: bytes | memoryview, now_s: float) -> None:
        """Before the first delivery: hold packets for one window, so the stream starts at the lowest number seen."""
        buffer = self._buffer
        if not buffer:
            self._top = sequence
            self._gap_since = now_s
            extended = sequence
        else:
            offset = (sequence - self._top) & 0xFFFF
            extended = self._top + (offset - _SEQ_MOD if offset >= _SEQ_MOD // 2 else offset)
            if extended in buffer:
                self.duplicates += 1
                return
            if extended < self._top:
                self.reordered += 1
            else:
                self._top = extended
        buffer[extended] = (timestamp, marker, payload, now_s)
        if self._window_s == 0 or len(buffer) > self._max_packets or now_s - self._gap_since >= self._window_s:
            self._start()

    def _start(self) -> None:
        buffer = self._buffer
        self._expected = min(buffer)
        self._top = max(buffer)
        self._drain()
        if buffer:
            self._gap_since = min(entry[3] for entry in buffer.values())

    def _unusual(
        self, sequence: int, ahead: int, timestamp: int, marker: bool, payload: bytes | memoryview, now_s: float
    ) -> None:
        expected = self._expected
        assert expected is not None
        if ahead >= _SEQ_MOD // 2:
            behind = _SEQ_MOD - ahead
            if behind > MAX_SEQUENCE_JUMP:
                self._maybe_restart(sequence, timestamp, marker, payload, now_s)
            elif expected - behind in self._lost_seen:
                self.late += 1
            else:
                self.duplicates += 1
            return
        if ahead > MAX_SEQUENCE_JUMP:
            self._maybe_restart(sequence, timestamp, marker, payload, now_s)
            return
        self._probe = None
        extended = expected + ahead
        if extended in self._buffer:
            self.duplicates += 1
            return
        if self._buffer and extended < self._top:
            self.reordered += 1
        if ahead == 0:
            self._expected = expected + 1
            self._deliver(timestamp, marker, payload)
            self._drain()
            if self._buffer:
                self._gap_since = min(entry[3] for entry in self._buffer.values())
        else:
            if not self._buffer:
                self._gap_since = now_s
                self._top = extended
            elif extended > self._top:
                self._top = extended
            self._buffer[extended] = (timestamp, marker, payload, now_s)
        self.expire(now_s)

    def _maybe_restart(
        self, sequence: int, timestamp: int, marker: bool, payload: bytes | memoryview, now_s: float
    ) -> None:
        # One stray far-off number is noise; two in a row are a sender that started its numbering over.
        if self._probe != sequence:
            self._probe = (sequence + 1) & 0xFFFF
            self.late += 1
            return
        self._probe = None
        self.restarts += 1
        self.flush()
        self._on_gap(0)
        self._expected = sequence + 1
        self._deliver(timestamp, marker, payload)

    def _drain(self) -> None:
        buffer = self._buffer
        expected = self._expected
        assert expected is not None
        deliver = self._deliver
        while expected in buffer:
            timestamp, marker, payload, _ = buffer.pop(expected)
            expected += 1
            deliver(timestamp, marker, payload)
        self._expected = expected

    def expire(self, now_s: float) -> None:
        """Give up on gaps whose packets have been waited for longer than the window (or held past the count)."""
        buffer = self._buffer
        if self._expected is None:
            if buffer and now_s - self._gap_since >= self._window_s:
                self._start()
            else:
                return
        while buffer and (now_s - self._gap_since >= self._window_s or len(buffer) > self._max_packets):
            self._give_up()
            if buffer:
                self._gap_since = min(entry[3] for entry in buffer.values())

    def flush(self) -> None:
        """Deliver everything held, giving up on every gap (the stream is ending or restarting)."""
        if self._expected is None and self._buffer:
            self._start()
        while self._buffer:
            self._give_up()

    def _give_up(self) -> None:
        expected = self._expected
        assert expected is not None
        first = min(self._buffer)
        missing = first - expected
        self.lost += missing
        self._lost_seen.extend(range(max(expected, first - _LOST_MEMORY), first))
        self._expected = first
        self._on_gap(missing)
        self._drain()


class FrameAssembler:
    """Joins in-order packets into frames: one RTP timestamp each, ended by the marker bit or the next timestamp.

    After a gap the frame being built is dropped, and so is the next one unless its first packet
    starts it (a pack header for PS): the lost packets may have held its beginning. `on_frame`
    gets each whole frame's payloads; `on_damaged` is told of each gap, so the demuxer can
    resync and video can wait for a keyframe. `lost_frames` counts frames dropped as damaged,
    and one for a gap that swallowed only whole frames (how many it held is not known).
    """

    __slots__ = (
        "_after_gap",
        "_damaged",
        "_gap_counted",
        "_on_damaged",
        "_on_frame",
        "_parts",
        "_start",
        "_timestamp",
        "frames",
        "lost_frames",
    )

    def __init__(
        self,
        on_frame: Callable[[list[bytes | memoryview], int], None],
        on_damaged: Callable[[], None],
        *,
        frame_start: bytes = PACK_START_CODE,
    ) -> None:
        self._on_frame = on_frame
        self._on_damaged = on_damaged
        self._start = frame_start
        self._parts: list[bytes | memoryview] = []
        self._timestamp: int | None = None
        self._damaged = False
        self._after_gap = False
        self._gap_counted = False
        self.frames = 0
        self.lost_frames = 0

    def packet(self, timestamp: int, marker: bool, payload: bytes | memoryview) -> None:
        if timestamp != self._timestamp:
            if self._parts:
                self._finish()  # a sender that never sets the marker: the new timestamp ends the frame
            self._timestamp = timestamp
            self._damaged = False
            if self._after_gap:
                self._after_gap = False
                if payload[: len(self._start)] != self._start:
                    # Its beginning was in the gap.
                    self._damaged = True
                    self.lost_frames += 1
                elif not self._gap_counted:
                    self.lost_frames += 1  # the gap held whole frames only
        elif self._after_gap:
            # More of the frame the gap cut into.
            self._after_gap = False
            if not self._gap_counted:
                self.lost_frames += 1
            self._damaged = True
        if self._damaged:
            return
        self._parts.append(payload)
        if marker:
            self._finish()

    def gap(self, lost_packets: int) -> None:
        """Packets went missing before the next one (0: the sender restarted its numbering)."""
        self._gap_counted = bool(self._parts)
        if self._parts:
            self._parts = []
            self._damaged = True
            self.lost_frames += 1
        self._after_gap = True
        self._on_damaged()

    def _finish(self) -> None:
        parts, self._parts = self._parts, []
        self.frames += 1
        self._on_frame(parts, self._timestamp if self._timestamp is not None else 0)


class BitrateMeter:
    """Bits per second over a sliding window, kept in buckets so adding a packet is one addition."""

    __slots__ = ("_bucket_bytes", "_bucket_end", "_bucket_s", "_buckets", "_window_s")

    def __init__(self, window_s: float = 5.0, bucket_s: float = 0.5) -> None:
        if not 0 < bucket_s <= window_s:
            raise JitterError(f"bucket ({bucket_s} s) must be positive and within the window ({window_s} s)")
        self._window_s = window_s
        self._bucket_s = bucket_s
        self._buckets: deque[tuple[float, int]] = deque()
        self._bucket_end: float | None = None
        self._bucket_bytes = 0

    def add(self, size_bytes: int, now_s: float) -> None:
        if self._bucket_end is None or now_s >= self._bucket_end:
            self._roll(now_s)
        self._bucket_bytes += size_bytes

    def _roll(self, now_s: float) -> None:
        if self._bucket_end is not None:
            self._buckets.append((self._bucket_end, self._bucket_bytes))
        self._bucket_bytes = 0
        self._bucket_end = now_s + self._bucket_s
        horizon = now_s - self._window_s
        while self._buckets and self._buckets[0][0] <= horizon:
            self._buckets.popleft()

    def bps(self, now_s: float) -> float:
        """The rate over the window ending now; the bucket being filled counts for the time it has run."""
        if self._bucket_end is None:
            return 0.0
        horizon = now_s - self._window_s
        total = sum(size for end, size in self._buckets if end > horizon)
        started = self._bucket_end - self._bucket_s
        total += self._bucket_bytes if now_s - started < self._window_s else 0
        oldest = min((end - self._bucket_s for end, _ in self._buckets if end > horizon), default=started)
        span = max(now_s - max(oldest, horizon), self._bucket_s)
        return total * 8 / span
