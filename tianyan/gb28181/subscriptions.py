"""The platform's subscriptions to devices: catalog changes and mobile positions, refreshed before they lapse."""

from __future__ import annotations

import logging
from typing import Literal

from tianyan.core.errors import UpstreamError, UpstreamTimeout
from tianyan.gb28181.bindings import Binding
from tianyan.gb28181.context import SipCore
from tianyan.gb28181.endpoint import SipTimeout
from tianyan.gb28181.inbox import Inbox
from tianyan.gb28181.manscdp.catalog import CatalogQuery
from tianyan.gb28181.manscdp.mobile_position import MobilePositionQuery
from tianyan.gb28181.queries import MANSCDP, QueryManager
from tianyan.gb28181.sip.dialog import Dialog, DialogId, DialogStore
from tianyan.gb28181.sip.message import SipRequest, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.transport import Peer

log = logging.getLogger(__name__)
Kind = Literal["Catalog", "MobilePosition"]
# The Event package names WVP-GB28181-pro and most devices use for these two subscriptions.
EVENTS: dict[str, str] = {"Catalog": "Catalog", "MobilePosition": "presence"}


class Subscriptions:
    def __init__(self, core: SipCore, *, inbox: Inbox, queries: QueryManager, max_dialogs: int = 100_000) -> None:
        self.core = core
        self.inbox = inbox
        self.queries = queries
        self.dialogs = DialogStore(max_dialogs)
        self._owner: dict[DialogId, tuple[int, Kind]] = {}

    def of_device(self, device_pk: int) -> list[tuple[Kind, Dialog]]:
        found = []
        for dialog_id, (device, kind) in self._owner.items():
            dialog = self.dialogs.get(dialog_id)
            if device == device_pk and dialog is not None:
                found.append((kind, dialog))
        return found

    async def subscribe(self, binding: Binding, kind: Kind, *, expires_s: int = 3600, interval_s: int = 5) -> Dialog:
        core = self.core
        sn = self.queries.next_sn()
        body = (
            CatalogQuery(sn=sn, device_id=binding.gb_id)
            if kind == "Catalog"
            else MobilePositionQuery(sn=sn, device_id=binding.gb_id, interval_s=interval_s)
        )
        request = core.factory.request(
            "SUBSCRIBE",
            binding,
            body=body.build(),
            content_type=MANSCDP,
            with_contact=True,
            headers=[("Event", EVENTS[kind]), ("Expires", str(expires_s))],
        )
        try:
            response = await core.endpoint.request(request, binding.peer)
        except SipTimeout:
            raise UpstreamTimeout(f"device {binding.gb_id} did not answer the {kind} SUBSCRIBE") from None
        if not 200 <= response.status < 300:
            raise UpstreamError(f"device {binding.gb_id} refused the {kind} subscription: {response.status}")
        dialog = self.dialogs.add(Dialog.from_uac(request, response, now=core.endpoint.now()))
        self._owner[dialog.id] = (binding.device_id, kind)
        return dialog

    async def handle_notify(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if tx is None:
            return
        core = self.core
        dialog = self.dialogs.find(request)
        if dialog is None:
            core.respond(tx, response_to(request, 481))
            return
        verdict = dialog.receive_request(request, core.endpoint.now())
        if not verdict.ok:
            core.respond(tx, response_to(request, verdict.status, reason=verdict.reason))
            return
        # The body is an ordinary Notify (Catalog or MobilePosition); the inbox answers and handles it.
        await self.inbox.handle(request, peer, tx)
        if dialog.subscription is not None and dialog.subscription.expired(core.endpoint.now()):
            self._drop(dialog)

    async def refresh(self) -> None:
        """Re-SUBSCRIBE every subscription due; one the device no longer accepts is dropped."""
        core = self.core
        now = core.endpoint.now()
        for dialog in self.dialogs.prune(now):
            self._drop(dialog)
        for dialog in self.dialogs.refresh_due(now):
            owner = self._owner.get(dialog.id)
            binding = core.bindings.get(owner[0]) if owner else None
            if binding is None or dialog.subscription is None:
                self._drop(dialog)
                continue
            request = dialog.subscribe(core.identity.via(binding.peer.transport), dialog.subscription.expires_s)
            try:
                response = await core.endpoint.request(request, binding.peer)
                dialog.receive_response(response, core.endpoint.now())
                if not 200 <= response.status < 300:
                    self._drop(dialog)
            except SipTimeout:
                self._drop(dialog)

    def device_gone(self, device_pk: int) -> None:
        for _, dialog in self.of_device(device_pk):
            self._drop(dialog)

    def _drop(self, dialog: Dialog) -> None:
        self.dialogs.remove(dialog)
        self._owner.pop(dialog.id, None)
