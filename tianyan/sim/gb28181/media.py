"""A simulated device's media sessions: INVITE answered with an SDP, streaming after the ACK, INFO, BYE.

Live (Play) sessions share the channel's encoder; Playback and Download stream the requested range from its start
time, obey MANSRTSP PAUSE, PLAY (resume, Scale, Range) and TEARDOWN, and end with MediaStatus 121 sent in the
dialog. The device sends BYE itself when a stream cannot go on: no ACK within timer L, the media connection fails
or closes, the video source fails, or the platform never hangs up after the end of a recording.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Protocol

from tianyan.gb28181.endpoint import SipTimeout
from tianyan.gb28181.manscdp.media_status import MediaStatusNotify
from tianyan.gb28181.mansrtsp import CSeqTracker, MansRtspError, MansRtspResponse, Method, parse_request
from tianyan.gb28181.sdp import build_sdp, make_answer, parse_sdp
from tianyan.gb28181.sdp_types import PS, MediaFormat, SdpError, SessionDescription, SessionName
from tianyan.gb28181.sip.dialog import Dialog, DialogId, DialogState
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.message import SipRequest, SipResponse, new_tag, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.ssrc import make_ssrc
from tianyan.gb28181.transport import Peer
from tianyan.sim.gb28181.channels import RESOLUTION_CODES
from tianyan.sim.gb28181.events import DeviceStats, SimEvent, StreamEnded, StreamStarted
from tianyan.sim.gb28181.media_transport import MediaTransport, media_transport
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, PlatformAddress, VideoSettings, beijing_of_unix
from tianyan.sim.gb28181.records import BITRATE_BPS
from tianyan.sim.gb28181.registration import USER_AGENT
from tianyan.sim.gb28181.streamer import HistoryFeed, LiveFeed, RtpStream, SourceSpec, Streamer
from tianyan.sim.gb28181.switchboard import Switchboard

log = logging.getLogger(__name__)
MANSCDP = "Application/MANSCDP+xml"
# The f= resolution code an offer asks for, as the size we encode.
_SIZE_OF_CODE = {1: "cif", 2: "cif", 3: "4cif", 4: "4cif", 5: "720p", 6: "1080p"}
# How platforms name the stream they want: GB/T 28181-2022, and the two common vendor spellings WVP also sends.
_STREAM_INDEX_ATTRIBUTES = ("streamnumber", "streamprofile", "stream")


class MediaHost(Protocol):
    """What a media session needs from its device."""

    spec: DeviceSpec
    platform: PlatformAddress
    video: VideoSettings
    behaviour: Behaviour
    board: Switchboard
    stats: DeviceStats

    @property
    def streamer(self) -> Streamer: ...
    def emit(self, event: SimEvent) -> None: ...
    def next_sn(self) -> int: ...


@dataclass(eq=False)
class MediaSession:
    dialog: Dialog
    peer: Peer
    channel_id: str
    name: SessionName
    offer: SessionDescription
    transport: MediaTransport
    ssrc: str
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    rtsp: CSeqTracker = field(default_factory=CSeqTracker)
    answer: SipResponse | None = None
    stream: RtpStream | None = None
    live: LiveFeed | None = None
    history: HistoryFeed | None = None


def stream_size(offer: SessionDescription, video: VideoSettings) -> str:
    """Main or sub stream by the offer's stream index (0 main, else sub), else by its f= resolution, else main."""
    for name, value in (*offer.video.attributes, *offer.attributes):
        if name.lower() in _STREAM_INDEX_ATTRIBUTES and value is not None and value.strip().isdigit():
            return video.main_size if int(value) == 0 else video.sub_size
    if offer.media_format is not None and offer.media_format.resolution in _SIZE_OF_CODE:
        return _SIZE_OF_CODE[offer.media_format.resolution]
    return video.main_size


class MediaSessions:
    """Every media session of one device, by dialog."""

    def __init__(self, host: MediaHost) -> None:
        self.host = host
        self._sessions: dict[DialogId, MediaSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def sessions(self) -> list[MediaSession]:
        return list(self._sessions.values())

    def _find(self, request: SipRequest) -> MediaSession | None:
        dialog_id = DialogId.of_incoming_request(request)
        return self._sessions.get(dialog_id) if dialog_id else None

    def _respond(self, tx: ServerTransaction, request: SipRequest, status: int, reason: str | None = None) -> None:
        self.host.board.endpoint.respond(tx, response_to(request, status, reason, to_tag=new_tag()))

    # ---- INVITE and ACK --------------------------------------------------------------------------------------

    async def on_invite(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if tx is None:
            return
        host = self.host
        if request.to.tag is not None:
            # A re-INVITE (session refresh): nothing in the session changes, so the same answer stands.
            session = self._find(request)
            if session is None:
                self._respond(tx, request, 481)
            else:
                self._answer_again(session, request, tx)
            return
        try:
            offer = parse_sdp(request.body)
        except SdpError as exc:
            self._respond(tx, request, 488, _short(f"bad SDP: {exc}"))
            return
        problem, channel_id = self._check_offer(request, offer)
        if problem is not None:
            status, reason = problem
            self._respond(tx, request, status, reason)
            return
        assert offer.session is not None and offer.connection_address is not None
        transport = media_transport(offer.counterpart_transport, (offer.connection_address, offer.port))
        try:
            local_port = await transport.open(host.board.host)
            ssrc = offer.ssrc or make_ssrc(host.platform.domain, random.randint(1, 9999),
                                           history=offer.session.is_history).text  # fmt: skip
            answer = self._answer(offer, channel_id, local_port, ssrc)
        except (OSError, SdpError) as exc:
            transport.close()
            self._respond(tx, request, 500, _short(f"cannot set up media: {exc}"))
            return
        response = response_to(
            request,
            200,
            to_tag=new_tag(),
            headers=[("Contact", str(host.board.contact(channel_id))), ("User-Agent", USER_AGENT)],
            body=build_sdp(answer).encode(),
            content_type="APPLICATION/SDP",
        )
        dialog = Dialog.from_uas(request, response, asyncio.get_running_loop().time())
        session = MediaSession(dialog, peer, channel_id, offer.session, offer, transport, ssrc, answer=response)
        self._sessions[dialog.id] = session
        host.board.endpoint.respond(tx, response)
        await self._establish(session)

    def _check_offer(self, request: SipRequest, offer: SessionDescription) -> tuple[tuple[int, str] | None, str]:
        spec = self.host.spec
        channel_id = request.uri.user or ""
        if channel_id == spec.device_id and len(spec.channel_ids) == 1:
            channel_id = spec.channel_ids[0]  # an IPC invited by its device ID means its one camera
        if channel_id not in spec.channel_ids and offer.channel_id in spec.channel_ids:
            channel_id = offer.channel_id or ""
        if channel_id not in spec.channel_ids:
            return (404, f"no channel {channel_id[:20]}"), channel_id
        if offer.session not in (SessionName.PLAY, SessionName.PLAYBACK, SessionName.DOWNLOAD):
            return (488, f"session {offer.session_name[:20]} not supported"), channel_id
        if offer.session.is_history and offer.time_range_s is None:
            return (488, "a history session needs a time range"), channel_id
        if PS.payload_type not in offer.payload_types:
            return (488, "only PS (payload type 96) is sent"), channel_id
        if offer.connection_address is None or offer.port == 0:
            return (488, "no media address in the offer"), channel_id
        if len(self._sessions) >= self.host.behaviour.session_limit(len(spec.channel_ids)):
            return (486, "too many media sessions"), channel_id
        return None, channel_id

    def _answer(self, offer: SessionDescription, channel_id: str, port: int, ssrc: str) -> SessionDescription:
        video = self.host.video
        size = stream_size(offer, video)
        file_size = None
        if offer.session is SessionName.DOWNLOAD and offer.time_range_s is not None:
            start_s, stop_s = offer.time_range_s
            file_size = max(0, stop_s - start_s) * BITRATE_BPS // 8
        media_format = MediaFormat(video_codec=2, resolution=int(RESOLUTION_CODES[size]), frame_rate=video.fps,
                                   rate_type=1, bitrate=2048)  # fmt: skip
        return make_answer(offer, sender_id=channel_id, address=self.host.board.host, port=port, ssrc=ssrc,
                           file_size_bytes=file_size, media_format=media_format)  # fmt: skip

    def _answer_again(self, session: MediaSession, request: SipRequest, tx: ServerTransaction) -> None:
        assert session.answer is not None
        verdict = session.dialog.receive_request(request, asyncio.get_running_loop().time())
        if not verdict.ok:
            self._respond(tx, request, verdict.status or 500, verdict.reason)
            return
        response = response_to(request, 200, headers=[("Contact", str(self.host.board.contact(session.channel_id)))],
                               body=session.answer.body, content_type="APPLICATION/SDP")  # fmt: skip
        self.host.board.endpoint.respond(tx, response)

    def on_ack(self, request: SipRequest) -> None:
        session = self._find(request)
        if session is not None:
            session.acked.set()

    async def _establish(self, session: MediaSession) -> None:
        host = self.host
        timers = host.board.timers
        try:
            # Timer L (64·T1): the platform that sent no ACK by then is gone, or never got our 200.
            await asyncio.wait_for(session.acked.wait(), timers.timeout_s)
        except TimeoutError:
            await self.end(session, "no ACK for the 200 (timer L)", send_bye=True)
            return
        if session.closed.is_set():
            return
        try:
            await session.transport.connect(max(5.0, timers.timeout_s))
        except (OSError, TimeoutError) as exc:
            await self.end(session, f"media connection failed: {exc or 'timed out'}", send_bye=True)
            return
        if session.closed.is_set():
            return
        self._start_stream(session)

    def _start_stream(self, session: MediaSession) -> None:
        host = self.host
        source = SourceSpec(session.channel_id, stream_size(session.offer, host.video), host.video)
        session.stream = RtpStream(int(session.ssrc), session.transport, host.stats, source.stream_type)
        session.transport.on_lost = lambda reason: self._spawn(self.end(session, reason, send_bye=True))
        if session.name is SessionName.PLAY:
            session.live = host.streamer.watch_live(
                source, session.stream, lambda reason: self._spawn(self.end(session, reason, send_bye=True))
            )
        else:
            assert session.offer.time_range_s is not None
            start_s, stop_s = session.offer.time_range_s
            speed = session.offer.download_speed if session.name is SessionName.DOWNLOAD else None
            session.history = host.streamer.play_history(
                source,
                session.stream,
                recorded_at=beijing_of_unix(start_s),
                duration_s=float(stop_s - start_s),
                scale=float(speed or 1),
                on_end=lambda reason: self._spawn(self._history_ended(session, reason)),
            )
        host.stats.streams_started += 1
        host.stats.streams_active += 1
        host.emit(StreamStarted(host.spec.device_id, session.channel_id, session.dialog.id.call_id,
                                session.name.value, session.transport.kind.value, session.ssrc))  # fmt: skip

    # ---- in-dialog requests ----------------------------------------------------------------------------------

    async def on_bye(self, request: SipRequest, tx: ServerTransaction | None) -> None:
        session = self._find(request)
        if tx is None:
            return
        if session is None:
            self._respond(tx, request, 481)
            return
        session.dialog.receive_request(request, asyncio.get_running_loop().time())
        self.host.board.endpoint.respond(tx, response_to(request, 200))
        await self.end(session, "BYE from the platform", send_bye=False)

    async def on_info(self, request: SipRequest, tx: ServerTransaction | None) -> None:
        if tx is None:
            return
        session = self._find(request)
        if session is None:
            self._respond(tx, request, 481)
            return
        verdict = session.dialog.receive_request(request, asyncio.get_running_loop().time())
        if not verdict.ok:
            self._respond(tx, request, verdict.status or 500, verdict.reason)
            return
        try:
            control = parse_request(request.body)
        except MansRtspError as exc:
            self._respond(tx, request, 400, _short(str(exc)))
            return
        if control.scale is not None and control.scale < 0:
            self._respond(tx, request, 488, "reverse playback not supported")
            return
        if session.rtsp.accept(control.cseq) and session.history is not None:
            feed = session.history
            if control.method is Method.PAUSE:
                feed.pause()
            elif control.method is Method.PLAY:
                if control.scale is not None:
                    feed.set_scale(control.scale)
                if control.seek_s is not None:
                    feed.seek(control.seek_s)
                feed.resume()
        body = MansRtspResponse(200, "OK", control.cseq, control.version).to_text().encode()
        self.host.board.endpoint.respond(tx, response_to(request, 200, body=body, content_type="Application/MANSRTSP"))
        if control.method is Method.TEARDOWN:
            await self.end(session, "TEARDOWN from the platform", send_bye=True)

    # ---- ending --------------------------------------------------------------------------------------------

    async def _history_ended(self, session: MediaSession, reason: str) -> None:
        if reason != "end of file":
            await self.end(session, reason, send_bye=True)
            return
        host = self.host
        notify = MediaStatusNotify(host.next_sn(), session.channel_id)
        request = session.dialog.request("MESSAGE", host.board.via(), body=notify.build(), content_type=MANSCDP)
        try:
            await host.board.endpoint.request(request, session.peer)
            host.stats.messages_sent += 1
            # The platform hangs up after MediaStatus 121; one that does not gets our BYE.
            await asyncio.wait_for(session.closed.wait(), host.board.timers.timeout_s)
        except (SipTimeout, TimeoutError):
            await self.end(session, "end of file; the platform did not hang up", send_bye=True)

    async def end(self, session: MediaSession, reason: str, *, send_bye: bool) -> None:
        if session.closed.is_set():
            return
        session.closed.set()
        session.acked.set()  # wakes a setup still waiting for the ACK; it sees the session closed and stops
        host = self.host
        if session.live is not None and session.stream is not None:
            session.live.remove(session.stream)
        if session.history is not None:
            session.history.stop()
        session.transport.close()
        self._sessions.pop(session.dialog.id, None)
        if session.stream is not None:
            host.stats.streams_active -= 1
        host.emit(StreamEnded(host.spec.device_id, session.channel_id, session.dialog.id.call_id, reason))
        if send_bye and session.dialog.state is not DialogState.TERMINATED:
            try:
                bye = session.dialog.bye(host.board.via())
                await host.board.endpoint.request(bye, session.peer)
            except (SipTimeout, SipError) as exc:
                log.debug("sim: BYE for %s got no answer: %s", session.dialog.id.call_id, exc)

    async def end_all(self, reason: str, *, send_bye: bool) -> None:
        await asyncio.gather(*(self.end(s, reason, send_bye=send_bye) for s in self.sessions))
        for task in list(self._tasks):
            task.cancel()

    def _spawn(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _short(text: str) -> str:
    return " ".join(text.split())[:100]
