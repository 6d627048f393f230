"""The simulated RTSP camera: an asyncio RTSP/1.0 server on loopback streaming each path's shared live encoder.

Every path (`/main`, `/sub`, …) has one encoder, started by its first playing client and shared by all
(the GB simulator's Streamer and LiveFeed); each session packetises the same pictures under its own SSRC,
over the RTSP connection (interleaved) or to the client's UDP ports. Sessions end with TEARDOWN, after
`session_timeout_s` without a request or RTCP, or when the connection they were set up on closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tianyan.sim.gb28181.streamer import LiveFeed, Streamer
from tianyan.sim.rtsp.auth import AuthScheme, CameraAuth
from tianyan.sim.rtsp.messages import (
    METHODS,
    RtspParser,
    RtspRequest,
    RtspResponse,
    RtspSyntaxError,
    TransportSpec,
    parse_npt_start,
    parse_transport,
    response,
)
from tianyan.sim.rtsp.output import RtpOutput, interleaved_sender, udp_sender
from tianyan.sim.rtsp.sdp import TRACK_CONTROL, build_sdp
from tianyan.sim.rtsp.session import DEFAULT_SESSION_TIMEOUT_S, RtspSession, SessionError, Target, resolve
from tianyan.sim.rtsp.source import CameraPath, PathFormat, PathSource, probe

log = logging.getLogger(__name__)
SERVER_NAME = "Tianyan RTSP camera simulator"
PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
_REAP_EVERY_S = 1.0


def default_paths(codec: str = "h264", main_size: str = "720p", sub_size: str = "cif", fps: int = 25,
                  file: Path | None = None) -> tuple[CameraPath, ...]:  # fmt: skip
    """A camera's usual pair: `/main` at full size and `/sub` small."""
    return (
        CameraPath("main", main_size, codec, fps, file),  # type: ignore[arg-type]
        CameraPath("sub", sub_size, codec, fps, file),  # type: ignore[arg-type]
    )


@dataclass
class CameraStats:
    connections: int = 0
    requests: int = 0
    bad_requests: int = 0
    unauthorized: int = 0
    sessions_started: int = 0


@dataclass(eq=False)
class _Session:
    """A session and the I/O that goes with it (the pure state lives in RtspSession)."""

    state: RtspSession
    source: PathSource
    output: RtpOutput
    connection: _Connection
    udp: tuple[asyncio.DatagramTransport, asyncio.DatagramTransport] | None = None
    feed: LiveFeed | None = None


class RtspCamera:
    """An RTSP camera on `host:port` (port 0: any free one) offering `paths`; `password` turns on auth."""

    def __init__(
        self,
        paths: tuple[CameraPath, ...] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        label: str = "RTSP camera",
        username: str = "admin",
        password: str | None = None,
        auth: AuthScheme = "digest",
        session_timeout_s: int = DEFAULT_SESSION_TIMEOUT_S,
        workers: int | None = None,
    ) -> None:
        self.paths = {p.name: p for p in (paths or default_paths())}
        self.host, self.port, self.label = host, port, label
        self.username, self.password = username, password
        self.auth = CameraAuth(username, password, auth) if password is not None else None
        self.session_timeout_s = session_timeout_s
        self.stats = CameraStats()
        self.sessions: dict[str, _Session] = {}
        self._sources = {name: PathSource.of(path, label) for name, path in self.paths.items()}
        self._formats: dict[str, asyncio.Future[PathFormat]] = {}
        self._streamer = Streamer(workers=workers or 2)
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._reaper: asyncio.Task[None] | None = None

    async def start(self) -> RtspCamera:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._reaper = loop.create_task(self._reap(), name="rtsp-sim-reaper")
        log.info("RTSP camera %s on rtsp://%s:%d/ (%s)", self.label, self.host, self.port, ", ".join(self.paths))
        return self

    async def stop(self) -> None:
        """Go away like a camera losing power: every connection and session ends at once."""
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions.values()):
            self._end(session)
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        self._streamer.close()

    async def __aenter__(self) -> RtspCamera:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def url(self, path: str = "main", *, credentials: bool = True) -> str:
        userinfo = ""
        if credentials and self.password is not None:
            userinfo = f"{quote(self.username, safe='')}:{quote(self.password, safe='')}@"
        return f"rtsp://{userinfo}{self.host}:{self.port}/{path}"

    @property
    def playing(self) -> int:
        return sum(1 for s in self.sessions.values() if s.feed is not None)

    @property
    def live_encoders(self) -> int:
        return self._streamer.live_feeds

    # Request handling: each returns the response and, optionally, what to do once it has been written.

    async def handle(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        self.stats.requests += 1
        cseq = request.cseq
        if cseq is None or not cseq.strip().isdigit():
            self.stats.bad_requests += 1
            return response(400, cseq, {"Server": SERVER_NAME})
        if request.method not in METHODS:
            return response(501, cseq, {"Public": PUBLIC})
        if request.method in ("ANNOUNCE", "RECORD", "REDIRECT"):
            return response(405, cseq, {"Allow": PUBLIC})
        if request.method != "OPTIONS" and self.auth is not None:
            verdict = self.auth.check(request.method, request.headers.get("Authorization"))
            if not verdict.ok:
                self.stats.unauthorized += 1
                return response(401, cseq, [("WWW-Authenticate", c) for c in verdict.challenges])
        try:
            handler = getattr(self, f"_on_{request.method.lower()}")
            answer: RtspResponse = await handler(connection, request)
        except RtspSyntaxError as exc:
            self.stats.bad_requests += 1
            answer = response(exc.status, cseq)
            answer.body = f"{exc}\r\n".encode()
            answer.headers.append(("Content-Type", "text/plain"))
        except SessionError as exc:
            answer = response(exc.status, cseq)
            answer.body = f"{exc}\r\n".encode()
            answer.headers.append(("Content-Type", "text/plain"))
        answer.headers.append(("Server", SERVER_NAME))
        return answer

    async def _on_options(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        self._touch(request)
        return response(200, request.cseq, {"Public": PUBLIC})

    async def _on_describe(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        target = self._target(request)
        accept = request.headers.get("Accept")
        if accept is not None and "application/sdp" not in accept and "*/*" not in accept:
            raise SessionError("only application/sdp descriptions are offered", 406)
        try:
            fmt = await self._format(target.path)
        except Exception as exc:
            log.exception("RTSP camera: the video of /%s failed", target.path)
            raise SessionError(f"the video source failed: {exc}", 503) from exc
        host, port = connection.local_address
        sdp = build_sdp(fmt.codec, fmt.parameter_sets, host=host, session_id=zlib.crc32(target.path.encode()),
                        fps=fmt.fps, width=fmt.width, height=fmt.height,
                        title=f"{self.label} {target.path}")  # fmt: skip
        base = f"rtsp://{host}:{port}/{target.path}/"
        headers = {"Content-Type": "application/sdp", "Content-Base": base}
        return response(200, request.cseq, headers, sdp.encode())

    async def _on_setup(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        target = self._target(request)
        transport_header = request.headers.get("Transport")
        if transport_header is None:
            raise RtspSyntaxError("SETUP without a Transport header")
        options = parse_transport(transport_header)
        chosen = next((o for o in options if isinstance(o, TransportSpec)), None)
        if chosen is None:
            reasons = "; ".join(o for o in options if isinstance(o, str)) or "no transport offered"
            raise SessionError(reasons, 461)
        fmt = await self._format(target.path)
        existing = self._optional_session(request)
        if existing is not None:
            existing.state.check_target(target)
            existing.state.setup_again(chosen)
            session = existing
        else:
            session = await self._new_session(connection, target, chosen, fmt)
        return response(
            200, request.cseq, {"Transport": self._transport_reply(session), "Session": session.state.header}
        )

    async def _new_session(self, connection: _Connection, target: Target, spec: TransportSpec,
                           fmt: PathFormat) -> _Session:  # fmt: skip
        frame_90k = round(90_000 / fmt.fps)
        udp = None
        if spec.interleaved is not None:
            send = interleaved_sender(connection.transport, spec.interleaved[0])
        else:
            assert spec.client_ports is not None
            udp = await self._open_udp(connection)
            send = udp_sender(udp[0], (connection.peer_host, spec.client_ports[0]))
        output = RtpOutput(fmt.codec, send, frame_90k)
        state = RtspSession(target.path, spec, self.session_timeout_s)
        state.touch(asyncio.get_running_loop().time())
        session = _Session(state, self._sources[target.path], output, connection, udp)
        self.sessions[state.id] = session
        connection.sessions.add(session)
        self.stats.sessions_started += 1
        return session

    async def _open_udp(self, connection: _Connection) -> tuple[asyncio.DatagramTransport, asyncio.DatagramTransport]:
        loop = asyncio.get_running_loop()
        host = connection.local_address[0]

        def receiver() -> _RtcpReceiver:
            return _RtcpReceiver(self, connection)

        rtp, _ = await loop.create_datagram_endpoint(receiver, local_addr=(host, 0), family=socket.AF_INET)
        rtcp, _ = await loop.create_datagram_endpoint(receiver, local_addr=(host, 0), family=socket.AF_INET)
        return rtp, rtcp

    def _transport_reply(self, session: _Session) -> str:
        spec, ssrc = session.state.transport, f"{session.output.ssrc:08X}"
        if spec.interleaved is not None:
            return f"RTP/AVP/TCP;unicast;interleaved={spec.interleaved[0]}-{spec.interleaved[1]};ssrc={ssrc}"
        assert spec.client_ports is not None and session.udp is not None
        rtp_port = session.udp[0].get_extra_info("sockname")[1]
        rtcp_port = session.udp[1].get_extra_info("sockname")[1]
        client = f"{spec.client_ports[0]}-{spec.client_ports[1]}"
        return f"RTP/AVP;unicast;client_port={client};server_port={rtp_port}-{rtcp_port};ssrc={ssrc}"

    async def _on_play(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        target = self._target(request)
        session = self._session(request)
        session.state.check_target(target)
        parse_npt_start(request.headers.get("Range"))  # live: any start means now, but a bad one is refused
        session.state.play()
        output = session.output
        if output.paused:
            output.resume()
        host, port = connection.local_address
        rtp_info = (f"url=rtsp://{host}:{port}/{session.state.path}/{TRACK_CONTROL};"
                    f"seq={output.packetizer.next_sequence};rtptime={output.next_timestamp}")  # fmt: skip
        answer = response(200, request.cseq, {"Session": session.state.header, "Range": "npt=now-",
                                               "RTP-Info": rtp_info})  # fmt: skip
        if session.feed is None:
            # Joined after the answer is queued, so no RTP reaches the client before it.
            connection.after_reply(lambda: self._watch(session))
        return answer

    def _watch(self, session: _Session) -> None:
        if session.state.id not in self.sessions or session.feed is not None:
            return
        session.feed = self._streamer.watch_live(session.source, session.output,  # type: ignore[arg-type]
                                                 lambda reason: self._source_ended(session, reason))  # fmt: skip

    def _source_ended(self, session: _Session, reason: str) -> None:
        log.info("RTSP camera: session %s ends: %s", session.state.id, reason)
        session.feed = None
        self._end(session)
        if session.state.transport.tcp:
            session.connection.close()

    async def _on_pause(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        target = self._target(request)
        session = self._session(request)
        session.state.check_target(target)
        session.state.pause()
        session.output.paused = True
        self._unwatch(session)
        return response(200, request.cseq, {"Session": session.state.header})

    async def _on_teardown(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        self._target(request)
        session = self._session(request)
        self._end(session)
        return response(200, request.cseq, {"Session": session.state.id})

    async def _on_get_parameter(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        session = self._optional_session(request)
        headers = {"Session": session.state.header} if session is not None else {}
        return response(200, request.cseq, headers)

    async def _on_set_parameter(self, connection: _Connection, request: RtspRequest) -> RtspResponse:
        session = self._optional_session(request)
        if request.body.strip():
            raise SessionError("no parameters can be set on this camera", 451)
        headers = {"Session": session.state.header} if session is not None else {}
        return response(200, request.cseq, headers)

    # Helpers.

    def _target(self, request: RtspRequest) -> Target:
        target = resolve(request.uri, frozenset(self.paths))
        if target is None:
            raise SessionError(f"no stream at {request.uri[:200]}; this camera has /{', /'.join(self.paths)}", 404)
        return target

    def _session(self, request: RtspRequest) -> _Session:
        session = self._optional_session(request)
        if session is None:
            raise SessionError(f"{request.method} needs a Session header", 454)
        return session

    def _optional_session(self, request: RtspRequest) -> _Session | None:
        session_id = request.session_id
        if session_id is None:
            return None
        session = self.sessions.get(session_id)
        if session is None:
            raise SessionError(f"no session {session_id[:40]}", 454)
        session.state.touch(asyncio.get_running_loop().time())
        return session

    def _touch(self, request: RtspRequest) -> None:
        session = self.sessions.get(request.session_id or "")
        if session is not None:
            session.state.touch(asyncio.get_running_loop().time())

    async def _format(self, path: str) -> PathFormat:
        future = self._formats.get(path)
        if future is None or (future.done() and future.exception() is not None):
            loop = asyncio.get_running_loop()
            future = self._formats[path] = loop.run_in_executor(self._streamer.executor, probe, self._sources[path])
        return await asyncio.shield(future)

    def _unwatch(self, session: _Session) -> None:
        feed, session.feed = session.feed, None
        if feed is not None:
            feed.remove(session.output)  # type: ignore[arg-type]

    def _end(self, session: _Session) -> None:
        self._unwatch(session)
        session.output.paused = True
        self.sessions.pop(session.state.id, None)
        session.connection.sessions.discard(session)
        if session.udp is not None:
            for transport in session.udp:
                transport.close()
            session.udp = None

    def connection_lost(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        for session in list(connection.sessions):
            self._end(session)

    async def _reap(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_REAP_EVERY_S)
            now = loop.time()
            for session in list(self.sessions.values()):
                if session.state.expired(now):
                    log.info("RTSP camera: session %s timed out", session.state.id)
                    self._end(session)

    def rtcp_from(self, connection: _Connection) -> None:
        """An RTCP packet (a receiver report) counts as the client being alive."""
        now = asyncio.get_running_loop().time()
        for session in connection.sessions:
            session.state.touch(now)


class _Connection(asyncio.Protocol):
    """One client's RTSP connection: requests answered strictly in order, interleaved RTCP noted."""

    def __init__(self, camera: RtspCamera) -> None:
        self.camera = camera
        self.parser = RtspParser()
        self.sessions: set[_Session] = set()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.local_address: tuple[str, int] = ("127.0.0.1", 0)
        self.peer_host = "127.0.0.1"
        self._queue: asyncio.Queue[RtspRequest | RtspSyntaxError] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._after: list[Callable[[], None]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.local_address = transport.get_extra_info("sockname")[:2]
        self.peer_host = transport.get_extra_info("peername")[0]
        self.camera._connections.add(self)
        self.camera.stats.connections += 1
        self._worker = asyncio.get_running_loop().create_task(self._serve(), name="rtsp-sim-connection")

    def data_received(self, data: bytes) -> None:
        try:
            events = self.parser.feed(data)
        except RtspSyntaxError as exc:
            self._queue.put_nowait(exc)
            self.transport.pause_reading()
            return
        for event in events:
            if isinstance(event, RtspRequest):
                self._queue.put_nowait(event)
            else:
                self.camera.rtcp_from(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self.camera.connection_lost(self)

    def after_reply(self, action: Callable[[], None]) -> None:
        self._after.append(action)

    def close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    async def _serve(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, RtspSyntaxError):
                self.camera.stats.bad_requests += 1
                answer = response(item.status, None, {"Server": SERVER_NAME, "Content-Type": "text/plain"},
                                  f"{item}\r\n".encode())  # fmt: skip
                self.transport.write(answer.to_bytes())
                self.close()  # nothing after unparseable bytes can be trusted
                return
            try:
                answer = await self.camera.handle(self, item)
            except Exception:
                log.exception("RTSP camera: %s %s failed", item.method, item.uri[:200])
                answer = response(500, item.cseq, {"Server": SERVER_NAME})
            if self.transport.is_closing():
                return
            self.transport.write(answer.to_bytes())
            actions, self._after = self._after, []
            for action in actions:
                action()


class _RtcpReceiver(asyncio.DatagramProtocol):
    """What clients send to our RTP/RTCP ports (receiver reports, NAT punches) only shows they are alive."""

    def __init__(self, camera: RtspCamera, connection: _Connection) -> None:
        self.camera, self.connection = camera, connection

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.camera.rtcp_from(self.connection)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable: the client's port is gone; the session times out if it does not come back.
        log.debug("RTSP camera: UDP error %s", exc)
