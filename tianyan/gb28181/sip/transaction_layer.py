"""The transaction layer: every transaction of one endpoint, matched to messages by RFC 3261 §17.1.3 and §17.2.3,
with one timer heap for all of them (pure: `now` comes in, actions go out)."""

from __future__ import annotations

import heapq
import itertools

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import Via
from tianyan.gb28181.sip.message import BRANCH_MAGIC, SipRequest, SipResponse, new_tag, response_to
from tianyan.gb28181.sip.transaction import (
    Action,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    ClientTransaction,
    DeliverRequest,
    Overloaded,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    ServerTransaction,
    State,
    Timers,
    Transaction,
    TransactionLimitError,
    Transmit,
)

# ---- matching ------------------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"TLS": 5061, "WSS": 443, "WS": 80}


def _sent_by(via: Via) -> tuple[str, int]:
    return via.host.lower(), via.port or _DEFAULT_PORTS.get(via.transport, 5060)


def _server_key(request: SipRequest, method: str | None = None) -> tuple[object, ...]:
    """RFC 3261 §17.2.3: branch + sent-by + method, with ACK matching its INVITE; RFC 2543 peers by the rest."""
    via = request.via
    method = method or ("INVITE" if request.method == "ACK" else request.method)
    branch = via.branch or ""
    if branch.startswith(BRANCH_MAGIC):
        return ("3261", branch, *_sent_by(via), method)
    # No magic cookie: an RFC 2543 peer, whose branches need not be unique. The To tag and Request-URI the RFC
    # also lists are left out: the ACK's To carries the tag its INVITE did not, and the rest already pins it.
    return ("2543", request.call_id, request.from_.tag, request.cseq.number, *_sent_by(via), branch, method)


def _client_key(branch: str, method: str) -> tuple[object, ...]:
    return branch, "INVITE" if method == "ACK" else method


def _transmits(actions: list[Action]) -> int:
    return sum(1 for action in actions if isinstance(action, Transmit))


def _ack_key(message: SipRequest | SipResponse) -> tuple[str, str | None, int]:
    """How an ACK for a 2xx finds its INVITE: the dialog's Call-ID and From tag and the CSeq number."""
    return message.call_id, message.from_.tag, message.cseq.number


# ---- the layer ---------------------------------------------------------------------------------------------------


class TransactionLayer:
    """Every transaction of one endpoint, one timer heap, and the matching rules of §17.1.3 and §17.2.3.

    Past `max_server_transactions`, a new request gets a 503 (Retry-After) sent statelessly and an Overloaded
    action; past `max_client_transactions`, send_request() raises TransactionLimitError.
    """

    def __init__(
        self,
        timers: Timers = Timers(),
        *,
        max_server_transactions: int = 10_000,
        max_client_transactions: int = 10_000,
        auto_trying: bool = False,
        retry_after_s: int = 5,
    ) -> None:
        self.timers = timers
        self.max_server_transactions = max_server_transactions
        self.max_client_transactions = max_client_transactions
        self.auto_trying = auto_trying
        self.retry_after_s = retry_after_s
        self._client: dict[tuple[object, ...], ClientTransaction] = {}
        self._server: dict[tuple[object, ...], ServerTransaction] = {}
        self._accepted: dict[tuple[str, str | None, int], ServerInviteTransaction] = {}
        # (deadline, sequence, transaction, timer name); stale entries are skipped when popped.
        self._heap: list[tuple[float, int, Transaction, str]] = []
        self._sequence = itertools.count()
        # Requests and final responses that arrived again, and messages we sent again (timers, re-answers).
        self.retransmissions_received = 0
        self.retransmissions_sent = 0

    @property
    def client_count(self) -> int:
        return len(self._client)

    @property
    def server_count(self) -> int:
        return len(self._server)

    def send_request(
        self, request: SipRequest, destination: object, reliable: bool, now: float
    ) -> tuple[ClientTransaction, list[Action]]:
        """Start a client transaction; the request's top Via must carry a fresh branch (new_branch())."""
        if request.method == "ACK":
            raise SipError("an ACK for a 2xx is its own transaction-less request: transmit it directly")
        branch = request.via.branch
        if not branch:
            raise SipError("the request's top Via has no branch")
        key = _client_key(branch, request.method)
        if key in self._client:
            raise SipError(f"a client transaction with branch {branch} is already running")
        if len(self._client) >= self.max_client_transactions:
            raise TransactionLimitError(f"{len(self._client)} client transactions already running")
        tx: ClientTransaction
        if request.method == "INVITE":
            tx = ClientInviteTransaction(request, destination, reliable, self.timers)
        else:
            tx = ClientNonInviteTransaction(request, destination, reliable, self.timers)
        tx.key = key
        self._client[key] = tx
        actions = tx.start(now)
        self._settle(tx)
        return tx, actions

    def receive_request(self, request: SipRequest, source: object, reliable: bool, now: float) -> list[Action]:
        key = _server_key(request)
        tx = self._server.get(key)
        if request.method == "ACK":
            invite_tx = tx if isinstance(tx, ServerInviteTransaction) else self._accepted.get(_ack_key(request))
            if invite_tx is None:
                # An ACK for a 2xx whose transaction is gone, or for another endpoint's: the TU decides.
                return [DeliverRequest(request, None, source)]
            actions = invite_tx.receive_ack(request, source, now)
            self._settle(invite_tx)
            return actions
        if tx is not None:
            actions = tx.receive_retransmission(now)
            self._settle(tx)
            self.retransmissions_received += 1
            self.retransmissions_sent += _transmits(actions)
            return actions
        if len(self._server) >= self.max_server_transactions:
            busy = response_to(request, 503, to_tag=new_tag(), headers=[("Retry-After", str(self.retry_after_s))])
            return [Overloaded(request, source), Transmit(busy, source)]
        new_tx: ServerTransaction
        if request.method == "INVITE":
            new_tx = ServerInviteTransaction(request, source, reliable, self.timers, auto_trying=self.auto_trying)
        else:
            new_tx = ServerNonInviteTransaction(request, source, reliable, self.timers)
        new_tx.key = key
        self._server[key] = new_tx
        actions = new_tx.start(now)
        self._settle(new_tx)
        return actions

    def receive_response(self, response: SipResponse, now: float) -> list[Action]:
        """Hand a response to its client transaction. One that matches none is dropped (RFC 6026 §7.1.1)."""
        branch = response.via.branch
        if not branch:
            return []
        tx = self._client.get(_client_key(branch, response.cseq.method))
        if tx is None:
            return []
        past_final = tx.state in (State.COMPLETED, State.ACCEPTED)
        actions = tx.receive_response(response, now)
        self._settle(tx)
        if past_final:
            self.retransmissions_received += 1
            self.retransmissions_sent += _transmits(actions)
        return actions

    def respond(self, server_tx: ServerTransaction, response: SipResponse, now: float) -> list[Action]:
        """Send the TU's response; after the transaction has ended, or past its final, it is dropped."""
        if server_tx.terminated:
            return []
        actions = server_tx.respond(response, now)
        self._settle(server_tx)
        return actions

    def cancel_target(self, cancel: SipRequest) -> ServerInviteTransaction | None:
        """The INVITE server transaction a CANCEL is for (RFC 3261 §9.2), if it is still here."""
        tx = self._server.get(_server_key(cancel, "INVITE"))
        return tx if isinstance(tx, ServerInviteTransaction) else None

    def transport_failed(self, tx: Transaction, now: float) -> list[Action]:
        """The connection or destination of `tx` failed (RFC 3261 §17.1.4, §17.2.4): it ends as timed out."""
        actions = tx.transport_failed(now)
        self._settle(tx)
        return actions

    def expire(self, now: float) -> list[Action]:
        """Fire every timer due at or before `now`, earliest first."""
        actions: list[Action] = []
        while self._heap and self._heap[0][0] <= now:
            deadline, _, tx, name = heapq.heappop(self._heap)
            if tx.terminated or tx.deadline(name) != deadline:
                continue  # Stopped or restarted since it was pushed.
            fired = tx.fire(name, now)
            self._settle(tx)
            if name != "trying":  # the automatic 100 Trying is a first answer; every other timer resends
                self.retransmissions_sent += _transmits(fired)
            actions += fired
        return actions

    def next_deadline(self) -> float | None:
        """When expire() next has work, or None when no timer runs."""
        while self._heap:
            deadline, _, tx, name = self._heap[0]
            if not tx.terminated and tx.deadline(name) == deadline:
                return deadline
            heapq.heappop(self._heap)
        return None

    def _settle(self, tx: Transaction) -> None:
        """Push the timers `tx` started, index or forget it as its state says."""
        for deadline, name in tx._take_scheduled():
            heapq.heappush(self._heap, (deadline, next(self._sequence), tx, name))
        if isinstance(tx, ServerInviteTransaction) and tx.state is State.ACCEPTED and not tx.indexed_for_ack:
            self._accepted.setdefault(_ack_key(tx.request), tx)
            tx.indexed_for_ack = True
        if tx.terminated:
            self._forget(tx)
        # Stopped timers stay in the heap until popped; rebuild when they outnumber the live ones.
        if len(self._heap) > 1024 + 8 * (len(self._client) + len(self._server)):
            self._heap = [e for e in self._heap if not e[2].terminated and e[2].deadline(e[3]) == e[0]]
            heapq.heapify(self._heap)

    def _forget(self, tx: Transaction) -> None:
        if isinstance(tx, ClientTransaction):
            if self._client.get(tx.key) is tx:
                del self._client[tx.key]
        elif isinstance(tx, ServerTransaction) and self._server.get(tx.key) is tx:
            del self._server[tx.key]
        if isinstance(tx, ServerInviteTransaction) and tx.indexed_for_ack:
            ack_key = _ack_key(tx.request)
            if self._accepted.get(ack_key) is tx:
                del self._accepted[ack_key]
