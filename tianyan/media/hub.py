"""Shared upstream streams: one INVITE (or RTSP pull) per channel and stream, however many consumers.

The first consumer of a channel starts its upstream; later ones share it and start from the last keyframe
(the GOP cache), so a new viewer sees a picture at once instead of waiting a GOP. When the last consumer
leaves, the upstream stops after its linger time (the live grace period). An upstream that fails or goes
silent is re-opened with exponential back-off for as long as anyone is attached; consumers stay attached
across the outage and see the next run of time as a discontinuity.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tianyan.media.units import AudioAccessUnit, AudioCodec, MediaSink, MediaTee, VideoAccessUnit, VideoCodec

log = logging.getLogger(__name__)
# The GOP cache keeps at most this many units (a camera with a 10 s GOP at 25 fps, plus audio).
MAX_CACHED_UNITS = 600


class Upstream(Protocol):
    """A running source of one channel's stream, feeding the sink it was opened with."""

    async def stop(self) -> None: ...


class UpstreamFactory(Protocol):
    async def open(self, channel_gb_id: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]) -> Upstream:
        """Start the channel's stream towards `sink`; call `on_lost(reason)` if it later dies on its own.

        Raises the platform's errors (NotFound, Unavailable, UpstreamError, UpstreamTimeout) when it cannot."""
        ...


@dataclass
class FeedStats:
    opened: int = 0
    failures: int = 0
    losses: int = 0
    video_units: int = 0
    audio_units: int = 0
    last_unit_at: float | None = None  # monotonic seconds


@dataclass(eq=False)
class Attachment:
    key: tuple[str, str]
    sink: MediaSink
    linger_s: float


@dataclass(eq=False)
class Feed:
    """One channel-and-stream's upstream and everything attached to it."""

    key: tuple[str, str]
    tee: MediaTee = field(default_factory=MediaTee)
    attachments: list[Attachment] = field(default_factory=list)
    upstream: Upstream | None = None
    stats: FeedStats = field(default_factory=FeedStats)
    gop: list[tuple[bool, object, object]] = field(default_factory=list)
    starting: asyncio.Future[object] | None = None
    retry: asyncio.Task[None] | None = None
    stopper: asyncio.Task[None] | None = None
    stopping_lost: asyncio.Future[None] | None = None
    closed: bool = False
    last_error: str | None = None

    # The feed is itself the upstream's sink: it caches the GOP and fans out.
    def on_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        self.stats.video_units += 1
        self.stats.last_unit_at = time.monotonic()
        if unit.keyframe:
            self.gop.clear()
        if (self.gop or unit.keyframe) and len(self.gop) < MAX_CACHED_UNITS:
            self.gop.append((True, codec, unit))
        self.tee.on_video(codec, unit)

    def on_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        self.stats.audio_units += 1
        if self.gop and len(self.gop) < MAX_CACHED_UNITS:
            self.gop.append((False, codec, unit))
        self.tee.on_audio(codec, unit)

    def on_end(self, reason: str) -> None:
        # The upstream ending is reported through on_lost; consumers stay attached for the retry.
        pass

    def replay_to(self, sink: MediaSink) -> None:
        for is_video, codec, unit in tuple(self.gop):
            if is_video:
                sink.on_video(codec, unit)  # type: ignore[arg-type]
            else:
                sink.on_audio(codec, unit)  # type: ignore[arg-type]


class StreamHub:
    def __init__(
        self,
        factory: UpstreamFactory,
        *,
        retry_min_s: float = 2.0,
        retry_max_s: float = 60.0,
        on_lost: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self.factory = factory
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.feeds: dict[tuple[str, str], Feed] = {}
        # (channel, stream, reason) each time an upstream dies or cannot be re-opened: the operator's alarm.
        self.on_lost = on_lost

    def feed(self, channel_gb_id: str, stream: str = "main") -> Feed | None:
        return self.feeds.get((channel_gb_id, stream))

    async def attach(
        self, channel_gb_id: str, sink: MediaSink, *, stream: str = "main", linger_s: float = 0.0, wait: bool = True
    ) -> Attachment:
        """Attach `sink` to the channel's stream, starting it when nobody else has.

        With `wait`, the first start's failure is raised (and the sink detached), which is what a viewer wants;
        without it (a recorder), a failed start is retried in the background like a lost stream."""
        key = (channel_gb_id, stream)
        feed = self.feeds.get(key)
        if feed is None or feed.closed:
            feed = self.feeds[key] = Feed(key)
        if feed.stopper is not None:
            feed.stopper.cancel()
            feed.stopper = None
        attachment = Attachment(key, sink, linger_s)
        feed.attachments.append(attachment)
        feed.replay_to(sink)
        feed.tee.add(sink)
        if feed.upstream is None and feed.starting is None and feed.retry is None:
            feed.starting = asyncio.ensure_future(self._start(feed))
        if wait and feed.upstream is None:
            if feed.starting is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(feed.starting)
            if feed.upstream is None:
                error = feed.last_error or "the stream could not be started"
                await self.detach(attachment, immediately=True)
                raise StreamUnavailable(error)
        return attachment

    async def detach(self, attachment: Attachment, *, immediately: bool = False) -> None:
        feed = self.feeds.get(attachment.key)
        if feed is None or attachment not in feed.attachments:
            return
        feed.attachments.remove(attachment)
        feed.tee.remove(attachment.sink)
        if feed.attachments:
            return
        linger = 0.0 if immediately else attachment.linger_s
        if linger > 0:
            feed.stopper = asyncio.ensure_future(self._stop_later(feed, linger))
        else:
            await self._close(feed)

    def replace_sink(self, attachment: Attachment, sink: MediaSink) -> None:
        """Hand the attachment's place on the feed to another sink (a recorder starting afresh after an outage)."""
        feed = self.feeds.get(attachment.key)
        if feed is not None and attachment in feed.attachments:
            feed.tee.remove(attachment.sink)
            feed.tee.add(sink)
        attachment.sink = sink

    async def close(self) -> None:
        for feed in list(self.feeds.values()):
            feed.tee.on_end("platform stopping")
            await self._close(feed)

    async def _stop_later(self, feed: Feed, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        feed.stopper = None
        if not feed.attachments:
            await self._close(feed)

    async def _close(self, feed: Feed) -> None:
        feed.closed = True
        if self.feeds.get(feed.key) is feed:
            del self.feeds[feed.key]
        for task in (feed.starting, feed.retry, feed.stopper):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        upstream, feed.upstream = feed.upstream, None
        if upstream is not None:
            try:
                await upstream.stop()
            except Exception:
                log.exception("stopping the upstream of %s/%s failed", *feed.key)
        feed.gop.clear()

    async def _start(self, feed: Feed) -> None:
        """The first start: a failure is reported and, while anyone is attached, retried with back-off."""
        if not await self._open(feed):
            self._report(feed, f"could not start: {feed.last_error}")
            if not feed.closed and feed.attachments:
                feed.retry = asyncio.ensure_future(self._retry(feed))

    async def _open(self, feed: Feed) -> bool:
        channel, stream = feed.key
        try:
            upstream = await self.factory.open(channel, stream, feed, lambda reason: self._lost(feed, reason))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            feed.stats.failures += 1
            feed.last_error = str(exc) or type(exc).__name__
            log.info("starting %s/%s failed: %s", channel, stream, feed.last_error)
            return False
        finally:
            feed.starting = None
        if feed.closed:
            await upstream.stop()
            return False
        feed.upstream = upstream
        feed.stats.opened += 1
        feed.last_error = None
        return True

    def _lost(self, feed: Feed, reason: str) -> None:
        if feed.closed or feed.upstream is None:
            return
        feed.stats.losses += 1
        feed.last_error = reason
        upstream, feed.upstream = feed.upstream, None
        feed.gop.clear()
        log.info("stream %s/%s lost: %s", *feed.key, reason)
        self._report(feed, f"lost: {reason}")
        feed.stopping_lost = asyncio.ensure_future(_quietly_stop(upstream))
        if feed.attachments and feed.retry is None:
            feed.retry = asyncio.ensure_future(self._retry(feed))

    async def _retry(self, feed: Feed) -> None:
        delay = self.retry_min_s
        try:
            while not feed.closed and feed.attachments and feed.upstream is None:
                await asyncio.sleep(delay)
                if feed.closed or not feed.attachments:
                    return
                feed.starting = asyncio.ensure_future(self._open(feed))
                if await feed.starting:
                    log.info("stream %s/%s re-opened", *feed.key)
                delay = min(delay * 2, self.retry_max_s)
        finally:
            feed.retry = None

    def _report(self, feed: Feed, reason: str) -> None:
        if self.on_lost is not None:
            try:
                self.on_lost(feed.key[0], feed.key[1], reason)
            except Exception:
                log.exception("stream-lost callback failed")


class StreamUnavailable(Exception):
    """The channel's stream could not be started; the message says why (device offline, refused, timed out)."""


async def _quietly_stop(upstream: Upstream) -> None:
    try:
        await upstream.stop()
    except Exception:
        log.exception("stopping a lost upstream failed")
