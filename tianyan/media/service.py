"""The media plane of a node: RTP ingest, the stream hub, recording by plan, retention, live views, export jobs.

Recording follows the plans: every camera whose plan says record (its own `recording_plans` row, else its class
being in `media.record_classes`) and that can stream now (online, or pulled over RTSP) gets a ChannelRecorder
attached to its feed. The set is re-read every few seconds and at once when a camera comes online, so a camera
that appears, returns or is re-planned starts recording without anyone asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.config import Config
from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import NotFound, Unavailable
from tianyan.core.events import Event
from tianyan.core.secrets import secret_file
from tianyan.db.engine import intend_to_write
from tianyan.gb28181.events import DeviceCameOnline
from tianyan.gb28181.sdp_types import Transport
from tianyan.gb28181.server import SipServer
from tianyan.media import alarms, export_jobs
from tianyan.media.device_playback import DevicePlaybacks
from tianyan.media.gb_upstream import GbUpstreamFactory
from tianyan.media.hub import Attachment, StreamHub, Upstream
from tianyan.media.index_writer import RecordingIndex
from tianyan.media.ingest import RtpIngest
from tianyan.media.live import LiveViews
from tianyan.media.models import RecordingPlan
from tianyan.media.pools import StoragePools
from tianyan.media.reconcile import reconcile
from tianyan.media.recorder import ChannelRecorder
from tianyan.media.retention_runner import RetentionRunner
from tianyan.media.rtsp_pull import RtspUpstreamFactory
from tianyan.media.tokens import KEY_BYTES, TokenSigner, key_path
from tianyan.media.units import MediaSink
from tianyan.registry.models import Camera

log = logging.getLogger(__name__)
SCHEDULE_INTERVAL_S = 10.0


@dataclass(frozen=True)
class Planned:
    camera_id: int
    gb_id: str
    stream: str


@dataclass
class Recording:
    planned: Planned
    recorder: ChannelRecorder
    attachment: Attachment


class MediaService:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        clock: Clock | None = None,
        sip: SipServer | None = None,
    ) -> None:
        media = config.media
        self.config = config
        self.sessions = sessions
        self.bus = bus
        self.clock = clock or SystemClock()
        self.pools = StoragePools(config.storage_pools)
        self.index = RecordingIndex(sessions)
        self.ingest = RtpIngest(
            media.rtp_host, media.rtp_port_min, media.rtp_port_max, media.reorder_window_ms, media.stream_timeout_s
        )
        self.gb = (
            GbUpstreamFactory(
                sip,
                self.ingest,
                sessions,
                transport=Transport(media.rtp_transport),
                advertised_host=media.rtp_advertised_host,
            )
            if sip is not None
            else None
        )
        self.rtsp = RtspUpstreamFactory(self._stream_url, timeout_s=media.stream_timeout_s)
        self.hub = StreamHub(self, retry_min_s=media.retry_min_s, retry_max_s=media.retry_max_s, on_lost=self._lost)
        self.live = LiveViews(self.hub, grace_s=media.live_grace_s)
        self.device_playbacks = DevicePlaybacks(self.gb)
        self.tokens = TokenSigner(secret_file(key_path(config.server.data_dir), size_bytes=KEY_BYTES), clock=self.clock)
        self.retention = RetentionRunner(sessions, pools=config.storage_pools, media=media, bus=bus, clock=self.clock)
        self.recordings: dict[int, Recording] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._poke = asyncio.Event()
        # Cameras with an open stream_lost alarm, cleared once their feed runs again; alarm writes in flight.
        self._lost_cameras: set[int] = set()
        self._alarm_tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: Callable[[], None] | None = None

    # --- the hub's upstream factory: RTSP for cameras with a stream URL, GB/T 28181 for the rest ----------------

    async def open(self, channel_gb_id: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]) -> Upstream:
        if await self._stream_url(channel_gb_id, stream):
            return await self.rtsp.open(channel_gb_id, stream, sink, on_lost)
        if self.gb is None:
            raise Unavailable(
                "the GB/T 28181 SIP server does not run on this node, so live streams cannot be asked for"
            )
        return await self.gb.open(channel_gb_id, stream, sink, on_lost)

    async def _stream_url(self, channel_gb_id: str, stream: str = "main") -> str | None:
        # Read at each start (rare), so an edited URL or a camera moved to RTSP is followed at once.
        async with self.sessions() as session:
            row = (await session.execute(select(Camera.stream_url).where(Camera.gb_id == channel_gb_id))).first()
        if row is None:
            raise NotFound(f"camera {channel_gb_id} is not in the registry")
        return row[0]

    # --- life cycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        report = await reconcile(self.sessions, self.pools)
        if report.repaired or report.indexed or report.missing:
            log.info("recordings reconciled after a stop: %s", report)
        await export_jobs.recover(self.sessions, clock=self.clock)
        self.index.start()
        self._unsubscribe = self.bus.subscribe(DeviceCameOnline.subject, self._device_online)
        self._tasks = [
            asyncio.create_task(self._schedule_loop(), name="media-schedule"),
            asyncio.create_task(self.retention.run_forever(), name="media-retention"),
        ]

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._alarm_tasks:
            await asyncio.gather(*self._alarm_tasks, return_exceptions=True)
        for recording in list(self.recordings.values()):
            recording.recorder.close("stopped")
        self.recordings.clear()
        await self.device_playbacks.close()
        await self.live.close()
        await self.hub.close()
        await self.ingest.close()
        if self.gb is not None:
            self.gb.close()
        await self.index.close()

    def poke(self) -> None:
        """Look at the recording plans again now (a camera came online, a plan changed)."""
        self._poke.set()

    async def _device_online(self, event: Event) -> None:
        self.poke()

    # --- recording by plan ------------------------------------------------------------------------------------

    async def planned(self) -> dict[int, Planned]:
        """Cameras that should be recording now: planned, and able to stream (online, or an RTSP source)."""
        classes = self.config.media.record_classes
        query = (
            select(Camera.id, Camera.gb_id, RecordingPlan.stream)
            .outerjoin(RecordingPlan, RecordingPlan.camera_id == Camera.id)
            .where(
                or_(Camera.online.is_(True), Camera.stream_url.is_not(None)),
                or_(
                    RecordingPlan.enabled.is_(True),
                    and_(RecordingPlan.camera_id.is_(None), Camera.cls.in_(classes)),
                ),
            )
        )
        async with self.sessions() as session:
            rows = (await session.execute(query)).all()
        default = self.config.media.record_stream
        return {row[0]: Planned(row[0], row[1], row[2] or default) for row in rows}

    async def schedule(self) -> None:
        wanted = await self.planned()
        for camera_id in [c for c in self.recordings if c not in wanted or self.recordings[c].planned != wanted[c]]:
            await self._stop_recording(camera_id, "no longer planned")
        for camera_id, planned in wanted.items():
            if camera_id not in self.recordings:
                await self._start_recording(planned)

    async def _schedule_loop(self) -> None:
        while True:
            try:
                await self.schedule()
                self._clear_restored()
                await self.device_playbacks.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("recording schedule pass failed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that meets a poke.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SCHEDULE_INTERVAL_S):
                    await self._poke.wait()
            self._poke.clear()

    def _recorder(self, planned: Planned, resumed_after: tuple[object, str] | None = None) -> ChannelRecorder:
        media = self.config.media
        return ChannelRecorder(
            camera_id=planned.camera_id, gb_id=planned.gb_id, pools=self.pools, index=self.index,
            segment_s=media.segment_s, fragment_ms=media.fragment_ms, source="live",
            resumed_after=resumed_after,  # type: ignore[arg-type]
            on_problem=lambda kind, message: self._alarm(kind, message, camera_id=planned.camera_id),
        )  # fmt: skip

    async def _start_recording(self, planned: Planned) -> None:
        recorder = self._recorder(planned)
        attachment = await self.hub.attach(planned.gb_id, recorder, stream=planned.stream, wait=False)
        self.recordings[planned.camera_id] = Recording(planned, recorder, attachment)

    async def _stop_recording(self, camera_id: int, reason: str) -> None:
        recording = self.recordings.pop(camera_id, None)
        if recording is None:
            return
        recording.recorder.close(reason)
        await self.hub.detach(recording.attachment)

    def _lost(self, channel_gb_id: str, stream: str, reason: str) -> None:
        """A feed died: the recorder's segment is closed now, and a new recorder waits for the stream's return,
        so the outage is one gap with its cause instead of a segment left open across it."""
        for camera_id, recording in self.recordings.items():
            planned = recording.planned
            if (planned.gb_id, planned.stream) != (channel_gb_id, stream) or recording.recorder.stats.frames == 0:
                continue
            recording.recorder.on_end("lost")
            self._lost_cameras.add(camera_id)
            self._alarm("stream_lost", f"{channel_gb_id}/{stream}: {reason}", camera_id=camera_id)
            cause = "device_offline" if "offline" in reason else "stream_lost"
            recording.recorder = self._recorder(planned, (self.clock.now(), cause))
            self.hub.replace_sink(recording.attachment, recording.recorder)

    def _clear_restored(self) -> None:
        for camera_id in list(self._lost_cameras):
            recording = self.recordings.get(camera_id)
            feed = self.hub.feed(recording.planned.gb_id, recording.planned.stream) if recording else None
            if recording is None or (feed is not None and feed.upstream is not None):
                self._lost_cameras.discard(camera_id)
                self._alarm("stream_lost", "", camera_id=camera_id, clear=True)

    def _alarm(self, kind: str, message: str, *, camera_id: int | None = None, clear: bool = False) -> None:
        """Raise (or clear) a media alarm from a synchronous callback: the write runs as a task of its own."""
        if kind not in alarms.KINDS:
            log.warning("media problem %s: %s", kind, message)
            return
        task = asyncio.ensure_future(self._write_alarm(kind, message, camera_id, clear))
        self._alarm_tasks.add(task)
        task.add_done_callback(self._alarm_tasks.discard)

    async def _write_alarm(self, kind: str, message: str, camera_id: int | None, clear: bool) -> None:
        try:
            async with self.sessions() as session:
                await intend_to_write(session)
                now = self.clock.now()
                if clear:
                    event = await alarms.clear_alarm(session, kind=kind, now=now, camera_id=camera_id)
                else:
                    event = await alarms.raise_alarm(session, kind=kind, message=message, now=now, camera_id=camera_id)
                await session.commit()
            await alarms.publish(self.bus, [event])
        except Exception:
            log.exception("recording the media alarm %s failed", kind)
