"""REGISTER: digest authentication, expiry, unregistration, auto-enrolment, and the Date header for time sync."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tianyan.core import gbid
from tianyan.gb28181.bindings import Binding
from tianyan.gb28181.context import SipCore
from tianyan.gb28181.events import DeviceCameOnline, DeviceEnrolled, DeviceWentOffline
from tianyan.gb28181.sip.headers import NameAddr, SipUri
from tianyan.gb28181.sip.message import SipRequest, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.state_writer import Registration
from tianyan.gb28181.transport import Peer

log = logging.getLogger(__name__)
DEFAULT_EXPIRES_S = 3600
# A refused device is audited at most this often per source, so a misconfigured camera retrying every few
# seconds (or an attacker) cannot flood the audit log.
AUDIT_EVERY_S = 60.0


def gb_date(now: datetime, zone: ZoneInfo) -> str:
    """The Date header GB/T 28181 devices set their clocks from: local time, milliseconds, no zone."""
    local = now.astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


class Registrar:
    def __init__(self, core: SipCore, *, on_online: Callable[[int], None]) -> None:
        self.core = core
        self.on_online = on_online
        self._refusals_audited: OrderedDict[tuple[str, str], float] = OrderedDict()

    async def handle(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if tx is None:
            return
        core = self.core
        device_id = request.from_.uri.user or request.to.uri.user or ""
        if not gbid.is_valid(device_id):
            core.respond(tx, response_to(request, 400, reason="From must carry the device's 20-digit ID"))
            return
        now = core.clock.now()
        now_s = core.endpoint.now()
        known = await core.directory.get(device_id, now_s)
        if known is None and not core.config.auto_enrol:
            # Audited before the answer goes out: when the device sees its refusal, the record exists.
            await self._audit_refusal(device_id, peer, "unknown device")
            core.respond(tx, response_to(request, 403, reason="Unknown device"))
            return
        authorization = request.headers.get("Authorization")
        if authorization is None:
            self._challenge(request, tx, stale=False)
            return
        secret = known.credential if known is not None and known.credential is not None else core.config.password
        verdict = core.authority.verify("REGISTER", authorization, secret, now.timestamp())
        if verdict.stale:
            self._challenge(request, tx, stale=True)
            return
        if not verdict.ok or verdict.username != device_id:
            reason = verdict.reason if not verdict.ok else "the digest username is not the device ID"
            await self._audit_refusal(device_id, peer, reason)
            core.respond(tx, response_to(request, 403, reason="Authentication failed"))
            return
        if known is None:
            known = await core.directory.enrol(device_id, now=now, now_s=now_s)
            await core.audit(
                actor=device_id,
                action="device.enrol",
                target=f"device:{device_id}",
                source=peer.host,
                detail={"address": str(peer)},
            )
            await core.bus.publish(DeviceEnrolled(device_id, now, str(peer)))
        if not known.may_register:
            why = "Pending approval" if known.approval == "pending" else "Device disabled"
            core.respond(tx, response_to(request, 403, reason=why))
            return
        expires = _requested_expires(request)
        if expires == 0:
            self._unregister(known.id, device_id, now)
            core.respond(tx, response_to(request, 200, headers=[("Date", gb_date(now, core.zone))]))
            return
        if expires < core.config.register_expires_min_s:
            minimum = str(core.config.register_expires_min_s)
            core.respond(tx, response_to(request, 423, headers=[("Min-Expires", minimum)]))
            return
        granted = min(expires, core.config.register_expires_max_s)
        contact = request.contact or NameAddr(SipUri(host=peer.host, user=device_id, port=peer.port))
        user_agent = (request.headers.get("User-Agent") or "")[:200]
        core.bindings.bind(Binding(known.id, device_id, peer, contact.uri, user_agent))
        core.writer.registration(
            Registration(
                known.id,
                peer.transport,
                peer.host,
                peer.port,
                str(contact.uri)[:300],
                user_agent,
                now,
                now + timedelta(seconds=granted),
            )
        )
        transition = core.presence.registered(known.id, now=now, expires_s=granted)
        headers = [
            ("Contact", str(NameAddr(contact.uri, params={"expires": str(granted)}))),
            ("Expires", str(granted)),
            ("Date", gb_date(now, core.zone)),
        ]
        core.respond(tx, response_to(request, 200, headers=headers))
        core.stats.registrations += 1
        if transition is not None:
            core.writer.transition(transition)
            await core.bus.publish(DeviceCameOnline(device_id, now, transition.reason, peer.transport, str(peer)))
            self.on_online(known.id)

    def _challenge(self, request: SipRequest, tx: ServerTransaction, *, stale: bool) -> None:
        core = self.core
        values = core.authority.challenge(core.clock.now().timestamp(), stale=stale)
        headers = [("WWW-Authenticate", value) for value in values]
        core.respond(tx, response_to(request, 401, headers=headers))

    def _unregister(self, device_pk: int, device_id: str, now: datetime) -> None:
        core = self.core
        core.bindings.unbind(device_pk)
        core.writer.unregistration(device_pk)
        transition = core.presence.unregistered(device_pk, now=now)
        if transition is not None:
            core.writer.transition(transition)
            core.spawn(core.bus.publish(DeviceWentOffline(device_id, now, transition.reason)))

    async def _audit_refusal(self, device_id: str, peer: Peer, reason: str) -> None:
        key = (device_id, peer.host)
        now_s = self.core.endpoint.now()
        last = self._refusals_audited.get(key)
        if last is not None and now_s - last < AUDIT_EVERY_S:
            return
        self._refusals_audited[key] = now_s
        self._refusals_audited.move_to_end(key)
        while len(self._refusals_audited) > 10_000:
            self._refusals_audited.popitem(last=False)
        log.info("sip: refused REGISTER of %s from %s: %s", device_id, peer, reason)
        await self.core.audit(
            actor=device_id,
            action="device.register",
            target=f"device:{device_id}",
            source=peer.host,
            outcome="denied",
            detail={"why": reason, "address": str(peer)},
        )


def _requested_expires(request: SipRequest) -> int:
    contact = request.contact
    if contact is not None and contact.params.get("expires", "").isdigit():
        return int(contact.params["expires"] or DEFAULT_EXPIRES_S)
    expires = request.expires
    return DEFAULT_EXPIRES_S if expires is None else expires
