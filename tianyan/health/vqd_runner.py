"""Diagnosing pictures on a schedule: every online camera once per `health.vqd_interval_s`, spread evenly.

Each camera gets a fixed phase in the interval (its id times the golden ratio, modulo 1), so 150,000 cameras an
hour is a steady ~42 a second rather than a burst on the hour, and a restart does not move anyone's turn.
Re-checks that work orders ask for, and "diagnose now" from the API, jump the queue. A camera whose stream
cannot be had is diagnosed as `signal_loss` — the camera is registered and online but shows no video.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.config import Config
from tianyan.core.clock import Clock
from tianyan.core.events import Event
from tianyan.db.engine import intend_to_write
from tianyan.health import vqd_store, workorders
from tianyan.health.models import VqdLatest, VqdSetting
from tianyan.health.paths import health_dir
from tianyan.health.vqd.diagnose import CheckResult, Diagnosis, diagnose, signal_lost
from tianyan.health.vqd.motion import picture_moved
from tianyan.media.hub import StreamHub
from tianyan.media.models import RecordingSegment
from tianyan.media.pools import StoragePools
from tianyan.media.snapshot import NoPicture, live_burst, recording_burst
from tianyan.registry.models import Camera

log = logging.getLogger(__name__)
GOLDEN = 0.6180339887498949
# The live camera list is read again this often; cameras coming online in between wait at most this long.
REFRESH_S = 60.0
# GB/T 28181 PTZType: 1 dome, 4 remote-controlled bullet; and cameras the registry calls "ptz".
PTZ_TYPES = (1, 4)
# How long the PTZ check pans the head before looking again (and then pans it back as long).
PTZ_MOVE_S = 1.5
PTZ_FAULT = "ptz"
AFTER_PAN_SPAN_S = 4.5

# Sends one PTZ pad action ("right", "left", "stop") to a camera.
PtzSender = Callable[[int, str], Awaitable[object]]


def phase_of(camera_id: int, interval_s: float) -> float:
    """Seconds into each interval at which the camera is diagnosed."""
    return (camera_id * GOLDEN) % 1.0 * interval_s


def due_between(camera_ids: list[int], interval_s: float, t0: float, t1: float) -> list[int]:
    """Cameras whose phase falls in (t0, t1], times in seconds on any steady clock."""
    if t1 <= t0:
        return []
    if t1 - t0 >= interval_s:
        return list(camera_ids)
    a, b = t0 % interval_s, t1 % interval_s
    if a < b:
        return [c for c in camera_ids if a < phase_of(c, interval_s) <= b]
    return [c for c in camera_ids if phase_of(c, interval_s) > a or phase_of(c, interval_s) <= b]


@dataclass
class VqdStats:
    diagnoses: int = 0
    faulty: int = 0
    no_picture: int = 0
    errors: int = 0
    seconds: float = 0.0


class VqdRunner:
    def __init__(
        self, config: Config, sessions: async_sessionmaker[AsyncSession], bus: Bus, *, clock: Clock,
        hub: Callable[[], StreamHub | None], recorded_stream: Callable[[int], str | None],
        ptz: PtzSender | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.health = config.health
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.hub = hub
        self.recorded_stream = recorded_stream
        self.ptz = ptz
        self.root = health_dir(config.server.data_dir)
        self.stats = VqdStats()
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self._rechecks: dict[int, float] = {}  # camera id -> monotonic time
        self._cameras: list[int] = []
        self._tasks: list[asyncio.Task[None]] = []

    # --- control ---

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._schedule_loop(), name="vqd-schedule"))
        for n in range(self.health.vqd_concurrency):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"vqd-worker-{n}"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def request(self, camera_id: int) -> None:
        """Diagnose this camera as soon as a worker is free (once, however often it is asked)."""
        if camera_id not in self._queued:
            self._queued.add(camera_id)
            self._queue.put_nowait(camera_id)

    def recheck_later(self, camera_id: int, delay_s: float) -> None:
        self._rechecks[camera_id] = time.monotonic() + delay_s

    # --- loops ---

    async def _schedule_loop(self) -> None:
        interval = float(self.health.vqd_interval_s)
        tick = max(0.5, min(10.0, interval / 120))
        refreshed = -REFRESH_S
        last = time.time()
        while True:
            try:
                if time.monotonic() - refreshed >= REFRESH_S:
                    self._cameras = await self._online_cameras()
                    refreshed = time.monotonic()
                now = time.time()
                for camera_id in due_between(self._cameras, interval, last, now):
                    self.request(camera_id)
                last = now
                mono = time.monotonic()
                for camera_id, due in list(self._rechecks.items()):
                    if due <= mono:
                        del self._rechecks[camera_id]
                        self.request(camera_id)
            except Exception:
                log.exception("the diagnosis schedule failed; trying again")
            await asyncio.sleep(tick)

    async def _worker(self) -> None:
        while True:
            camera_id = await self._queue.get()
            self._queued.discard(camera_id)
            try:
                await self.diagnose_camera(camera_id)
            except Exception:
                self.stats.errors += 1
                log.exception("diagnosing camera %s failed", camera_id)

    async def _online_cameras(self) -> list[int]:
        async with self.sessions() as session:
            disabled = select(VqdSetting.camera_id).where(VqdSetting.enabled.is_(False))
            rows = await session.execute(
                select(Camera.id).where(
                    Camera.online.is_(True),
                    or_(Camera.device_id.is_not(None), Camera.stream_url.is_not(None)),
                    Camera.id.not_in(disabled),
                )
            )
            return list(rows.scalars())

    # --- one camera ---

    async def diagnose_camera(self, camera_id: int) -> VqdLatest | None:
        """Take a burst, diagnose it, store the result and apply the work-order rules; None when disabled."""
        started = time.perf_counter()
        async with self.sessions() as session:
            camera = (
                await session.execute(
                    select(Camera.gb_id, Camera.online, Camera.kind, Camera.ptz_type).where(Camera.id == camera_id)
                )
            ).one_or_none()
            settings = await vqd_store.camera_settings(session, camera_id, self.root)
        if camera is None or not settings.enabled:
            return None
        at = self.clock.now()
        frames: list[np.ndarray] = []
        source = "live"
        try:
            frames, source = await self._pictures(camera_id, camera.gb_id)
        except NoPicture as exc:
            diagnosis = signal_lost(str(exc))
            self.stats.no_picture += 1
        else:
            diagnosis = await asyncio.to_thread(
                diagnose, frames, reference=settings.reference, thresholds=settings.thresholds
            )
            steerable = camera.kind == "ptz" or camera.ptz_type in PTZ_TYPES
            if settings.ptz_check and steerable and self.ptz is not None and source == "live":
                diagnosis = await self._ptz_check(camera_id, camera.gb_id, frames[-1], diagnosis)
        latest = await self._store(camera_id, at, source, diagnosis, frames, settings.reference is None)
        self.stats.diagnoses += 1
        self.stats.faulty += 0 if diagnosis.ok else 1
        self.stats.seconds += time.perf_counter() - started
        return latest

    async def _ptz_check(self, camera_id: int, gb_id: str, before: np.ndarray, diagnosis: Diagnosis) -> Diagnosis:
        """Pan the head, look again, pan it back: a picture that did not move means PTZ is out of control."""
        assert self.ptz is not None
        hub = self.hub()
        if hub is None:
            return diagnosis
        stream = self.recorded_stream(camera_id) or self.health.vqd_stream
        after: np.ndarray | None = None
        try:
            await self.ptz(camera_id, "right")
            await asyncio.sleep(PTZ_MOVE_S)
            await self.ptz(camera_id, "stop")
            # A burst starts on the newest keyframe, which may predate the pan: span past any usual GOP, keep the last.
            pictures = await live_burst(
                hub, gb_id, stream=stream, count=2, span_s=AFTER_PAN_SPAN_S, timeout_s=self.health.vqd_timeout_s
            )
            after = pictures[-1]
            note = ""
        except NoPicture as exc:
            note = f"no picture after the pan: {exc}"
        except Exception as exc:  # a refused or unanswered PTZ command is the fault being looked for
            note = f"the PTZ command failed: {exc}"
        finally:
            with contextlib.suppress(Exception):
                await self.ptz(camera_id, "left")
                await asyncio.sleep(PTZ_MOVE_S)
                await self.ptz(camera_id, "stop")
        score, moved = 0.0, False
        if after is not None:
            score, moved = await asyncio.to_thread(picture_moved, before, after)
            note = "" if moved else "the picture did not move when the head was told to pan"
        result = CheckResult(PTZ_FAULT, True, score, 0.0, not moved, note)
        if moved:
            return replace(diagnosis, scores={**diagnosis.scores, PTZ_FAULT: score},
                           results=[*diagnosis.results, result])  # fmt: skip
        return replace(
            diagnosis, ok=False, faults=[*diagnosis.faults, PTZ_FAULT], scores={**diagnosis.scores, PTZ_FAULT: score},
            results=[*diagnosis.results, result], usable_as_reference=False,
        )  # fmt: skip

    async def _pictures(self, camera_id: int, gb_id: str) -> tuple[list[np.ndarray], str]:
        health = self.health
        hub = self.hub()
        if hub is not None:
            stream = self.recorded_stream(camera_id) or health.vqd_stream
            frames = await live_burst(
                hub, gb_id, stream=stream, count=health.vqd_burst_frames, timeout_s=health.vqd_timeout_s
            )
            return frames, "live"
        return await self._from_recording(camera_id), "recording"

    async def _from_recording(self, camera_id: int) -> list[np.ndarray]:
        """Without a media plane in this process: the newest recorded segment, if it is recent."""
        async with self.sessions() as session:
            segment = (
                await session.execute(
                    select(RecordingSegment.pool, RecordingSegment.path, RecordingSegment.end_at)
                    .where(RecordingSegment.camera_id == camera_id, RecordingSegment.status != "missing")
                    .order_by(RecordingSegment.end_at.desc())
                    .limit(1)
                )
            ).one_or_none()
        if segment is None:
            raise NoPicture("no media plane in this process and no recording to diagnose")
        age = (self.clock.now() - segment.end_at).total_seconds()
        if age > self.health.vqd_interval_s:
            raise NoPicture(f"the newest recording ended {age:.0f} s ago")
        pools = StoragePools(self.config.storage_pools)
        if segment.pool not in pools:
            raise NoPicture(f"the recording's storage pool {segment.pool!r} is not configured here")
        path = pools.path(segment.pool) / segment.path
        return await asyncio.to_thread(recording_burst, Path(path), count=self.health.vqd_burst_frames)

    async def _store(
        self, camera_id: int, at: datetime, source: str, diagnosis: Diagnosis, frames: list[np.ndarray],
        wants_reference: bool,
    ) -> VqdLatest:  # fmt: skip
        health = self.health
        picture = frames[len(frames) // 2] if frames else None
        frame_path = None
        if picture is not None and not diagnosis.ok:
            frame_path = await asyncio.to_thread(
                vqd_store.write_jpeg, self.root, vqd_store.frame_name(camera_id, at), picture
            )
        reference = None
        if picture is not None and wants_reference and diagnosis.usable_as_reference:
            reference = await asyncio.to_thread(
                vqd_store.write_jpeg, self.root, vqd_store.reference_name(camera_id), picture
            )
        events: list[Event]
        async with self.sessions() as session:
            await intend_to_write(session)
            latest, events = await vqd_store.record(
                session, camera_id=camera_id, at=at, source=source, diagnosis=diagnosis, frame_path=frame_path,
                needed_failures=health.vqd_order_after_failures, recheck_after_s=health.recheck_after_s,
                orders=health.work_orders_enabled,
            )  # fmt: skip
            if reference is not None:
                await vqd_store.set_reference(session, camera_id, reference, at)
            pending = await workorders.open_order(session, camera_id, workorders.VQD) is not None
            await session.commit()
        for event in events:
            await self.bus.publish(event)
        # A fault still short of a work order, or an order waiting for its re-check, is looked at again soon
        # rather than at the camera's next turn an interval later.
        if health.work_orders_enabled and (pending or not diagnosis.ok):
            self.recheck_later(camera_id, min(health.recheck_after_s, health.vqd_interval_s))
        return latest
