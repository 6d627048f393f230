"""What an RTSP pull does to each demuxed packet (pure): Annex B video with its parameter sets, ADTS AAC, 90 kHz times.

FFmpeg may keep H.264/H.265 parameter sets only in avcC/hvcC extradata (from the SDP's sprop-parameter-sets) and
hand over length-prefixed NAL units and raw AAC frames; the media plane wants Annex B with the sets in front of
every keyframe, ADTS-framed AAC, and a 90 kHz clock that never runs backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from tianyan.media.bitstream import AAC_SAMPLE_RATES, adts_sync
from tianyan.media.nal import ParameterSetCache, is_keyframe
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec

CLOCK_90K = 90_000
VIDEO_CODECS = {"h264": VideoCodec.H264, "hevc": VideoCodec.H265}
AUDIO_CODECS = {"aac": AudioCodec.AAC, "pcm_alaw": AudioCodec.G711A, "pcm_mulaw": AudioCodec.G711U}
# A step back in decode time larger than this is a camera clock reset, not jitter: the timeline is re-anchored.
_DEFAULT_FRAME_90K = 3600


# Video: extradata and length-prefixed NAL units.


def _length_prefixed_config(extradata: bytes, codec: VideoCodec) -> tuple[int, list[bytes]] | None:
    """(NAL length size, parameter sets) from avcC/hvcC extradata; None when it is Annex B or unreadable."""
    if not extradata or extradata[0] != 1:
        return None
    try:
        if codec is VideoCodec.H264:
            # avcC: 5 header bytes, then a 5-bit SPS count and the SPSs, an 8-bit PPS count and the PPSs.
            length_size = (extradata[4] & 0x03) + 1
            units: list[bytes] = []
            offset = 5
            for count_mask in (0x1F, 0xFF):
                count = extradata[offset] & count_mask
                offset += 1
                for _ in range(count):
                    size = int.from_bytes(extradata[offset : offset + 2], "big")
                    units.append(extradata[offset + 2 : offset + 2 + size])
                    offset += 2 + size
            return length_size, units
        # hvcC: 22 header bytes, then arrays of (type, count, units).
        length_size = (extradata[21] & 0x03) + 1
        units = []
        offset = 23
        for _ in range(extradata[22]):
            count = int.from_bytes(extradata[offset + 1 : offset + 3], "big")
            offset += 3
            for _ in range(count):
                size = int.from_bytes(extradata[offset : offset + 2], "big")
                units.append(extradata[offset + 2 : offset + 2 + size])
                offset += 2 + size
        return length_size, units
    except IndexError:
        return None


def length_prefixed_to_annexb(data: bytes, length_size: int) -> bytes:
    """Length-prefixed NAL units (MP4 style) as Annex B; a unit running past the end is cut off."""
    out = bytearray()
    offset = 0
    while offset + length_size <= len(data):
        size = int.from_bytes(data[offset : offset + length_size], "big")
        offset += length_size
        if size == 0:
            continue
        out += b"\x00\x00\x00\x01" + data[offset : offset + size]
        offset += size
    return bytes(out)


# Audio: AAC gets the ADTS header the media plane expects.


@dataclass(frozen=True)
class AacConfig:
    object_type: int
    rate_index: int
    channels: int

    @classmethod
    def of(cls, extradata: bytes | None, sample_rate: int, channels: int) -> AacConfig:
        """From the AudioSpecificConfig (SDP config=…), or the decoder's rate and layout without one."""
        if extradata and len(extradata) >= 2:
            object_type = extradata[0] >> 3
            rate_index = ((extradata[0] & 0x07) << 1) | (extradata[1] >> 7)
            channel_config = (extradata[1] >> 3) & 0x0F
            if rate_index < len(AAC_SAMPLE_RATES) and 1 <= object_type <= 31:
                return cls(object_type, rate_index, channel_config)
        rate_index = (
            AAC_SAMPLE_RATES.index(sample_rate) if sample_rate in AAC_SAMPLE_RATES else AAC_SAMPLE_RATES.index(8000)
        )
        return cls(2, rate_index, max(1, min(7, channels)))

    def adts(self, raw: bytes) -> bytes:
        """One raw AAC frame behind a 7-byte ADTS header (ISO/IEC 13818-7 §6.2, no CRC)."""
        size = 7 + len(raw)
        if size > 0x1FFF:
            raise ValueError(f"an AAC frame of {len(raw)} bytes does not fit ADTS")
        # ADTS has two bits for the profile: HE-AAC and others are signalled as LC with implicit SBR.
        profile = (self.object_type - 1) if 1 <= self.object_type <= 4 else 1
        header = bytes(
            [
                0xFF,
                0xF1,
                (profile << 6) | (self.rate_index << 2) | ((self.channels >> 2) & 0x01),
                ((self.channels & 0x03) << 6) | ((size >> 11) & 0x03),
                (size >> 3) & 0xFF,
                ((size & 0x07) << 5) | 0x1F,
                0xFC,
            ]
        )
        return header + raw


class Timeline:
    """Demuxer times on the 90 kHz clock, kept from running backwards.

    FFmpeg unwraps RTP timestamps already; what is left is a camera restarting its clock, or the switch to
    RTCP-synchronised times when the first sender report arrives. Decode time steps back → the timeline is
    shifted so that picture follows the last one by a frame. Forward jumps are left alone (the sink sees a
    discontinuity, which is what it is)."""

    def __init__(self) -> None:
        self.offset = 0
        self.last_dts: int | None = None
        self.step = _DEFAULT_FRAME_90K
        self.corrections = 0

    @staticmethod
    def to_90k(value: int, time_base: Fraction) -> int:
        return round(value * time_base * CLOCK_90K)

    def video(self, pts: int | None, dts: int | None, time_base: Fraction) -> tuple[int, int | None]:
        """(pts_90k, dts_90k or None when equal to the pts) for one picture."""
        if pts is None and dts is None:
            base = (self.last_dts if self.last_dts is not None else 0) + self.step
            raw_pts = raw_dts = base - self.offset
        else:
            raw_pts = self.to_90k(pts if pts is not None else dts, time_base)  # type: ignore[arg-type]
            raw_dts = self.to_90k(dts if dts is not None else pts, time_base)  # type: ignore[arg-type]
        decode = raw_dts + self.offset
        if self.last_dts is not None:
            if decode <= self.last_dts:
                self.offset += self.last_dts + self.step - decode
                self.corrections += 1
                decode = raw_dts + self.offset
            else:
                self.step = min(decode - self.last_dts, CLOCK_90K)
        self.last_dts = decode
        present = max(raw_pts + self.offset, decode)
        return present, (decode if decode != present else None)

    def audio(self, pts: int | None, time_base: Fraction) -> int | None:
        if pts is None:
            return None
        return self.to_90k(pts, time_base) + self.offset


class PacketConverter:
    """Turns one RTSP session's demuxed packets into units; pure apart from reading the PyAV packet fields."""

    def __init__(self, video: Any, audio: Any | None) -> None:
        self.video_stream, self.audio_stream = video, audio
        self.video_codec = VIDEO_CODECS[video.codec_context.name]
        self.parameter_sets = ParameterSetCache(self.video_codec)
        self.length_size: int | None = None
        extradata = bytes(video.codec_context.extradata or b"")
        config = _length_prefixed_config(extradata, self.video_codec)
        if config is not None:
            self.length_size = config[0]
            self.parameter_sets.complete(b"".join(b"\x00\x00\x00\x01" + u for u in config[1]))
        elif extradata:
            self.parameter_sets.complete(extradata)  # learns the sets; the result is not a picture
        self.timeline = Timeline()
        self.audio_codec: AudioCodec | None = None
        self.aac: AacConfig | None = None
        if audio is not None:
            self.audio_codec = AUDIO_CODECS[audio.codec_context.name]
            if self.audio_codec is AudioCodec.AAC:
                context = audio.codec_context
                channels = getattr(context.layout, "nb_channels", 1) if context.layout else 1
                self.aac = AacConfig.of(context.extradata, context.sample_rate or 8000, channels)

    def video(self, data: bytes, pts: int | None, dts: int | None, time_base: Fraction,
              flagged_key: bool) -> VideoAccessUnit | None:  # fmt: skip
        if self.length_size is not None and not data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
            data = length_prefixed_to_annexb(data, self.length_size)
        if not data:
            return None
        annexb = data.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"))
        # FFmpeg's key flag is only the fallback: the NAL types say for sure.
        keyframe = is_keyframe(data, self.video_codec) if annexb else flagged_key
        if keyframe:
            data = self.parameter_sets.complete(data)
        pts_90k, dts_90k = self.timeline.video(pts, dts, time_base)
        return VideoAccessUnit(data, pts_90k, keyframe, dts_90k)

    def audio(self, data: bytes, pts: int | None, time_base: Fraction) -> AudioAccessUnit | None:
        pts_90k = self.timeline.audio(pts, time_base)
        if pts_90k is None or not data:
            return None
        if self.aac is not None and not adts_sync(data):
            data = self.aac.adts(data)
        return AudioAccessUnit(data, pts_90k)
