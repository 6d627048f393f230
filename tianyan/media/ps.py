"""MPEG-2 Program Stream (ISO/IEC 13818-1 §2.5) as GB/T 28181 carries it in RTP: shared syntax and the muxer.

One PS "frame" per access unit: a pack header; on video keyframes a system header and a
program stream map naming the codecs; then the access unit in PES packets, split where it
would not fit the 16-bit PES length (GB/T 28181-2016 appendix C). The constants and the
timestamp/CRC helpers here are the syntax a demuxer shares.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

PACK_START_CODE = b"\x00\x00\x01\xba"
SYSTEM_HEADER_START_CODE = b"\x00\x00\x01\xbb"
PROGRAM_STREAM_MAP_START_CODE = b"\x00\x00\x01\xbc"
PROGRAM_END_CODE = b"\x00\x00\x01\xb9"
PSM_STREAM_ID = 0xBC
VIDEO_STREAM_ID = 0xE0
AUDIO_STREAM_ID = 0xC0

PACK_HEADER_BYTES = 14
MAX_PACK_STUFFING_BYTES = 7
MAX_PES_PACKET_LENGTH = 0xFFFF
# The PES header after the length field: two flag bytes and PES_header_data_length.
PES_FIXED_HEADER_BYTES = 3
# Timestamps and the SCR base are 33-bit counts of a 90 kHz clock.
TIMESTAMP_MODULUS = 1 << 33
MAX_MUX_RATE_50BPS = (1 << 22) - 1
# 10 Mbit/s in the pack header's units of 50 bytes/s: above any GB camera's stream.
DEFAULT_MUX_RATE_50BPS = 25_000
# 1 s of 90 kHz clock: how often an audio-only stream repeats its system header and map.
_AUDIO_ONLY_HEADER_INTERVAL_90K = 90_000


class PsError(ValueError):
    """Input the muxer cannot turn into a valid program stream."""


class StreamType(IntEnum):
    """stream_type in the program stream map: ISO/IEC 13818-1 values plus GB/T 28181's audio and SVAC ones."""

    AAC = 0x0F  # ISO/IEC 13818-7 audio with ADTS
    MPEG4_VIDEO = 0x10
    H264 = 0x1B
    H265 = 0x24
    SVAC_VIDEO = 0x80
    G711A = 0x90
    G711U = 0x91
    G722_1 = 0x92
    G723_1 = 0x93
    G729 = 0x99
    SVAC_AUDIO = 0x9B

    @property
    def is_video(self) -> bool:
        return self in _VIDEO_TYPES


_VIDEO_TYPES = frozenset({StreamType.MPEG4_VIDEO, StreamType.H264, StreamType.H265, StreamType.SVAC_VIDEO})


@dataclass(frozen=True)
class VideoAccessUnit:
    """One coded picture in Annex B form (start codes, with SPS/PPS before keyframes) and its 90 kHz times."""

    data: bytes
    pts_90k: int
    keyframe: bool
    dts_90k: int | None = None


@dataclass(frozen=True)
class AudioAccessUnit:
    """One audio frame: G.711 samples, or an AAC frame with its ADTS header."""

    data: bytes
    pts_90k: int


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final XOR), as PSI sections use."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return crc


def encode_timestamp(prefix: int, value_90k: int) -> bytes:
    """A 5-byte PES PTS or DTS: 4-bit prefix (0b0010 PTS only, 0b0011 PTS of a pair, 0b0001 DTS), 33 bits, markers."""
    v = value_90k % TIMESTAMP_MODULUS
    return bytes(
        (
            (prefix << 4) | ((v >> 29) & 0x0E) | 0x01,
            (v >> 22) & 0xFF,
            ((v >> 14) & 0xFE) | 0x01,
            (v >> 7) & 0xFF,
            ((v << 1) & 0xFE) | 0x01,
        )
    )


def decode_timestamp(data: bytes) -> int:
    """The 33-bit value of a 5-byte PES PTS/DTS field; markers are not checked here."""
    if len(data) < 5:
        raise PsError(f"timestamp needs 5 bytes, got {len(data)}")
    return (
        ((data[0] >> 1) & 0x07) << 30
        | data[1] << 22
        | ((data[2] >> 1) & 0x7F) << 15
        | data[3] << 7
        | ((data[4] >> 1) & 0x7F)
    )


def encode_scr(base_90k: int, extension: int = 0) -> bytes:
    """The 6-byte MPEG-2 system clock reference: '01', 33-bit base, 9-bit 27 MHz extension, markers."""
    if not 0 <= extension < 300:
        raise PsError(f"SCR extension must be 0-299, got {extension}")
    b = base_90k % TIMESTAMP_MODULUS
    return bytes(
        (
            0x40 | ((b >> 27) & 0x38) | 0x04 | ((b >> 28) & 0x03),
            (b >> 20) & 0xFF,
            ((b >> 12) & 0xF8) | 0x04 | ((b >> 13) & 0x03),
            (b >> 5) & 0xFF,
            ((b << 3) & 0xF8) | 0x04 | ((extension >> 7) & 0x03),
            ((extension << 1) & 0xFE) | 0x01,
        )
    )


def decode_scr(data: bytes) -> tuple[int, int]:
    """(base_90k, extension) of a 6-byte MPEG-2 SCR."""
    if len(data) < 6:
        raise PsError(f"SCR needs 6 bytes, got {len(data)}")
    base = (
        ((data[0] >> 3) & 0x07) << 30
        | (data[0] & 0x03) << 28
        | data[1] << 20
        | ((data[2] >> 3) & 0x1F) << 15
        | (data[2] & 0x03) << 13
        | data[3] << 5
        | (data[4] >> 3) & 0x1F
    )
    extension = (data[4] & 0x03) << 7 | (data[5] >> 1)
    return base, extension


def pack_header(scr_90k: int, mux_rate_50bps: int = DEFAULT_MUX_RATE_50BPS, stuffing_bytes: int = 0) -> bytes:
    """The MPEG-2 pack header (ISO/IEC 13818-1 table 2-38): start code, SCR, mux rate, stuffing."""
    if not 1 <= mux_rate_50bps <= MAX_MUX_RATE_50BPS:
        raise PsError(f"mux rate must be 1-{MAX_MUX_RATE_50BPS} (units of 50 bytes/s), got {mux_rate_50bps}")
    if not 0 <= stuffing_bytes <= MAX_PACK_STUFFING_BYTES:
        raise PsError(f"pack stuffing must be 0-{MAX_PACK_STUFFING_BYTES} bytes, got {stuffing_bytes}")
    rate = bytes(((mux_rate_50bps >> 14) & 0xFF, (mux_rate_50bps >> 6) & 0xFF, ((mux_rate_50bps << 2) & 0xFC) | 0x03))
    return PACK_START_CODE + encode_scr(scr_90k) + rate + bytes((0xF8 | stuffing_bytes,)) + b"\xff" * stuffing_bytes


def system_header(stream_types: Iterable[StreamType], rate_bound_50bps: int = DEFAULT_MUX_RATE_50BPS) -> bytes:
    """The system header (table 2-40): rate bound, stream counts and a P-STD buffer bound per stream."""
    if not 1 <= rate_bound_50bps <= MAX_MUX_RATE_50BPS:
        raise PsError(f"rate bound must be 1-{MAX_MUX_RATE_50BPS}, got {rate_bound_50bps}")
    types = list(stream_types)
    video = sum(1 for t in types if t.is_video)
    audio = len(types) - video
    body = bytearray(
        (
            0x80 | ((rate_bound_50bps >> 15) & 0x7F),
            (rate_bound_50bps >> 7) & 0xFF,
            ((rate_bound_50bps << 1) & 0xFE) | 0x01,
            (audio & 0x3F) << 2,  # fixed_flag 0, CSPS_flag 0
            0xC0 | 0x20 | (video & 0x1F),  # audio and video locked to the SCR, marker
            0x7F,  # no packet-rate restriction, reserved bits
        )
    )
    for stream_type in types:
        if stream_type.is_video:
            # Bound scale 1 counts 1024-byte units: 512 KiB holds a 1080p keyframe.
            body += bytes((VIDEO_STREAM_ID, 0xE0 | (512 >> 8), 512 & 0xFF))
        else:
            # Bound scale 0 counts 128-byte units: 4 KiB for audio.
            body += bytes((AUDIO_STREAM_ID, 0xC0 | (32 >> 8), 32 & 0xFF))
    return SYSTEM_HEADER_START_CODE + len(body).to_bytes(2, "big") + bytes(body)


def program_stream_map(stream_types: Iterable[StreamType], version: int = 0) -> bytes:
    """The program stream map (table 2-41) naming each elementary stream's type, closed by its CRC-32."""
    if not 0 <= version <= 0x1F:
        raise PsError(f"map version must be 0-31, got {version}")
    entries = bytearray()
    for stream_type in stream_types:
        stream_id = VIDEO_STREAM_ID if stream_type.is_video else AUDIO_STREAM_ID
        entries += bytes((int(stream_type), stream_id, 0x00, 0x00))
    # current_next_indicator 1 + reserved, version; reserved + marker; no program descriptors.
    body = bytes((0xE0 | version, 0xFF, 0x00, 0x00)) + len(entries).to_bytes(2, "big") + bytes(entries)
    length = len(body) + 4  # the CRC counts in program_stream_map_length
    section = PROGRAM_STREAM_MAP_START_CODE + length.to_bytes(2, "big") + body
    return section + crc32_mpeg2(section).to_bytes(4, "big")


def pes_packets(
    stream_id: int,
    payload: bytes,
    pts_90k: int | None,
    dts_90k: int | None = None,
    max_payload_bytes: int = MAX_PES_PACKET_LENGTH,
) -> list[bytes]:
    """One access unit as PES packets (table 2-21); only the first carries PTS/DTS and data_alignment."""
    if not payload:
        raise PsError("a PES packet needs a payload")
    if dts_90k is not None and pts_90k is None:
        raise PsError("a DTS needs a PTS")
    if max_payload_bytes < 1:
        raise PsError(f"max PES payload must be positive, got {max_payload_bytes}")
    packets = []
    offset = 0
    first = True
    while offset < len(payload):
        if first and pts_90k is not None:
            if dts_90k is not None and dts_90k % TIMESTAMP_MODULUS != pts_90k % TIMESTAMP_MODULUS:
                flags, fields = 0xC0, encode_timestamp(0b0011, pts_90k) + encode_timestamp(0b0001, dts_90k)
            else:
                flags, fields = 0x80, encode_timestamp(0b0010, pts_90k)
        else:
            flags, fields = 0x00, b""
        room = MAX_PES_PACKET_LENGTH - PES_FIXED_HEADER_BYTES - len(fields)
        chunk = payload[offset : offset + min(room, max_payload_bytes)]
        offset += len(chunk)
        # '10' marker bits, then data_alignment_indicator on the packet where the access unit starts.
        first_flags = 0x84 if first else 0x80
        length = PES_FIXED_HEADER_BYTES + len(fields) + len(chunk)
        header = bytes((0x00, 0x00, 0x01, stream_id)) + length.to_bytes(2, "big")
        packets.append(header + bytes((first_flags, flags, len(fields))) + fields + chunk)
        first = False
    return packets


class PsMuxer:
    """Turns access units into GB/T 28181 PS frames, one per unit, ready for RtpPacketizer.

    Keeps only the little state a stream needs: whether the first frame went out, and for
    audio-only streams when the map was last repeated.
    """

    def __init__(
        self,
        *,
        video: StreamType | None = StreamType.H264,
        audio: StreamType | None = None,
        mux_rate_50bps: int = DEFAULT_MUX_RATE_50BPS,
        pack_stuffing_bytes: int = 0,
        max_pes_payload_bytes: int = MAX_PES_PACKET_LENGTH,
    ) -> None:
        if video is None and audio is None:
            raise PsError("a program stream needs a video or an audio stream")
        if video is not None and not video.is_video:
            raise PsError(f"{video.name} is not a video stream type")
        if audio is not None and audio.is_video:
            raise PsError(f"{audio.name} is not an audio stream type")
        pack_header(0, mux_rate_50bps, pack_stuffing_bytes)  # validates both
        if max_pes_payload_bytes < 1:
            raise PsError(f"max PES payload must be positive, got {max_pes_payload_bytes}")
        self._video = video
        self._audio = audio
        self._mux_rate = mux_rate_50bps
        self._stuffing = pack_stuffing_bytes
        self._max_pes_payload = max_pes_payload_bytes
        types = [t for t in (video, audio) if t is not None]
        self._headers = system_header(types, mux_rate_50bps) + program_stream_map(types)
        self._sent_headers = False
        self._last_headers_90k: int | None = None

    @property
    def stream_types(self) -> tuple[StreamType, ...]:
        return tuple(t for t in (self._video, self._audio) if t is not None)

    def mux_video(self, unit: VideoAccessUnit) -> bytes:
        if self._video is None:
            raise PsError("this muxer has no video stream")
        _check_times(unit.pts_90k, unit.dts_90k)
        # Receivers can only start decoding at a keyframe, and need the map to know the codec there.
        with_headers = unit.keyframe or not self._sent_headers
        decode_90k = unit.dts_90k if unit.dts_90k is not None else unit.pts_90k
        return self._frame(VIDEO_STREAM_ID, unit.data, unit.pts_90k, unit.dts_90k, decode_90k, with_headers)

    def mux_audio(self, unit: AudioAccessUnit) -> bytes:
        if self._audio is None:
            raise PsError("this muxer has no audio stream")
        _check_times(unit.pts_90k, None)
        with_headers = not self._sent_headers
        if self._video is None and self._last_headers_90k is not None:
            since_90k = (unit.pts_90k - self._last_headers_90k) % TIMESTAMP_MODULUS
            with_headers = since_90k >= _AUDIO_ONLY_HEADER_INTERVAL_90K
        frame = self._frame(AUDIO_STREAM_ID, unit.data, unit.pts_90k, None, unit.pts_90k, with_headers)
        if with_headers:
            self._last_headers_90k = unit.pts_90k
        return frame

    def _frame(
        self, stream_id: int, data: bytes, pts_90k: int, dts_90k: int | None, decode_90k: int, with_headers: bool
    ) -> bytes:
        if not data:
            raise PsError("an access unit needs data")
        # The SCR says when the pack arrives; stamping it with the decode time keeps it at or before the DTS.
        parts = [pack_header(decode_90k, self._mux_rate, self._stuffing)]
        if with_headers:
            parts.append(self._headers)
            self._sent_headers = True
        parts.extend(pes_packets(stream_id, bytes(data), pts_90k, dts_90k, self._max_pes_payload))
        return b"".join(parts)


def _check_times(pts_90k: int, dts_90k: int | None) -> None:
    if isinstance(pts_90k, bool) or not isinstance(pts_90k, int) or pts_90k < 0:
        raise PsError(f"PTS must be a non-negative integer of 90 kHz ticks, got {pts_90k!r}")
    if dts_90k is not None and (isinstance(dts_90k, bool) or not isinstance(dts_90k, int) or dts_90k < 0):
        raise PsError(f"DTS must be a non-negative integer of 90 kHz ticks, got {dts_90k!r}")
