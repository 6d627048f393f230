"""GB/T 28181 upstreams: a channel's stream asked of its device by INVITE and received by the RTP ingest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.core.errors import NotFound
from tianyan.core.events import Event
from tianyan.gb28181.events import MediaStreamEnded
from tianyan.gb28181.media_sessions import MediaSession, Receiver
from tianyan.gb28181.sdp_types import SessionName, Transport
from tianyan.gb28181.server import SipServer
from tianyan.media.ingest import IngestStream, RtpIngest
from tianyan.media.units import MediaSink
from tianyan.registry.models import Camera, Device

log = logging.getLogger(__name__)
STREAM_NUMBERS = {"main": 0, "sub": 1}


@dataclass(frozen=True)
class ChannelOwner:
    device_pk: int
    device_gb_id: str


class GbUpstream:
    def __init__(self, factory: GbUpstreamFactory, media: MediaSession, stream: IngestStream) -> None:
        self.factory = factory
        self.media = media
        self.stream = stream
        self.stopped = False

    @property
    def call_id(self) -> str:
        return self.media.call_id

    async def pause(self) -> None:
        await self.factory.sip.media.pause(self.call_id)

    async def resume(self, *, scale: float | None = None, seek_s: float | None = None) -> None:
        await self.factory.sip.media.resume(self.call_id, scale=scale, seek_s=seek_s)

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        self.factory.forget(self)
        await self.stream.close()
        await self.factory.sip.media.bye(self.media.call_id, reason="no one is watching or recording")


class GbUpstreamFactory:
    """Opens live streams: finds the channel's device, opens an ingest port, INVITEs, checks the SSRC."""

    def __init__(
        self,
        sip: SipServer,
        ingest: RtpIngest,
        sessions: async_sessionmaker[AsyncSession],
        *,
        transport: Transport = Transport.UDP,
        advertised_host: str = "",
    ) -> None:
        self.sip = sip
        self.ingest = ingest
        self.sessions = sessions
        self.transport = transport
        self.advertised_host = advertised_host or ingest.host
        self._by_call: dict[str, tuple[GbUpstream, Callable[[str], None]]] = {}
        self._unsubscribe = sip.core.bus.subscribe(MediaStreamEnded.subject, self._on_ended)

    def close(self) -> None:
        self._unsubscribe()

    async def owner_of(self, channel_gb_id: str) -> ChannelOwner:
        # Read at each INVITE, not cached: a catalog may move a channel to another device at any time.
        async with self.sessions() as session:
            row = (
                await session.execute(
                    select(Device.id, Device.gb_id)
                    .join(Camera, Camera.device_id == Device.id)
                    .where(Camera.gb_id == channel_gb_id)
                )
            ).first()
        if row is None:
            raise NotFound(f"camera {channel_gb_id} has no GB/T 28181 device to ask for its stream")
        return ChannelOwner(row[0], row[1])

    async def open(
        self, channel_gb_id: str, stream: str, sink: MediaSink, on_lost: Callable[[str], None]
    ) -> GbUpstream:
        """A live stream (s=Play), main or sub."""
        return await self._invite(channel_gb_id, sink, on_lost, stream_number=STREAM_NUMBERS.get(stream))

    async def open_history(
        self,
        channel_gb_id: str,
        start_s: int,
        stop_s: int,
        sink: MediaSink,
        on_lost: Callable[[str], None],
        *,
        download_speed: int | None = None,
    ) -> GbUpstream:
        """Footage kept on the device (an NVR's own disk): s=Playback, or s=Download at a speed multiple."""
        session = SessionName.PLAYBACK if download_speed is None else SessionName.DOWNLOAD
        return await self._invite(
            channel_gb_id, sink, on_lost, session=session, start_s=start_s, stop_s=stop_s, download_speed=download_speed
        )

    async def _invite(
        self,
        channel_gb_id: str,
        sink: MediaSink,
        on_lost: Callable[[str], None],
        *,
        session: SessionName = SessionName.PLAY,
        start_s: int = 0,
        stop_s: int = 0,
        download_speed: int | None = None,
        stream_number: int | None = None,
    ) -> GbUpstream:
        owner = await self.owner_of(channel_gb_id)
        binding = self.sip.binding_for(owner.device_pk, owner.device_gb_id)
        ingest_stream = await self.ingest.open_stream(None, self.transport.value, sink, on_lost)
        try:
            media = await self.sip.media.invite(
                binding,
                channel_gb_id,
                Receiver(self.advertised_host, ingest_stream.port, self.transport),
                session=session,
                start_s=start_s,
                stop_s=stop_s,
                download_speed=download_speed,
                stream_number=stream_number,
            )
        except BaseException:
            await ingest_stream.close()
            raise
        ingest_stream.expect_ssrc(media.device_ssrc)
        upstream = GbUpstream(self, media, ingest_stream)
        self._by_call[media.call_id] = (upstream, on_lost)
        if self.transport is Transport.TCP_ACTIVE:
            host, port = media.source
            try:
                await ingest_stream.connect(host or binding.peer.host, port)
            except BaseException:
                await upstream.stop()
                raise
        return upstream

    def forget(self, upstream: GbUpstream) -> None:
        self._by_call.pop(upstream.call_id, None)

    async def _on_ended(self, event: Event) -> None:
        assert isinstance(event, MediaStreamEnded)
        entry = self._by_call.pop(event.call_id, None)
        if entry is None:
            return
        upstream, on_lost = entry
        if not upstream.stopped:
            on_lost(f"the session ended: {event.reason}")
