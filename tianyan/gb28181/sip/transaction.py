"""SIP transactions (RFC 3261 §17, RFC 6026) as pure state machines, and the layer that matches messages to them.

Nothing here owns a socket or a clock: every call takes `now` (seconds, any monotonic clock) and hands back a list
of actions for the caller to carry out. Destinations and sources are opaque (an address tuple, a connection); they
are stored and handed back, never looked into.

Two deliberate departures from the letter of RFC 3261, both documented where they happen:
- The server INVITE transaction also retransmits its 2xx until the ACK arrives (§13.3.1.4 gives that job to the
  UAS core); it sits in RFC 6026's Accepted state anyway, so the TU never has to run that timer itself.
- Transactions the RFC would let live forever get a bound: a client INVITE in Proceeding times out after Timer C,
  and a server transaction whose TU never answers times out too (64·T1 for non-INVITE, Timer C for INVITE).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.message import Headers, SipRequest, SipResponse, response_to


@dataclass(frozen=True)
class Timers:
    """RFC 3261 Table 4. Tests shrink T1; B, F, H, J, L and M are all 64·T1."""

    t1_s: float = 0.5
    t2_s: float = 4.0
    t4_s: float = 5.0
    timer_d_s: float = 32.0
    # Client INVITE in Proceeding, and a server INVITE whose TU is silent: RFC 3261 §16.6's Timer C (> 3 min).
    timer_c_s: float = 180.0
    # A server INVITE answers 100 Trying itself when the TU has said nothing for this long (§17.2.1: 200 ms).
    trying_after_s: float = 0.2
    # §13.3.1.4 retransmits a 2xx over every transport, because proxies make reliability hop-by-hop; GB/T 28181
    # peers talk directly, so over TCP the 2xx is sent once unless this is set.
    retransmit_2xx_reliable: bool = False

    def __post_init__(self) -> None:
        if min(self.t1_s, self.t2_s, self.t4_s, self.timer_d_s, self.timer_c_s) <= 0 or self.trying_after_s < 0:
            raise ValueError("timer values must be positive")

    @property
    def timeout_s(self) -> float:
        return 64 * self.t1_s


class State(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


# ---- actions ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transmit:
    """Send this message to this destination (serialize() it; over TCP, the connection the destination names)."""

    message: SipRequest | SipResponse
    destination: object


@dataclass(frozen=True)
class DeliverRequest:
    """A new request for the TU. `server_tx` is None for an ACK, which belongs to no server transaction."""

    request: SipRequest
    server_tx: ServerTransaction | None
    source: object


@dataclass(frozen=True)
class DeliverResponse:
    response: SipResponse
    client_tx: ClientTransaction


@dataclass(frozen=True)
class TransactionTimedOut:
    """The transaction failed: no final response (client, Timer B/F/C), no ACK (server, Timer H/L), the TU never
    answered, or the transport failed. The TU treats a client timeout like a 408."""

    transaction: Transaction
    reason: str


@dataclass(frozen=True)
class Terminated:
    transaction: Transaction


@dataclass(frozen=True)
class Overloaded:
    """A new request arrived while the layer holds its maximum of server transactions; a 503 was sent for it."""

    request: SipRequest
    source: object


Action = Transmit | DeliverRequest | DeliverResponse | TransactionTimedOut | Terminated | Overloaded


class TransactionLimitError(SipError):
    """send_request() while the layer already holds its maximum of client transactions."""


# ---- the state machines ----------------------------------------------------------------------------------------


class Transaction:
    """What all four machines share: the request, the peer, named timers and their retransmission interval."""

    def __init__(self, request: SipRequest, peer: object, reliable: bool, timers: Timers) -> None:
        self.request = request
        self.reliable = reliable
        self.timers = timers
        self.state = State.TRYING
        self._peer = peer
        self.key: tuple[object, ...] = ()  # Set by the layer: how it finds this transaction again.
        self._interval_s = timers.t1_s
        self._deadlines: dict[str, float] = {}
        self._scheduled: list[tuple[float, str]] = []  # Started since the layer last looked.

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def deadline(self, name: str) -> float | None:
        """When the named timer (RFC letters: "A", "E", "G"…) fires; None if it is not running."""
        return self._deadlines.get(name)

    def fire(self, name: str, now: float) -> list[Action]:
        """Timer `name` has expired; the layer calls this, tests of a lone machine may too."""
        self._deadlines.pop(name, None)
        if self.terminated:
            return []
        # Handlers are named after the RFC's timer letters: _on_timer_E, _on_timer_G…
        handler = getattr(self, f"_on_timer_{name}")
        actions: list[Action] = handler(now)
        return actions

    def _start(self, name: str, now: float, delay_s: float) -> None:
        deadline = now + delay_s
        self._deadlines[name] = deadline
        self._scheduled.append((deadline, name))

    def _stop(self, *names: str) -> None:
        for name in names:
            self._deadlines.pop(name, None)

    def _take_scheduled(self) -> list[tuple[float, str]]:
        scheduled, self._scheduled = self._scheduled, []
        return scheduled

    def _terminate(self) -> list[Action]:
        self.state = State.TERMINATED
        self._deadlines.clear()
        return [Terminated(self)]

    def _time_out(self, reason: str) -> list[Action]:
        return [TransactionTimedOut(self, reason), *self._terminate()]

    def _next_interval(self) -> float:
        """T1, 2·T1, 4·T1… capped at T2: Timers E and G, and our 2xx retransmission."""
        self._interval_s = min(2 * self._interval_s, self.timers.t2_s)
        return self._interval_s

    def transport_failed(self, now: float) -> list[Action]:
        if self.terminated:
            return []
        return self._time_out("transport error")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.state.value} branch={self.request.branch}>"


class ClientTransaction(Transaction):
    """Sends one request and hands its responses to the TU."""

    @property
    def destination(self) -> object:
        return self._peer

    def start(self, now: float) -> list[Action]:
        raise NotImplementedError

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        raise NotImplementedError


class ClientNonInviteTransaction(ClientTransaction):
    """RFC 3261 §17.1.2: Trying → Proceeding → Completed → Terminated; Timers E, F, K."""

    def start(self, now: float) -> list[Action]:
        self.state = State.TRYING
        if not self.reliable:
            self._start("E", now, self.timers.t1_s)
        self._start("F", now, self.timers.timeout_s)
        return [Transmit(self.request, self.destination)]

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []  # Completed absorbs retransmitted finals.
        if response.status < 200:
            self.state = State.PROCEEDING
            return [DeliverResponse(response, self)]
        self._stop("E", "F")
        self.state = State.COMPLETED
        actions: list[Action] = [DeliverResponse(response, self)]
        if self.reliable:
            return actions + self._terminate()
        self._start("K", now, self.timers.t4_s)
        return actions

    def _on_timer_E(self, now: float) -> list[Action]:
        if self.state is State.PROCEEDING:
            self._interval_s = self.timers.t2_s
            self._start("E", now, self._interval_s)
        else:
            self._start("E", now, self._next_interval())
        return [Transmit(self.request, self.destination)]

    def _on_timer_F(self, now: float) -> list[Action]:
        return self._time_out("timer F: no final response")

    def _on_timer_K(self, now: float) -> list[Action]:
        return self._terminate()


class ClientInviteTransaction(ClientTransaction):
    """RFC 3261 §17.1.1 with RFC 6026: Calling → Proceeding → Completed | Accepted → Terminated."""

    ack: SipRequest | None = None  # The ACK built for a non-2xx final, resent for each retransmission of it.

    def start(self, now: float) -> list[Action]:
        self.state = State.CALLING
        if not self.reliable:
            self._start("A", now, self.timers.t1_s)
        self._start("B", now, self.timers.timeout_s)
        return [Transmit(self.request, self.destination)]

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        status = response.status
        if self.state in (State.CALLING, State.PROCEEDING):
            if status < 200:
                self._stop("A", "B")
                self.state = State.PROCEEDING
                self._start("C", now, self.timers.timer_c_s)
                return [DeliverResponse(response, self)]
            self._stop("A", "B", "C")
            if status < 300:
                # RFC 6026 §7.2: stay to pass 2xx retransmissions (and forked 2xx) up; the TU ACKs each.
                self.state = State.ACCEPTED
                self._start("M", now, self.timers.timeout_s)
                return [DeliverResponse(response, self)]
            self.state = State.COMPLETED
            self.ack = build_ack(self.request, response)
            actions: list[Action] = [Transmit(self.ack, self.destination), DeliverResponse(response, self)]
            if self.reliable:
                return actions + self._terminate()
            self._start("D", now, self.timers.timer_d_s)
            return actions
        if self.state is State.ACCEPTED and 200 <= status < 300:
            return [DeliverResponse(response, self)]
        if self.state is State.COMPLETED and status >= 300 and self.ack is not None:
            return [Transmit(self.ack, self.destination)]
        return []

    def _on_timer_A(self, now: float) -> list[Action]:
        # Timer A doubles without the T2 cap that E and G have (§17.1.1.2).
        self._interval_s *= 2
        self._start("A", now, self._interval_s)
        return [Transmit(self.request, self.destination)]

    def _on_timer_B(self, now: float) -> list[Action]:
        return self._time_out("timer B: no response")

    def _on_timer_C(self, now: float) -> list[Action]:
        return self._time_out("timer C: provisional responses but no final one")

    def _on_timer_D(self, now: float) -> list[Action]:
        return self._terminate()

    def _on_timer_M(self, now: float) -> list[Action]:
        return self._terminate()


class ServerTransaction(Transaction):
    """Receives one request, sends the TU's responses, absorbs retransmissions."""

    last_response: SipResponse | None = None

    @property
    def source(self) -> object:
        return self._peer

    def start(self, now: float) -> list[Action]:
        raise NotImplementedError

    def receive_retransmission(self, now: float) -> list[Action]:
        raise NotImplementedError

    def respond(self, response: SipResponse, now: float) -> list[Action]:
        raise NotImplementedError

    def _send(self, response: SipResponse) -> list[Action]:
        self.last_response = response
        return [Transmit(response, self.source)]


class ServerNonInviteTransaction(ServerTransaction):
    """RFC 3261 §17.2.2: Trying → Proceeding → Completed → Terminated; Timer J."""

    def start(self, now: float) -> list[Action]:
        self.state = State.TRYING
        # Past 64·T1 the client has given up (Timer F), so a TU that is still silent only holds memory.
        self._start("tu", now, self.timers.timeout_s)
        return [DeliverRequest(self.request, self, self.source)]

    def receive_retransmission(self, now: float) -> list[Action]:
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            return [Transmit(self.last_response, self.source)]
        return []

    def respond(self, response: SipResponse, now: float) -> list[Action]:
        if self.state not in (State.TRYING, State.PROCEEDING):
            return []  # §17.2.2: later finals from the TU are discarded.
        if response.status < 200:
            self.state = State.PROCEEDING
            return self._send(response)
        self._stop("tu")
        self.state = State.COMPLETED
        actions = self._send(response)
        if self.reliable:
            return actions + self._terminate()
        self._start("J", now, self.timers.timeout_s)
        return actions

    def _on_timer_J(self, now: float) -> list[Action]:
        return self._terminate()

    def _on_timer_tu(self, now: float) -> list[Action]:
        return self._time_out("the TU gave no final response")


class ServerInviteTransaction(ServerTransaction):
    """RFC 3261 §17.2.1 with RFC 6026: Proceeding → Completed → Confirmed, or Proceeding → Accepted; → Terminated."""

    def __init__(
        self, request: SipRequest, peer: object, reliable: bool, timers: Timers, *, auto_trying: bool = False
    ) -> None:
        super().__init__(request, peer, reliable, timers)
        self.auto_trying = auto_trying
        self.acked = False  # Accepted: the ACK for our 2xx has arrived.
        self.indexed_for_ack = False  # The layer can find it by the ACK for its 2xx.

    def start(self, now: float) -> list[Action]:
        self.state = State.PROCEEDING
        self._start("tu", now, self.timers.timer_c_s)
        actions: list[Action] = []
        if self.auto_trying:
            if self.timers.trying_after_s == 0:
                actions += self._send(response_to(self.request, 100))
            else:
                self._start("trying", now, self.timers.trying_after_s)
        return [*actions, DeliverRequest(self.request, self, self.source)]

    def receive_retransmission(self, now: float) -> list[Action]:
        # Accepted absorbs INVITE retransmissions (RFC 6026 §8.5); our own timer resends the 2xx.
        if self.state in (State.PROCEEDING, State.COMPLETED) and self.last_response is not None:
            return [Transmit(self.last_response, self.source)]
        return []

    def receive_ack(self, ack: SipRequest, source: object, now: float) -> list[Action]:
        if self.state is State.COMPLETED:
            # The ACK for a non-2xx is the transaction's own business; the TU never sees it.
            self._stop("G", "H")
            self.state = State.CONFIRMED
            if self.reliable:
                return self._terminate()
            self._start("I", now, self.timers.t4_s)
            return []
        if self.state is State.ACCEPTED and not self.acked:
            self.acked = True
            self._stop("retransmit_2xx")
            return [DeliverRequest(ack, None, source)]
        return []

    def respond(self, response: SipResponse, now: float) -> list[Action]:
        status = response.status
        if self.state is State.ACCEPTED:
            # RFC 6026 §8.6: further 2xx from the TU go out; anything else is discarded.
            return self._send(response) if 200 <= status < 300 else []
        if self.state is not State.PROCEEDING:
            return []
        self._stop("trying")
        if status < 200:
            return self._send(response)
        self._stop("tu")
        if status < 300:
            self.state = State.ACCEPTED
            self._start("L", now, self.timers.timeout_s)
            if not self.reliable or self.timers.retransmit_2xx_reliable:
                self._interval_s = self.timers.t1_s
                self._start("retransmit_2xx", now, self._interval_s)
            return self._send(response)
        self.state = State.COMPLETED
        if not self.reliable:
            self._interval_s = self.timers.t1_s
            self._start("G", now, self._interval_s)
        self._start("H", now, self.timers.timeout_s)
        return self._send(response)

    def _on_timer_trying(self, now: float) -> list[Action]:
        if self.state is State.PROCEEDING and self.last_response is None:
            return self._send(response_to(self.request, 100))
        return []

    def _on_timer_tu(self, now: float) -> list[Action]:
        return self._time_out("the TU gave no final response")

    def _on_timer_G(self, now: float) -> list[Action]:
        self._start("G", now, self._next_interval())
        return [Transmit(self.last_response, self.source)] if self.last_response else []

    def _on_timer_H(self, now: float) -> list[Action]:
        return self._time_out("timer H: no ACK for the final response")

    def _on_timer_I(self, now: float) -> list[Action]:
        return self._terminate()

    def _on_timer_retransmit_2xx(self, now: float) -> list[Action]:
        self._start("retransmit_2xx", now, self._next_interval())
        return [Transmit(self.last_response, self.source)] if self.last_response else []

    def _on_timer_L(self, now: float) -> list[Action]:
        if not self.acked:
            # §13.3.1.4: the dialog is confirmed but the session SHOULD be ended with a BYE; the TU does that.
            return self._time_out("timer L: no ACK for the 2xx")
        return self._terminate()


# ---- building the requests transactions send on their own ------------------------------------------------------


def build_ack(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): same branch, the response's To."""
    headers = Headers(
        [
            ("Via", invite.headers.get_all("Via")[0]),
            ("From", invite.headers.get("From") or ""),
            ("To", response.headers.get("To") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq.number} ACK"),
            ("Max-Forwards", "70"),
        ]
    )
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    return SipRequest(method="ACK", uri=invite.uri, headers=headers)


def build_cancel(invite: SipRequest) -> SipRequest:
    """CANCEL for a pending INVITE (RFC 3261 §9.1); send it with send_request() once a provisional arrived."""
    headers = Headers(
        [
            ("Via", invite.headers.get_all("Via")[0]),
            ("From", invite.headers.get("From") or ""),
            ("To", invite.headers.get("To") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq.number} CANCEL"),
            ("Max-Forwards", "70"),
        ]
    )
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    return SipRequest(method="CANCEL", uri=invite.uri, headers=headers)
