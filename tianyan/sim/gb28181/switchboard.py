"""One SIP endpoint shared by one or many simulated devices, handing each request to the device its URI names.

A device normally has a switchboard (a socket) of its own, as hardware does. For fleets beyond the process's file
limit, many devices share one: each still registers its own Contact, and the platform's requests come back to
the shared socket addressed to a device or channel ID in the Request-URI, which is how they are told apart.
Responses need no routing: the transaction layer matches them to the request by branch.
"""

from __future__ import annotations

import logging

from tianyan.gb28181.endpoint import RequestHandler, SipEndpoint
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import SipRequest, new_branch, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction, Timers
from tianyan.gb28181.transport import Peer, SipTransport
from tianyan.sim.gb28181.profile import SipTransportName

log = logging.getLogger(__name__)


def _unused(data: bytes, peer: Peer) -> None:
    """The endpoint replaces the transport's receiver with its own; this one never runs."""


class Switchboard:
    """A SipEndpoint on `host` (UDP or TCP) and the table of IDs → request handlers of the devices on it."""

    def __init__(self, *, host: str, transport: SipTransportName, timers: Timers, port: int = 0) -> None:
        self.transport_name: SipTransportName = transport
        sockets = SipTransport(host=host, port=port, receiver=_unused, udp=transport == "UDP", tcp=transport == "TCP")
        self.endpoint = SipEndpoint(sockets, self._dispatch, timers=timers)
        self._handlers: dict[str, RequestHandler] = {}
        self.unrouted = 0

    async def start(self) -> None:
        await self.endpoint.start()

    async def close(self) -> None:
        await self.endpoint.close()

    @property
    def host(self) -> str:
        return self.endpoint.transport.host

    @property
    def port(self) -> int:
        return self.endpoint.transport.port

    @property
    def timers(self) -> Timers:
        return self.endpoint.layer.timers

    def attach(self, ids: tuple[str, ...] | list[str], handler: RequestHandler) -> None:
        for user in ids:
            self._handlers[user] = handler

    def detach(self, ids: tuple[str, ...] | list[str]) -> None:
        for user in ids:
            self._handlers.pop(user, None)

    def via(self) -> Via:
        """Our Via with rport (RFC 3581) and a fresh branch; in-dialog builders replace the branch again."""
        return Via(self.transport_name, self.host, self.port, {"rport": None, "branch": new_branch()})

    def contact(self, user: str) -> NameAddr:
        return NameAddr(SipUri(host=self.host, user=user, port=self.port))

    async def _dispatch(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        handler = self._handlers.get(request.uri.user or "")
        if handler is None:
            # Some platforms put the domain in the Request-URI and the device only in To.
            handler = self._handlers.get(request.to.uri.user or "")
        if handler is None:
            self.unrouted += 1
            log.debug("sim: no device %s on %s:%d", request.uri.user, self.host, self.port)
            if tx is not None and request.method != "ACK":
                self.endpoint.respond(tx, response_to(request, 404))
            return
        await handler(request, peer, tx)
