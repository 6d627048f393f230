"""A streaming MPEG-PS demuxer (sans-IO): PS bytes in, video and audio access units with unwrapped times out.

Reads both shapes of program stream a platform meets: GB/T 28181 devices (one access unit per PS
"frame", a program stream map on keyframes, often several PES packets per picture, sometimes with
the same PTS each) and general muxers such as FFmpeg's `-f mpeg` (MPEG-1 packs) and `-f vob`
(MPEG-2 packs) that cut PES packets at fixed sizes, so one PES can end one picture and start the
next, and that write no map at all. The rule that fits both: a PES packet's PTS belongs to the
first access unit that starts in it, so a new PTS starts a new unit at the first NAL unit that can
begin a picture. Without a map the codec is guessed from the NAL headers (video) or the ADTS
syncword (audio). Bad input never raises: it is counted, and parsing resumes at the next pack
start code; the transport calls `resync()` when it knows bytes were lost.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from tianyan.media.adts_framer import AdtsFramer
from tianyan.media.bitstream import adts_sync
from tianyan.media.nal import ParameterSetCache, guess_codec
from tianyan.media.ps import PACK_START_CODE, TIMESTAMP_MODULUS, PsError, crc32_mpeg2, decode_timestamp
from tianyan.media.timestamps import TimestampUnwrapper
from tianyan.media.units import AudioAccessUnit, AudioCodec, VideoAccessUnit, VideoCodec

# A coded picture larger than this is not one (an 8K intra frame at high quality stays well below).
DEFAULT_MAX_UNIT_BYTES = 8 * 1024 * 1024
_START = b"\x00\x00\x01"
_STREAM_TYPES: dict[int, VideoCodec | AudioCodec] = {
    0x1B: VideoCodec.H264,
    0x24: VideoCodec.H265,
    0x0F: AudioCodec.AAC,
    0x90: AudioCodec.G711A,
    0x91: AudioCodec.G711U,
}
_G711_RATE = 8000
_HALF_MODULUS = TIMESTAMP_MODULUS // 2
# NAL types that, after a picture's slices, begin the next access unit: delimiter, parameter sets, SEI.
_H264_UNIT_STARTERS = frozenset({6, 7, 8, 9})
_H265_UNIT_STARTERS = frozenset({32, 33, 34, 35, 39})

DemuxedUnit = tuple[VideoCodec, VideoAccessUnit] | tuple[AudioCodec, AudioAccessUnit]


class PsDemuxError(PsError):
    """A misuse of the demuxer; malformed streams are counted in DemuxStats instead."""


@dataclass(slots=True)
class DemuxStats:
    packs: int = 0
    video_units: int = 0
    audio_units: int = 0
    # Malformed structures (each also starts a resync), and bytes skipped while looking for a pack start.
    errors: int = 0
    resyncs: int = 0
    skipped_bytes: int = 0
    crc_errors: int = 0
    # Units discarded: torn by a resync, too large, or without any time to give them.
    dropped_units: int = 0
    # PES packets of streams with a type we do not handle (SVAC, MPEG audio, a second video stream).
    ignored_packets: int = 0
    parameter_sets_added: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Track:
    __slots__ = (
        "codec",
        "dts",
        "key",
        "last_pts",
        "parts",
        "pts",
        "seen_vcl",
        "size",
        "started",
        "step",
        "unwrap",
    )

    def __init__(self) -> None:
        self.codec: VideoCodec | AudioCodec | None = None
        self.parts: list[bytes] = []
        self.size = 0
        # Video: a picture is being assembled, it has slices already (so the next starter begins a new one), IDR/IRAP.
        self.started = False
        self.seen_vcl = False
        self.key = False
        self.pts: int | None = None
        self.dts: int | None = None
        self.last_pts: int | None = None
        self.step = 0
        self.unwrap = TimestampUnwrapper()


class PsDemuxer:
    """Feed it PS bytes in chunks of any size; it returns each access unit once it is known to be complete."""

    def __init__(self, *, max_unit_bytes: int = DEFAULT_MAX_UNIT_BYTES, repair_parameter_sets: bool = True) -> None:
        if max_unit_bytes < 1024:
            raise PsDemuxError(f"max unit size must be at least 1024 bytes, got {max_unit_bytes}")
        self.stats = DemuxStats()
        self._max_unit_bytes = max_unit_bytes
        self._repair = repair_parameter_sets
        self._pending = b""
        self._hunting = True  # until a pack start code: the only safe place to begin
        self._stream_types: dict[int, VideoCodec | AudioCodec | None] = {}
        self._video_id: int | None = None
        self._audio_id: int | None = None
        self._video = _Track()
        self._audio = _Track()
        self._cache: ParameterSetCache | None = None
        self._adts = AdtsFramer()
        self._out: list[DemuxedUnit] = []

    @property
    def video_codec(self) -> VideoCodec | None:
        codec = self._video.codec
        return codec if isinstance(codec, VideoCodec) else None

    @property
    def audio_codec(self) -> AudioCodec | None:
        codec = self._audio.codec
        return codec if isinstance(codec, AudioCodec) else None

    @property
    def parameter_sets(self) -> ParameterSetCache | None:
        return self._cache

    def feed(self, data: bytes | bytearray | memoryview) -> list[DemuxedUnit]:
        """Parse the next bytes of the stream; returns the units they complete (possibly none)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise PsDemuxError(f"feed takes bytes, got {type(data).__name__}")
        chunk = bytes(data)
        buffer = self._pending + chunk if self._pending else chunk
        self._pending = b""
        self._parse(buffer)
        out, self._out = self._out, []
        return out

    def end_of_frame(self) -> list[DemuxedUnit]:
        """The transport says a PS frame ended (RTP marker or new timestamp): the video unit is complete."""
        if self._pending:
            # A frame that ends inside a packet was cut short by its sender; nothing in it can be trusted.
            self._error()
        self._emit_video()
        out, self._out = self._out, []
        return out

    def flush(self) -> list[DemuxedUnit]:
        """End of input: returns the last unit; an unfinished packet is dropped and counted."""
        return self.end_of_frame()

    def resync(self) -> None:
        """Bytes were lost before what comes next: drop the unit being assembled and wait for a pack start."""
        if self._pending:
            self._pending = b""
        for track in (self._video, self._audio):
            if track.started:
                self.stats.dropped_units += 1
            self._drop(track)
        self._adts.reset()
        if not self._hunting:
            self._hunting = True
            self.stats.resyncs += 1

    def _error(self) -> None:
        self.stats.errors += 1
        self._pending = b""
        self.resync()

    def _parse(self, data: bytes) -> None:
        size = len(data)
        position = 0
        stats = self.stats
        while position < size:
            if self._hunting:
                found = data.find(PACK_START_CODE, position)
                if found < 0:
                    # The last three bytes may be the start of a split pack start code.
                    keep = max(position, size - 3)
                    stats.skipped_bytes += keep - position
                    self._pending = data[keep:]
                    return
                stats.skipped_bytes += found - position
                position = found
                self._hunting = False
            if size - position < 4:
                break
            if data[position] != 0 or data[position + 1] != 0 or data[position + 2] != 1:
                self._error()
                position += 1
                continue
            stream_id = data[position + 3]
            if stream_id == 0xB9:  # program end code
                position += 4
                continue
            if size - position < 6:
                break
            if stream_id == 0xBA:
                mark = data[position + 4]
                if mark & 0xC4 == 0x44:  # MPEG-2 pack header
                    if size - position < 14:
                        break
                    end = position + 14 + (data[position + 13] & 0x07)
                elif mark & 0xF1 == 0x21:  # MPEG-1 pack header
                    end = position + 12
                else:
                    self._error()
                    position += 1
                    continue
                if end > size:
                    break
                stats.packs += 1
                position = end
                continue
            if stream_id < 0xB9:
                # A NAL or other start code where a system one must be: we are out of step.
                self._error()
                position += 1
                continue
            end = position + 6 + ((data[position + 4] << 8) | data[position + 5])
            if end > size:
                break
            if 0xC0 <= stream_id <= 0xEF:  # audio 0xC0-0xDF, video 0xE0-0xEF
                if not self._pes(stream_id, data, position + 6, end):
                    self._error()
                    position += 1
                    continue
            elif stream_id == 0xBC:
                self._map(data, position, end)
            # System header, padding, private streams and the rest carry nothing we play.
            position = end
        if position < size:
            self._pending = data[position:]

    def _map(self, data: bytes, start: int, end: int) -> None:
        """A program stream map (ISO/IEC 13818-1 §2.5.4); a wrong CRC is counted but the map is used."""
        body = data[start + 6 : end]
        if len(body) < 10:
            self.stats.errors += 1
            return
        info_length = (body[2] << 8) | body[3]
        position = 4 + info_length
        if position + 2 > len(body) - 4:
            self.stats.errors += 1
            return
        map_end = position + 2 + ((body[position] << 8) | body[position + 1])
        position += 2
        if map_end > len(body) - 4:
            self.stats.errors += 1
            return
        if crc32_mpeg2(data[start:end]) != 0:
            # Many cameras get the CRC wrong (or leave it zero); their maps are right all the same.
            self.stats.crc_errors += 1
        types: dict[int, VideoCodec | AudioCodec | None] = {}
        while position + 4 <= map_end:
            stream_type, stream_id = body[position], body[position + 1]
            types[stream_id] = _STREAM_TYPES.get(stream_type)
            position += 4 + ((body[position + 2] << 8) | body[position + 3])
        self._stream_types = types
        for stream_id, codec in types.items():
            if 0xE0 <= stream_id <= 0xEF and self._video_id in (None, stream_id):
                self._video_id = stream_id
                self._set_codec(self._video, codec)
            elif 0xC0 <= stream_id <= 0xDF and self._audio_id in (None, stream_id):
                self._audio_id = stream_id
                self._set_codec(self._audio, codec)

    def _set_codec(self, track: _Track, codec: VideoCodec | AudioCodec | None) -> None:
        if codec == track.codec:
            return
        if track is self._video:
            self._emit_video()
            self._cache = ParameterSetCache(codec) if isinstance(codec, VideoCodec) else None
        track.codec = codec

    def _pes(self, stream_id: int, data: bytes, header: int, end: int) -> bool:
        """One PES packet (header at data[header]); False if its header is malformed."""
        pts = dts = None
        if header >= end:
            return True  # empty packet
        first = data[header]
        if first & 0xC0 == 0x80:  # MPEG-2 PES header
            if end - header < 3:
                return False
            flags = data[header + 1] >> 6
            payload = header + 3 + data[header + 2]
            if payload > end or flags == 1:
                return False
            if flags & 2:
                if data[header + 2] < (10 if flags == 3 else 5):
                    return False
                pts = decode_timestamp(data[header + 3 : header + 8])
                if flags == 3:
                    dts = decode_timestamp(data[header + 8 : header + 13])
        else:  # MPEG-1 packet header: stuffing, optional STD buffer size, then the time stamps
            position = header
            while position < end and data[position] == 0xFF and position - header < 16:
                position += 1
            if position < end and data[position] & 0xC0 == 0x40:
                position += 2
            if position >= end:
                return False
            kind = data[position] & 0xF0
            if kind == 0x20:
                pts = decode_timestamp(data[position : position + 5])
                position += 5
            elif kind == 0x30:
                pts = decode_timestamp(data[position : position + 5])
                dts = decode_timestamp(data[position + 5 : position + 10])
                position += 10
            elif data[position] == 0x0F:
                position += 1
            else:
                return False
            if position > end:
                return False
            payload = position
        if payload == end:
            return True
        if stream_id >= 0xE0:
            if self._video_id is None:
                self._video_id = stream_id
            if stream_id != self._video_id:
                self.stats.ignored_packets += 1
                return True
            self._video_pes(data, payload, end, pts, dts)
        else:
            if self._audio_id is None:
                self._audio_id = stream_id
            if stream_id != self._audio_id:
                self.stats.ignored_packets += 1
                return True
            self._audio_pes(memoryview(data)[payload:end], pts)
        return True

    def _video_pes(self, data: bytes, start: int, end: int, pts_raw: int | None, dts_raw: int | None) -> None:
        """Cuts the video stream into pictures at the NAL units that begin one (after the previous picture's slices).

        A PES packet's PTS goes to the first picture that starts in it; a picture starting in a packet
        whose PTS is taken (or that has none) is timed one frame interval after the previous one.
        """
        track = self._video
        codec = track.codec
        if codec is None:
            if self._video_id in self._stream_types:
                self.stats.ignored_packets += 1  # the map names a codec we do not handle
                return
            codec = guess_codec(data[start:end])
            if codec is None:
                self.stats.ignored_packets += 1
                return
            self._set_codec(track, codec)
        pts = dts = None
        if pts_raw is not None:
            pts = track.unwrap.unwrap(pts_raw)
            if dts_raw is not None:
                back = (pts_raw - dts_raw) % TIMESTAMP_MODULUS
                dts = pts - back if back < _HALF_MODULUS else None
        h264 = codec is VideoCodec.H264
        find = data.find
        cut = start  # bytes from here on are not yet given to a picture
        position = find(_START, start, end)
        while position >= 0:
            header = position + 3
            if header >= end:
                break
            first = data[header]
            if h264:
                kind = first & 0x1F
                vcl = kind == 1 or kind == 5
                key = kind == 5
                begins = kind in _H264_UNIT_STARTERS or (vcl and header + 1 < end and data[header + 1] & 0x80)
            else:
                kind = (first >> 1) & 0x3F
                vcl = kind < 32
                key = 16 <= kind <= 23
                begins = kind in _H265_UNIT_STARTERS or (vcl and header + 2 < end and data[header + 2] & 0x80)
            if begins and (track.seen_vcl or not track.started):
                at = position - 1 if position > cut and data[position - 1] == 0 else position
                if track.started:
                    self._append(track, data, cut, at)
                    self._emit_video()
                elif at > cut:
                    self.stats.skipped_bytes += at - cut
                cut = at
                self._begin(track, pts, dts)
                pts = dts = None
            if vcl and track.started:
                track.seen_vcl = True
                if key:
                    track.key = True
            position = find(_START, header, end)
        if track.started:
            self._append(track, data, cut, end)
        else:
            self.stats.skipped_bytes += end - cut

    def _begin(self, track: _Track, pts: int | None, dts: int | None) -> None:
        if pts is None and track.last_pts is not None:
            # Its PES packet gave its time to an earlier picture (or had none): decoded one usual interval
            # after the last, and shown then too (the best guess that keeps decode times in order).
            pts = track.last_pts + track.step
            dts = None
        track.started = True
        track.seen_vcl = False
        track.key = False
        track.pts = pts
        track.dts = dts

    def _append(self, track: _Track, data: bytes, start: int, end: int) -> None:
        if end <= start:
            return
        track.size += end - start
        if track.size > self._max_unit_bytes:
            self.stats.dropped_units += 1
            self._drop(track)
            self._hunting = True
            self.stats.resyncs += 1
            return
        track.parts.append(data[start:end] if start or end != len(data) else data)

    @staticmethod
    def _drop(track: _Track) -> None:
        track.parts = []
        track.size = 0
        track.started = False
        track.seen_vcl = False

    def _emit_video(self) -> None:
        track = self._video
        if not track.started:
            return
        codec = track.codec
        parts = track.parts
        keyframe = track.key
        pts = track.pts
        self._drop(track)
        if not parts:
            return
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if not isinstance(codec, VideoCodec) or pts is None:
            self.stats.dropped_units += 1
            return
        dts = track.dts
        decode = pts if dts is None else dts
        # For video `last_pts` is the last decode time: the clock to predict an untimed picture from.
        if track.last_pts is not None and decode > track.last_pts:
            track.step = decode - track.last_pts
        track.last_pts = decode
        if keyframe and self._repair and self._cache is not None:
            repaired = self._cache.complete(data)
            if repaired is not data:
                self.stats.parameter_sets_added += 1
                data = repaired
        self.stats.video_units += 1
        self._out.append((codec, VideoAccessUnit(data, pts, keyframe, dts if dts != pts else None)))

    def _audio_pes(self, payload: memoryview, pts_raw: int | None) -> None:
        track = self._audio
        codec = track.codec
        if codec is None:
            if self._audio_id in self._stream_types:
                self.stats.ignored_packets += 1
                return
            if adts_sync(payload):
                codec = AudioCodec.AAC
                self._set_codec(track, codec)
            else:
                self.stats.ignored_packets += 1  # MPEG audio or something else we do not record
                return
        pts = None if pts_raw is None else track.unwrap.unwrap(pts_raw)
        if codec is AudioCodec.AAC:
            self._aac(track, payload, pts)
            return
        if pts is None:
            if track.last_pts is None:
                self.stats.dropped_units += 1
                return
            pts = track.last_pts + track.step
        track.last_pts = pts
        track.step = len(payload) * 90_000 // _G711_RATE
        self.stats.audio_units += 1
        self._out.append((codec, AudioAccessUnit(bytes(payload), pts)))

    def _aac(self, track: _Track, payload: memoryview, pts: int | None) -> None:
        """ADTS frames out of the audio stream, each timed by the PES it starts in or else by its predecessor."""
        for header, frame, frame_pts in self._adts.push(payload, pts, self.stats):
            if frame_pts is None:
                frame_pts = None if track.last_pts is None else track.last_pts + track.step
            track.step = header.samples * 90_000 // header.sample_rate
            if frame_pts is None:
                self.stats.dropped_units += 1
            else:
                track.last_pts = frame_pts
                self.stats.audio_units += 1
                self._out.append((AudioCodec.AAC, AudioAccessUnit(frame, frame_pts)))
