"""Cutting an AAC stream that arrives in pieces (PES payloads) into ADTS frames, each with its packet's PTS."""

from __future__ import annotations

from typing import Protocol

from tianyan.media.bitstream import AdtsHeader, BitstreamError, adts_sync, parse_adts

# More than this without a whole frame in it is not AAC: it is dropped (and counted) rather than kept growing.
MAX_BUFFER_BYTES = 64 * 1024


class FramingCounts(Protocol):
    """Where the framer counts what it skips: bytes before a syncword, and headers that cannot be right."""

    skipped_bytes: int
    errors: int


class AdtsFramer:
    """Feed it PES payloads with their PTS; it returns each complete ADTS frame with the PTS of the packet it starts
    in (None when that packet's time went to an earlier frame, or it had none: the caller times it)."""

    __slots__ = ("_anchors", "_consumed", "_es")

    def __init__(self) -> None:
        # The stream not yet cut into frames, bytes already cut, and (stream offset, pts) of each timed packet.
        self._es = bytearray()
        self._consumed = 0
        self._anchors: list[tuple[int, int]] = []

    def reset(self) -> None:
        """Bytes were lost: forget the partial frame and the packet times waiting for frames."""
        self._es.clear()
        self._anchors.clear()

    def push(
        self, payload: bytes | memoryview, pts: int | None, counts: FramingCounts
    ) -> list[tuple[AdtsHeader, bytes, int | None]]:
        es = self._es
        if pts is not None:
            self._anchors.append((self._consumed + len(es), pts))
        es += payload
        frames: list[tuple[AdtsHeader, bytes, int | None]] = []
        position = 0
        size = len(es)
        while size - position >= 7:
            if not adts_sync(es, position):
                following = es.find(b"\xff", position + 1)
                skipped = (size if following < 0 else following) - position
                counts.skipped_bytes += skipped
                position += skipped
                continue
            try:
                header = parse_adts(es, position)
            except BitstreamError:
                counts.errors += 1
                position += 1
                continue
            if size - position < header.frame_size:
                break
            start = self._consumed + position
            frame_pts = None
            while self._anchors and self._anchors[0][0] <= start:
                frame_pts = self._anchors.pop(0)[1]
            frames.append((header, bytes(es[position : position + header.frame_size]), frame_pts))
            position += header.frame_size
        del es[:position]
        self._consumed += position
        if len(es) > MAX_BUFFER_BYTES:
            counts.errors += 1
            self._consumed += len(es)
            es.clear()
            self._anchors.clear()
        return frames
