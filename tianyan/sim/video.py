"""Video sources for the simulated GB/T 28181 devices: a synthetic H.264 picture, or a file's packets looped.

Both are plain iterators of VideoAccessUnit (Annex B bytes, 90 kHz PTS, keyframe flag). They
do CPU work (encoding, demuxing) and never pace themselves: run them in a thread and let the
caller send at the frame rate, so no event loop ever waits on an encoder.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from datetime import datetime
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from tianyan.media.ps import StreamType, VideoAccessUnit
from tianyan.sim import video_faults
from tianyan.sim.vqd_scenes import make_world

CLOCK_90K = 90_000
# Main stream, D1/4CIF sub stream, CIF third stream: what GB cameras offer.
SIZES: dict[str, tuple[int, int]] = {"1080p": (1920, 1080), "720p": (1280, 720), "4cif": (704, 576), "cif": (352, 288)}
# Bits per pixel per frame that gives a clean picture for this content at ultrafast: 4 Mbit/s at 1080p25.
_BITS_PER_PIXEL = 0.08
_MIN_BITRATE_BPS = 128_000
_GOP_SECONDS = 2


class SyntheticVideo:
    """A moving picture with the label and wall-clock time burned in, encoded live with libx264.

    A gradient scrolls, a bar sweeps and a disc orbits, so motion and freeze detectors see
    motion; the time text comes from `clock` so tests can freeze it (labels must be ASCII: the
    Hershey fonts have no CJK glyphs). The picture is drawn
    straight into the Y plane of a YUV 4:2:0 frame, which costs less than drawing in BGR and
    converting. Encoding: ultrafast, zerolatency, no B-frames, a keyframe every 2 s with
    SPS/PPS repeated before it, VBV-capped bitrate so the rate stays near constant.
    """

    codec = "h264"
    stream_type = StreamType.H264

    def __init__(
        self,
        width: int,
        height: int,
        fps: int = 25,
        label: str = "channel ID",
        *,
        clock: Callable[[], datetime] = datetime.now,
        bitrate_bps: int | None = None,
        start_pts_90k: int = 0,
        threads: int = 1,
        fault: str | None = None,
    ) -> None:
        if width < 16 or height < 16 or width % 2 or height % 2:
            raise ValueError(f"size must be even and at least 16x16, got {width}x{height}")
        if not 1 <= fps <= 60:
            raise ValueError(f"fps must be 1-60, got {fps}")
        video_faults.check(fault)
        # A picture fault to show (see video_faults); "frozen" repeats the first picture for ever.
        self.fault = fault
        self._rng = np.random.default_rng(hash(label) & 0xFFFF)
        self._frozen: np.ndarray | None = None
        self.width, self.height, self.fps, self.label = width, height, fps, label
        self.bitrate_bps = bitrate_bps or max(_MIN_BITRATE_BPS, round(width * height * fps * _BITS_PER_PIXEL))
        if fault == "frozen" and bitrate_bps is None:
            # A frozen encoder repeats one picture exactly; at a starved rate x264 would keep refining it instead.
            self.bitrate_bps *= 8
        self._clock = clock
        self._next_index = 0
        self._start_pts_90k = start_pts_90k
        self._encoder = self._open_encoder(threads)
        self._frame = np.empty((height * 3 // 2, width), dtype=np.uint8)
        # A still street scene with sensor grain and traffic, like a fixed camera's view: picture diagnosis compares
        # it with a reference taken earlier, and a picture that moved as a whole would look like a moved camera.
        self._scene = _street_scene(width, height)
        self._titled = np.empty_like(self._scene)
        self._titled_stamp = ""
        self._grain = _grain(width, height)
        self._font_scale = max(0.4, height / 720)
        self._thickness = max(1, round(height / 360))

    def _open_encoder(self, threads: int) -> av.VideoCodecContext:
        encoder = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height = self.width, self.height
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = Fraction(1, CLOCK_90K)
        encoder.framerate = Fraction(self.fps, 1)
        gop = self.fps * _GOP_SECONDS
        encoder.gop_size = gop
        encoder.max_b_frames = 0
        encoder.bit_rate = self.bitrate_bps
        encoder.thread_count = threads
        encoder.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            # Fixed GOP: no scene-cut keyframes, so every keyframe is where the platform expects it.
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
            "maxrate": str(self.bitrate_bps),
            "bufsize": str(self.bitrate_bps),
        }
        encoder.open()
        return encoder

    def __iter__(self) -> Iterator[VideoAccessUnit]:
        return self

    def __next__(self) -> VideoAccessUnit:
        index = self._next_index
        self._next_index += 1
        pts_90k = self._start_pts_90k + index * CLOCK_90K // self.fps
        frame = av.VideoFrame.from_ndarray(self._picture(index), format="yuv420p")
        frame.pts = pts_90k
        packets = self._encoder.encode(frame)
        # zerolatency has no lookahead: every picture comes straight back as one packet.
        if len(packets) != 1:
            raise RuntimeError(f"encoder returned {len(packets)} packets for one picture")
        packet = packets[0]
        return VideoAccessUnit(bytes(packet), pts_90k, bool(packet.is_keyframe))

    def _picture(self, index: int) -> np.ndarray:
        if self.fault == "frozen":
            if self._frozen is None:
                self._frozen = self._grainy(self._draw(index), index).copy()
            return self._frozen
        picture = self._draw(index)
        if self.fault is not None:
            video_faults.apply(self.fault, picture, self.width, self.height, index, self._rng)
            if self.fault in ("black", "no_signal"):
                return picture  # generated screens, not light on a sensor
        # Grain comes last: a defocused or darkened picture is still read off a noisy sensor.
        return self._grainy(picture, index)

    def _grainy(self, picture: np.ndarray, index: int) -> np.ndarray:
        luma = picture[: self.height]
        brighter, darker = self._grain[index % len(self._grain)]
        cv2.add(luma, brighter, dst=luma)
        cv2.subtract(luma, darker, dst=luma)
        # Auto-exposure never holds perfectly still: a flicker of a few levels, which survives even a starved
        # encoder (the grain often does not), so consecutive pictures of a still street are never identical.
        flicker = _FLICKER[index % len(_FLICKER)]
        if flicker > 0:
            cv2.add(luma, flicker, dst=luma)
        elif flicker < 0:
            cv2.subtract(luma, -flicker, dst=luma)
        return picture

    def _draw(self, index: int) -> np.ndarray:
        w, h = self.width, self.height
        np.copyto(self._frame, self._titled_scene())
        luma = self._frame[:h]
        # A bus driving left to right along the road and a pedestrian walking in a circle (below the text).
        bar_w = max(8, w // 10)
        x = (index * max(2, w // 100)) % (w + bar_w) - bar_w
        cv2.rectangle(luma, (x, h * 3 // 5), (x + bar_w, h * 3 // 5 + h // 8), 210, thickness=-1)
        angle = index * 2 * math.pi / (self.fps * 4)
        centre = (int(w / 2 + w / 4 * math.cos(angle)), int(h * 0.8 + h / 12 * math.sin(angle)))
        cv2.circle(luma, centre, max(4, h // 30), 30, thickness=-1)
        return self._frame

    def _titled_scene(self) -> np.ndarray:
        """The scene with the label and the time burned in, drawn again only when the second changes: antialiased
        text costs more than encoding a small picture, and a simulator of hundreds of cameras draws it for each."""
        stamp = self._clock().strftime("%Y-%m-%d %H:%M:%S")
        if stamp != self._titled_stamp:
            np.copyto(self._titled, self._scene)
            luma = self._titled[: self.height]
            self._text(luma, self.label, 1)
            self._text(luma, stamp, 2)
            self._titled_stamp = stamp
        return self._titled

    def _text(self, luma: np.ndarray, text: str, line: int) -> None:
        origin = (max(4, self.width // 60), round(line * 36 * self._font_scale))
        # Dark outline under light text keeps it readable on every part of the ramp.
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(luma, text, origin, font, self._font_scale, 0, self._thickness + 2, cv2.LINE_AA)
        cv2.putText(luma, text, origin, font, self._font_scale, 255, self._thickness, cv2.LINE_AA)


# Sensor grain: the noise real sensors add frame after frame (as unsigned halves for saturating adds).
_GRAIN_SIGMA = 2.5
_GRAIN_FRAMES = 8
_FLICKER = (0, 2, 4, 2, 0, -2, -4, -2)


@functools.lru_cache(maxsize=8)
def _street_scene(width: int, height: int) -> np.ndarray:
    """One street scene per picture size and process (drawing one takes a second at 720p), as planar I420."""
    world = make_world("street", (width, height), np.random.default_rng(2012)).image
    top, left = (world.shape[0] - height) // 2, (world.shape[1] - width) // 2
    view = np.ascontiguousarray(world[top : top + height, left : left + width])
    scene = cv2.cvtColor(view, cv2.COLOR_BGR2YUV_I420)
    scene.flags.writeable = False
    return scene


@functools.lru_cache(maxsize=8)
def _grain(width: int, height: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    rng = np.random.default_rng(28181)
    frames = []
    for _ in range(_GRAIN_FRAMES):
        noise = rng.normal(0, _GRAIN_SIGMA, (height, width))
        frames.append((np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8)))
    return tuple(frames)


class FileVideo:
    """A file's H.264/H.265 packets as Annex B access units, looped forever, without re-encoding.

    MP4/MKV/FLV store length-prefixed NAL units; the mp4toannexb bitstream filter rewrites
    them to start codes and puts SPS/PPS (VPS for H.265) before each keyframe; TS, PS and raw
    streams are Annex B already. Times start at `start_pts_90k` and run on across loops: each
    pass's first picture is shown one frame after the previous pass's last. B-frames keep
    their DTS (`dts_90k` is None when it equals the PTS).
    """

    def __init__(self, path: str | Path, *, start_pts_90k: int = 0, loop: bool = True) -> None:
        self.path = Path(path)
        self._loop = loop
        self._start_pts_90k = start_pts_90k
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            name = stream.codec_context.name
            if name not in ("h264", "hevc"):
                raise ValueError(f"{self.path.name}: video is {name}, not H.264 or H.265")
            self.codec = name
            self.stream_type = StreamType.H264 if name == "h264" else StreamType.H265
            self.width, self.height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate or Fraction(25, 1)
            self.fps = float(rate)
            self._frame_90k = round(CLOCK_90K / rate)
            extradata = stream.codec_context.extradata or b""
            # avcC/hvcC extradata starts with version 1; Annex B input (TS, PS, raw) needs no filter.
            self._needs_filter = bool(extradata) and extradata[0] == 1

        self._units = self._passes()

    def __iter__(self) -> Iterator[VideoAccessUnit]:
        return self

    def __next__(self) -> VideoAccessUnit:
        return next(self._units)

    def _passes(self) -> Iterator[VideoAccessUnit]:
        offset_90k = self._start_pts_90k
        while True:
            span = yield from self._one_pass(offset_90k)
            if span is None:
                raise ValueError(f"{self.path.name}: no video packets")
            if not self._loop:
                return
            first_pts_90k, last_pts_90k = span
            # The next pass's first picture is shown one frame after this pass's last one.
            offset_90k += last_pts_90k + self._frame_90k - first_pts_90k

    def _one_pass(self, offset_90k: int) -> Iterator[VideoAccessUnit]:
        """One pass over the file; returns (first, last) presentation times relative to the pass's first DTS."""
        first_pts: int | None = None
        last_pts = 0
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            to_90k = stream.time_base * CLOCK_90K
            bsf = av.BitStreamFilterContext(f"{self.codec}_mp4toannexb", stream) if self._needs_filter else None
            base: int | None = None
            count = 0
            for packet in container.demux(stream):
                for out in bsf.filter(packet) if bsf is not None else [packet]:
                    if out.size == 0:
                        continue
                    if out.pts is None and out.dts is None:
                        # Raw elementary streams carry no times: count frames instead.
                        rel_pts = rel_dts = count * self._frame_90k
                    else:
                        pts = out.pts if out.pts is not None else out.dts
                        dts = out.dts if out.dts is not None else pts
                        base = dts if base is None else base
                        rel_pts, rel_dts = round((pts - base) * to_90k), round((dts - base) * to_90k)
                    count += 1
                    first_pts = rel_pts if first_pts is None else first_pts
                    last_pts = max(last_pts, rel_pts)
                    pts_90k, dts_90k = offset_90k + rel_pts, offset_90k + rel_dts
                    yield VideoAccessUnit(
                        bytes(out), pts_90k, bool(out.is_keyframe), dts_90k if dts_90k != pts_90k else None
                    )
        return None if first_pts is None else (first_pts, last_pts)
