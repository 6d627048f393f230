"""A running SIP server over loopback on a migrated database, and a bare SIP client to talk to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.memory import MemoryBus
from tianyan.config import SipConfig
from tianyan.core.events import Event
from tianyan.db.engine import make_sessionmaker
from tianyan.gb28181.endpoint import SipEndpoint
from tianyan.gb28181.server import SipServer
from tianyan.gb28181.sip.digest import authorization
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import SipRequest, SipResponse, new_branch, new_call_id, new_request, new_tag
from tianyan.gb28181.sip.transaction import ServerTransaction, Timers
from tianyan.gb28181.transport import Peer, SipTransport
from tianyan.registry import service
from tianyan.registry.models import Device

PLATFORM_ID = "44130000002000000001"
DOMAIN = "4413000000"
PASSWORD = "Huizhou-2026"
FAST = Timers(t1_s=0.05, t2_s=0.2, t4_s=0.2)


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def sip_config() -> SipConfig:
    return SipConfig(
        host="127.0.0.1", port=0, id=PLATFORM_ID, domain=DOMAIN, password=PASSWORD, keepalive_interval_s=5,
        register_expires_min_s=10, query_timeout_s=3, rate_per_source_per_s=1000, rate_burst=1000,
    )  # fmt: skip


@pytest.fixture
async def sessions(engine) -> async_sessionmaker[AsyncSession]:  # type: ignore[no-untyped-def]
    maker = make_sessionmaker(engine)
    async with maker() as session:
        await service.add_region(session, code="440000", name="广东省", level="province")
        await service.add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
        await service.add_region(session, code="441302", name="惠城区", level="county", parent_code="441300")
        await session.commit()
    return maker


async def add_device(sessions: async_sessionmaker[AsyncSession], gb_id: str, **values: object) -> int:
    async with sessions() as session:
        region = await service.region_by_code(session, "441302")
        device = Device(gb_id=gb_id, name=f"设备 {gb_id[-4:]}", type_code=gb_id[10:13], region_id=region.id, **values)
        session.add(device)
        await session.commit()
        return device.id


@pytest.fixture
async def sip(
    sip_config: SipConfig, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[SipServer, Recorder]]:
    bus = MemoryBus()
    recorder = Recorder()
    server = SipServer(sip_config, sessions, bus, timers=FAST)
    await server.start()
    bus.subscribe(">", recorder)
    server.writer.flush_interval_s = 0.05
    try:
        yield server, recorder
    finally:
        await server.close()
        await bus.close()


class BareDevice:
    """Just enough of a device to drive the server by hand: REGISTER with digest and MESSAGE."""

    def __init__(self, gb_id: str, server_port: int, transport: str = "UDP") -> None:
        self.gb_id = gb_id
        self.transport = transport
        self.server = Peer(transport, "127.0.0.1", server_port)  # type: ignore[arg-type]
        self.received: list[SipRequest] = []
        self.endpoint = SipEndpoint(
            SipTransport(host="127.0.0.1", port=0, receiver=lambda d, p: None, tcp=transport == "TCP"),
            self._on_request,
            timers=FAST,
        )
        self.cseq = 0

    async def _on_request(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        from tianyan.gb28181.sip.message import response_to

        self.received.append(request)
        if tx is not None:
            self.endpoint.respond(tx, response_to(request, 200, to_tag=new_tag()))

    async def start(self) -> None:
        await self.endpoint.start()

    async def close(self) -> None:
        await self.endpoint.close()

    def request(self, method: str, *, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> SipRequest:
        self.cseq += 1
        port = self.endpoint.transport.port
        return new_request(
            method,
            SipUri(host=DOMAIN, user=PLATFORM_ID),
            via=Via(self.transport, "127.0.0.1", port, {"rport": None, "branch": new_branch()}),
            from_=NameAddr(SipUri(host=DOMAIN, user=self.gb_id), params={"tag": new_tag()}),
            to=NameAddr(SipUri(host=DOMAIN, user=self.gb_id if method == "REGISTER" else PLATFORM_ID)),
            call_id=new_call_id("127.0.0.1"),
            cseq=self.cseq,
            contact=NameAddr(SipUri(host="127.0.0.1", user=self.gb_id, port=port)),
            headers=headers or [],
            body=body,
            content_type="Application/MANSCDP+xml" if body else None,
        )

    async def send(self, request: SipRequest) -> SipResponse:
        return await asyncio.wait_for(self.endpoint.request(request, self.server), 10)

    async def register(self, password: str = PASSWORD, expires: int = 3600) -> SipResponse:
        first = await self.send(self.request("REGISTER", headers=[("Expires", str(expires))]))
        if first.status != 401:
            return first
        challenge = first.headers.get("WWW-Authenticate") or ""
        answer = authorization(challenge, "REGISTER", f"sip:{PLATFORM_ID}@{DOMAIN}", self.gb_id, password,
                               use_qop=False)  # fmt: skip
        return await self.send(self.request("REGISTER", headers=[("Expires", str(expires)), ("Authorization", answer)]))

    async def keepalive(self, sn: int = 1) -> SipResponse:
        body = (
            '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
            f"<SN>{sn}</SN>\r\n<DeviceID>{self.gb_id}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
        ).encode()
        return await self.send(self.request("MESSAGE", body=body))
