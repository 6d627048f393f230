"""Media sessions as signaling sees them: INVITE live, playback and download; INFO to steer; BYE either way.

This module asks a device to stream to a receiver (an address and port the caller owns) and keeps the dialog;
receiving the RTP is the media plane's job. SSRCs come from the platform's pool and are checked against the
device's answer, because a device that picks its own SSRC is a classic cause of "200 OK but no video".
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from datetime import datetime

from tianyan.core.errors import InvalidInput, NotFound, Unavailable, UpstreamError, UpstreamTimeout
from tianyan.gb28181 import mansrtsp
from tianyan.gb28181.bindings import Binding
from tianyan.gb28181.context import SipCore
from tianyan.gb28181.endpoint import SipTimeout
from tianyan.gb28181.events import MediaStreamEnded
from tianyan.gb28181.sdp import build_sdp, make_offer, parse_sdp
from tianyan.gb28181.sdp_types import SdpError, SessionDescription, SessionName, Transport
from tianyan.gb28181.sip.dialog import Dialog
from tianyan.gb28181.sip.message import SipRequest, SipResponse, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.ssrc import Ssrc, SsrcAllocator, SsrcExhausted
from tianyan.gb28181.transport import Peer

log = logging.getLogger(__name__)
HISTORY_MARGIN_S = 60.0


@dataclass(frozen=True)
class Receiver:
    """Where the media is to go: the platform side's address, port and TCP role (or UDP)."""

    host: str
    port: int
    transport: Transport = Transport.UDP


@dataclass
class MediaSession:
    call_id: str
    device_pk: int
    device_id: str
    channel_id: str
    session: SessionName
    receiver: Receiver
    ssrc: Ssrc
    offer: SessionDescription
    answer: SessionDescription
    dialog: Dialog
    binding: Binding
    started_at: datetime
    ends_by_s: float | None  # loop time after which a history session is over whatever the device says
    ssrc_mismatch: bool = False
    ended: bool = False
    paused_at_s: float | None = None
    rtsp_cseq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def device_ssrc(self) -> int:
        """The SSRC the RTP will really carry: the device's own when it ignored ours."""
        return self.answer.ssrc_value if self.answer.ssrc is not None else self.ssrc.value  # type: ignore[return-value]

    @property
    def source(self) -> tuple[str | None, int]:
        """Where the device sends from (or, for TCP passive on its side, listens)."""
        return self.answer.connection_address, self.answer.port


class MediaSessions:
    def __init__(self, core: SipCore) -> None:
        self.core = core
        self.ssrcs = SsrcAllocator(core.config.domain)
        self.sessions: dict[str, MediaSession] = {}

    def of_device(self, device_pk: int) -> list[MediaSession]:
        return [s for s in self.sessions.values() if s.device_pk == device_pk]

    async def invite(
        self,
        binding: Binding,
        channel_id: str,
        receiver: Receiver,
        *,
        session: SessionName = SessionName.PLAY,
        start_s: int = 0,
        stop_s: int = 0,
        download_speed: int | None = None,
        stream_number: int | None = None,
    ) -> MediaSession:
        core = self.core
        try:
            ssrc = self.ssrcs.allocate(history=session.is_history)
        except SsrcExhausted:
            raise Unavailable("every SSRC of the platform's domain is in use; end some media sessions") from None
        try:
            offer = make_offer(
                session=session,
                sender_id=core.identity.id,
                address=receiver.host,
                port=receiver.port,
                transport=receiver.transport,
                ssrc=ssrc,
                channel_id=channel_id if session.is_history else None,
                start_s=start_s,
                stop_s=stop_s,
                download_speed=download_speed,
                stream_number=stream_number,
            )
        except SdpError as exc:
            self.ssrcs.release(ssrc)
            raise InvalidInput(str(exc)) from None
        request = core.factory.request(
            "INVITE",
            binding,
            target_id=channel_id,
            body=build_sdp(offer).encode(),
            content_type="APPLICATION/SDP",
            with_contact=True,
            subject=f"{channel_id}:{ssrc.text},{core.identity.id}:0",
        )
        acks: list[SipRequest] = []

        def resend_ack(_: SipResponse) -> None:
            if acks:
                core.endpoint.send_ack(acks[0], binding.peer)

        try:
            response = await core.endpoint.request(request, binding.peer, on_2xx_retransmit=resend_ack)
        except SipTimeout:
            self.ssrcs.release(ssrc)
            raise UpstreamTimeout(f"device {binding.gb_id} did not answer the INVITE for {channel_id}") from None
        if not 200 <= response.status < 300:
            self.ssrcs.release(ssrc)
            raise UpstreamError(
                f"device {binding.gb_id} refused {session} of {channel_id}: {response.status} {response.reason}"
            )
        dialog = Dialog.from_uac(request, response, now=core.endpoint.now())
        ack = dialog.ack(core.identity.via(binding.peer.transport))
        acks.append(ack)
        core.endpoint.send_ack(ack, binding.peer)
        try:
            answer = parse_sdp(response.body)
        except SdpError as exc:
            await self._bye_dialog(dialog, binding)
            self.ssrcs.release(ssrc)
            raise UpstreamError(f"device {binding.gb_id} answered with an unusable SDP: {exc}") from None
        mismatch = answer.ssrc is not None and answer.ssrc_value != ssrc.value
        if mismatch:
            log.warning("sip: %s answered SSRC %s to our %s; following the device", channel_id, answer.ssrc, ssrc.text)
        ends_by = None
        if session.is_history and stop_s > start_s:
            speed = max(1, download_speed or 1)
            ends_by = core.endpoint.now() + (stop_s - start_s) / speed + HISTORY_MARGIN_S
        media = MediaSession(
            call_id=request.call_id,
            device_pk=binding.device_id,
            device_id=binding.gb_id,
            channel_id=channel_id,
            session=session,
            receiver=receiver,
            ssrc=ssrc,
            offer=offer,
            answer=answer,
            dialog=dialog,
            binding=binding,
            started_at=core.clock.now(),
            ends_by_s=ends_by,
            ssrc_mismatch=mismatch,
        )
        self.sessions[media.call_id] = media
        core.stats.invites += 1
        return media

    async def control(self, call_id: str, body: bytes) -> None:
        """INFO with a MANSRTSP body (pause, resume, seek, scale) in the session's dialog."""
        media = self._get(call_id)
        request = media.dialog.info(self.core.identity.via(media.binding.peer.transport), body)
        try:
            response = await self.core.endpoint.request(request, media.binding.peer)
        except SipTimeout:
            raise UpstreamTimeout(f"device {media.device_id} did not answer the INFO") from None
        if not 200 <= response.status < 300:
            raise UpstreamError(f"device {media.device_id} refused the INFO: {response.status} {response.reason}")

    async def pause(self, call_id: str) -> None:
        media = self._get(call_id)
        await self.control(call_id, mansrtsp.pause(next(media.rtsp_cseq)).encode())
        if media.paused_at_s is None:
            media.paused_at_s = self.core.endpoint.now()

    async def resume(self, call_id: str, *, scale: float | None = None, seek_s: float | None = None) -> None:
        media = self._get(call_id)
        await self.control(call_id, mansrtsp.play(next(media.rtsp_cseq), scale=scale, seek_s=seek_s).encode())
        now_s = self.core.endpoint.now()
        if media.ends_by_s is not None:
            # The overrun guard is a safety net, not a clock on the viewer: pausing and slowing down move it on.
            if media.paused_at_s is not None:
                media.ends_by_s += now_s - media.paused_at_s
            if scale is not None and 0 < scale < 1:
                start, stop = media.offer.time_range_s or (0, 0)
                media.ends_by_s += (stop - start) * (1 / scale - 1)
        media.paused_at_s = None

    async def bye(self, call_id: str, *, reason: str = "stopped") -> None:
        media = self.sessions.get(call_id)
        if media is None or media.ended:
            return
        await self._finish(media, reason)
        await self._bye_dialog(media.dialog, media.binding)

    async def _bye_dialog(self, dialog: Dialog, binding: Binding) -> None:
        request = dialog.bye(self.core.identity.via(binding.peer.transport))
        try:
            await self.core.endpoint.request(request, binding.peer)
        except SipTimeout:
            log.info("sip: %s did not answer our BYE; the session is gone on our side", binding.gb_id)

    async def on_bye(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        """The device ends a session (it cannot go on, or the recording is over)."""
        media = self.sessions.get(request.call_id)
        if tx is not None:
            self.core.respond(tx, response_to(request, 200 if media is not None else 481))
        if media is not None:
            await self._finish(media, "device sent BYE")

    async def ended(self, call_id: str, *, reason: str) -> None:
        """MediaStatus 121: the device finished sending a recording; we hang up."""
        await self.bye(call_id, reason=reason)

    async def device_gone(self, device_pk: int) -> None:
        for media in self.of_device(device_pk):
            await self._finish(media, "device offline")

    async def sweep(self) -> None:
        now_s = self.core.endpoint.now()
        for media in [m for m in self.sessions.values() if m.ends_by_s is not None and m.ends_by_s <= now_s]:
            await self.bye(media.call_id, reason="history session overran its range")

    async def close(self) -> None:
        for call_id in list(self.sessions):
            await self.bye(call_id, reason="platform stopping")

    async def _finish(self, media: MediaSession, reason: str) -> None:
        if media.ended:
            return
        media.ended = True
        self.sessions.pop(media.call_id, None)
        self.ssrcs.release(media.ssrc)
        core = self.core
        await core.bus.publish(
            MediaStreamEnded(media.device_id, media.channel_id, media.call_id, core.clock.now(), reason)
        )

    def _get(self, call_id: str) -> MediaSession:
        media = self.sessions.get(call_id)
        if media is None:
            raise NotFound(f"no media session {call_id}")
        return media
