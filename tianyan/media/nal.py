"""H.264 and H.265 NAL units in Annex B: splitting, types, keyframes, parameter sets and the picture size in an SPS.

Pure functions over bytes. Only what the ingest needs: enough of the SPS to know the picture size
(exp-Golomb fields, emulation-prevention bytes removed, cropping applied), and a cache that puts
parameter sets back in front of keyframes when a device sends them only once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tianyan.media.units import VideoCodec

START_CODE = b"\x00\x00\x01"

# H.264 nal_unit_type (ITU-T H.264 table 7-1).
H264_SLICE = 1
H264_IDR = 5
H264_SEI = 6
H264_SPS = 7
H264_PPS = 8
H264_AUD = 9
# H.265 nal_unit_type (ITU-T H.265 table 7-1).
H265_TRAIL_R = 1
H265_IRAP_FIRST = 16  # BLA_W_LP
H265_IRAP_LAST = 23  # the last reserved IRAP type
H265_VPS = 32
H265_SPS = 33
H265_PPS = 34
H265_AUD = 35
H265_PREFIX_SEI = 39

H264_PARAMETER_SETS = (H264_SPS, H264_PPS)
H265_PARAMETER_SETS = (H265_VPS, H265_SPS, H265_PPS)
# A parameter set longer than this is not one: no real SPS/PPS comes near it.
MAX_PARAMETER_SET_BYTES = 4096


class NalError(ValueError):
    """Bytes that are not the NAL unit or SPS they claim to be."""


def iter_nal_units(data: bytes | memoryview) -> Iterator[tuple[int, int]]:
    """(start, end) of each NAL unit's bytes after its start code; trailing zeros of 4-byte codes are trimmed."""
    data = bytes(data)
    find = data.find
    position = find(START_CODE)
    while position >= 0:
        start = position + 3
        following = find(START_CODE, start)
        end = len(data) if following < 0 else following
        # A 4-byte start code (or trailing_zero_8bits) leaves zeros at the end of the previous unit.
        while end > start and data[end - 1] == 0:
            end -= 1
        if end > start:
            yield start, end
        position = following


def split_nal_units(data: bytes | memoryview) -> list[bytes]:
    """The NAL units of an Annex B byte string, without start codes; bytes before the first start code are ignored."""
    raw = bytes(data)
    return [raw[start:end] for start, end in iter_nal_units(raw)]


def nal_type(nal: bytes, codec: VideoCodec) -> int:
    """nal_unit_type from a NAL unit's header (the bytes right after its start code)."""
    if not nal:
        raise NalError("empty NAL unit")
    if codec is VideoCodec.H264:
        return nal[0] & 0x1F
    return (nal[0] >> 1) & 0x3F


def nal_types(data: bytes, codec: VideoCodec) -> list[int]:
    """The types of every NAL unit in an Annex B access unit, in order."""
    if codec is VideoCodec.H264:
        return [data[start] & 0x1F for start, _ in iter_nal_units(data)]
    return [(data[start] >> 1) & 0x3F for start, _ in iter_nal_units(data)]


def is_keyframe_type(kind: int, codec: VideoCodec) -> bool:
    """An H.264 IDR slice, or an H.265 IRAP picture (BLA, IDR, CRA): decoding can start there."""
    if codec is VideoCodec.H264:
        return kind == H264_IDR
    return H265_IRAP_FIRST <= kind <= H265_IRAP_LAST


def is_keyframe(data: bytes, codec: VideoCodec) -> bool:
    """Whether an Annex B access unit holds a picture decoding can start from."""
    return any(is_keyframe_type(kind, codec) for kind in nal_types(data, codec))


def is_parameter_set_type(kind: int, codec: VideoCodec) -> bool:
    return kind in (H264_PARAMETER_SETS if codec is VideoCodec.H264 else H265_PARAMETER_SETS)


def starts_access_unit(nal: bytes | memoryview, codec: VideoCodec) -> bool:
    """Whether this NAL unit must be the first of a new access unit (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4).

    Delimiters, parameter sets and SEI come before the first slice of a picture; a slice starts a
    picture when it is the picture's first (first_mb_in_slice 0, or first_slice_segment_in_pic_flag).
    """
    if codec is VideoCodec.H264:
        if len(nal) < 2:
            return False
        kind = nal[0] & 0x1F
        if kind in (H264_AUD, H264_SPS, H264_PPS, H264_SEI):
            return True
        # first_mb_in_slice is ue(v): the value 0 is the single bit '1'.
        return kind in (H264_SLICE, H264_IDR) and bool(nal[1] & 0x80)
    if len(nal) < 3:
        return False
    kind = (nal[0] >> 1) & 0x3F
    if kind in (H265_AUD, H265_VPS, H265_SPS, H265_PPS, H265_PREFIX_SEI):
        return True
    return kind <= H265_IRAP_LAST and bool(nal[2] & 0x80)


# NAL headers that only one of the two codecs would write: used when no program stream map names the codec.
_H264_TYPES = frozenset({H264_SLICE, H264_IDR, H264_SEI, H264_SPS, H264_PPS, H264_AUD})
_H265_TYPES = frozenset({*range(10), *range(16, 22), H265_VPS, H265_SPS, H265_PPS, H265_AUD, H265_PREFIX_SEI})


def guess_codec(data: bytes) -> VideoCodec | None:
    """H.264 or H.265 from the NAL headers of some Annex B bytes; None while the bytes do not tell."""
    votes_264 = votes_265 = 0
    for start, end in iter_nal_units(data):
        first = data[start]
        kind_264 = first & 0x1F
        ref_idc = first >> 5
        # SPS, PPS and IDR are always reference data; SEI and delimiters never are.
        reference_ok = kind_264 == H264_SLICE or (kind_264 in (H264_SPS, H264_PPS, H264_IDR)) == (ref_idc != 0)
        if not first & 0x80 and kind_264 in _H264_TYPES and reference_ok:
            votes_264 += 1
        if end - start >= 2:
            second = data[start + 1]
            # H.265: forbidden bit and the high nuh_layer_id bit clear, layer 0, temporal id plus 1 non-zero.
            if not first & 0x81 and not second & 0xF8 and second & 0x07 and (first >> 1) & 0x3F in _H265_TYPES:
                votes_265 += 1
    if votes_264 > votes_265:
        return VideoCodec.H264
    if votes_265 > votes_264:
        return VideoCodec.H265
    return None


def remove_emulation_prevention(nal: bytes) -> bytes:
    """The RBSP of a NAL unit: every 0x03 that follows two zero bytes removed (H.264 §7.4.1)."""
    # Non-overlapping replacement is exactly the rule: after a removed 0x03 the zero count starts over.
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    """A big-endian bit reader over an RBSP, raising NalError when the fields run past its end."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._size = len(data) * 8
        self._position = 0

    def u(self, count: int) -> int:
        if count == 0:
            return 0
        end = self._position + count
        if end > self._size:
            raise NalError("SPS ends in the middle of a field")
        self._position = end
        return (self._value >> (self._size - end)) & ((1 << count) - 1)

    def skip(self, count: int) -> None:
        if self._position + count > self._size:
            raise NalError("SPS ends in the middle of a field")
        self._position += count

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise NalError("exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


@dataclass(frozen=True)
class PictureSize:
    width: int
    height: int


_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def _h264_skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def h264_sps_size(sps: bytes) -> PictureSize:
    """Width and height (after cropping) from an H.264 SPS NAL unit, header byte included (§7.3.2.1.1)."""
    if not sps or sps[0] & 0x1F != H264_SPS:
        raise NalError("not an H.264 SPS")
    bits = _Bits(remove_emulation_prevention(sps[1:]))
    profile = bits.u(8)
    bits.skip(16)  # constraint flags, reserved bits, level_idc
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    separate_planes = 0
    if profile in _H264_HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format > 3:
            raise NalError(f"chroma_format_idc {chroma_format} is out of range")
        if chroma_format == 3:
            separate_planes = bits.u(1)
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _h264_skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.skip(1)
        bits.se()
        bits.se()
        cycle = bits.ue()
        if cycle > 255:
            raise NalError(f"num_ref_frames_in_pic_order_cnt_cycle {cycle} is out of range")
        for _ in range(cycle):
            bits.se()
    elif poc_type != 2:
        raise NalError(f"pic_order_cnt_type {poc_type} is out of range")
    bits.ue()  # max_num_ref_frames
    bits.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_map_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.skip(1)  # mb_adaptive_frame_field_flag
    bits.skip(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = height_map_units * 16 * (2 - frame_mbs_only)
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        chroma_array_type = 0 if separate_planes else chroma_format
        sub_width, sub_height = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_array_type]
        unit_x = 1 if chroma_array_type == 0 else sub_width
        unit_y = (1 if chroma_array_type == 0 else sub_height) * (2 - frame_mbs_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    if width <= 0 or height <= 0:
        raise NalError(f"SPS crops the picture to {width}x{height}")
    return PictureSize(width, height)


def _h265_skip_profile_tier_level(bits: _Bits, max_sub_layers_minus1: int) -> None:
    bits.skip(88)  # general profile space, tier, profile idc, compatibility flags, constraint flags
    bits.skip(8)  # general_level_idc
    profile_present = []
    level_present = []
    for _ in range(max_sub_layers_minus1):
        profile_present.append(bits.u(1))
        level_present.append(bits.u(1))
    if max_sub_layers_minus1 > 0:
        bits.skip(2 * (8 - max_sub_layers_minus1))
    for index in range(max_sub_layers_minus1):
        if profile_present[index]:
            bits.skip(88)
        if level_present[index]:
            bits.skip(8)


def h265_sps_size(sps: bytes) -> PictureSize:
    """Width and height (after the conformance window) from an H.265 SPS NAL unit, 2-byte header included."""
    if len(sps) < 2 or (sps[0] >> 1) & 0x3F != H265_SPS:
        raise NalError("not an H.265 SPS")
    bits = _Bits(remove_emulation_prevention(sps[2:]))
    bits.skip(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = bits.u(3)
    if max_sub_layers_minus1 > 6:
        raise NalError(f"sps_max_sub_layers_minus1 {max_sub_layers_minus1} is out of range")
    bits.skip(1)  # sps_temporal_id_nesting_flag
    _h265_skip_profile_tier_level(bits, max_sub_layers_minus1)
    bits.ue()  # sps_seq_parameter_set_id
    chroma_format = bits.ue()
    if chroma_format > 3:
        raise NalError(f"chroma_format_idc {chroma_format} is out of range")
    separate_planes = bits.u(1) if chroma_format == 3 else 0
    width = bits.ue()
    height = bits.ue()
    if bits.u(1):  # conformance_window_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        chroma_array_type = 0 if separate_planes else chroma_format
        sub_width, sub_height = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_array_type]
        width -= sub_width * (left + right)
        height -= sub_height * (top + bottom)
    if width <= 0 or height <= 0:
        raise NalError(f"SPS gives a picture of {width}x{height}")
    return PictureSize(width, height)


def sps_size(sps: bytes, codec: VideoCodec) -> PictureSize:
    return h264_sps_size(sps) if codec is VideoCodec.H264 else h265_sps_size(sps)


def parameter_sets(data: bytes, codec: VideoCodec) -> dict[int, bytes]:
    """The parameter sets in an access unit by NAL type (the last of each type wins), without start codes."""
    found: dict[int, bytes] = {}
    for start, end in iter_nal_units(data):
        kind = nal_type(data[start : start + 1], codec)
        if is_parameter_set_type(kind, codec):
            found[kind] = data[start:end]
    return found


class ParameterSetCache:
    """Remembers a stream's latest parameter sets and puts them in front of keyframes that come without them.

    Some devices send SPS/PPS only with the first keyframe after the INVITE; a recording cut at a
    later keyframe, or a viewer joining there, cannot decode without them.
    """

    def __init__(self, codec: VideoCodec) -> None:
        self.codec = codec
        self._sets: dict[int, bytes] = {}
        self.repaired = 0

    @property
    def known(self) -> dict[int, bytes]:
        return dict(self._sets)

    def size(self) -> PictureSize | None:
        """The picture size from the cached SPS, or None without a usable one."""
        sps = self._sets.get(H264_SPS if self.codec is VideoCodec.H264 else H265_SPS)
        if sps is None:
            return None
        try:
            return sps_size(sps, self.codec)
        except NalError:
            return None

    def complete(self, data: bytes) -> bytes:
        """A keyframe access unit with every parameter set in front: learnt ones are kept, missing ones prepended."""
        codec = self.codec
        wanted = H264_PARAMETER_SETS if codec is VideoCodec.H264 else H265_PARAMETER_SETS
        present: set[int] = set()
        for start, end in iter_nal_units(data):
            kind = data[start] & 0x1F if codec is VideoCodec.H264 else (data[start] >> 1) & 0x3F
            if kind in wanted and end - start <= MAX_PARAMETER_SET_BYTES:
                self._sets[kind] = data[start:end]
                present.add(kind)
        if all(kind in present or kind not in self._sets for kind in wanted):
            return data
        self.repaired += 1
        # All of them in decoding order: a PPS put in front of the SPS it refers to would be refused.
        return b"".join(b"\x00\x00\x00\x01" + self._sets[kind] for kind in wanted if kind in self._sets) + data
