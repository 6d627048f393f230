"""RTP packets (RFC 3550), a PS-frame packetizer, and RFC 4571 framing for RTP over TCP; pure, no sockets."""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
RTP_HEADER_BYTES = 12
# RFC 4571 carries each packet behind a 16-bit length, so no RTP packet on TCP can be longer.
MAX_RTP_PACKET_BYTES = 0xFFFF
# Fits a 1500-byte Ethernet MTU after IP (20), UDP (8) and RTP (12) headers, with room for tunnels.
DEFAULT_MAX_PAYLOAD_BYTES = 1400
# GB/T 28181 puts PS in dynamic payload type 96 (a=rtpmap:96 PS/90000).
PS_PAYLOAD_TYPE = 96

_HEADER = struct.Struct("!BBHII")
_U32 = 0xFFFFFFFF


class RtpError(ValueError):
    """Malformed RTP, or an RFC 4571 stream that cannot be trusted any more."""


@dataclass(frozen=True)
class RtpExtension:
    """The RFC 3550 §5.3.1 header extension: a 16-bit profile word and data in 32-bit words."""

    profile: int
    data: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.profile <= 0xFFFF:
            raise RtpError(f"extension profile must fit 16 bits, got {self.profile}")
        if len(self.data) % 4:
            raise RtpError(f"extension data must be whole 32-bit words, got {len(self.data)} bytes")
        if len(self.data) // 4 > 0xFFFF:
            raise RtpError("extension data longer than 65535 words")


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet. `padding_bytes` counts the padding octets, the last of which carries the count."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension: RtpExtension | None = None
    padding_bytes: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.payload_type <= 127:
            raise RtpError(f"payload type must be 0-127, got {self.payload_type}")
        if not 0 <= self.sequence <= 0xFFFF:
            raise RtpError(f"sequence number must be 0-65535, got {self.sequence}")
        if not 0 <= self.timestamp <= _U32:
            raise RtpError(f"timestamp must fit 32 bits, got {self.timestamp}")
        if not 0 <= self.ssrc <= _U32:
            raise RtpError(f"SSRC must fit 32 bits, got {self.ssrc}")
        if len(self.csrc) > 15:
            raise RtpError(f"at most 15 CSRCs fit the 4-bit count, got {len(self.csrc)}")
        if any(not 0 <= c <= _U32 for c in self.csrc):
            raise RtpError("every CSRC must fit 32 bits")
        if not 0 <= self.padding_bytes <= 255:
            raise RtpError(f"padding must be 0-255 bytes (the count is one octet), got {self.padding_bytes}")
        if self.size_bytes > MAX_RTP_PACKET_BYTES:
            raise RtpError(f"packet of {self.size_bytes} bytes exceeds {MAX_RTP_PACKET_BYTES}")

    @property
    def size_bytes(self) -> int:
        ext = 0 if self.extension is None else 4 + len(self.extension.data)
        return RTP_HEADER_BYTES + 4 * len(self.csrc) + ext + len(self.payload) + self.padding_bytes

    def to_bytes(self) -> bytes:
        return build_rtp(self)


def build_rtp(packet: RtpPacket) -> bytes:
    """Serialise a packet; padding octets are zero except the last, which holds the count."""
    first = (
        (RTP_VERSION << 6)
        | (0x20 if packet.padding_bytes else 0)
        | (0x10 if packet.extension is not None else 0)
        | len(packet.csrc)
    )
    second = (0x80 if packet.marker else 0) | packet.payload_type
    parts = [_HEADER.pack(first, second, packet.sequence, packet.timestamp, packet.ssrc)]
    if packet.csrc:
        parts.append(struct.pack(f"!{len(packet.csrc)}I", *packet.csrc))
    if packet.extension is not None:
        parts.append(struct.pack("!HH", packet.extension.profile, len(packet.extension.data) // 4))
        parts.append(packet.extension.data)
    parts.append(packet.payload)
    if packet.padding_bytes:
        parts.append(bytes(packet.padding_bytes - 1) + bytes([packet.padding_bytes]))
    return b"".join(parts)


def parse_rtp(data: bytes | bytearray | memoryview) -> RtpPacket:
    """Parse one RTP packet, raising RtpError on anything RFC 3550 does not allow."""
    data = bytes(data)
    size = len(data)
    if size > MAX_RTP_PACKET_BYTES:
        raise RtpError(f"packet of {size} bytes exceeds {MAX_RTP_PACKET_BYTES}")
    if size < RTP_HEADER_BYTES:
        raise RtpError(f"truncated: {size} bytes is shorter than the 12-byte RTP header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    version = first >> 6
    if version != RTP_VERSION:
        raise RtpError(f"RTP version must be 2, got {version}")
    offset = RTP_HEADER_BYTES
    csrc_count = first & 0x0F
    if size < offset + 4 * csrc_count:
        raise RtpError(f"truncated: {csrc_count} CSRCs announced, {size - offset} bytes left")
    csrc = struct.unpack_from(f"!{csrc_count}I", data, offset)
    offset += 4 * csrc_count
    extension = None
    if first & 0x10:
        if size < offset + 4:
            raise RtpError("truncated: extension flag set but no extension header")
        profile, words = struct.unpack_from("!HH", data, offset)
        offset += 4
        if size < offset + 4 * words:
            raise RtpError(f"truncated: extension of {words} words, {size - offset} bytes left")
        extension = RtpExtension(profile, data[offset : offset + 4 * words])
        offset += 4 * words
    padding = 0
    if first & 0x20:
        if size == offset:
            raise RtpError("padding flag set but the packet ends at the header")
        padding = data[-1]
        if padding == 0:
            raise RtpError("padding count is 0; it must count at least itself")
        if padding > size - offset:
            raise RtpError(f"padding of {padding} bytes is longer than the {size - offset} bytes after the header")
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=data[offset : size - padding],
        marker=bool(second & 0x80),
        csrc=csrc,
        extension=extension,
        padding_bytes=padding,
    )


@dataclass
class RtpPacketizer:
    """Splits each PS frame into RTP packets sharing one 90 kHz timestamp, marker on the last.

    The sequence number carries over between frames and wraps at 65536. RFC 3550 asks for a
    random first sequence number; the caller picks it so tests stay deterministic.
    """

    ssrc: int
    payload_type: int = PS_PAYLOAD_TYPE
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    next_sequence: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.ssrc <= _U32:
            raise RtpError(f"SSRC must fit 32 bits, got {self.ssrc}")
        if not 0 <= self.payload_type <= 127:
            raise RtpError(f"payload type must be 0-127, got {self.payload_type}")
        if not 1 <= self.max_payload_bytes <= MAX_RTP_PACKET_BYTES - RTP_HEADER_BYTES:
            raise RtpError(f"max payload must be 1-{MAX_RTP_PACKET_BYTES - RTP_HEADER_BYTES} bytes")
        self.next_sequence &= 0xFFFF

    def packetize(self, frame: bytes, timestamp_90k: int) -> list[RtpPacket]:
        """The packets for one frame; the timestamp is taken modulo 2^32 as RTP requires."""
        if not frame:
            raise RtpError("cannot packetize an empty frame")
        timestamp = timestamp_90k & _U32
        step = self.max_payload_bytes
        chunks = [frame[i : i + step] for i in range(0, len(frame), step)]
        packets = []
        for index, chunk in enumerate(chunks):
            packets.append(
                RtpPacket(
                    payload_type=self.payload_type,
                    sequence=self.next_sequence,
                    timestamp=timestamp,
                    ssrc=self.ssrc,
                    payload=bytes(chunk),
                    marker=index == len(chunks) - 1,
                )
            )
            self.next_sequence = (self.next_sequence + 1) & 0xFFFF
        return packets


def frame_rfc4571(packet: bytes) -> bytes:
    """Prefix one RTP (or RTCP) packet with its 2-byte big-endian length for a TCP stream."""
    if not packet:
        raise RtpError("RFC 4571 cannot frame an empty packet")
    if len(packet) > MAX_RTP_PACKET_BYTES:
        raise RtpError(f"packet of {len(packet)} bytes does not fit a 16-bit RFC 4571 length")
    return struct.pack("!H", len(packet)) + packet


class Rfc4571Deframer:
    """Turns a TCP byte stream, split anywhere, back into packets (RFC 4571 §2).

    A zero or over-long length means the stream is out of step; nothing after it can be
    trusted, so the deframer stays failed and the caller should drop the connection.
    """

    def __init__(self, max_packet_bytes: int = MAX_RTP_PACKET_BYTES) -> None:
        if not 1 <= max_packet_bytes <= MAX_RTP_PACKET_BYTES:
            raise RtpError(f"max packet size must be 1-{MAX_RTP_PACKET_BYTES} bytes")
        self._max_packet_bytes = max_packet_bytes
        self._buffer = bytearray()
        self._error: RtpError | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes held for an unfinished packet; never more than 2 + max_packet_bytes."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Take the next bytes from the stream; return every packet they complete."""
        if self._error is not None:
            raise self._error
        view = memoryview(data)
        packets: list[bytes] = []
        position = 0
        while position < len(view):
            if len(self._buffer) < 2:
                take = min(2 - len(self._buffer), len(view) - position)
                self._buffer += view[position : position + take]
                position += take
                if len(self._buffer) < 2:
                    break
                length = int.from_bytes(self._buffer[:2], "big")
                if length == 0:
                    self._error = RtpError("RFC 4571 length of 0: the stream is out of step")
                    raise self._error
                if length > self._max_packet_bytes:
                    self._error = RtpError(f"RFC 4571 length {length} exceeds the {self._max_packet_bytes}-byte bound")
                    raise self._error
            length = int.from_bytes(self._buffer[:2], "big")
            need = 2 + length - len(self._buffer)
            take = min(need, len(view) - position)
            self._buffer += view[position : position + take]
            position += take
            if take == need:
                packets.append(bytes(self._buffer[2:]))
                self._buffer.clear()
        return packets
