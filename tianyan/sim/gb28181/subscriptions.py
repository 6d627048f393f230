"""A simulated device's subscriptions: Catalog (NOTIFY on channel changes) and MobilePosition (NOTIFY each interval).

A SUBSCRIBE is accepted with 200 and its Expires, which makes a dialog (RFC 6665); NOTIFYs travel in it until
the subscription runs out, the platform ends it (SUBSCRIBE with Expires: 0), or a NOTIFY is refused or unanswered.
Which kind it is comes from the body's CmdType, else from the Event header (WVP subscribes positions with
`Event: presence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tianyan.gb28181.endpoint import SipTimeout
from tianyan.gb28181.manscdp.catalog import CatalogItem, CatalogNotify, CatalogQuery
from tianyan.gb28181.manscdp.envelope import Body
from tianyan.gb28181.manscdp.message import parse
from tianyan.gb28181.manscdp.mobile_position import INTERVAL_S, MobilePositionQuery
from tianyan.gb28181.manscdp.xml import ManscdpError
from tianyan.gb28181.sip.dialog import Dialog, DialogId, DialogState, SubscriptionState
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.message import SipRequest, new_tag, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.transport import Peer
from tianyan.sim.gb28181.answers import position_notify
from tianyan.sim.gb28181.events import DeviceStats
from tianyan.sim.gb28181.profile import Behaviour, DeviceSpec, beijing_now
from tianyan.sim.gb28181.registration import USER_AGENT
from tianyan.sim.gb28181.routes import Fix
from tianyan.sim.gb28181.switchboard import Switchboard

log = logging.getLogger(__name__)
MANSCDP = "Application/MANSCDP+xml"
DEFAULT_EXPIRES_S = 3600
DEFAULT_INTERVAL_S = 5
SubscriptionKind = Literal["Catalog", "MobilePosition"]


class SubscriptionHost(Protocol):
    """What a subscription needs from its device."""

    spec: DeviceSpec
    behaviour: Behaviour
    board: Switchboard
    stats: DeviceStats

    def next_sn(self) -> int: ...
    def fix(self) -> Fix | None: ...


@dataclass(eq=False)
class DeviceSubscription:
    dialog: Dialog
    peer: Peer
    kind: SubscriptionKind
    interval_s: float
    changes: asyncio.Queue[CatalogItem] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


def _kind_of(request: SipRequest) -> tuple[SubscriptionKind | None, float]:
    body: Body | None = None
    if request.body:
        with contextlib.suppress(ManscdpError):
            body = parse(request.body)
    if isinstance(body, CatalogQuery):
        return "Catalog", 0.0
    if isinstance(body, MobilePositionQuery):
        return "MobilePosition", float(body.interval_s or DEFAULT_INTERVAL_S)
    event = (request.headers.get("Event") or "").split(";", 1)[0].strip().lower()
    if event == "catalog":
        return "Catalog", 0.0
    if event in ("presence", "mobileposition"):
        return "MobilePosition", float(DEFAULT_INTERVAL_S)
    return None, 0.0


class Subscriptions:
    """Every subscription one device has accepted, by dialog."""

    def __init__(self, host: SubscriptionHost) -> None:
        self.host = host
        self._subscriptions: dict[DialogId, DeviceSubscription] = {}

    def __len__(self) -> int:
        return len(self._subscriptions)

    def of_kind(self, kind: SubscriptionKind) -> list[DeviceSubscription]:
        return [s for s in self._subscriptions.values() if s.kind == kind]

    async def on_subscribe(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if tx is None:
            return
        endpoint = self.host.board.endpoint
        now = asyncio.get_running_loop().time()
        if request.to.tag is not None:
            self._refresh(request, tx, now)
            return
        kind, interval_s = _kind_of(request)
        if kind is None or (kind == "MobilePosition" and self.host.spec.kind != "vehicle"):
            endpoint.respond(tx, response_to(request, 489, to_tag=new_tag()))
            return
        try:
            expires_s = request.expires
        except SipError:
            expires_s = None
        expires_s = DEFAULT_EXPIRES_S if expires_s is None else expires_s
        response = response_to(
            request,
            200,
            to_tag=new_tag(),
            headers=[
                ("Expires", str(expires_s)),
                ("Contact", str(self.host.board.contact(self.host.spec.device_id))),
                ("User-Agent", USER_AGENT),
            ],
        )
        dialog = Dialog.from_uas(request, response, now)
        endpoint.respond(tx, response)
        interval_s = min(max(interval_s, INTERVAL_S[0]), INTERVAL_S[1]) if kind == "MobilePosition" else 0.0
        subscription = DeviceSubscription(dialog, peer, kind, interval_s)
        self._subscriptions[dialog.id] = subscription
        subscription.task = asyncio.get_running_loop().create_task(self._run(subscription))

    def _refresh(self, request: SipRequest, tx: ServerTransaction, now: float) -> None:
        endpoint = self.host.board.endpoint
        dialog_id = DialogId.of_incoming_request(request)
        subscription = self._subscriptions.get(dialog_id) if dialog_id else None
        if subscription is None:
            endpoint.respond(tx, response_to(request, 481))
            return
        verdict = subscription.dialog.receive_request(request, now)
        if not verdict.ok:
            endpoint.respond(tx, response_to(request, verdict.status or 500, verdict.reason or None))
            return
        assert subscription.dialog.subscription is not None
        expires_s = subscription.dialog.subscription.expires_s
        endpoint.respond(tx, response_to(request, 200, headers=[("Expires", str(expires_s))]))
        # Wake the sender: it sends the final NOTIFY of an ended subscription, or waits on with the new expiry.
        subscription.changes.put_nowait(_WAKE)

    def catalog_changed(self, item: CatalogItem) -> None:
        """Queue one changed item (with its Event) for every catalog subscriber."""
        for subscription in self.of_kind("Catalog"):
            subscription.changes.put_nowait(item)

    async def _run(self, subscription: DeviceSubscription) -> None:
        loop = asyncio.get_running_loop()
        state = subscription.dialog.subscription
        assert state is not None
        next_fix = loop.time()
        try:
            while subscription.dialog.state is not DialogState.TERMINATED and not state.expired(loop.time()):
                now = loop.time()
                wait_s = state.expires_at - now
                if subscription.kind == "MobilePosition":
                    wait_s = min(wait_s, next_fix - now)
                items: list[CatalogItem] = []
                try:
                    async with asyncio.timeout(max(0.0, wait_s)):
                        items.append(await subscription.changes.get())
                except TimeoutError:
                    pass
                while not subscription.changes.empty():
                    items.append(subscription.changes.get_nowait())
                items = [item for item in items if item is not _WAKE]
                if items:
                    notify = CatalogNotify(self.host.next_sn(), self.host.spec.device_id, len(items), tuple(items))
                    await self._notify(subscription, notify)
                if subscription.kind == "MobilePosition" and loop.time() >= next_fix and not state.expired(loop.time()):
                    next_fix = loop.time() + subscription.interval_s
                    body = position_notify(self.host.spec, self.host.fix(), beijing_now(), self.host.next_sn())
                    await self._notify(subscription, body)
            if subscription.dialog.state is not DialogState.TERMINATED:
                await self._notify(subscription, None, state=SubscriptionState.TERMINATED, reason="timeout")
        finally:
            self._subscriptions.pop(subscription.dialog.id, None)

    async def _notify(
        self,
        subscription: DeviceSubscription,
        body: Body | None,
        *,
        state: SubscriptionState | None = None,
        reason: str | None = None,
    ) -> None:
        host = self.host
        loop = asyncio.get_running_loop()
        payload = b"" if body is None else body.build(charset=host.behaviour.charset)
        request = subscription.dialog.notify(host.board.via(), loop.time(), state=state, reason=reason,
                                             body=payload, content_type=MANSCDP if payload else None)  # fmt: skip
        try:
            response = await host.board.endpoint.request(request, subscription.peer)
        except SipTimeout:
            subscription.dialog.state = DialogState.TERMINATED  # nobody is listening any more
            return
        host.stats.notifies_sent += 1
        subscription.dialog.receive_response(response, loop.time())
        if response.status >= 300:
            subscription.dialog.state = DialogState.TERMINATED

    def stop_all(self) -> None:
        """Forget every subscription without a word, as a device that loses power does."""
        for subscription in list(self._subscriptions.values()):
            if subscription.task is not None:
                subscription.task.cancel()
        self._subscriptions.clear()


# Put on a subscription's queue to make its sender look at the dialog again (refreshed or ended).
_WAKE = CatalogItem(device_id="wake")
