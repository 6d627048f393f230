"""Two SIP endpoints over loopback sockets: requests get answers over UDP and TCP, failures stay contained."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tianyan.gb28181.endpoint import SipEndpoint, SipTimeout
from tianyan.gb28181.ratelimit import RateLimiter
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import SipRequest, new_branch, new_call_id, new_request, new_tag, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction, Timers
from tianyan.gb28181.transport import Peer, SipTransport

FAST = Timers(t1_s=0.02, t2_s=0.08, t4_s=0.1)
DEVICE = "34020000001320000001"
PLATFORM = "34020000002000000001"

Handler = Callable[[SipRequest, Peer, ServerTransaction | None], Awaitable[None]]
Pair = tuple[SipEndpoint, SipEndpoint, list[SipRequest]]


async def _answer_ok(endpoint_ref: list[SipEndpoint], request: SipRequest, tx: ServerTransaction | None) -> None:
    if tx is not None:
        endpoint_ref[0].respond(tx, response_to(request, 200, to_tag=new_tag(), body=b"pong"))


@pytest.fixture
async def pair() -> AsyncIterator[tuple[SipEndpoint, SipEndpoint, list[SipRequest]]]:
    seen: list[SipRequest] = []
    server_ref: list[SipEndpoint] = []

    async def server_handler(request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        seen.append(request)
        if request.body == b"crash":
            raise RuntimeError("handler bug")
        await _answer_ok(server_ref, request, tx)

    async def client_handler(request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        return None

    server = SipEndpoint(SipTransport(host="127.0.0.1", port=0, receiver=lambda d, p: None), server_handler,
                         timers=FAST)  # fmt: skip
    server_ref.append(server)
    client = SipEndpoint(SipTransport(host="127.0.0.1", port=0, receiver=lambda d, p: None), client_handler,
                         timers=FAST)  # fmt: skip
    await server.start()
    await client.start()
    try:
        yield server, client, seen
    finally:
        await client.close()
        await server.close()


def message(client: SipEndpoint, transport: str, body: bytes = b"ping") -> SipRequest:
    host, port = "127.0.0.1", client.transport.port
    return new_request(
        "MESSAGE",
        SipUri(host="127.0.0.1", user=PLATFORM),
        via=Via(transport, host, port, {"rport": None, "branch": new_branch()}),
        from_=NameAddr(SipUri(host="3402000000", user=DEVICE), params={"tag": new_tag()}),
        to=NameAddr(SipUri(host="3402000000", user=PLATFORM)),
        call_id=new_call_id(host),
        cseq=1,
        body=body,
        content_type="Application/MANSCDP+xml",
    )


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_a_request_gets_its_answer(pair: Pair, transport: str) -> None:
    server, client, seen = pair
    peer = Peer(transport, "127.0.0.1", server.transport.port)  # type: ignore[arg-type]
    response = await asyncio.wait_for(client.request(message(client, transport), peer), 5)
    assert (response.status, response.body) == (200, b"pong")
    # The server saw where the request really came from (RFC 3581), whatever the Via said.
    via = seen[0].via
    assert via.params["received"] == "127.0.0.1" and via.params["rport"] is not None


async def test_no_answer_is_a_timeout(pair: Pair) -> None:
    _, client, _ = pair
    silent = Peer("UDP", "127.0.0.1", 9)  # discard port: nothing answers
    with pytest.raises(SipTimeout):
        await asyncio.wait_for(client.request(message(client, "UDP"), silent), 10)
    assert client.stats.timeouts == 1


async def test_a_failing_handler_answers_500_and_the_endpoint_lives_on(
    pair: Pair,
) -> None:
    server, client, _ = pair
    peer = Peer("UDP", "127.0.0.1", server.transport.port)
    crashed = await asyncio.wait_for(client.request(message(client, "UDP", b"crash"), peer), 5)
    assert crashed.status == 500
    fine = await asyncio.wait_for(client.request(message(client, "UDP"), peer), 5)
    assert fine.status == 200 and server.stats.handler_errors == 1


async def test_garbage_is_dropped_and_counted(pair: Pair) -> None:
    server, client, seen = pair
    peer = Peer("UDP", "127.0.0.1", server.transport.port)
    for junk in (b"\x00\xff" * 100, b"INVITE nonsense\r\n\r\n", b"SIP/2.0 999\r\n\r\n"):
        client.transport.send(junk, peer)
    fine = await asyncio.wait_for(client.request(message(client, "UDP"), peer), 5)
    assert fine.status == 200
    assert server.stats.parse_errors == 3 and len(seen) == 1


async def test_a_flooding_source_is_held_to_its_rate(pair: Pair) -> None:
    server, client, _ = pair
    server.rate_limiter = RateLimiter(rate_per_s=1, burst=5)
    peer = Peer("UDP", "127.0.0.1", server.transport.port)
    for _ in range(50):
        client.transport.send(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\r\n", peer)
    await asyncio.sleep(0.2)
    assert server.stats.rate_limited >= 40
