"""Unwrapping the wrapping counters of media transports (33-bit PTS, 32-bit RTP time) into times that keep growing."""

from __future__ import annotations


class TimestampUnwrapper:
    """Turns a wrapping counter (33-bit PTS, 32-bit RTP time) into an int that keeps growing.

    Each value is placed within half a cycle of the one before, so B-frames stepping back and
    wrap-arounds both come out right; the first value is kept as it is.
    """

    __slots__ = ("_half", "_last", "_last_raw", "_modulus")

    def __init__(self, bits: int = 33) -> None:
        if not 1 <= bits <= 64:
            raise ValueError(f"counter width must be 1-64 bits, got {bits}")
        self._modulus = 1 << bits
        self._half = self._modulus >> 1
        self._last_raw: int | None = None
        self._last = 0

    def unwrap(self, raw: int) -> int:
        if self._last_raw is None:
            self._last_raw = self._last = raw
            return raw
        delta = (raw - self._last_raw) % self._modulus
        if delta >= self._half:
            delta -= self._modulus
        self._last_raw = raw
        self._last += delta
        return self._last
