"""Fragmented MP4 from coded units, without re-encoding: bytes for live view (MSE) and files for recording.

FFmpeg's mp4 muxer (through PyAV) does the muxing: it turns the Annex B parameter sets of the first keyframe into
the avcC/hvcC box and every Annex B picture into length-prefixed NAL units. Output is ftyp+moov with no samples
(`empty_moov`), then moof+mdat fragments whose data offsets count from the moof (`default_base_moof`), which is
what Media Source Extensions want.

Timing: 90 kHz in, 90 kHz video track out, rebased so the first picture's decode time is 0 (with B-frames its
presentation time is a little later). A fragment is cut when the muxer sees the picture that starts the next one,
because only then is the last picture's duration known: a fragment comes out one picture late, and `flush()`
hands over the last. Decode times must rise; a unit that does not is nudged one tick past the previous one and
counted in `retimed` (a real jump is the caller's to handle: see `units.is_discontinuity`).

Audio: only AAC goes into the MP4 (browsers cannot play G.711 from MP4, and a recording that a browser cannot
play back whole is worse than a silent one); G.711 units are counted in `skipped_audio` and dropped. AAC needs
its configuration in the init segment, so the fragmenter must be given one ADTS frame of the stream up front
(`first_audio`); without it audio is skipped too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from tianyan.media import mp4boxes
from tianyan.media.bitstream import BitstreamError, split_adts, video_format
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec

__all__ = ["Fmp4FileWriter", "Fmp4Fragmenter", "FragmentWritten", "MuxError"]

log = logging.getLogger(__name__)

CLOCK_90K = 90_000
_TIME_BASE_90K = Fraction(1, CLOCK_90K)
_DEFAULT_FRAME_90K = CLOCK_90K // 25
_FFMPEG_CODEC = {VideoCodec.H264: "h264", VideoCodec.H265: "hevc"}
# An audio frame this far from where the previous one ended starts a new run instead of butting up against it.
_AUDIO_RESYNC_FRAMES = 2


class MuxError(ValueError):
    """Units that cannot be muxed: not a keyframe to start on, no parameter sets, a broken AAC header."""


class _Collector:
    """The file object the muxer writes to: keeps the bytes until they form whole top-level boxes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def take_boxes(self) -> list[tuple[str, bytes]]:
        buffer = self.buffer
        boxes = []
        offset = 0
        for box in mp4boxes.iter_boxes(buffer):
            boxes.append((box.type, bytes(buffer[box.offset : box.end])))
            offset = box.end
        if offset:
            del buffer[:offset]
        return boxes


def _hvc1(init: bytes) -> bytes:
    """The init segment with its HEVC sample entry named hvc1 (what Safari and MSE ask for) instead of hev1.

    FFmpeg writes hev1 unless told otherwise through a codec context, which a pure remux stream has not got. The
    two differ only in the sample entry's name and the hvcC arrays' completeness flags, patched here in place.
    """
    data = bytearray(init)
    for entry in mp4boxes.sample_entries(data):
        if entry.type != "hev1":
            continue
        data[entry.offset + 4 : entry.offset + 8] = b"hvc1"
        for inner in mp4boxes.child_boxes(data, entry, skip=78):
            if inner.type != "hvcC" or inner.size < inner.header + 23:
                continue
            at = inner.body + 23
            for _ in range(data[inner.body + 22]):
                if at + 3 > inner.end:
                    break
                data[at] |= 0x80  # array_completeness: every parameter set of this type is here
                count = int.from_bytes(data[at + 1 : at + 3], "big")
                at += 3
                for _ in range(count):
                    at += 2 + int.from_bytes(data[at : at + 2], "big")
    return bytes(data)


class Fmp4Fragmenter:
    """One run of a stream as fMP4: `init_segment`, then moof+mdat fragments out of push_video/push_audio/flush.

    `first` (a keyframe) gives the codec configuration and is muxed as the first picture: do not push it again.

    fragment_ms=0 cuts a fragment per picture (live view); otherwise a fragment holds about fragment_ms of
    media. Returned fragments are always whole moof+mdat pairs. Cheap: a few microseconds a picture.
    """

    def __init__(
        self,
        codec: VideoCodec,
        first: VideoAccessUnit,
        *,
        audio: AudioCodec | None = None,
        fragment_ms: int = 0,
        first_audio: AudioAccessUnit | None = None,
    ) -> None:
        if not first.keyframe:
            raise MuxError("a fragmented MP4 must start on a keyframe")
        if fragment_ms < 0:
            raise MuxError(f"fragment_ms must not be negative, got {fragment_ms}")
        try:
            self.format = video_format(codec, first.data)
        except BitstreamError as exc:
            raise MuxError(f"cannot start a fragmented MP4 on this keyframe: {exc}") from exc
        self.codec = codec
        self.width, self.height = self.format.width, self.format.height
        self.fragment_ms = fragment_ms
        self.frames = 0
        self.retimed = 0
        self.skipped_audio = 0
        self.audio_frames = 0
        self.dropped_boxes = 0
        self.closed = False
        self._base = first.dts_90k if first.dts_90k is not None else first.pts_90k
        self._last_dts: int | None = None
        self._frame_90k = _DEFAULT_FRAME_90K
        self._audio_next: int | None = None

        flags = "empty_moov+default_base_moof+skip_trailer"
        # A 1 µs fragment duration rather than frag_every_frame for one fragment a picture: FFmpeg's
        # frag_every_frame mistimes the video track whenever an audio packet is what cuts the fragment.
        options = {"movflags": flags, "frag_duration": str(max(1, fragment_ms * 1000))}
        # The muxer would hold video back for up to 10 s waiting for audio that may never come.
        options["max_interleave_delta"] = "1"
        self._out = _Collector()
        self._container = av.open(self._out, "w", format="mp4", options=options)
        try:
            self._video = self._container.add_mux_stream(_FFMPEG_CODEC[codec], width=self.width, height=self.height)
            self._video.time_base = _TIME_BASE_90K
            self._audio_stream = None
            self._audio_rate = 0
            self.audio: AudioCodec | None = None
            if audio == AudioCodec.AAC and first_audio is not None:
                self._add_aac(first_audio)
            self._push_video(first)
            boxes = self._out.take_boxes()
        except Exception:
            self._abandon()
            raise
        init = b"".join(data for kind, data in boxes if kind in ("ftyp", "moov"))
        if not init:
            self._abandon()
            raise MuxError("the muxer wrote no header")
        self.init_segment = _hvc1(init) if codec == VideoCodec.H265 else init
        info = mp4boxes.parse_init(self.init_segment)
        self.tracks = info.tracks if info is not None else {}
        self.mime_codec = info.video.codec_string if info is not None and info.video else codec.value
        self.mime_type = info.mime_type if info is not None else f'video/mp4; codecs="{self.mime_codec}"'

    def _add_aac(self, first_audio: AudioAccessUnit) -> None:
        try:
            frames = split_adts(first_audio.data)
        except BitstreamError:
            frames = []
        if not frames:
            # Without a readable header there is no AudioSpecificConfig: record video alone.
            return
        header = frames[0][0]
        # The only way to hand PyAV an AudioSpecificConfig is a stream with a codec context; a one-frame ADTS
        # demux gives a template for it (about 3 ms, once a segment).
        with av.open(io.BytesIO(first_audio.data[: header.frame_size]), format="aac") as probe:
            stream = self._container.add_stream_from_template(probe.streams.audio[0], opaque=True)
        stream.codec_context.extradata = header.audio_specific_config()
        stream.time_base = Fraction(1, header.sample_rate)
        self._audio_stream = stream
        self._audio_rate = header.sample_rate
        self.audio = AudioCodec.AAC

    # --- feeding ----------------------------------------------------------------------------------------------

    def push_video(self, unit: VideoAccessUnit) -> list[bytes]:
        self._check_open()
        self._push_video(unit)
        return self._fragments()

    def push_audio(self, unit: AudioAccessUnit) -> list[bytes]:
        self._check_open()
        if self._audio_stream is None:
            self.skipped_audio += 1
            return []
        try:
            frames = split_adts(unit.data)
        except BitstreamError:
            self.skipped_audio += 1
            return []
        rate = self._audio_rate
        start = (unit.pts_90k - self._base) * rate // CLOCK_90K
        if start < 0:
            self.skipped_audio += 1
            return []
        at = self._audio_next
        samples = frames[0][0].samples if frames else 1024
        if at is None or start > at + _AUDIO_RESYNC_FRAMES * samples:
            at = start
        for header, payload in frames:
            if header.sample_rate != rate:
                self.skipped_audio += 1
                continue
            packet = av.Packet(payload)
            packet.stream = self._audio_stream
            packet.time_base = Fraction(1, rate)
            packet.pts = packet.dts = at
            packet.duration = header.samples
            self._mux(packet)
            self.audio_frames += 1
            at += header.samples
        self._audio_next = at
        return self._fragments()

    def flush(self) -> list[bytes]:
        """End the run: the last fragment comes out; nothing more may be pushed."""
        if self.closed:
            return []
        self.closed = True
        self._container.close()
        return self._fragments()

    def abandon(self) -> None:
        """Drop whatever is buffered without writing it (after the output failed)."""
        if not self.closed:
            self.closed = True
            self._abandon()

    # --- inside -----------------------------------------------------------------------------------------------

    def _abandon(self) -> None:
        # The muxer is being thrown away; its last words do not matter.
        with contextlib.suppress(Exception):
            self._container.close()
        self._out.buffer.clear()

    def _check_open(self) -> None:
        if self.closed:
            raise MuxError("this fragmented MP4 run has been flushed; start a new one")

    def _mux(self, packet: av.Packet) -> None:
        try:
            self._container.mux_one(packet)
        except av.FFmpegError as exc:
            # Some FFmpeg errors are also OSErrors; none of these is the disk's fault (the output is memory).
            raise MuxError(f"the MP4 muxer refused a packet: {exc}") from exc

    def _push_video(self, unit: VideoAccessUnit) -> None:
        dts = (unit.dts_90k if unit.dts_90k is not None else unit.pts_90k) - self._base
        pts = unit.pts_90k - self._base
        last = self._last_dts
        if last is not None:
            if dts <= last:
                dts = last + 1
                self.retimed += 1
            else:
                self._frame_90k = dts - last
        elif dts < 0:
            dts = 0
        pts = max(pts, dts)
        packet = av.Packet(unit.data)
        packet.stream = self._video
        packet.time_base = _TIME_BASE_90K
        packet.pts = pts
        packet.dts = dts
        # Only the run's very last picture keeps this guess: the muxer times the others by the next one's DTS.
        packet.duration = self._frame_90k
        packet.is_keyframe = unit.keyframe
        self._mux(packet)
        self._last_dts = dts
        self.frames += 1

    def _fragments(self) -> list[bytes]:
        out: list[bytes] = []
        moof: bytes | None = None
        for kind, data in self._out.take_boxes():
            if kind == "moof":
                moof = data
            elif kind == "mdat" and moof is not None:
                out.append(moof + data)
                moof = None
            else:
                self.dropped_boxes += 1
        if moof is not None:
            # A moof whose mdat has not been written yet: keep it for the next call.
            self._out.buffer[:0] = moof
        return out


@dataclass(frozen=True)
class FragmentWritten:
    """A fragment now in the file (in the page cache, not necessarily on the platter)."""

    offset: int
    size: int
    start_90k: int | None  # video decode times from the file's start; None for a fragment with no video
    end_90k: int | None
    frames: int
    keyframe: bool


class Fmp4FileWriter:
    """A segment file: the init segment, then each fragment written to the OS as soon as it is complete.

    No fsync: a `kill -9` of the process loses only what the muxer still holds (the fragment being filled);
    the page cache belongs to the kernel. An OSError from a write (disk full, pool unmounted) propagates and
    leaves the writer `failed`; the file then ends on the last whole fragment or a torn tail that
    `mp4boxes.truncate_torn_tail` cuts off.
    """

    def __init__(
        self,
        path: str | Path,
        codec: VideoCodec,
        first: VideoAccessUnit,
        *,
        audio: AudioCodec | None = None,
        first_audio: AudioAccessUnit | None = None,
        fragment_ms: int = 1000,
    ) -> None:
        self.path = Path(path)
        self.fragmenter = Fmp4Fragmenter(codec, first, audio=audio, fragment_ms=fragment_ms, first_audio=first_audio)
        self.bytes = 0
        self.frames = 0  # video pictures in the file's complete fragments
        self.end_90k = 0  # decode time at the end of the last complete fragment's video
        self.failed: OSError | None = None
        self._video_id = next((t.track_id for t in self.fragmenter.tracks.values() if t.kind == "video"), 1)
        self._timescale = self.fragmenter.tracks[self._video_id].timescale if self.fragmenter.tracks else CLOCK_90K
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except OSError:
            self.fragmenter.abandon()
            raise
        try:
            self._write(self.fragmenter.init_segment)
        except OSError:
            self.abort()
            # Not even the header went in: an empty file would only be noise for reconcile.
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise

    @property
    def init_segment(self) -> bytes:
        return self.fragmenter.init_segment

    @property
    def has_audio(self) -> bool:
        return self.fragmenter.audio is not None

    def push_video(self, unit: VideoAccessUnit) -> list[FragmentWritten]:
        return self._store(self.fragmenter.push_video(unit))

    def push_audio(self, unit: AudioAccessUnit) -> list[FragmentWritten]:
        return self._store(self.fragmenter.push_audio(unit))

    def close(self, *, fsync: bool = False) -> list[FragmentWritten]:
        """Write the last fragment and close the file (fsync only when asked: it can take long)."""
        if self._fd is None:
            return []
        try:
            written = self._store(self.fragmenter.flush())
            if fsync:
                os.fsync(self._fd)
        except OSError:
            self.abort()
            raise
        os.close(self._fd)
        self._fd = None
        return written

    def abort(self) -> None:
        """Close the file, dropping what the muxer holds; after a failed write, cut it back to its whole fragments."""
        self.fragmenter.abandon()
        if self._fd is None:
            return
        if self.failed is not None:
            try:
                os.ftruncate(self._fd, self.bytes)
            except OSError as exc:  # the tail stays for reconcile to trim
                log.warning("%s: cannot cut off a torn fragment: %s", self.path, exc)
        os.close(self._fd)
        self._fd = None

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            raise OSError(f"{self.path} is closed")
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            self.failed = exc
            raise
        self.bytes += len(data)

    def _store(self, fragments: list[bytes]) -> list[FragmentWritten]:
        written = []
        for data in fragments:
            offset = self.bytes
            self._write(data)
            start = end = None
            frames = 0
            keyframe = False
            for fragment in mp4boxes.split_fragments(data, self.fragmenter.tracks):
                run = fragment.run(self._video_id)
                if run is not None and run.samples:
                    start = run.base_decode_time * CLOCK_90K // self._timescale
                    end = (run.base_decode_time + run.duration) * CLOCK_90K // self._timescale
                    frames, keyframe = run.samples, run.starts_with_sync
            self.frames += frames
            if end is not None:
                self.end_90k = end
            written.append(FragmentWritten(offset, len(data), start, end, frames, keyframe))
        return written
