"""Playback of footage kept only on a device (an NVR's own disk): GB/T 28181 s=Playback into a browser's player.

Each playback is its own INVITE (never shared: it has its own position, speed and pauses), muxed to fMP4 like a
live view, and steered with INFO MANSRTSP (pause, resume, seek, scale). It ends when its viewer leaves, when the
device reports the end of the file (MediaStatus 121) or hangs up, or after `idle_s` without a viewer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from tianyan.core.errors import Forbidden, InvalidInput, NotFound, Unavailable
from tianyan.media.gb_upstream import GbUpstream, GbUpstreamFactory
from tianyan.media.live import LiveMuxer, Viewer

log = logging.getLogger(__name__)
MAX_RANGE_S = 24 * 3600
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(eq=False)
class DevicePlayback:
    id: str
    channel: str
    start: datetime
    end: datetime
    user_id: int
    muxer: LiveMuxer
    upstream: GbUpstream | None = None
    viewers: set[Viewer] = field(default_factory=set)
    idle_since: float | None = None
    paused: bool = False
    scale: float = 1.0
    stop_task: asyncio.Future[None] | None = None


class DevicePlaybacks:
    def __init__(self, gb: GbUpstreamFactory | None, *, idle_s: float = 60.0) -> None:
        self.gb = gb
        self.idle_s = idle_s
        self.sessions: dict[str, DevicePlayback] = {}

    async def start(self, channel: str, start: datetime, end: datetime, *, user_id: int) -> DevicePlayback:
        if self.gb is None:
            raise Unavailable("the GB/T 28181 SIP server does not run on this node: no playback from devices")
        if not start < end:
            raise InvalidInput("the playback range must end after it starts")
        if (end - start).total_seconds() > MAX_RANGE_S:
            raise InvalidInput("a device playback covers at most 24 hours; ask for a shorter range")
        playback = DevicePlayback(
            id=secrets.token_urlsafe(12), channel=channel, start=start, end=end, user_id=user_id,
            muxer=LiveMuxer(channel, stream="device"), idle_since=asyncio.get_running_loop().time(),
        )  # fmt: skip
        playback.upstream = await self.gb.open_history(
            channel, int(start.timestamp()), int(end.timestamp()), playback.muxer,
            lambda reason: self._ended(playback, reason),
        )  # fmt: skip
        self.sessions[playback.id] = playback
        return playback

    def get(self, playback_id: str, *, user_id: int) -> DevicePlayback:
        playback = self.sessions.get(playback_id)
        if playback is None:
            raise NotFound(f"no device playback {playback_id} (it ended, or never was)")
        if playback.user_id != user_id:
            raise Forbidden("this device playback belongs to someone else")
        return playback

    def watch(self, playback_id: str, *, user_id: int) -> Viewer:
        playback = self.get(playback_id, user_id=user_id)
        viewer = playback.muxer.add_viewer()
        playback.viewers.add(viewer)
        playback.idle_since = None
        return viewer

    async def leave(self, playback_id: str, viewer: Viewer) -> None:
        playback = self.sessions.get(playback_id)
        if playback is None:
            return
        playback.viewers.discard(viewer)
        if not playback.viewers:
            await self.stop(playback_id, reason="the viewer left")

    async def control(
        self, playback_id: str, action: str, *, user_id: int, scale: float | None = None, seek_s: float | None = None
    ) -> DevicePlayback:
        """pause, resume (optionally at a `scale`), scale, or seek to `seek_s` seconds into the range."""
        playback = self.get(playback_id, user_id=user_id)
        upstream = playback.upstream
        if upstream is None:
            raise Unavailable("the device playback has ended")
        if scale is not None and scale not in SCALES:
            raise InvalidInput(f"scale must be one of {', '.join(str(s) for s in SCALES)}")
        if seek_s is not None and not 0 <= seek_s < (playback.end - playback.start).total_seconds():
            raise InvalidInput("seek_s must fall inside the playback range")
        if action == "pause":
            await upstream.pause()
            playback.paused = True
        elif action in ("resume", "scale", "seek"):
            if action == "scale" and scale is None:
                raise InvalidInput("scale needs a scale")
            if action == "seek" and seek_s is None:
                raise InvalidInput("seek needs seek_s")
            await upstream.resume(scale=scale, seek_s=seek_s)
            playback.paused = False
            playback.scale = scale if scale is not None else playback.scale
        else:
            raise InvalidInput("action must be pause, resume, scale or seek")
        return playback

    async def stop(self, playback_id: str, *, reason: str = "stopped") -> None:
        playback = self.sessions.pop(playback_id, None)
        if playback is None:
            return
        upstream, playback.upstream = playback.upstream, None
        if upstream is not None:
            try:
                await upstream.stop()
            except Exception:
                log.exception("ending device playback %s failed", playback_id)
        playback.muxer.on_end(reason)

    async def sweep(self) -> None:
        """End playbacks nobody has watched for `idle_s` (asked for, then never opened)."""
        now = asyncio.get_running_loop().time()
        for playback in list(self.sessions.values()):
            if playback.idle_since is not None and now - playback.idle_since > self.idle_s:
                await self.stop(playback.id, reason="nobody opened it")

    async def close(self) -> None:
        for playback_id in list(self.sessions):
            await self.stop(playback_id, reason="platform stopping")

    def _ended(self, playback: DevicePlayback, reason: str) -> None:
        # The device finished the file or hung up: viewers get what was sent, then the end.
        playback.stop_task = asyncio.ensure_future(self.stop(playback.id, reason=reason))
