"""What a simulated RTSP camera shows on each path: synthetic H.264/H.265 or a file, every picture numbered.

Each picture carries its frame number in an SEI user-data-unregistered message (ITU-T H.264 D.2.7 / H.265
D.2.7) under our own UUID, so a client can check that pictures arrive complete and in order without OCR;
decoders ignore it. The encoders are the GB simulator's (tianyan.sim.video), shared through its Streamer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from tianyan.media.nal import H264_SEI, H265_PREFIX_SEI, nal_type, parameter_sets, split_nal_units
from tianyan.media.ps import StreamType, VideoAccessUnit
from tianyan.media.units import VideoCodec
from tianyan.sim.gb28181.profile import VideoSettings, beijing_now
from tianyan.sim.gb28181.streamer import Source, SourceSpec
from tianyan.sim.video import CLOCK_90K, SIZES, FileVideo, SyntheticVideo

# 16 bytes, none of them zero, so the SEI payload never needs emulation prevention.
FRAME_UUID = b"TianyanSimFrame#"
_FRAME_DIGITS = 10
_FRAME_PATTERN = re.compile(re.escape(FRAME_UUID) + rb"(\d{%d})" % _FRAME_DIGITS)
_USER_DATA_UNREGISTERED = 5


class SyntheticHevcVideo(SyntheticVideo):
    """SyntheticVideo's picture encoded with libx265 instead: same GOP, no B-frames, VPS/SPS/PPS on keyframes."""

    codec = "h265"
    stream_type = StreamType.H265

    def _open_encoder(self, threads: int) -> av.VideoCodecContext:
        encoder = av.CodecContext.create("libx265", "w")
        encoder.width, encoder.height = self.width, self.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, CLOCK_90K)
        encoder.framerate = Fraction(self.fps, 1)
        gop = self.fps * 2
        encoder.gop_size = gop
        encoder.max_b_frames = 0
        encoder.bit_rate = self.bitrate_bps
        encoder.thread_count = threads
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            # One frame thread and no pools: every picture comes straight back, as SyntheticVideo expects.
            "x265-params": f"log-level=error:keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:"
            "repeat-headers=1:frame-threads=1:pools=none",
        }
        encoder.open()
        return encoder


def _is_slice(kind: int, codec: VideoCodec) -> bool:
    return 1 <= kind <= 5 if codec is VideoCodec.H264 else kind <= 31


def sei_frame_number(codec: VideoCodec, number: int) -> bytes:
    """An SEI NAL unit (without start code) carrying `number` under FRAME_UUID."""
    payload = FRAME_UUID + b"%0*d" % (_FRAME_DIGITS, number % 10**_FRAME_DIGITS)
    header = bytes([H264_SEI]) if codec is VideoCodec.H264 else bytes([H265_PREFIX_SEI << 1, 1])
    return header + bytes([_USER_DATA_UNREGISTERED, len(payload)]) + payload + b"\x80"


def frame_number(data: bytes) -> int | None:
    """The frame number a simulated camera put in an access unit, or None."""
    match = _FRAME_PATTERN.search(data)
    return int(match.group(1)) if match else None


def numbered(codec: VideoCodec, source: Iterator[VideoAccessUnit]) -> Iterator[VideoAccessUnit]:
    """The source's units with a frame-number SEI before each picture's first slice."""
    for number, unit in enumerate(source):
        units = split_nal_units(unit.data)
        at = next((i for i, u in enumerate(units) if _is_slice(nal_type(u, codec), codec)), len(units))
        units.insert(at, sei_frame_number(codec, number))
        data = b"".join(b"\x00\x00\x00\x01" + u for u in units)
        yield VideoAccessUnit(data, unit.pts_90k, unit.keyframe, unit.dts_90k)


def _file_codec(video: FileVideo) -> VideoCodec:
    return VideoCodec.H264 if video.codec == "h264" else VideoCodec.H265


@dataclass(frozen=True)
class CameraPath:
    """One stream a camera offers (`/main`, `/sub`): its picture size and codec, or a file to loop."""

    name: str
    size: str = "720p"
    codec: VideoCodec = VideoCodec.H264
    fps: int = 25
    file: Path | None = None

    def __post_init__(self) -> None:
        if self.codec not in ("h264", "h265"):
            raise ValueError(f"codec must be h264 or h265, got {self.codec!r}")
        object.__setattr__(self, "codec", VideoCodec(self.codec))
        if not self.name or not re.fullmatch(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*", self.name):
            raise ValueError(f"path name must be letters, digits, '_', '-', '.' and '/', got {self.name!r}")
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {', '.join(SIZES)}, got {self.size!r}")


@dataclass(frozen=True)
class PathSource(SourceSpec):
    """The Streamer's recipe for one path's live picture: synthetic video of the path's codec, numbered."""

    codec: VideoCodec = VideoCodec.H264

    @classmethod
    def of(cls, path: CameraPath, label: str) -> PathSource:
        settings = VideoSettings(main_size=path.size, sub_size=path.size, fps=path.fps, file=path.file)
        return cls(f"{label} {path.name}", path.size, settings, path.codec)

    @property
    def key(self) -> tuple[str, str, str]:
        return (f"{self.label}|{self.codec}", self.size, str(self.video.file or ""))

    def open(self, *, recorded_at: object = None, start_s: float = 0.0) -> Source:
        """A new numbered source (blocking: call it in a worker thread)."""
        start_pts = round(start_s * CLOCK_90K)
        if self.video.file is not None:
            video = FileVideo(self.video.file, start_pts_90k=start_pts)
            return numbered(_file_codec(video), video)
        width, height = SIZES[self.size]
        kind = SyntheticVideo if self.codec is VideoCodec.H264 else SyntheticHevcVideo
        return numbered(self.codec, kind(width, height, self.video.fps, self.label, clock=beijing_now,
                                         start_pts_90k=start_pts))  # fmt: skip


@dataclass(frozen=True)
class PathFormat:
    """What DESCRIBE needs to know before any picture is sent: codec, parameter sets, size, rate."""

    codec: VideoCodec
    parameter_sets: dict[int, bytes]
    width: int
    height: int
    fps: float


def probe(source: PathSource) -> PathFormat:
    """Encode (or read) the first picture to learn the parameter sets; blocking, for a worker thread."""
    if source.video.file is not None:
        video = FileVideo(source.video.file)
        codec = _file_codec(video)
        first = next(video)
        return PathFormat(codec, parameter_sets(first.data, codec), video.width, video.height, video.fps)
    width, height = SIZES[source.size]
    kind = SyntheticVideo if source.codec is VideoCodec.H264 else SyntheticHevcVideo
    first = next(kind(width, height, source.video.fps, source.label))
    return PathFormat(source.codec, parameter_sets(first.data, source.codec), width, height, source.video.fps)
