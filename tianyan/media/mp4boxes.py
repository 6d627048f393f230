"""Reading fragmented MP4 without decoding: top-level boxes, init-segment facts, fragment times, torn tails.

Pure functions over bytes plus two small file helpers (`scan_file`, `truncate_torn_tail`). Everything here
tolerates garbage: a box whose header is impossible, or which runs past the end of the data, ends the walk and
is reported, never raised, because the files read here are exactly the ones a crash or a full disk cut short.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tianyan.media.codec_strings import aac_codec_string, avc_codec_string, hevc_codec_string

__all__ = [
    "Box",
    "FileScan",
    "Fragment",
    "InitInfo",
    "TrackInfo",
    "TrackRun",
    "child_boxes",
    "iter_boxes",
    "parse_init",
    "parse_moof",
    "sample_entries",
    "scan_bytes",
    "scan_file",
    "split_fragments",
    "truncate_torn_tail",
]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
# A real moof is a few hundred bytes; anything this big is garbage that happens to say "moof".
_MAX_MOOF = 16 << 20
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"dinf", b"edts"}


@dataclass(frozen=True)
class Box:
    """A box's type, where it starts, its whole size and its header length (8, or 16 with a 64-bit size)."""

    type: str
    offset: int
    size: int
    header: int

    @property
    def end(self) -> int:
        return self.offset + self.size

    @property
    def body(self) -> int:
        return self.offset + self.header


def _box_type(raw: bytes) -> str | None:
    if len(raw) != 4 or not all(0x20 <= b < 0x7F or b == 0xA9 for b in raw):
        return None
    return raw.decode("latin-1")


def _header(data: bytes | memoryview, offset: int, end: int) -> Box | None:
    """The box at `offset` if its header is sane and it ends by `end`; None otherwise."""
    if offset + 8 > end:
        return None
    size = _U32.unpack_from(data, offset)[0]
    kind = _box_type(bytes(data[offset + 4 : offset + 8]))
    if kind is None:
        return None
    header = 8
    if size == 1:
        if offset + 16 > end:
            return None
        size = _U64.unpack_from(data, offset + 8)[0]
        header = 16
    elif size == 0:
        size = end - offset
    if size < header or offset + size > end:
        return None
    return Box(kind, offset, size, header)


def iter_boxes(data: bytes | memoryview, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes lying one after another in data[start:end]; stops quietly at the first that is incomplete."""
    end = len(data) if end is None else end
    offset = start
    while (box := _header(data, offset, end)) is not None:
        yield box
        offset = box.end


def _children(data: bytes | memoryview, box: Box, skip: int = 0) -> dict[str, list[Box]]:
    found: dict[str, list[Box]] = {}
    for child in iter_boxes(data, box.body + skip, box.end):
        found.setdefault(child.type, []).append(child)
    return found


def _first(children: dict[str, list[Box]], kind: str) -> Box | None:
    boxes = children.get(kind)
    return boxes[0] if boxes else None


# --- init segment --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackInfo:
    track_id: int
    kind: str  # "video", "audio" or the raw handler type
    timescale: int
    sample_entry: str  # avc1, hvc1, hev1, mp4a, ...
    codec_string: str  # RFC 6381, what MSE's isTypeSupported wants
    width: int = 0
    height: int = 0
    default_sample_duration: int = 0
    default_sample_size: int = 0


@dataclass(frozen=True)
class InitInfo:
    """What ftyp+moov says: the tracks, by id."""

    size: int
    tracks: dict[int, TrackInfo]

    @property
    def video(self) -> TrackInfo | None:
        return next((t for t in self.tracks.values() if t.kind == "video"), None)

    @property
    def audio(self) -> TrackInfo | None:
        return next((t for t in self.tracks.values() if t.kind == "audio"), None)

    @property
    def mime_type(self) -> str:
        codecs = ", ".join(t.codec_string for t in self.tracks.values() if t.kind in ("video", "audio"))
        return f'video/mp4; codecs="{codecs}"'


def _full_box_version(data: bytes | memoryview, box: Box) -> int:
    return data[box.body]


def _track(data: bytes | memoryview, trak: Box) -> TrackInfo | None:
    parts = _children(data, trak)
    tkhd, mdia = _first(parts, "tkhd"), _first(parts, "mdia")
    if tkhd is None or mdia is None:
        return None
    id_at = tkhd.body + (20 if _full_box_version(data, tkhd) == 1 else 12)
    track_id = _U32.unpack_from(data, id_at)[0]
    media = _children(data, mdia)
    mdhd, hdlr, minf = _first(media, "mdhd"), _first(media, "hdlr"), _first(media, "minf")
    if mdhd is None or hdlr is None or minf is None:
        return None
    timescale = _U32.unpack_from(data, mdhd.body + (20 if _full_box_version(data, mdhd) == 1 else 12))[0]
    handler = bytes(data[hdlr.body + 8 : hdlr.body + 12]).decode("latin-1")
    kind = {"vide": "video", "soun": "audio"}.get(handler, handler)
    stbl = _first(_children(data, minf), "stbl")
    stsd = _first(_children(data, stbl), "stsd") if stbl else None
    entry = next(iter_boxes(data, stsd.body + 8, stsd.end), None) if stsd else None
    if entry is None:
        return TrackInfo(track_id, kind, timescale, "", "")
    width = height = 0
    codec_string = entry.type
    if kind == "video" and entry.size >= entry.header + 78:
        width, height = struct.unpack_from(">HH", data, entry.body + 24)
        inner = _children(data, entry, skip=78)
        if (avcc := _first(inner, "avcC")) is not None:
            codec_string = avc_codec_string(entry.type, bytes(data[avcc.body : avcc.end]))
        elif (hvcc := _first(inner, "hvcC")) is not None:
            codec_string = hevc_codec_string(entry.type, bytes(data[hvcc.body : hvcc.end]))
    elif kind == "audio" and entry.size >= entry.header + 28:
        esds = _first(_children(data, entry, skip=28), "esds")
        if esds is not None:
            codec_string = aac_codec_string(bytes(data[esds.body + 4 : esds.end]))
    return TrackInfo(track_id, kind, timescale, entry.type, codec_string, width, height)


def sample_entries(data: bytes | memoryview) -> list[Box]:
    """The first sample entry (avc1, hev1, mp4a, ...) of each track in the moov at the start of `data`."""
    moov = next((b for b in iter_boxes(data) if b.type == "moov"), None)
    found = []
    for trak in _children(data, moov).get("trak", []) if moov else []:
        box: Box | None = trak
        for kind in ("mdia", "minf", "stbl", "stsd"):
            box = _first(_children(data, box), kind) if box is not None else None
        entry = next(iter_boxes(data, box.body + 8, box.end), None) if box is not None else None
        if entry is not None:
            found.append(entry)
    return found


def child_boxes(data: bytes | memoryview, box: Box, skip: int = 0) -> list[Box]:
    """The boxes inside `box`, after `skip` bytes of its own fields (78 in a visual sample entry, 28 in audio)."""
    return list(iter_boxes(data, box.body + skip, box.end))


def parse_init(data: bytes | memoryview) -> InitInfo | None:
    """The tracks described by the ftyp+moov at the start of `data`; None when there is no complete moov."""
    moov = next((b for b in iter_boxes(data) if b.type == "moov"), None)
    if moov is None:
        return None
    parts = _children(data, moov)
    tracks = {}
    for trak in parts.get("trak", []):
        track = _track(data, trak)
        if track is not None:
            tracks[track.track_id] = track
    mvex = _first(parts, "mvex")
    for trex in _children(data, mvex).get("trex", []) if mvex else []:
        if trex.size < trex.header + 24:
            continue
        track_id, _, duration, size = struct.unpack_from(">IIII", data, trex.body + 4)
        if track_id in tracks:
            old = tracks[track_id]
            tracks[track_id] = TrackInfo(
                old.track_id, old.kind, old.timescale, old.sample_entry, old.codec_string, old.width, old.height,
                duration, size,
            )  # fmt: skip
    return InitInfo(moov.end, tracks)


# --- fragments -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackRun:
    """One track's samples in one fragment: decode start (tfdt) and total duration, in the track's timescale."""

    track_id: int
    base_decode_time: int
    duration: int
    samples: int
    data_bytes: int
    starts_with_sync: bool


@dataclass(frozen=True)
class Fragment:
    offset: int
    size: int  # moof + mdat
    runs: tuple[TrackRun, ...]

    @property
    def end(self) -> int:
        return self.offset + self.size

    def run(self, track_id: int) -> TrackRun | None:
        return next((r for r in self.runs if r.track_id == track_id), None)


def _sync(flags: int) -> bool:
    # sample_is_non_sync_sample is bit 16 of the sample flags.
    return not flags & 0x00010000


def _traf(data: bytes | memoryview, traf: Box, defaults: dict[int, TrackInfo]) -> TrackRun | None:
    parts = _children(data, traf)
    tfhd = _first(parts, "tfhd")
    if tfhd is None or tfhd.size < tfhd.header + 8:
        return None
    flags = _U32.unpack_from(data, tfhd.body)[0] & 0xFFFFFF
    track_id = _U32.unpack_from(data, tfhd.body + 4)[0]
    at = tfhd.body + 8 + (8 if flags & 0x1 else 0) + (4 if flags & 0x2 else 0)
    known = defaults.get(track_id)
    default_duration = known.default_sample_duration if known else 0
    default_size = known.default_sample_size if known else 0
    default_flags = 0
    if flags & 0x8:
        default_duration = _U32.unpack_from(data, at)[0]
        at += 4
    if flags & 0x10:
        default_size = _U32.unpack_from(data, at)[0]
        at += 4
    if flags & 0x20:
        default_flags = _U32.unpack_from(data, at)[0]
    base = 0
    if (tfdt := _first(parts, "tfdt")) is not None:
        version = _full_box_version(data, tfdt)
        base = (_U64 if version == 1 else _U32).unpack_from(data, tfdt.body + 4)[0]
    duration = samples = total = 0
    first_sync: bool | None = None
    for trun in parts.get("trun", []):
        run_flags = _U32.unpack_from(data, trun.body)[0] & 0xFFFFFF
        count = _U32.unpack_from(data, trun.body + 4)[0]
        at = trun.body + 8 + (4 if run_flags & 0x1 else 0)
        first_flags: int | None = None
        if run_flags & 0x4:
            first_flags = _U32.unpack_from(data, at)[0]
            at += 4
        fields = sum(4 for bit in (0x100, 0x200, 0x400, 0x800) if run_flags & bit)
        if at + count * fields > trun.end:
            return None
        for index in range(count):
            sample_duration, sample_size, sample_flags = default_duration, default_size, default_flags
            if run_flags & 0x100:
                sample_duration = _U32.unpack_from(data, at)[0]
                at += 4
            if run_flags & 0x200:
                sample_size = _U32.unpack_from(data, at)[0]
                at += 4
            if run_flags & 0x400:
                sample_flags = _U32.unpack_from(data, at)[0]
                at += 4
            if run_flags & 0x800:
                at += 4
            if index == 0 and first_flags is not None:
                sample_flags = first_flags
            if first_sync is None:
                first_sync = _sync(sample_flags)
            duration += sample_duration
            total += sample_size
        samples += count
    return TrackRun(track_id, base, duration, samples, total, bool(first_sync))


def parse_moof(data: bytes | memoryview, moof: Box, tracks: dict[int, TrackInfo] | None = None) -> list[TrackRun]:
    """Each track's run in a moof; `tracks` (from the init segment) supplies trex defaults."""
    runs = []
    for traf in _children(data, moof).get("traf", []):
        run = _traf(data, traf, tracks or {})
        if run is not None:
            runs.append(run)
    return runs


def split_fragments(data: bytes | memoryview, tracks: dict[int, TrackInfo] | None = None) -> list[Fragment]:
    """The complete moof+mdat pairs in `data` (which holds fragments only, or a whole file)."""
    return scan_bytes(data, tracks).fragments


# --- whole files ----------------------------------------------------------------------------------


@dataclass
class FileScan:
    """A file's structure: its init segment, its complete fragments, and where the last good byte is."""

    size: int
    init: InitInfo | None = None
    fragments: list[Fragment] = field(default_factory=list)
    good_end: int = 0
    problem: str | None = None

    @property
    def torn(self) -> bool:
        return self.size > self.good_end

    def track_span(self, track_id: int) -> tuple[int, int] | None:
        """(first decode time, last decode time + its duration) of a track, in its timescale."""
        runs = [r for f in self.fragments if (r := f.run(track_id)) is not None and r.samples]
        if not runs:
            return None
        return runs[0].base_decode_time, runs[-1].base_decode_time + runs[-1].duration

    def video_span_s(self) -> tuple[float, float] | None:
        """The video track's decode-time span in seconds (the file's own clock, which starts at 0)."""
        video = self.init.video if self.init else None
        span = self.track_span(video.track_id) if video else None
        if video is None or span is None or not video.timescale:
            return None
        return span[0] / video.timescale, span[1] / video.timescale

    def samples(self, track_id: int) -> int:
        return sum(r.samples for f in self.fragments if (r := f.run(track_id)) is not None)


class _Source:
    """Random access to bytes or a file, reading only box headers and moofs, never mdat payloads."""

    def __init__(self, data: bytes | memoryview | None = None, file: object | None = None, size: int = 0) -> None:
        self._data, self._file, self.size = data, file, size if data is None else len(data)

    def read(self, offset: int, length: int) -> bytes:
        if self._data is not None:
            return bytes(self._data[offset : offset + length])
        self._file.seek(offset)  # type: ignore[attr-defined]
        return self._file.read(length)  # type: ignore[attr-defined]

    def header(self, offset: int) -> Box | None:
        box = _header(self.read(offset, 16), 0, self.size - offset)
        return None if box is None else Box(box.type, offset, box.size, box.header)


def _scan(source: _Source, tracks: dict[int, TrackInfo] | None = None) -> FileScan:
    scan = FileScan(size=source.size)
    offset = 0
    pending: tuple[Box, bytes] | None = None
    while offset < source.size:
        box = source.header(offset)
        if box is None:
            scan.problem = f"incomplete or unreadable box at byte {offset}"
            break
        if box.type == "moov":
            scan.init = parse_init(source.read(0, box.end))
            tracks = scan.init.tracks if scan.init else tracks
            scan.good_end = box.end
        elif box.type == "moof":
            if box.size > _MAX_MOOF:
                scan.problem = f"implausible moof of {box.size} bytes at byte {offset}"
                break
            pending = (box, source.read(box.offset, box.size))
        elif box.type == "mdat" and pending is not None:
            moof, raw = pending
            pending = None
            runs = parse_moof(raw, Box("moof", 0, moof.size, moof.header), tracks)
            if sum(r.data_bytes for r in runs) > box.size - box.header:
                scan.problem = f"fragment at byte {moof.offset} claims more sample bytes than its mdat holds"
                break
            scan.fragments.append(Fragment(moof.offset, box.end - moof.offset, tuple(runs)))
            scan.good_end = box.end
        elif pending is None and box.type in ("ftyp", "styp", "free", "skip", "sidx", "mfra", "uuid", "prft"):
            if box.type != "free" or scan.good_end == offset:
                scan.good_end = box.end
        else:
            scan.problem = f"unexpected {box.type!r} box at byte {offset}"
            break
        offset = box.end
    if pending is not None and scan.problem is None:
        scan.problem = f"fragment at byte {pending[0].offset} has no mdat"
    return scan


def scan_bytes(data: bytes | memoryview, tracks: dict[int, TrackInfo] | None = None) -> FileScan:
    return _scan(_Source(data=data), tracks)


def scan_file(path: str | Path) -> FileScan:
    """Walk a file's top-level boxes, reading the moov and each moof but no media data."""
    with open(path, "rb") as file:
        size = os.fstat(file.fileno()).st_size
        return _scan(_Source(file=file, size=size))


def truncate_torn_tail(path: str | Path, scan: FileScan | None = None) -> int:
    """Cut the file after its last complete fragment; returns the bytes removed (0 when it was whole)."""
    scan = scan or scan_file(path)
    if not scan.torn:
        return 0
    removed = scan.size - scan.good_end
    with open(path, "r+b") as file:
        file.truncate(scan.good_end)
        os.fsync(file.fileno())
    return removed
