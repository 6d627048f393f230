"""RTP payload formats for video: H.264 (RFC 6184: single NAL unit, STAP-A, FU-A) and H.265 (RFC 7798: single, FU).

Packetisers turn one Annex B access unit into RTP packets sharing its timestamp, marker on the last; the
depacketisers undo it (the tests' reference receiver, and a check that what we send is what RFCs describe).
Pure: no sockets, no clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tianyan.media.nal import split_nal_units
from tianyan.media.rtp import DEFAULT_MAX_PAYLOAD_BYTES, RtpError, RtpPacket
from tianyan.media.units import VideoCodec

# Dynamic payload type both formats are announced with in the SDP.
VIDEO_PAYLOAD_TYPE = 96
H264_STAP_A, H264_FU_A = 24, 28
H265_AP, H265_FU = 48, 49
_U32 = 0xFFFFFFFF


@dataclass
class VideoPacketizer:
    """One RTP stream's numbering and the payload format of its codec.

    `aggregate` packs runs of small NAL units (parameter sets, SEI) into one STAP-A packet (H.264 only)."""

    codec: VideoCodec
    ssrc: int
    next_sequence: int = 0
    payload_type: int = VIDEO_PAYLOAD_TYPE
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    aggregate: bool = True

    def __post_init__(self) -> None:
        if self.codec not in (VideoCodec.H264, VideoCodec.H265):
            raise RtpError(f"no RTP payload format for codec {self.codec!r}")
        self.codec = VideoCodec(self.codec)
        if not 16 <= self.max_payload_bytes <= 0xFFFF - 12:
            raise RtpError(f"max payload must be 16-{0xFFFF - 12} bytes, got {self.max_payload_bytes}")
        self.next_sequence &= 0xFFFF

    def payloads(self, access_unit: bytes) -> list[bytes]:
        """The RTP payloads for one Annex B access unit, in sending order."""
        units = split_nal_units(access_unit)
        if not units:
            raise RtpError("an access unit with no NAL units cannot be sent")
        payloads: list[bytes] = []
        pending: list[bytes] = []  # small units waiting to be aggregated
        for unit in units:
            if self.codec is VideoCodec.H264 and self.aggregate and self._fits_aggregate(pending, unit):
                pending.append(unit)
                continue
            payloads.extend(self._flush(pending))
            pending = []
            if len(unit) <= self.max_payload_bytes:
                if self.codec is VideoCodec.H264 and self.aggregate and self._fits_aggregate([], unit):
                    pending.append(unit)
                else:
                    payloads.append(unit)
            else:
                payloads.extend(self._fragment(unit))
        payloads.extend(self._flush(pending))
        return payloads

    def packetize(self, access_unit: bytes, timestamp: int) -> list[RtpPacket]:
        payloads = self.payloads(access_unit)
        packets = []
        for index, payload in enumerate(payloads):
            packets.append(
                RtpPacket(
                    payload_type=self.payload_type,
                    sequence=self.next_sequence,
                    timestamp=timestamp & _U32,
                    ssrc=self.ssrc,
                    payload=payload,
                    marker=index == len(payloads) - 1,
                )
            )
            self.next_sequence = (self.next_sequence + 1) & 0xFFFF
        return packets

    def _fits_aggregate(self, pending: list[bytes], unit: bytes) -> bool:
        # Only units small enough to be worth it; the whole STAP-A (1 + (2 + size) each) must fit one packet.
        if len(unit) > 256:
            return False
        size = 1 + sum(2 + len(u) for u in pending) + 2 + len(unit)
        return size <= self.max_payload_bytes

    def _flush(self, pending: list[bytes]) -> list[bytes]:
        if not pending:
            return []
        if len(pending) == 1:
            return [pending[0]]
        # F is the OR of the units' F bits, NRI their maximum (RFC 6184 §5.7.1).
        forbidden = max(u[0] & 0x80 for u in pending)
        nri = max(u[0] & 0x60 for u in pending)
        body = b"".join(len(u).to_bytes(2, "big") + u for u in pending)
        return [bytes([forbidden | nri | H264_STAP_A]) + body]

    def _fragment(self, unit: bytes) -> list[bytes]:
        if self.codec is VideoCodec.H264:
            header_size = 1
            indicator = bytes([(unit[0] & 0xE0) | H264_FU_A])
            original_type = unit[0] & 0x1F
        else:
            header_size = 2
            indicator = bytes([(unit[0] & 0x81) | (H265_FU << 1), unit[1]])
            original_type = (unit[0] >> 1) & 0x3F
        body = unit[header_size:]
        step = self.max_payload_bytes - header_size - 1
        chunks = [body[i : i + step] for i in range(0, len(body), step)]
        out = []
        for index, chunk in enumerate(chunks):
            flags = (0x80 if index == 0 else 0) | (0x40 if index == len(chunks) - 1 else 0)
            fu_header = flags | original_type
            out.append(indicator + bytes([fu_header]) + chunk)
        return out


@dataclass
class VideoDepacketizer:
    """Reassembles access units from RTP packets in order; a lost packet drops the picture it belonged to."""

    codec: VideoCodec
    _units: list[bytes] = field(default_factory=list)
    _fragment: bytearray | None = None
    _timestamp: int | None = None
    _expected_sequence: int | None = None
    _damaged: bool = False

    def push(self, packet: RtpPacket) -> tuple[bytes, int] | None:
        """Take the next packet; return (Annex B access unit, RTP timestamp) when its last packet arrived."""
        if self._expected_sequence is not None and packet.sequence != self._expected_sequence:
            self._damaged = True
        self._expected_sequence = (packet.sequence + 1) & 0xFFFF
        if self._timestamp is not None and packet.timestamp != self._timestamp:
            self._reset()  # the previous picture never got its marker
        self._timestamp = packet.timestamp
        try:
            self._take(packet.payload)
        except RtpError:
            self._damaged = True
        if not packet.marker:
            return None
        units, damaged, timestamp = self._units, self._damaged, packet.timestamp
        self._reset()
        if damaged or not units:
            return None
        return b"".join(b"\x00\x00\x00\x01" + unit for unit in units), timestamp

    def _reset(self) -> None:
        self._units, self._fragment, self._timestamp, self._damaged = [], None, None, False

    def _take(self, payload: bytes) -> None:
        header_size = 1 if self.codec is VideoCodec.H264 else 2
        if len(payload) < header_size + (1 if self._is_fragment(payload) else 0):
            raise RtpError("payload shorter than its header")
        kind = payload[0] & 0x1F if self.codec is VideoCodec.H264 else (payload[0] >> 1) & 0x3F
        if self.codec is VideoCodec.H264 and kind == H264_STAP_A:
            self._units.extend(_split_aggregate(payload[1:]))
        elif self.codec is VideoCodec.H265 and kind == H265_AP:
            self._units.extend(_split_aggregate(payload[2:]))
        elif self._is_fragment(payload):
            self._take_fragment(payload, header_size)
        else:
            self._units.append(bytes(payload))

    def _is_fragment(self, payload: bytes) -> bool:
        if not payload:
            return False
        if self.codec is VideoCodec.H264:
            return payload[0] & 0x1F == H264_FU_A
        return (payload[0] >> 1) & 0x3F == H265_FU

    def _take_fragment(self, payload: bytes, header_size: int) -> None:
        fu_header = payload[header_size]
        start, end = bool(fu_header & 0x80), bool(fu_header & 0x40)
        if start:
            if self.codec is VideoCodec.H264:
                first = bytes([(payload[0] & 0xE0) | (fu_header & 0x1F)])
            else:
                first = bytes([(payload[0] & 0x81) | ((fu_header & 0x3F) << 1), payload[1]])
            self._fragment = bytearray(first)
        elif self._fragment is None:
            raise RtpError("a fragment without its start")
        self._fragment += payload[header_size + 1 :]
        if end:
            self._units.append(bytes(self._fragment))
            self._fragment = None


def _split_aggregate(body: bytes) -> list[bytes]:
    units = []
    offset = 0
    while offset < len(body):
        if offset + 2 > len(body):
            raise RtpError("aggregation packet cut inside a size field")
        size = int.from_bytes(body[offset : offset + 2], "big")
        offset += 2
        if size == 0 or offset + size > len(body):
            raise RtpError("aggregation packet with a bad unit size")
        units.append(bytes(body[offset : offset + size]))
        offset += size
    return units
