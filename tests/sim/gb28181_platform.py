"""A test-only GB/T 28181 platform built from the project's SIP and MANSCDP pieces, and an RTP receiver.

Enough of a server to drive the device simulator over loopback while the real one is being written: it
challenges and checks REGISTERs, records keepalives and every MANSCDP body, collects catalogs, acknowledges
alarms, sends queries, controls, SUBSCRIBEs, INVITEs, INFOs and BYEs, and counts RTP packets per SSRC.
"""

from __future__ import annotations

import asyncio
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

import av

from tianyan.gb28181.endpoint import SipEndpoint
from tianyan.gb28181.manscdp.alarm import AlarmNotify, AlarmResponse
from tianyan.gb28181.manscdp.catalog import CatalogCollector, CatalogItem, CatalogResponse
from tianyan.gb28181.manscdp.envelope import Body
from tianyan.gb28181.manscdp.keepalive import KeepaliveNotify
from tianyan.gb28181.manscdp.message import parse
from tianyan.gb28181.manscdp.multi_response import Collected
from tianyan.gb28181.sdp import build_sdp, make_offer, parse_sdp
from tianyan.gb28181.sdp_types import SessionDescription, SessionName, Transport
from tianyan.gb28181.sip.dialog import Dialog, DialogId
from tianyan.gb28181.sip.digest import DigestAuthority
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import (
    SipRequest,
    SipResponse,
    new_branch,
    new_call_id,
    new_request,
    new_tag,
    response_to,
)
from tianyan.gb28181.sip.transaction import ServerTransaction, Timers
from tianyan.gb28181.ssrc import SsrcAllocator
from tianyan.gb28181.transport import Peer, SipTransport
from tianyan.media.rtp import Rfc4571Deframer, RtpPacket, parse_rtp
from tianyan.sim.gb28181.profile import PlatformAddress

B = TypeVar("B", bound=Body)
PLATFORM_ID = "44130000002000000001"
HOST = "127.0.0.1"
MANSCDP = "Application/MANSCDP+xml"
FAST = Timers(t1_s=0.02, t2_s=0.08, t4_s=0.1)


async def eventually(condition: Callable[[], bool], timeout_s: float = 5.0, poll_s: float = 0.02) -> None:
    """Wait until `condition()` holds; AssertionError after `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(poll_s)


class RtpReceiver:
    """RTP on a UDP socket and a TCP listener (RFC 4571), or over a connection we open; packets kept per SSRC."""

    def __init__(self) -> None:
        self.packets: dict[int, list[RtpPacket]] = defaultdict(list)
        self.udp_port = self.tcp_port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        receiver = self

        class Udp(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                receiver._add(data)

        self._udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=(HOST, 0))
        self.udp_port = self._udp.get_extra_info("sockname")[1]
        self._server = await asyncio.start_server(self._serve, HOST, 0)
        self.tcp_port = self._server.sockets[0].getsockname()[1]

    def _add(self, data: bytes) -> None:
        packet = parse_rtp(data)
        self.packets[packet.ssrc].append(packet)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        deframer = Rfc4571Deframer()
        while chunk := await reader.read(65536):
            for data in deframer.feed(chunk):
                self._add(data)

    async def connect(self, host: str, port: int) -> None:
        """The platform's side of a tcp-active offer: connect to the device and read what it sends."""
        reader, writer = await asyncio.open_connection(host, port)
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)

    def drop_connections(self) -> None:
        """Close every media connection, as a platform whose media server went away."""
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()

    def count(self, ssrc: int) -> int:
        return len(self.packets.get(ssrc, ()))

    def ps_bytes(self, ssrc: int) -> bytes:
        return b"".join(p.payload for p in self.packets.get(ssrc, ()))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()


def decode_ps(data: bytes) -> list[av.VideoFrame]:
    """Every picture PyAV decodes from an MPEG program stream."""
    with av.open(io.BytesIO(data), format="mpeg") as container:
        return list(container.decode(video=0))


@dataclass
class Call:
    """A media session the platform started."""

    dialog: Dialog
    peer: Peer
    offer: SessionDescription
    answer: SessionDescription
    response: SipResponse

    @property
    def ssrc(self) -> int:
        assert self.answer.ssrc is not None
        return int(self.answer.ssrc)


@dataclass
class Arrival:
    device_id: str
    status: int
    at: float
    call_id: str
    peer: Peer


@dataclass
class FakePlatform:
    password: str = "secret"
    server_id: str = PLATFORM_ID
    timers: Timers = FAST
    expires_s: int | None = None  # grant this instead of what the device asked
    alarm_response: bool = True
    ack_invites: bool = True
    refuse_keepalives: bool = False  # answer them 404, as a platform that lost its state does
    registers: list[Arrival] = field(default_factory=list)
    registered: dict[str, Peer] = field(default_factory=dict)
    keepalives: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    bodies: list[Body] = field(default_factory=list)
    catalogs: dict[tuple[str, int | None], Collected[CatalogItem]] = field(default_factory=dict)
    catalog_messages: int = 0
    alarms: list[AlarmNotify] = field(default_factory=list)
    notifies: list[tuple[SipRequest, Body | None]] = field(default_factory=list)
    in_dialog_messages: list[tuple[str, Body]] = field(default_factory=list)
    byes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.domain = self.server_id[:10]
        self.authority = DigestAuthority(self.domain, b"k" * 32, qop=True)
        self.collector = CatalogCollector()
        self.ssrcs = SsrcAllocator(self.domain)
        self.endpoint = SipEndpoint(SipTransport(host=HOST, port=0, receiver=lambda d, p: None), self._handle,
                                    timers=self.timers)  # fmt: skip
        self._sn = 100
        self._dialogs: dict[DialogId, Dialog] = {}
        self._tasks: set[asyncio.Task[object]] = set()

    async def start(self) -> FakePlatform:
        await self.endpoint.start()
        return self

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.endpoint.close()

    @property
    def port(self) -> int:
        return self.endpoint.transport.port

    @property
    def address(self) -> PlatformAddress:
        return PlatformAddress.of(HOST, self.port, self.server_id)

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def next_sn(self) -> int:
        self._sn += 1
        return self._sn

    def of_type(self, kind: type[B]) -> list[B]:
        return [b for b in self.bodies if isinstance(b, kind)]

    # ---- what arrives -----------------------------------------------------------------------------------------

    async def _handle(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if tx is None:
            return
        if request.method == "REGISTER":
            self._register(request, peer, tx)
        elif request.method in ("MESSAGE", "NOTIFY"):
            self._message(request, peer, tx)
        elif request.method == "BYE":
            self.byes.append(request.call_id)
            self.endpoint.respond(tx, response_to(request, 200))
        else:
            self.endpoint.respond(tx, response_to(request, 405))

    def _register(self, request: SipRequest, peer: Peer, tx: ServerTransaction) -> None:
        device_id = request.from_.uri.user or ""
        authorization = request.headers.get("Authorization")
        status, headers = 200, []
        if authorization is None:
            status, headers = 401, [("WWW-Authenticate", v) for v in self.authority.challenge(self.now())]
        else:
            verdict = self.authority.verify("REGISTER", authorization, self.password, self.now())
            if verdict.stale:
                status = 401
                headers = [("WWW-Authenticate", v) for v in self.authority.challenge(self.now(), stale=True)]
            elif not verdict.ok:
                status = 403
        if status == 200:
            expires_s = request.expires if self.expires_s is None else self.expires_s
            date = datetime.now().isoformat(timespec="milliseconds")
            headers = [("Expires", str(expires_s)), ("Date", date), ("Contact", request.headers.get("Contact") or "")]
            if expires_s:
                self.registered[device_id] = peer
            else:
                self.registered.pop(device_id, None)
        self.registers.append(Arrival(device_id, status, self.now(), request.call_id, peer))
        self.endpoint.respond(tx, response_to(request, status, to_tag=new_tag(), headers=headers))

    def _message(self, request: SipRequest, peer: Peer, tx: ServerTransaction) -> None:
        body = parse(request.body) if request.body else None
        refused = self.refuse_keepalives and isinstance(body, KeepaliveNotify)
        self.endpoint.respond(tx, response_to(request, 404 if refused else 200))
        if request.method == "NOTIFY":
            dialog_id = DialogId.of_incoming_request(request)
            dialog = self._dialogs.get(dialog_id) if dialog_id else None
            if dialog is not None:
                dialog.receive_request(request, self.now())
            self.notifies.append((request, body))
            return
        assert body is not None
        self.bodies.append(body)
        if request.to.tag is not None:
            self.in_dialog_messages.append((request.call_id, body))
        if isinstance(body, KeepaliveNotify):
            self.keepalives[body.device_id].append(self.now())
        elif isinstance(body, CatalogResponse):
            self.catalog_messages += 1
            done = self.collector.feed(body, now_s=self.now())
            if done is not None:
                self.catalogs[(done.device_id, done.sn)] = done
        elif isinstance(body, AlarmNotify):
            self.alarms.append(body)
            if self.alarm_response:
                device_id = request.from_.uri.user or ""
                answer = AlarmResponse(body.sn, body.device_id, "OK")
                self._spawn(self.send(device_id, answer))

    def _spawn(self, work: object) -> None:
        task = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- what the platform sends -------------------------------------------------------------------------------

    def via(self, peer: Peer) -> Via:
        return Via(peer.transport, HOST, self.port, {"rport": None, "branch": new_branch()})

    def _request(self, method: str, device_id: str, target: str, **options: object) -> tuple[SipRequest, Peer]:
        peer = self.registered[device_id]
        request = new_request(
            method,
            SipUri(host=peer.host, user=target, port=peer.port),
            via=self.via(peer),
            from_=NameAddr(SipUri(host=self.domain, user=self.server_id), params={"tag": new_tag()}),
            to=NameAddr(SipUri(host=self.domain, user=target)),
            call_id=new_call_id(HOST),
            cseq=1,
            contact=NameAddr(SipUri(host=HOST, user=self.server_id, port=self.port)),
            **options,  # type: ignore[arg-type]
        )
        return request, peer

    async def send(self, device_id: str, body: Body, target: str | None = None) -> SipResponse:
        """A MANSCDP MESSAGE to a device (Request-URI `target`, default the device)."""
        request, peer = self._request("MESSAGE", device_id, target or device_id, body=body.build(),
                                      content_type=MANSCDP)  # fmt: skip
        return await self.endpoint.request(request, peer)

    async def subscribe(
        self, device_id: str, body: Body, *, expires_s: int = 60, event: str = "Catalog"
    ) -> tuple[Dialog | None, SipResponse]:
        headers = [("Event", event), ("Expires", str(expires_s))]
        request, peer = self._request("SUBSCRIBE", device_id, device_id, headers=headers, body=body.build(),
                                      content_type=MANSCDP)  # fmt: skip
        response = await self.endpoint.request(request, peer)
        if response.status >= 300:
            return None, response
        dialog = Dialog.from_uac(request, response, self.now())
        self._dialogs[dialog.id] = dialog
        return dialog, response

    async def unsubscribe(self, device_id: str, dialog: Dialog) -> SipResponse:
        response = await self.endpoint.request(dialog.subscribe(self.via(self.registered[device_id]), 0),
                                               self.registered[device_id])  # fmt: skip
        dialog.receive_response(response, self.now())
        return response

    async def invite(
        self,
        device_id: str,
        channel_id: str,
        receiver: RtpReceiver,
        *,
        session: SessionName = SessionName.PLAY,
        transport: Transport = Transport.UDP,
        start_s: int = 0,
        stop_s: int = 0,
        stream_number: int | None = 1,
        download_speed: int | None = None,
    ) -> Call:
        """INVITE with an offer to receive at `receiver` (UDP port, TCP listener, or we connect for tcp-active)."""
        ssrc = self.ssrcs.allocate(history=session.is_history)
        port = receiver.tcp_port if transport is Transport.TCP_PASSIVE else receiver.udp_port
        offer = make_offer(session=session, sender_id=self.server_id, address=HOST, port=port, transport=transport,
                           ssrc=ssrc, channel_id=channel_id if session.is_history else None, start_s=start_s,
                           stop_s=stop_s, download_speed=download_speed)  # fmt: skip
        if stream_number is not None:
            media = replace(offer.video, attributes=(("streamnumber", str(stream_number)),))
            offer = replace(offer, media=(media,))
        subject = [("Subject", f"{channel_id}:{ssrc},{self.server_id}:0")]
        request, peer = self._request("INVITE", device_id, channel_id, headers=subject,
                                      body=build_sdp(offer).encode(), content_type="APPLICATION/SDP")  # fmt: skip
        response = await self.endpoint.request(request, peer)
        assert response.status == 200, (response.status, response.reason)
        dialog = Dialog.from_uac(request, response, self.now())
        self._dialogs[dialog.id] = dialog
        answer = parse_sdp(response.body)
        if self.ack_invites:
            self.endpoint.send_ack(dialog.ack(self.via(peer)), peer)
        if transport is Transport.TCP_ACTIVE:
            assert answer.connection_address is not None
            await receiver.connect(answer.connection_address, answer.port)
        return Call(dialog, peer, offer, answer, response)

    async def info(self, call: Call, body: str) -> SipResponse:
        request = call.dialog.info(self.via(call.peer), body.encode())
        return await self.endpoint.request(request, call.peer)

    async def bye(self, call: Call) -> SipResponse:
        return await self.endpoint.request(call.dialog.bye(self.via(call.peer)), call.peer)
