"""RTSP upstreams: a camera's stream pulled with PyAV (FFmpeg's RTSP client) in a worker thread, as access units.

Cameras that speak only RTSP are opened by URL (the camera's `stream_url`). FFmpeg's demuxer does the RTSP
signalling, RTP depacketisation, reordering and keepalives; a dedicated thread (never the event loop) reads
its packets and turns them into the media plane's units with `rtsp_convert`: Annex B video with the parameter
sets in front of every keyframe (FFmpeg may hold them only in extradata, from the SDP's sprop-parameter-sets),
ADTS-framed AAC, G.711 as is, all on a 90 kHz clock that never runs backwards. Units reach the sink on the event
loop, in order.

Every blocking read is bounded by PyAV's read timeout, which is also the stall detector: no packet for
`timeout_s` means the stream is lost. `stop()` makes the thread leave at its next packet.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import av
import av.error

from tianyan.core.errors import NotFound, TianyanError, Unavailable, UpstreamError, UpstreamTimeout
from tianyan.media.rtsp_convert import AUDIO_CODECS, VIDEO_CODECS, PacketConverter
from tianyan.media.units import AudioAccessUnit, AudioCodec, MediaSink, VideoAccessUnit, VideoCodec

log = logging.getLogger(__name__)

RtspTransport = Literal["tcp", "udp"]
UrlFor = Callable[[str, str], "str | Awaitable[str | None] | None"]


def redact(url: str) -> str:
    """The URL without its password, fit for logs and error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def describe_error(exc: BaseException, url: str, timeout_s: float, *, timed_out: bool = False) -> TianyanError:
    """The platform error for a failed open, naming what went wrong in words an operator can act on.

    `timed_out`: the time allowed had run out when it failed; FFmpeg then reports the interrupted read in
    several ways (exit requested, invalid data), and the timeout is the truth."""
    where = redact(url)
    if isinstance(exc, TianyanError):
        return exc
    if timed_out and not isinstance(exc, av.error.HTTPError):
        return UpstreamTimeout(f"{where}: no answer within {timeout_s:g} s")
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return UpstreamError(f"{where}: the camera refused the user name or password (401 Unauthorized)")
    if isinstance(exc, av.error.HTTPForbiddenError):
        return UpstreamError(f"{where}: the camera forbids this user the stream (403 Forbidden)")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return UpstreamError(f"{where}: the camera has no stream at this path (404 Not Found)")
    if isinstance(exc, av.error.HTTPError):
        return UpstreamError(f"{where}: the camera answered with an error ({_strerror(exc)})")
    if isinstance(exc, av.error.ConnectionRefusedError):
        return Unavailable(f"{where}: connection refused (camera off, or wrong port)")
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError, TimeoutError)):
        return UpstreamTimeout(f"{where}: no answer within {timeout_s:g} s")
    if isinstance(exc, av.error.FFmpegError):
        return UpstreamError(f"{where}: {_strerror(exc)}")
    return UpstreamError(f"{where}: {type(exc).__name__}: {exc}")


def _strerror(exc: BaseException) -> str:
    # PyAV's str() repeats the URL, password included; strerror is the message alone.
    text = getattr(exc, "strerror", None)
    return str(text) if text else type(exc).__name__


@dataclass
class PullStats:
    video_units: int = 0
    audio_units: int = 0
    bytes: int = 0
    timeline_corrections: int = 0


class RtspUpstream:
    """One running pull: a thread reading the camera, feeding `sink` on the event loop until stopped or lost."""

    def __init__(
        self,
        url: str,
        sink: MediaSink,
        on_lost: Callable[[str], None],
        *,
        transport: RtspTransport = "tcp",
        timeout_s: float = 5.0,
        open_timeout_s: float | None = None,
        stop_wait_s: float = 2.0,
    ) -> None:
        if transport not in ("tcp", "udp"):
            raise ValueError(f"RTSP transport must be tcp or udp, got {transport!r}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.url = url
        self.sink = sink
        self.on_lost = on_lost
        self.transport = transport
        self.timeout_s = timeout_s
        self.open_timeout_s = open_timeout_s if open_timeout_s is not None else max(timeout_s, 5.0)
        self.stop_wait_s = stop_wait_s
        self.stats = PullStats()
        self.video_codec: VideoCodec | None = None
        self.audio_codec: AudioCodec | None = None
        self.lost_reason: str | None = None
        self._stopping = threading.Event()
        self._stopped = False
        self._ended = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Future[None] | None = None
        self._thread_done: asyncio.Future[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def where(self) -> str:
        return redact(self.url)

    async def start(self) -> None:
        """Connect and wait for the first keyframe; raises the platform error saying why it could not."""
        loop = self._loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        self._thread_done = loop.create_future()
        self._thread = threading.Thread(target=self._run, name=f"rtsp-pull {self.where}", daemon=True)
        self._thread.start()
        try:
            await self._ready
        except BaseException:
            self._stopped = True
            self._stopping.set()
            raise

    async def stop(self) -> None:
        """Stop reading; returns once the thread has closed the session (or after `stop_wait_s` regardless)."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        if self._thread_done is not None and not self._thread_done.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._thread_done), self.stop_wait_s)
            except TimeoutError:
                # Blocked in a read of a silent camera: the read timeout ends it soon; nothing more is delivered.
                log.info("RTSP pull %s: the reader leaves within %g s", self.where, self.timeout_s)
        self._end("stopped")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # The worker thread.

    def _open(self) -> Any:
        options = {
            "rtsp_transport": self.transport,
            # Socket I/O timeout in microseconds: a camera that stops answering fails the read, not hangs it.
            "timeout": str(int(self.timeout_s * 1_000_000)),
            "user_agent": "Tianyan",
        }
        return av.open(self.url, options=options, timeout=(self.open_timeout_s, self.timeout_s))

    def _run(self) -> None:
        started = False
        reason = "the camera ended the stream"
        opened_at = time.monotonic()
        try:
            container = self._open()
        except Exception as exc:
            timed_out = time.monotonic() - opened_at >= self.open_timeout_s * 0.9
            self._post(self._failed, describe_error(exc, self.url, self.open_timeout_s, timed_out=timed_out))
            self._post(self._thread_finished)
            return
        try:
            video = next((s for s in container.streams.video if s.codec_context.name in VIDEO_CODECS), None)
            if video is None:
                names = ", ".join(s.codec_context.name for s in container.streams.video) or "none"
                raise UpstreamError(f"{self.where}: no H.264 or H.265 video in the stream (video: {names})")
            audio = next((s for s in container.streams.audio if s.codec_context.name in AUDIO_CODECS), None)
            converter = PacketConverter(video, audio)
            self.video_codec, self.audio_codec = converter.video_codec, converter.audio_codec
            wanted = [video] if audio is None else [video, audio]
            deadline = time.monotonic() + self.open_timeout_s
            for packet in container.demux(wanted):
                if self._stopping.is_set():
                    break
                if packet.size == 0:
                    continue  # the flush packets PyAV yields at the end of input
                started = self._handle(converter, packet, started)
                if not started and time.monotonic() > deadline:
                    raise UpstreamTimeout(f"{self.where}: no keyframe within {self.open_timeout_s:g} s")
        except Exception as exc:
            if not started:
                self._post(self._failed, describe_error(exc, self.url, self.timeout_s))
            elif isinstance(exc, (av.error.ExitError, av.error.TimeoutError)):
                reason = f"no data from the camera for {self.timeout_s:g} s"
            else:
                reason = (
                    f"reading the stream failed: {_strerror(exc) if isinstance(exc, av.error.FFmpegError) else exc}"
                )
        finally:
            try:
                container.close()  # sends TEARDOWN
            except Exception:
                log.debug("RTSP pull %s: closing failed", self.where, exc_info=True)
        if not started:
            self._post(self._failed, UpstreamError(f"{self.where}: the stream ended before its first keyframe"))
        elif not self._stopping.is_set():
            self._post(self._lost, reason)
        self._post(self._thread_finished)

    def _handle(self, converter: PacketConverter, packet: Any, started: bool) -> bool:
        time_base = packet.time_base
        if packet.stream is converter.video_stream:
            unit = converter.video(bytes(packet), packet.pts, packet.dts, time_base, bool(packet.is_keyframe))
            if unit is None or (not started and not unit.keyframe):
                return started
            if not started:
                self._post(self._started)
            self._post(self._deliver_video, converter.video_codec, unit)
            return True
        if not started or converter.audio_codec is None:
            return started
        sound = converter.audio(bytes(packet), packet.pts, time_base)
        if sound is not None:
            self._post(self._deliver_audio, converter.audio_codec, sound)
        return started

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            self._stopping.set()  # the loop is closed: nobody is listening any more

    # Back on the event loop.

    def _started(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    def _failed(self, error: Exception) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)

    def _deliver_video(self, codec: VideoCodec, unit: VideoAccessUnit) -> None:
        if self._stopped or self._ended:
            return
        self.stats.video_units += 1
        self.stats.bytes += len(unit.data)
        try:
            self.sink.on_video(codec, unit)
        except Exception:
            log.exception("RTSP pull %s: the sink failed", self.where)

    def _deliver_audio(self, codec: AudioCodec, unit: AudioAccessUnit) -> None:
        if self._stopped or self._ended:
            return
        self.stats.audio_units += 1
        self.stats.bytes += len(unit.data)
        try:
            self.sink.on_audio(codec, unit)
        except Exception:
            log.exception("RTSP pull %s: the sink failed", self.where)

    def _lost(self, reason: str) -> None:
        if self._stopped or self._ended:
            return
        self.lost_reason = reason
        log.info("RTSP pull %s lost: %s", self.where, reason)
        self._end(reason)
        try:
            self.on_lost(reason)
        except Exception:
            log.exception("RTSP pull %s: the on_lost callback failed", self.where)

    def _end(self, reason: str) -> None:
        if self._ended:
            return
        self._ended = True
        try:
            self.sink.on_end(reason)
        except Exception:
            log.exception("RTSP pull %s: the sink failed to end", self.where)

    def _thread_finished(self) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(UpstreamError(f"{self.where}: the stream ended before its first keyframe"))
        if self._thread_done is not None and not self._thread_done.done():
            self._thread_done.set_result(None)


class RtspUpstreamFactory:
    """Opens RTSP upstreams for the StreamHub; `url_for(channel, stream)` gives the camera's URL (or None)."""

    def __init__(
        self,
        url_for: UrlFor,
        *,
        transport: RtspTransport = "tcp",
        timeout_s: float = 5.0,
        open_timeout_s: float | None = None,
    ) -> None:
        if transport not in ("tcp", "udp"):
            raise ValueError(f"RTSP transport must be tcp or udp, got {transport!r}")
        self.url_for = url_for
        self.transport: RtspTransport = transport
        self.timeout_s = timeout_s
        self.open_timeout_s = open_timeout_s

    async def open(
        self, channel_gb_id: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]
    ) -> RtspUpstream:
        url = self.url_for(channel_gb_id, stream)
        if inspect.isawaitable(url):
            url = await url
        if not url:
            raise NotFound(f"channel {channel_gb_id} has no RTSP URL for its {stream} stream")
        if not str(url).lower().startswith(("rtsp://", "rtsps://")):
            raise UpstreamError(f"channel {channel_gb_id}: {redact(str(url))} is not an rtsp:// URL")
        upstream = RtspUpstream(str(url), sink, on_lost, transport=self.transport, timeout_s=self.timeout_s,
                                open_timeout_s=self.open_timeout_s)  # fmt: skip
        await upstream.start()
        return upstream
