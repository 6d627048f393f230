"""What muxing needs to know of coded data without decoding it: a keyframe's video format, and ADTS headers.

The muxer needs the picture size for the MP4 sample entry and the recorder needs it to notice a resolution
change; both come from the sequence parameter set (read by `nal`, not by opening a decoder, which would cost
milliseconds a segment). MP4 keeps AAC's configuration once instead of an ADTS header on every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from tianyan.media.nal import H264_SPS, H265_SPS, NalError, parameter_sets, sps_size
from tianyan.media.units import VideoCodec

__all__ = [
    "AAC_SAMPLE_RATES",
    "AdtsHeader",
    "BitstreamError",
    "VideoFormat",
    "adts_sync",
    "parse_adts",
    "split_adts",
    "video_format",
]

AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


class BitstreamError(ValueError):
    """Coded data that cannot be what it claims to be."""


@dataclass(frozen=True)
class VideoFormat:
    """What a sample entry needs and what, when it changes, starts a new recording segment."""

    codec: VideoCodec
    width: int
    height: int
    parameter_sets: bytes  # Annex B, VPS/SPS/PPS in that order: what FFmpeg takes as extradata


def video_format(codec: VideoCodec, keyframe: bytes) -> VideoFormat:
    """Picture size and parameter sets from a keyframe's SPS; BitstreamError when it has none or it is corrupt."""
    sets = parameter_sets(keyframe, codec)
    sps = sets.get(H264_SPS if codec == VideoCodec.H264 else H265_SPS)
    if sps is None:
        raise BitstreamError(f"the keyframe carries no {codec.value} sequence parameter set")
    try:
        size = sps_size(sps, codec)
    except (NalError, IndexError) as exc:
        raise BitstreamError(f"unreadable sequence parameter set: {exc}") from exc
    if not (16 <= size.width <= 16384 and 16 <= size.height <= 16384):
        raise BitstreamError(f"sequence parameter set gives an impossible size {size.width}x{size.height}")
    # NAL type order is the order decoders want them in: VPS 32 < SPS 33 < PPS 34, SPS 7 < PPS 8.
    annex_b = b"".join(b"\x00\x00\x00\x01" + sets[kind] for kind in sorted(sets))
    return VideoFormat(codec, size.width, size.height, annex_b)


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


def adts_sync(data: bytes | bytearray | memoryview, offset: int = 0) -> bool:
    """Whether an ADTS header starts at `offset`: the 12-bit syncword and layer 0 (ISO/IEC 13818-7 §6.2)."""
    return len(data) - offset >= 2 and data[offset] == 0xFF and data[offset + 1] & 0xF6 == 0xF0


def parse_adts(data: bytes | bytearray | memoryview, offset: int = 0) -> AdtsHeader:
    if len(data) - offset < 7 or not adts_sync(data, offset):
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
