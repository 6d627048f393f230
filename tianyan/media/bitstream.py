"""Just enough H.264/H.265/AAC syntax to mux without decoding: NAL units, picture size from the SPS, ADTS headers.

Pure functions over bytes. The muxer needs the picture size for the MP4 sample entry and the recorder needs it
to notice a resolution change; both come from the sequence parameter set, read here with an Exp-Golomb reader
rather than by opening a decoder (which would cost milliseconds a segment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tianyan.media.units import VideoCodec

__all__ = [
    "AdtsHeader",
    "BitstreamError",
    "VideoFormat",
    "nal_type",
    "nal_units",
    "parameter_sets",
    "parse_adts",
    "split_adts",
    "video_format",
]

_START = re.compile(b"\x00\x00\x01")
_EMULATION = re.compile(b"\x00\x00\x03")
H264_SPS, H264_PPS = 7, 8
HEVC_VPS, HEVC_SPS, HEVC_PPS = 32, 33, 34
_PARAMETER_SETS = {VideoCodec.H264: (H264_SPS, H264_PPS), VideoCodec.H265: (HEVC_VPS, HEVC_SPS, HEVC_PPS)}
AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


class BitstreamError(ValueError):
    """Coded data that cannot be what it claims to be."""


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B access unit, without start codes (trailing zero bytes trimmed)."""
    starts = [m.end() for m in _START.finditer(data)]
    units = []
    for index, start in enumerate(starts):
        end = starts[index + 1] - 3 if index + 1 < len(starts) else len(data)
        unit = data[start:end].rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def nal_type(codec: VideoCodec, unit: bytes) -> int:
    return unit[0] & 0x1F if codec == VideoCodec.H264 else (unit[0] >> 1) & 0x3F


def parameter_sets(codec: VideoCodec, data: bytes) -> bytes:
    """The VPS/SPS/PPS at the front of a keyframe, as Annex B (what FFmpeg takes as extradata)."""
    wanted = _PARAMETER_SETS[codec]
    return b"".join(b"\x00\x00\x00\x01" + u for u in nal_units(data) if nal_type(codec, u) in wanted)


class _Bits:
    """MSB-first bit reader over an RBSP (emulation prevention bytes already removed)."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def u(self, count: int) -> int:
        if count > self._left:
            raise BitstreamError("parameter set ends early")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("Exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value & 1 else -(value // 2)


def _rbsp(unit: bytes, header: int) -> bytes:
    return _EMULATION.sub(b"\x00\x00", unit[header:])


@dataclass(frozen=True)
class VideoFormat:
    """What a sample entry needs and what, when it changes, starts a new recording segment."""

    codec: VideoCodec
    width: int
    height: int
    parameter_sets: bytes


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


def _h264_size(sps: bytes) -> tuple[int, int]:
    bits = _Bits(_rbsp(sps, 1))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma_format = bits.ue()
        if chroma_format == 3:
            bits.u(1)
        bits.ue()
        bits.ue()
        bits.u(1)
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)
    bits.u(1)  # direct_8x8_inference_flag
    width, height = width_mbs * 16, (2 - frame_mbs_only) * height_units * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        unit_x = 1 if chroma_format in (0, 3) else 2
        unit_y = (2 - frame_mbs_only) * (2 if chroma_format == 1 else 1)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    return width, height


def _hevc_size(sps: bytes) -> tuple[int, int]:
    bits = _Bits(_rbsp(sps, 2))
    bits.u(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)
    bits.u(1)
    bits.u(96)  # general profile_tier_level: 88 bits of profile, 8 of level
    present = [(bits.u(1), bits.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        bits.u(2 * (8 - sub_layers))
    for profile_present, level_present in present:
        bits.u(88 * profile_present + 8 * level_present)
    bits.ue()  # sps_seq_parameter_set_id
    chroma_format = bits.ue()
    if chroma_format == 3:
        bits.u(1)
    width, height = bits.ue(), bits.ue()
    if bits.u(1):  # conformance_window_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        unit_x = 2 if chroma_format in (1, 2) else 1
        unit_y = 2 if chroma_format == 1 else 1
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    return width, height


def video_format(codec: VideoCodec, keyframe: bytes) -> VideoFormat:
    """Picture size and parameter sets from a keyframe's SPS; BitstreamError when it has none or it is corrupt."""
    units = nal_units(keyframe)
    sps_type = H264_SPS if codec == VideoCodec.H264 else HEVC_SPS
    sps = next((u for u in units if nal_type(codec, u) == sps_type), None)
    if sps is None:
        raise BitstreamError(f"the keyframe carries no {codec.value} sequence parameter set")
    try:
        width, height = _h264_size(sps) if codec == VideoCodec.H264 else _hevc_size(sps)
    except IndexError as exc:
        raise BitstreamError("sequence parameter set ends early") from exc
    if not (16 <= width <= 16384 and 16 <= height <= 16384):
        raise BitstreamError(f"sequence parameter set gives an impossible size {width}x{height}")
    wanted = _PARAMETER_SETS[codec]
    sets = b"".join(b"\x00\x00\x00\x01" + u for u in units if nal_type(codec, u) in wanted)
    return VideoFormat(codec, width, height, sets)


@dataclass(frozen=True)
class AdtsHeader:
    object_type: int  # 2 = AAC LC
    sample_rate_index: int
    channels: int
    header_size: int  # 7, or 9 with a CRC
    frame_size: int  # header included
    blocks: int  # raw data blocks in the frame, 1024 samples each

    @property
    def sample_rate(self) -> int:
        return AAC_SAMPLE_RATES[self.sample_rate_index]

    @property
    def samples(self) -> int:
        return 1024 * self.blocks

    def audio_specific_config(self) -> bytes:
        """The two-byte AudioSpecificConfig MP4 keeps in its esds instead of a header on every frame."""
        value = (self.object_type << 11) | (self.sample_rate_index << 7) | (self.channels << 3)
        return value.to_bytes(2, "big")


def parse_adts(data: bytes, offset: int = 0) -> AdtsHeader:
    if len(data) - offset < 7 or data[offset] != 0xFF or data[offset + 1] & 0xF0 != 0xF0:
        raise BitstreamError("not an ADTS frame (no sync word)")
    b = data[offset : offset + 7]
    rate_index = (b[2] >> 2) & 0x0F
    if rate_index >= len(AAC_SAMPLE_RATES):
        raise BitstreamError(f"ADTS sampling frequency index {rate_index} is reserved")
    channels = ((b[2] & 0x01) << 2) | (b[3] >> 6)
    header_size = 7 if b[1] & 0x01 else 9
    frame_size = ((b[3] & 0x03) << 11) | (b[4] << 3) | (b[5] >> 5)
    if frame_size <= header_size:
        raise BitstreamError(f"ADTS frame of {frame_size} bytes is shorter than its header")
    return AdtsHeader((b[2] >> 6) + 1, rate_index, channels, header_size, frame_size, (b[6] & 0x03) + 1)


def split_adts(data: bytes) -> list[tuple[AdtsHeader, bytes]]:
    """Each ADTS frame in `data` with its raw payload (header stripped); a torn last frame is dropped."""
    frames = []
    offset = 0
    while offset < len(data):
        header = parse_adts(data, offset)
        if offset + header.frame_size > len(data):
            break
        frames.append((header, data[offset + header.header_size : offset + header.frame_size]))
        offset += header.frame_size
    return frames
