"""One SIP endpoint on asyncio: the transport's bytes through the parser, a rate limit and the transaction layer.

The platform's server and each simulated device run one of these. Everything protocol-shaped happens in the
sans-IO core; this module only moves bytes, keeps time with the event loop's clock, and runs request handlers
as tasks so a slow handler never holds up the socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tianyan.core.errors import Unavailable
from tianyan.gb28181.ratelimit import RateLimiter
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.message import Limits, SipRequest, SipResponse, parse, response_to, serialize
from tianyan.gb28181.sip.transaction import (
    Action,
    ClientInviteTransaction,
    ClientTransaction,
    DeliverRequest,
    DeliverResponse,
    Overloaded,
    ServerTransaction,
    Terminated,
    Timers,
    TransactionLimitError,
    TransactionTimedOut,
    Transmit,
)
from tianyan.gb28181.sip.transaction_layer import TransactionLayer
from tianyan.gb28181.transport import Peer, SipTransport

log = logging.getLogger(__name__)

RequestHandler = Callable[[SipRequest, Peer, ServerTransaction | None], Awaitable[None]]


class SipTimeout(Exception):
    """A request got no final response in time (RFC 3261 timer B/F), or its destination failed."""


@dataclass
class EndpointStats:
    received: int = 0
    parse_errors: int = 0
    rate_limited: int = 0
    overloaded: int = 0
    handler_errors: int = 0
    timeouts: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    # Messages on the wire, retransmissions included; responses by status class (2 for 2xx).
    sent_by_method: dict[str, int] = field(default_factory=dict)
    responses_received: dict[int, int] = field(default_factory=dict)
    responses_sent: dict[int, int] = field(default_factory=dict)


class SipEndpoint:
    """Send requests and await their final response; hand incoming requests to `handler` with their transaction."""

    def __init__(
        self,
        transport: SipTransport,
        handler: RequestHandler,
        *,
        timers: Timers | None = None,
        limits: Limits | None = None,
        rate_limiter: RateLimiter | None = None,
        max_handlers: int = 20_000,
        max_transactions: int = 20_000,
    ) -> None:
        self.transport = transport
        transport.receiver = self._received
        self.handler = handler
        self.limits = limits or transport.limits
        self.layer = TransactionLayer(
            timers or Timers(), max_server_transactions=max_transactions, max_client_transactions=max_transactions
        )
        self.rate_limiter = rate_limiter
        self.max_handlers = max_handlers
        self.stats = EndpointStats()
        self._pending: dict[int, asyncio.Future[SipResponse]] = {}
        self._acks: dict[int, tuple[SipRequest, Peer]] = {}
        self._invite_2xx: dict[int, Callable[[SipResponse], None]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.transport.start()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SipTimeout("the endpoint closed"))
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self.transport.close()

    # --- sending ------------------------------------------------------------------------------

    async def request(
        self, request: SipRequest, peer: Peer, *, on_2xx_retransmit: Callable[[SipResponse], None] | None = None
    ) -> SipResponse:
        """Send `request` in a client transaction and return its final response; SipTimeout if none comes."""
        try:
            tx, actions = self.layer.send_request(request, peer, peer.transport == "TCP", self.now())
        except TransactionLimitError:
            raise Unavailable("the SIP server is at its limit of open transactions; try again shortly") from None
        future: asyncio.Future[SipResponse] = self.loop.create_future()
        self._pending[id(tx)] = future
        if on_2xx_retransmit is not None:
            self._invite_2xx[id(tx)] = on_2xx_retransmit
        self._perform(actions)
        try:
            return await future
        finally:
            self._pending.pop(id(tx), None)

    def send_ack(self, ack: SipRequest, peer: Peer) -> None:
        """An ACK for a 2xx is sent outside any transaction (RFC 3261 §13.2.2.4)."""
        self._transmit(ack, peer)

    def send_stateless(self, message: SipRequest | SipResponse, peer: Peer) -> None:
        self._transmit(message, peer)

    def respond(self, tx: ServerTransaction, response: SipResponse) -> None:
        self._perform(self.layer.respond(tx, response, self.now()))

    # --- receiving ----------------------------------------------------------------------------

    def _received(self, data: bytes, peer: Peer) -> None:
        self.stats.received += 1
        if self.rate_limiter is not None and not self.rate_limiter.allow(
            (peer.transport, peer.host, peer.port), self.now()
        ):
            self.stats.rate_limited += 1
            return
        try:
            message = parse(data, limits=self.limits)
        except SipError as exc:
            self.stats.parse_errors += 1
            log.debug("sip: dropped a malformed message from %s: %s", peer, exc)
            return
        now = self.now()
        if isinstance(message, SipResponse):
            status_class = message.status // 100
            self.stats.responses_received[status_class] = self.stats.responses_received.get(status_class, 0) + 1
            self._perform(self.layer.receive_response(message, now))
            return
        self.stats.by_method[message.method] = self.stats.by_method.get(message.method, 0) + 1
        self._note_received(message, peer)
        self._perform(self.layer.receive_request(message, peer, peer.transport == "TCP", now))

    @staticmethod
    def _note_received(request: SipRequest, peer: Peer) -> None:
        """RFC 3581: tell a device behind NAT where its request really came from, in the Via it gets back."""
        vias = request.headers.get_all("Via")
        if not vias:
            return
        try:
            top = request.via
        except SipError:
            return
        if top.host == peer.host and "rport" not in top.params:
            return
        params: dict[str, str | None] = {"received": peer.host}
        if "rport" in top.params:
            params["rport"] = str(peer.port)
        request.headers.remove("Via")
        request.headers.add("Via", str(top.with_params(**params)))
        for rest in vias[1:]:
            request.headers.add("Via", rest)

    # --- actions ------------------------------------------------------------------------------

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Transmit):
                self._transmit(action.message, action.destination)
            elif isinstance(action, DeliverRequest):
                self._dispatch(action.request, action.source, action.server_tx)
            elif isinstance(action, DeliverResponse):
                self._deliver_response(action.response, action.client_tx)
            elif isinstance(action, TransactionTimedOut):
                self._timed_out(action.transaction, action.reason)
            elif isinstance(action, Overloaded):
                self.stats.overloaded += 1
            elif isinstance(action, Terminated):
                self._invite_2xx.pop(id(action.transaction), None)
        self._schedule()

    def _transmit(self, message: SipRequest | SipResponse, destination: object) -> None:
        assert isinstance(destination, Peer)
        try:
            data = serialize(message)
        except SipError as exc:
            log.error("sip: refusing to send a malformed message to %s: %s", destination, exc)
            return
        stats = self.stats
        if isinstance(message, SipRequest):
            stats.sent_by_method[message.method] = stats.sent_by_method.get(message.method, 0) + 1
        else:
            stats.responses_sent[message.status // 100] = stats.responses_sent.get(message.status // 100, 0) + 1
        self.transport.send(data, destination)

    def _deliver_response(self, response: SipResponse, tx: ClientTransaction) -> None:
        future = self._pending.get(id(tx))
        if response.status < 200:
            return
        if future is not None and not future.done():
            future.set_result(response)
        elif isinstance(tx, ClientInviteTransaction) and response.status < 300:
            # A retransmitted 2xx: the UAS did not get our ACK; the session owner sends it again.
            resend = self._invite_2xx.get(id(tx))
            if resend is not None:
                resend(response)

    def _timed_out(self, tx: object, reason: str) -> None:
        self.stats.timeouts += 1
        self._invite_2xx.pop(id(tx), None)
        future = self._pending.get(id(tx))
        if future is not None and not future.done():
            future.set_exception(SipTimeout(reason))

    def _dispatch(self, request: SipRequest, source: object, tx: ServerTransaction | None) -> None:
        assert isinstance(source, Peer)
        if len(self._handlers) >= self.max_handlers:
            self.stats.overloaded += 1
            if tx is not None:
                self.respond(tx, response_to(request, 503, headers=[("Retry-After", "5")]))
            return
        task = self.loop.create_task(self._handle(request, source, tx))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _handle(self, request: SipRequest, source: Peer, tx: ServerTransaction | None) -> None:
        try:
            await self.handler(request, source, tx)
        except SipError as exc:
            # The message parsed, but a part the handler needed did not: the sender's fault.
            if tx is not None and request.method != "ACK":
                self.respond(tx, response_to(request, 400, reason=_short(str(exc))))
        except Exception:
            self.stats.handler_errors += 1
            log.exception("sip: the %s handler failed for %s", request.method, source)
            if tx is not None and request.method != "ACK":
                self.respond(tx, response_to(request, 500))

    # --- timers -------------------------------------------------------------------------------

    def _schedule(self) -> None:
        deadline = self.layer.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = None
        self._perform(self.layer.expire(self.now()))


def _short(text: str) -> str:
    """A reason phrase: one line, printable, not too long."""
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text)
    return cleaned[:100] or "Bad Request"
