"""Dialogs (RFC 3261 §12) for INVITE sessions and SUBSCRIBE/NOTIFY subscriptions (RFC 6665), and a bounded store.

A dialog is created from the request and the response that established it, on either side, and then builds the
in-dialog requests (right Request-URI, Route, tags, CSeq) and checks the incoming ones. `now` comes in from the
caller for subscription expiry; nothing here reads a clock or touches a socket.

Tolerated because GB/T 28181 devices do it: a dialog-creating 2xx without Contact (the request's URI is the
target), a SUBSCRIBE 2xx without Expires (the request's value holds), a NOTIFY without Subscription-State or
Event (the subscription stays as it was).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from enum import Enum

from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import Message, SipRequest, SipResponse, new_branch, new_request
from tianyan.gb28181.sip.subscription import (
    Subscription,
    SubscriptionState,
    SubscriptionStateHeader,
    event_key,
)

# Requests that may change the remote target (RFC 3261 §12.2, RFC 6665 §4.1.2.2 and §4.2.1.2 for SUBSCRIBE and
# NOTIFY); they also carry our Contact.
_TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
_MAX_CSEQ = 2**31 - 1
DEFAULT_SUBSCRIPTION_S = 3600


class Role(Enum):
    UAC = "uac"  # We sent the request that created the dialog.
    UAS = "uas"


class DialogState(Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


@dataclass(frozen=True)
class DialogId:
    """RFC 3261 §12: Call-ID, local tag, remote tag."""

    call_id: str
    local_tag: str
    remote_tag: str

    @classmethod
    def of_incoming_request(cls, request: SipRequest) -> DialogId | None:
        """The dialog an arriving request belongs to; None when its To has no tag (it starts no dialog of ours)."""
        local, remote = request.to.tag, request.from_.tag
        return cls(request.call_id, local, remote) if local and remote else None

    @classmethod
    def of_response(cls, response: SipResponse) -> DialogId | None:
        """The dialog a response to one of our requests belongs to."""
        local, remote = response.from_.tag, response.to.tag
        return cls(response.call_id, local, remote) if local and remote else None


@dataclass(frozen=True)
class RequestVerdict:
    """Whether an in-dialog request may go on to the TU; if not, answer `status`."""

    ok: bool
    status: int | None = None
    reason: str = ""


_OK = RequestVerdict(True)


@dataclass(eq=False)
class Dialog:
    """One dialog; mutable because its CSeqs, remote target and subscription move as requests pass."""

    id: DialogId
    role: Role
    state: DialogState
    local: NameAddr  # Our From in requests we send (with our tag).
    remote: NameAddr  # Their address (with their tag): the To of requests we send.
    remote_target: SipUri
    route_set: tuple[str, ...] = ()
    local_cseq: int = 0
    remote_cseq: int | None = None
    local_contact: NameAddr | None = None
    invite_cseq: int | None = None  # The INVITE's CSeq number, which the ACK for its 2xx repeats.
    subscription: Subscription | None = None

    # ---- creation ------------------------------------------------------------------------------------------

    @classmethod
    def from_uac(cls, request: SipRequest, response: SipResponse, now: float = 0.0) -> Dialog:
        """Our INVITE or SUBSCRIBE and a 1xx (early) or 2xx (confirmed) with a To tag (RFC 3261 §12.1.2)."""
        status = _dialog_status(request, response)
        remote_tag = response.to.tag
        local_tag = request.from_.tag
        if not remote_tag or not local_tag:
            raise SipError("a dialog needs a From tag on the request and a To tag on the response")
        contact = response.contact
        dialog = cls(
            id=DialogId(request.call_id, local_tag, remote_tag),
            role=Role.UAC,
            state=DialogState.EARLY if status < 200 else DialogState.CONFIRMED,
            local=request.from_,
            remote=response.to,
            remote_target=contact.uri if contact else request.uri,
            route_set=tuple(reversed(response.headers.get_all("Record-Route"))),
            local_cseq=request.cseq.number,
            local_contact=request.contact,
            invite_cseq=request.cseq.number if request.method == "INVITE" else None,
        )
        if request.method == "SUBSCRIBE" and status >= 200:
            dialog.subscription = Subscription.starting(
                _event(request), SubscriptionState.ACTIVE, _expires(response, request), now
            )
        return dialog

    @classmethod
    def from_uas(cls, request: SipRequest, response: SipResponse, now: float = 0.0) -> Dialog:
        """A request we received and the 1xx/2xx we are sending, which carries our To tag (§12.1.1)."""
        status = _dialog_status(request, response)
        local_tag = response.to.tag
        remote_tag = request.from_.tag
        if not remote_tag or not local_tag:
            raise SipError("a dialog needs a From tag on the request and a To tag on the response")
        contact = request.contact
        dialog = cls(
            id=DialogId(request.call_id, local_tag, remote_tag),
            role=Role.UAS,
            state=DialogState.EARLY if status < 200 else DialogState.CONFIRMED,
            local=response.to,
            remote=request.from_,
            remote_target=contact.uri if contact else request.from_.uri,
            route_set=tuple(request.headers.get_all("Record-Route")),
            remote_cseq=request.cseq.number,
            local_contact=response.contact,
            invite_cseq=request.cseq.number if request.method == "INVITE" else None,
        )
        if request.method == "SUBSCRIBE" and status >= 200:
            expires_s = _expires(response, request)
            dialog.subscription = Subscription.starting(_event(request), SubscriptionState.ACTIVE, expires_s, now)
            if expires_s == 0:
                # A fetch (Expires: 0): one NOTIFY with the state, then the subscription ends.
                dialog.subscription.terminate("timeout")
        return dialog

    @classmethod
    def from_notify(cls, subscribe: SipRequest, notify: SipRequest, now: float = 0.0) -> Dialog:
        """Our SUBSCRIBE and a NOTIFY that arrived before its 2xx (RFC 6665 §4.1.2.4); the NOTIFY is applied."""
        local_tag = subscribe.from_.tag
        remote_tag = notify.from_.tag
        if not local_tag or not remote_tag or notify.to.tag != local_tag or notify.call_id != subscribe.call_id:
            raise SipError("the NOTIFY does not belong to this SUBSCRIBE")
        contact = notify.contact
        dialog = cls(
            id=DialogId(subscribe.call_id, local_tag, remote_tag),
            role=Role.UAC,
            state=DialogState.CONFIRMED,
            local=subscribe.from_,
            remote=notify.from_,
            remote_target=contact.uri if contact else notify.from_.uri,
            # The NOTIFY is a request to us, so its Record-Route is taken as a UAS takes it: in order.
            route_set=tuple(notify.headers.get_all("Record-Route")),
            local_cseq=subscribe.cseq.number,
            remote_cseq=notify.cseq.number,
            local_contact=subscribe.contact,
        )
        expires_s = subscribe.expires if subscribe.expires is not None else DEFAULT_SUBSCRIPTION_S
        dialog.subscription = Subscription.starting(_event(subscribe), SubscriptionState.ACTIVE, expires_s, now)
        dialog._apply_notify(notify, now)
        return dialog

    # ---- building requests ----------------------------------------------------------------------------------

    @property
    def next_hop(self) -> SipUri:
        """Where a request goes first: the first route, or the remote target when there is no route set."""
        return NameAddr.parse(self.route_set[0]).uri if self.route_set else self.remote_target

    def request(
        self,
        method: str,
        via: Via,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        """An in-dialog request (RFC 3261 §12.2.1.1); `via` is our Via, given a fresh branch here."""
        method = method.upper()
        if self.state is DialogState.TERMINATED:
            raise SipError(f"dialog {self.id} has ended")
        if method == "CANCEL":
            raise SipError("CANCEL is built from its INVITE (transaction.build_cancel), not from the dialog")
        if method == "ACK":
            if self.invite_cseq is None:
                raise SipError("no INVITE to acknowledge in this dialog")
            number = self.invite_cseq
        else:
            if self.local_cseq >= _MAX_CSEQ:
                raise SipError("local CSeq exhausted")
            self.local_cseq += 1
            number = self.local_cseq
        uri, routes = self._target_and_routes()
        return new_request(
            method,
            uri,
            via=via.with_params(branch=new_branch()),
            from_=self.local,
            to=self.remote,
            call_id=self.id.call_id,
            cseq=number,
            contact=self.local_contact if method in _TARGET_REFRESH else None,
            headers=[*(("Route", route) for route in routes), *headers],
            body=body,
            content_type=content_type,
        )

    def ack(self, via: Via, *, body: bytes = b"", content_type: str | None = None) -> SipRequest:
        """The ACK for the INVITE's 2xx (RFC 3261 §13.2.2.4); send it for every 2xx retransmission too."""
        if self.role is not Role.UAC:
            raise SipError("only the side that sent the INVITE sends its ACK")
        return self.request("ACK", via, body=body, content_type=content_type)

    def bye(self, via: Via, *, headers: Iterable[tuple[str, str]] = ()) -> SipRequest:
        return self.request("BYE", via, headers=headers)

    def info(self, via: Via, body: bytes, content_type: str = "Application/MANSRTSP") -> SipRequest:
        """INFO carrying a MANSRTSP playback control (PLAY, PAUSE, Scale, Range) in a playback session."""
        return self.request("INFO", via, body=body, content_type=content_type)

    def subscribe(
        self,
        via: Via,
        expires_s: int,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        """A refreshing SUBSCRIBE, or with `expires_s=0` the one that ends the subscription (RFC 6665 §4.1.2.2)."""
        subscription = self._subscription()
        extra = [("Event", subscription.event), ("Expires", str(expires_s)), *headers]
        return self.request("SUBSCRIBE", via, headers=extra, body=body, content_type=content_type)

    def notify(
        self,
        via: Via,
        now: float,
        *,
        state: SubscriptionState | None = None,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        """A NOTIFY with Event and Subscription-State (RFC 6665 §4.2.2); a terminated one ends the dialog."""
        subscription = self._subscription()
        if state is not None and state is not subscription.state:
            subscription.state = state
            if state is SubscriptionState.TERMINATED:
                subscription.reason = reason
        if subscription.state is SubscriptionState.TERMINATED:
            value = SubscriptionStateHeader(subscription.state, reason=reason or subscription.reason)
        else:
            value = SubscriptionStateHeader(subscription.state, expires_s=subscription.remaining_s(now))
        extra = [("Event", subscription.event), ("Subscription-State", str(value)), *headers]
        request = self.request("NOTIFY", via, headers=extra, body=body, content_type=content_type)
        if subscription.state is SubscriptionState.TERMINATED:
            self.state = DialogState.TERMINATED
        return request

    def _target_and_routes(self) -> tuple[SipUri, list[str]]:
        if not self.route_set:
            return self.remote_target, []
        first = NameAddr.parse(self.route_set[0]).uri
        if "lr" in first.params:
            return self.remote_target, list(self.route_set)
        # A strict router (RFC 2543) takes the Request-URI itself; the remote target goes last in Route.
        return replace(first, params={}), [*self.route_set[1:], f"<{self.remote_target}>"]

    def _subscription(self) -> Subscription:
        if self.subscription is None:
            raise SipError(f"dialog {self.id} carries no subscription")
        return self.subscription

    # ---- what arrives -------------------------------------------------------------------------------------

    def receive_request(self, request: SipRequest, now: float) -> RequestVerdict:
        """Check an in-dialog request and apply it (CSeq, target refresh, BYE, NOTIFY, SUBSCRIBE refresh)."""
        method = request.method
        if method in ("ACK", "CANCEL"):
            return _OK  # They repeat the CSeq of the request they belong to.
        number = request.cseq.number
        if self.remote_cseq is not None and number <= self.remote_cseq:
            # §12.2.2 says lower is out of order; an equal one that got past the transaction layer is a stale copy.
            return RequestVerdict(False, 500, f"CSeq {number} not above {self.remote_cseq}")
        if method == "NOTIFY" and self.subscription is not None:
            try:
                problem = self._apply_notify(request, now)
            except SipError as exc:
                return RequestVerdict(False, 400, str(exc))
            if problem is not None:
                return problem
        elif method == "SUBSCRIBE" and self.subscription is not None:
            try:
                problem = self._apply_subscribe(request, now)
            except SipError as exc:
                return RequestVerdict(False, 400, str(exc))
            if problem is not None:
                return problem
        self.remote_cseq = number
        if method in _TARGET_REFRESH and request.contact is not None:
            self.remote_target = request.contact.uri
        if method == "BYE":
            self.state = DialogState.TERMINATED
        return _OK

    def receive_response(self, response: SipResponse, now: float) -> None:
        """Apply a response to one of our in-dialog requests, or the 2xx that confirms an early dialog."""
        status = response.status
        method = response.cseq.method
        if status in (408, 481):
            # §12.2.1.2: the dialog (or the subscription) no longer exists at the other end.
            self.state = DialogState.TERMINATED
            if self.subscription is not None:
                self.subscription.terminate("gone")
            return
        if not 200 <= status < 300:
            return
        if method == "INVITE" and self.state is DialogState.EARLY:
            self.state = DialogState.CONFIRMED
        if method in _TARGET_REFRESH and response.contact is not None:
            self.remote_target = response.contact.uri
        if method == "SUBSCRIBE" and self.subscription is not None:
            try:
                expires_s = response.expires
            except SipError:
                expires_s = None  # A garbled Expires leaves the subscription as it was.
            if expires_s is not None:
                self.subscription.extend(expires_s, now)
                if expires_s == 0:
                    # Many GB/T 28181 devices never send the final NOTIFY, so the 2xx to Expires: 0 ends it.
                    self.state = DialogState.TERMINATED

    def _apply_notify(self, notify: SipRequest, now: float) -> RequestVerdict | None:
        subscription = self._subscription()
        event = notify.headers.get("Event")
        if event is not None and event_key(event) != event_key(subscription.event):
            return RequestVerdict(False, 489, f"event {event!r} is not {subscription.event!r}")
        value = notify.headers.get("Subscription-State")
        if value is None:
            return None
        header = SubscriptionStateHeader.parse(value)
        if header.state is SubscriptionState.TERMINATED:
            subscription.terminate(header.reason)
            self.state = DialogState.TERMINATED
            return None
        subscription.state = header.state
        if header.expires_s is not None:
            subscription.extend(header.expires_s, now)
        return None

    def _apply_subscribe(self, subscribe: SipRequest, now: float) -> RequestVerdict | None:
        subscription = self._subscription()
        event = subscribe.headers.get("Event")
        if event is None or event_key(event) != event_key(subscription.event):
            return RequestVerdict(False, 489, f"event {event!r} is not {subscription.event!r}")
        expires_s = subscribe.expires
        subscription.extend(expires_s if expires_s is not None else DEFAULT_SUBSCRIPTION_S, now)
        return None


def _dialog_status(request: SipRequest, response: SipResponse) -> int:
    if request.method not in ("INVITE", "SUBSCRIBE", "REFER"):
        raise SipError(f"{request.method} does not create a dialog")
    if response.call_id != request.call_id or response.cseq.number != request.cseq.number:
        raise SipError("the response does not answer this request")
    if not 101 <= response.status < 300:
        raise SipError(f"a {response.status} creates no dialog")
    return response.status


def _event(request: SipRequest) -> str:
    event = request.headers.get("Event")
    if event is None:
        raise SipError("SUBSCRIBE without an Event header")
    return event


def _expires(response: SipResponse, request: SipRequest) -> int:
    for message in (response, request):
        if message.expires is not None:
            return message.expires
    return DEFAULT_SUBSCRIPTION_S


class DialogLimitError(SipError):
    """The store is full; the caller answers the dialog-creating request with 503 (or 486)."""


class DialogStore:
    """Every dialog of one endpoint, bounded, found by id or by the message that arrives in it."""

    def __init__(self, max_dialogs: int = 100_000) -> None:
        self.max_dialogs = max_dialogs
        self._dialogs: dict[DialogId, Dialog] = {}

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self._dialogs.values()))

    def add(self, dialog: Dialog) -> Dialog:
        """Store a dialog; one with the same id already here is kept and returned instead (a retransmission)."""
        existing = self._dialogs.get(dialog.id)
        if existing is not None:
            return existing
        if len(self._dialogs) >= self.max_dialogs:
            raise DialogLimitError(f"{len(self._dialogs)} dialogs already held")
        self._dialogs[dialog.id] = dialog
        return dialog

    def get(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.get(dialog_id)

    def remove(self, dialog: Dialog) -> None:
        if self._dialogs.get(dialog.id) is dialog:
            del self._dialogs[dialog.id]

    def find(self, message: Message) -> Dialog | None:
        """The dialog an arriving request, or a response to one of our requests, belongs to."""
        if isinstance(message, SipRequest):
            dialog_id = DialogId.of_incoming_request(message)
        else:
            dialog_id = DialogId.of_response(message)
        return self._dialogs.get(dialog_id) if dialog_id else None

    def prune(self, now: float) -> list[Dialog]:
        """Drop terminated dialogs and subscription dialogs past their expiry; returns what was dropped.

        A scan of every dialog: call it every few seconds, not per message.
        """
        gone = [
            dialog
            for dialog in self._dialogs.values()
            if dialog.state is DialogState.TERMINATED
            or (dialog.subscription is not None and dialog.subscription.expired(now))
        ]
        for dialog in gone:
            del self._dialogs[dialog.id]
        return gone

    def refresh_due(self, now: float) -> list[Dialog]:
        """Our subscriptions (as subscriber) whose refresh time has come; a scan, like prune()."""
        return [
            dialog
            for dialog in self._dialogs.values()
            if dialog.role is Role.UAC
            and dialog.state is not DialogState.TERMINATED
            and dialog.subscription is not None
            and dialog.subscription.refresh_due(now)
        ]
