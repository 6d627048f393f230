"""RTP over a TCP byte stream (pure): RFC 4571 length prefixes or RTSP-style `$` interleaving, detected.

GB/T 28181 asks for RFC 4571, but some devices send the RTSP interleaved form (`$`, channel,
16-bit length) instead. Both carry RTP version 2, whose first byte is 0x80-0xBF, which is what
detection and resynchronisation look for, with the stream's SSRC once the first packet told it
(a connection carries one stream). After garbage the deframer skips ahead to the next place
where a plausible header is followed by such a packet, counting what it skipped; past a limit
of garbage it gives up with TcpFramingError, and the caller drops the connection.
"""

from __future__ import annotations

from enum import StrEnum

MIN_RTP_BYTES = 12
MAX_PACKET_BYTES = 0xFFFF
# Bytes looked at before deciding the stream is neither framing; a stream out of step this long is hopeless.
DEFAULT_MAX_GARBAGE_BYTES = 256 * 1024
_DOLLAR = 0x24


class TcpFramingError(ValueError):
    """A TCP media stream that cannot be framed: unknown framing, or too much garbage to find the packets again."""


class Framing(StrEnum):
    RFC4571 = "rfc4571"
    INTERLEAVED = "interleaved"  # RTSP `$` framing (RFC 2326 §10.12)


class TcpRtpDeframer:
    """Feed it the bytes of a TCP connection; it returns the RTP (and RTCP) packets they complete."""

    def __init__(
        self,
        framing: Framing | None = None,
        *,
        max_packet_bytes: int = MAX_PACKET_BYTES,
        max_garbage_bytes: int = DEFAULT_MAX_GARBAGE_BYTES,
    ) -> None:
        if not MIN_RTP_BYTES <= max_packet_bytes <= MAX_PACKET_BYTES:
            raise TcpFramingError(f"max packet size must be {MIN_RTP_BYTES}-{MAX_PACKET_BYTES} bytes")
        if max_garbage_bytes < 1:
            raise TcpFramingError("the garbage limit must be positive")
        self.framing = framing
        self._max_packet = max_packet_bytes
        self._max_garbage = max_garbage_bytes
        self._buffer = b""
        self._ssrc: bytes | None = None
        self._garbage_run = 0  # bytes skipped since the last good packet
        self._failed: TcpFramingError | None = None
        self.packets = 0
        self.skipped_bytes = 0
        self.resyncs = 0
        self.channels: set[int] = set()

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        if self._failed is not None:
            raise self._failed
        buffer = self._buffer + bytes(data) if self._buffer else bytes(data)
        packets: list[bytes] = []
        position = 0
        size = len(buffer)
        if self.framing is None:
            while size - position >= 5:
                self.framing = _detect(buffer, position)
                if self.framing is not None:
                    break
                position += 1
            self.skipped_bytes += position
            self._garbage_run += position
            if self._garbage_run > self._max_garbage:
                self._fail(f"no RTP framing recognised in the first {self._garbage_run} bytes")
            if self.framing is None:
                self._buffer = buffer[position:]
                return packets
        head = 4 if self.framing is Framing.INTERLEAVED else 2
        interleaved = head == 4
        append = packets.append
        while size - position >= head:
            if interleaved:
                if buffer[position] != _DOLLAR:
                    position = self._resync(buffer, position)
                    continue
                length = (buffer[position + 2] << 8) | buffer[position + 3]
            else:
                length = (buffer[position] << 8) | buffer[position + 1]
            end = position + head + length
            if length < MIN_RTP_BYTES or length > self._max_packet:
                position = self._resync(buffer, position)
                continue
            if end > size:
                # What of the header is here already is checked now, rather than waiting for a bogus length's worth.
                if not self._header_fits(buffer, position + head, size, length):
                    position = self._resync(buffer, position)
                    continue
                break
            if not self._header_fits(buffer, position + head, size, length) or (
                200 <= buffer[position + head + 1] <= 207 and not _rtcp_chain_fits(buffer, position + head, end)
            ):
                position = self._resync(buffer, position)
                continue
            if interleaved:
                self.channels.add(buffer[position + 1])
            packet = buffer[position + head : end]
            if self._ssrc is None and not 200 <= packet[1] <= 207:
                self._ssrc = packet[8:12]
            append(packet)
            self._garbage_run = 0
            position = end
        self.packets += len(packets)
        self._buffer = buffer[position:] if position < size else b""
        if len(self._buffer) > self._max_packet + head:
            self._fail("framing lost: more buffered than any packet can be")
        return packets

    def _resync(self, buffer: bytes, position: int) -> int:
        """The next offset after `position` where a packet plausibly starts (or where to wait for more bytes)."""
        self.resyncs += 1
        size = len(buffer)
        head = 4 if self.framing is Framing.INTERLEAVED else 2
        candidate = position + 1
        while candidate + head + MIN_RTP_BYTES <= size:
            if self._plausible(buffer, candidate, head):
                break
            candidate += 1
        else:
            # Not enough bytes left to judge: keep the tail for the next feed.
            candidate = max(position + 1, size - head - MIN_RTP_BYTES + 1)
        skipped = candidate - position
        self.skipped_bytes += skipped
        self._garbage_run += skipped
        if self._garbage_run > self._max_garbage:
            self._fail(f"no RTP packet found in {self._garbage_run} bytes")
        return candidate

    def _header_fits(self, buffer: bytes, at: int, size: int, length: int) -> bool:
        """Version 2 and, as far as the bytes go, the stream's SSRC (RTP) or a length that fits (RTCP)."""
        if at >= size:
            return True
        if buffer[at] & 0xC0 != 0x80:
            return False
        if at + 4 <= size and 200 <= buffer[at + 1] <= 207:
            # RTCP: whole 32-bit words, and a chain of RTCP packets inside the framed one as far as the bytes go
            # (junk reading as a long RTCP length must not hold back the real packets behind it).
            return not length % 4 and _rtcp_prefix_fits(buffer, at, min(size, at + length), at + length)
        if self._ssrc is None or at + 12 > size:
            return True
        return buffer[at + 8 : at + 12] == self._ssrc

    def _plausible(self, buffer: bytes, at: int, head: int) -> bool:
        if head == 4:
            if buffer[at] != _DOLLAR:
                return False
            length = (buffer[at + 2] << 8) | buffer[at + 3]
        else:
            length = (buffer[at] << 8) | buffer[at + 1]
        if length < MIN_RTP_BYTES or length > self._max_packet:
            return False
        return self._header_fits(buffer, at + head, len(buffer), length)

    def _fail(self, reason: str) -> None:
        self._failed = TcpFramingError(reason)
        self._buffer = b""
        raise self._failed


def _detect(buffer: bytes, at: int) -> Framing | None:
    """`$`, channel, length, RTP version byte; or length, RTP version byte. None when neither fits at `at`."""
    interleaved_length = (buffer[at + 2] << 8) | buffer[at + 3]
    rfc4571_length = (buffer[at] << 8) | buffer[at + 1]
    interleaved = buffer[at] == _DOLLAR and buffer[at + 4] & 0xC0 == 0x80 and interleaved_length >= MIN_RTP_BYTES
    rfc4571 = buffer[at + 2] & 0xC0 == 0x80 and rfc4571_length >= MIN_RTP_BYTES
    if interleaved and rfc4571:
        # Both read sensibly (a 4571 length of 0x24xx): the shorter packet is the likelier one.
        return Framing.INTERLEAVED if interleaved_length <= rfc4571_length else Framing.RFC4571
    if interleaved:
        return Framing.INTERLEAVED
    return Framing.RFC4571 if rfc4571 else None


def _rtcp_prefix_fits(buffer: bytes, start: int, available: int, end: int) -> bool:
    """The RTCP packets seen so far (up to `available`) are version 2, RTCP types, and stay inside `end`."""
    position = start
    while position + 4 <= available:
        if buffer[position] & 0xC0 != 0x80 or not 200 <= buffer[position + 1] <= 207:
            return False
        position += (((buffer[position + 2] << 8) | buffer[position + 3]) + 1) * 4
        if position > end:
            return False
    return True


def _rtcp_chain_fits(buffer: bytes, start: int, end: int) -> bool:
    """A compound RTCP packet: version-2 packets whose own lengths add up to exactly the framed length."""
    position = start
    while position + 4 <= end:
        if buffer[position] & 0xC0 != 0x80:
            return False
        position += (((buffer[position + 2] << 8) | buffer[position + 3]) + 1) * 4
    return position == end
