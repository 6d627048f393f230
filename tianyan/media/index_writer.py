"""The recording index, written in batches: segment rows (opened, advanced, closed) and gap rows.

Recorders run on the event loop and cannot wait for the database, so they only report what happened and this
writer puts it in one transaction every couple of seconds. A segment is known by its (pool, path), which the
recorder chooses before any row exists, so a row can be advanced or closed in the same batch that creates it.
Progress is coalesced per segment: however many fragments a recorder flushed since the last write, the row is
updated once. A batch the database refuses is kept and retried with the next one; nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.db.engine import intend_to_write
from tianyan.media.models import RecordingGap, RecordingSegment

__all__ = ["GapRecord", "RecordingIndex", "SegmentOpened", "SegmentProgress"]

log = logging.getLogger(__name__)

SegmentKey = tuple[str, str]  # (pool, path inside the pool)


@dataclass(frozen=True)
class SegmentOpened:
    camera_id: int
    pool: str
    path: str
    start_at: datetime
    codec: str
    width: int | None
    height: int | None
    has_audio: bool
    bytes: int = 0
    source: str = "live"


@dataclass(frozen=True)
class SegmentProgress:
    end_at: datetime
    bytes: int
    frames: int
    status: str | None = None  # set when the segment is closed (closed, repaired, ...)


@dataclass(frozen=True)
class GapRecord:
    camera_id: int
    start_at: datetime
    end_at: datetime
    cause: str
    detail: str | None = None


@dataclass
class _Batch:
    opened: list[SegmentOpened] = field(default_factory=list)
    progress: dict[SegmentKey, SegmentProgress] = field(default_factory=dict)
    gaps: list[GapRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.opened) + len(self.progress) + len(self.gaps)


class RecordingIndex:
    """Queue index changes from recorders (synchronous, never blocking); write them every `flush_interval_s`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, flush_interval_s: float = 2.0) -> None:
        self._sessions = sessions
        self.flush_interval_s = flush_interval_s
        self._batch = _Batch()
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.written = 0
        self.failures = 0

    # --- what recorders report --------------------------------------------------------------------------------

    def segment_opened(self, segment: SegmentOpened) -> None:
        self._batch.opened.append(segment)

    def segment_progress(self, pool: str, path: str, *, end_at: datetime, bytes: int, frames: int) -> None:
        key = (pool, path)
        # A close already queued wins over progress reported after it.
        previous = self._batch.progress.get(key)
        status = previous.status if previous is not None else None
        self._batch.progress[key] = SegmentProgress(end_at, bytes, frames, status)

    def segment_closed(
        self, pool: str, path: str, *, end_at: datetime, bytes: int, frames: int, status: str = "closed"
    ) -> None:
        self._batch.progress[(pool, path)] = SegmentProgress(end_at, bytes, frames, status)

    def gap(self, camera_id: int, start_at: datetime, end_at: datetime, cause: str, detail: str | None = None) -> None:
        if end_at > start_at:
            self._batch.gaps.append(GapRecord(camera_id, start_at, end_at, cause, detail))

    @property
    def pending(self) -> int:
        return len(self._batch)

    # --- running ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="recording-index")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()

    async def flush(self) -> bool:
        """Write what is queued; False when the database refused it (it stays queued)."""
        async with self._flushing:
            batch, self._batch = self._batch, _Batch()
            if not len(batch):
                return True
            try:
                async with self._sessions() as session:
                    await intend_to_write(session)
                    await self._write(session, batch)
                    await session.commit()
            except Exception:
                self.failures += 1
                log.exception("recording index: the database refused a batch; keeping it for the next flush")
                self._requeue(batch)
                return False
            self.written += len(batch)
            return True

    def _requeue(self, batch: _Batch) -> None:
        newer = self._batch
        batch.opened.extend(newer.opened)
        for key, progress in newer.progress.items():
            older = batch.progress.get(key)
            if older is not None and older.status is not None and progress.status is None:
                progress = SegmentProgress(progress.end_at, progress.bytes, progress.frames, older.status)
            batch.progress[key] = progress
        batch.gaps.extend(newer.gaps)
        self._batch = batch

    async def _write(self, session: AsyncSession, batch: _Batch) -> None:
        if batch.opened:
            await session.execute(
                insert(RecordingSegment.__table__),
                [
                    {
                        "camera_id": s.camera_id, "pool": s.pool, "path": s.path, "start_at": s.start_at,
                        "end_at": s.start_at, "bytes": s.bytes, "codec": s.codec, "width": s.width,
                        "height": s.height, "frames": 0, "has_audio": s.has_audio, "status": "open",
                        "source": s.source,
                    }
                    for s in batch.opened
                ],
            )  # fmt: skip
        table = RecordingSegment.__table__
        where = (table.c.pool == bindparam("_pool")) & (table.c.path == bindparam("_path"))
        for closing in (False, True):
            rows = [
                {"_pool": pool, "_path": path, "_end": p.end_at, "_bytes": p.bytes, "_frames": p.frames}
                | ({"_status": p.status} if closing else {})
                for (pool, path), p in batch.progress.items()
                if (p.status is not None) is closing
            ]
            if not rows:
                continue
            values = {"end_at": bindparam("_end"), "bytes": bindparam("_bytes"), "frames": bindparam("_frames")}
            if closing:
                values["status"] = bindparam("_status")
            await session.execute(update(table).where(where).values(**values), rows)
        if batch.gaps:
            await session.execute(
                insert(RecordingGap.__table__),
                [
                    {"camera_id": g.camera_id, "start_at": g.start_at, "end_at": g.end_at, "cause": g.cause,
                     "detail": g.detail}
                    for g in batch.gaps
                ],
            )  # fmt: skip
