"""HLS fallback for live view: a rolling fMP4 (CMAF) playlist per live feed, kept in memory, no I/O.

Players that cannot use Media Source Extensions (Safari on older iPhones, some embedded browsers) play the same
fMP4 fragments the WebSocket viewers get, grouped into segments that each start on a keyframe and last about a GOP
(at least `target_s`). Only the last `window` segments are listed, and a couple more are kept so a player that
just read the playlist can still fetch what it names. An init-segment change (codec or resolution) starts a new
EXT-X-MAP with an EXT-X-DISCONTINUITY in front of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["CLOCK_90K", "HlsPlaylist", "HlsSegment"]

CLOCK_90K = 90_000
MIN_READY_SEGMENTS = 3


@dataclass
class HlsSegment:
    sequence: int
    init_version: int
    start_90k: int
    end_90k: int
    parts: list[bytes] = field(default_factory=list)
    discontinuity: bool = False
    wall_start: datetime | None = None

    @property
    def duration_s(self) -> float:
        return max(0, self.end_90k - self.start_90k) / CLOCK_90K

    @property
    def data(self) -> bytes:
        return b"".join(self.parts)

    @property
    def size(self) -> int:
        return sum(len(part) for part in self.parts)


class HlsPlaylist:
    """Fragments in, a live media playlist and its segments out."""

    def __init__(self, *, target_s: float = 1.0, window: int = 6, spare: int = 3, max_segment_s: float = 12.0) -> None:
        if target_s <= 0 or window < 2 or spare < 0 or max_segment_s < target_s:
            raise ValueError("need target_s > 0, window >= 2, spare >= 0, max_segment_s >= target_s")
        self.target_s = target_s
        self.window = window
        self.spare = spare
        self.max_segment_s = max_segment_s
        self.inits: dict[int, bytes] = {}
        self.init_version = 0
        self.segments: list[HlsSegment] = []
        self.next_sequence = 0
        self.discontinuity_sequence = 0
        self._open: HlsSegment | None = None
        self._pending_discontinuity = False
        self._max_duration_s = 0.0
        self._discontinuities: list[int] = []  # sequences of listed segments that start a new run

    def set_init(self, init: bytes) -> None:
        """A new init segment: the open segment ends here, and what follows is a new run for the player."""
        if self.inits.get(self.init_version) == init:
            return
        self._close_open()
        if self.inits:
            self._pending_discontinuity = True
        self.init_version += 1
        self.inits[self.init_version] = init
        self._forget_unused_inits()

    def push(
        self, fragment: bytes, *, start_90k: int, end_90k: int, keyframe: bool, wall: datetime | None = None
    ) -> None:
        """One moof+mdat; `keyframe` when its first sample is a sync sample (a segment may start there)."""
        if not self.inits:
            raise ValueError("set_init must come before the first fragment")
        current = self._open
        if current is not None and keyframe and (start_90k - current.start_90k) / CLOCK_90K >= self.target_s:
            current.end_90k = start_90k
            self._close_open()
            current = None
        if current is not None and start_90k < current.end_90k - CLOCK_90K:
            # Time went backwards: whatever the producer did, the playlist must not list a negative duration.
            self._close_open()
            self._pending_discontinuity = True
            current = None
        if current is None:
            if not keyframe:
                return  # a segment must be decodable on its own; wait for the next keyframe
            current = self._open = HlsSegment(
                sequence=self.next_sequence,
                init_version=self.init_version,
                start_90k=start_90k,
                end_90k=end_90k,
                discontinuity=self._pending_discontinuity,
                wall_start=wall,
            )
            self.next_sequence += 1
            self._pending_discontinuity = False
        current.parts.append(fragment)
        current.end_90k = max(current.end_90k, end_90k)
        if current.duration_s >= self.max_segment_s:
            self._close_open()  # a very long GOP: the next segment starts at the next keyframe

    def mark_discontinuity(self) -> None:
        """The source's time jumped (upstream re-opened): the next segment starts a new run."""
        self._close_open()
        self._pending_discontinuity = True

    def segment(self, sequence: int) -> HlsSegment | None:
        for segment in self.segments:
            if segment.sequence == sequence:
                return segment
        return None

    def init(self, version: int) -> bytes | None:
        return self.inits.get(version)

    @property
    def listed(self) -> list[HlsSegment]:
        return self.segments[-self.window :]

    @property
    def last_closed(self) -> int:
        """The sequence number of the newest listed segment (-1 before the first)."""
        return self.segments[-1].sequence if self.segments else -1

    @property
    def ready(self) -> bool:
        """Enough is listed for a player to start: players begin three target durations from the live end
        (RFC 8216 §6.3.3), and Chromium's native HLS fails outright on a shorter live playlist."""
        return len(self.segments) >= min(MIN_READY_SEGMENTS, self.window)

    @property
    def bytes_held(self) -> int:
        open_size = self._open.size if self._open is not None else 0
        return sum(segment.size for segment in self.segments) + open_size + sum(map(len, self.inits.values()))

    def render(self, *, init_uri: str = "init-{version}.mp4", segment_uri: str = "seg-{sequence}.m4s") -> str:
        """The media playlist (RFC 8216, version 7 for fMP4): only closed segments, newest last."""
        listed = self.listed
        target = max(1, math.ceil(max([self._max_duration_s, self.target_s, *(s.duration_s for s in listed)])))
        lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-INDEPENDENT-SEGMENTS"]
        first = listed[0] if listed else None
        lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first.sequence if first else self.next_sequence}")
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}")
        version = None
        for segment in listed:
            if segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            if segment.init_version != version:
                version = segment.init_version
                lines.append(f'#EXT-X-MAP:URI="{init_uri.format(version=version)}"')
            if segment.wall_start is not None:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{segment.wall_start.isoformat(timespec='milliseconds')}")
            lines.append(f"#EXTINF:{segment.duration_s:.3f},")
            lines.append(segment_uri.format(sequence=segment.sequence))
        return "\n".join(lines) + "\n"

    def _close_open(self) -> None:
        segment, self._open = self._open, None
        if segment is None or not segment.parts:
            return
        self.segments.append(segment)
        if segment.discontinuity:
            self._discontinuities.append(segment.sequence)
        self._max_duration_s = max(self._max_duration_s, segment.duration_s)
        del self.segments[: max(0, len(self.segments) - self.window - self.spare)]
        # The playlist counts the discontinuities that scrolled out of its window (RFC 8216 §4.3.3.3).
        first_listed = self.listed[0].sequence
        while self._discontinuities and self._discontinuities[0] < first_listed:
            self._discontinuities.pop(0)
            self.discontinuity_sequence += 1
        self._forget_unused_inits()

    def _forget_unused_inits(self) -> None:
        used = {segment.init_version for segment in self.segments}
        used.add(self.init_version)
        for version in list(self.inits):
            if version not in used:
                del self.inits[version]
