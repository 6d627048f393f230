"""What devices send the platform in MESSAGE and NOTIFY requests: keepalives, notifications, answers to queries.

One table says which handler takes which (kind, CmdType); an unknown one is acknowledged and logged, so a
device never retries it forever, and a body that cannot be read gets 400.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from tianyan.gb28181.bindings import Binding
from tianyan.gb28181.context import SipCore
from tianyan.gb28181.directory import KnownDevice
from tianyan.gb28181.events import AlarmReceived, PositionReported
from tianyan.gb28181.manscdp.alarm import AlarmNotify, AlarmResponse
from tianyan.gb28181.manscdp.catalog import CatalogItem, CatalogNotify
from tianyan.gb28181.manscdp.envelope import Envelope, parse_envelope
from tianyan.gb28181.manscdp.media_status import MediaStatusNotify
from tianyan.gb28181.manscdp.mobile_position import MobilePositionNotify
from tianyan.gb28181.manscdp.xml import ManscdpError
from tianyan.gb28181.media_sessions import MediaSessions
from tianyan.gb28181.queries import QueryManager
from tianyan.gb28181.sip.message import SipRequest, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.transport import Peer

log = logging.getLogger(__name__)


def device_time(value: datetime, zone: ZoneInfo) -> datetime:
    """GB bodies carry local time without a zone; anything that already has one is taken as it is."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


class Inbox:
    def __init__(
        self,
        core: SipCore,
        *,
        queries: QueryManager,
        media: MediaSessions,
        on_catalog_events: Callable[[KnownDevice, tuple[CatalogItem, ...]], Awaitable[None]],
    ) -> None:
        self.core = core
        self.queries = queries
        self.media = media
        self.on_catalog_events = on_catalog_events
        self.routes: dict[tuple[str, str], Callable[[KnownDevice, Envelope, SipRequest], Awaitable[None]]] = {
            ("Notify", "Keepalive"): self._keepalive,
            ("Notify", "Alarm"): self._alarm,
            ("Notify", "MobilePosition"): self._position,
            ("Notify", "Catalog"): self._catalog_changed,
            ("Notify", "MediaStatus"): self._media_status,
        }

    async def handle(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        """MESSAGE and in-dialog NOTIFY alike: the body says what it is."""
        if tx is None:
            return
        core = self.core
        device_id = request.from_.uri.user or ""
        known = await core.directory.get(device_id, core.endpoint.now())
        binding = core.bindings.get(known.id) if known is not None else None
        if known is None or binding is None:
            # Not registered (or not any more): 403 makes a GB device register again.
            core.respond(tx, response_to(request, 403, reason="Not registered"))
            return
        try:
            envelope = parse_envelope(request.body)
        except ManscdpError as exc:
            core.stats.bad_bodies += 1
            core.respond(tx, response_to(request, 400, reason=f"Bad MANSCDP body: {str(exc)[:80]}"))
            return
        if envelope.route == ("Notify", "Keepalive"):
            # The hot path: answered after the presence check decides between 200 and 403.
            await self._keepalive(known, envelope, request, tx=tx)
            self._follow_address(binding, peer)
            return
        core.respond(tx, response_to(request, 200))
        try:
            if envelope.kind == "Response":
                self.queries.on_response(envelope)
                return
            handler = self.routes.get(envelope.route)
            if handler is None:
                log.info("sip: %s sent %s %s, which the platform does not handle", device_id, *envelope.route)
                return
            await handler(known, envelope, request)
        except ManscdpError as exc:
            # Already acknowledged: a device must not resend a notification we merely could not read.
            core.stats.bad_bodies += 1
            log.info("sip: unreadable %s %s from %s: %s", envelope.kind, envelope.cmd_type, device_id, exc)

    async def _keepalive(
        self, known: KnownDevice, envelope: Envelope, request: SipRequest, *, tx: ServerTransaction | None = None
    ) -> None:
        core = self.core
        now = core.clock.now()
        alive = core.presence.keepalive(known.id, now=now)
        if tx is not None:
            status = 200 if alive else 403
            core.respond(tx, response_to(request, status, reason=None if alive else "Not registered"))
        if alive:
            core.stats.keepalives += 1
            core.writer.keepalive(known.id, now)

    def _follow_address(self, binding: Binding, peer: Peer) -> None:
        """A NAT that rebinds a port, or a TCP connection opened again, moves the device: requests follow it at
        once. Only to a new port of the same host: keepalives carry no credentials, so a move to another host
        waits for the device's next (authenticated) REGISTER rather than letting anyone redirect its requests."""
        if binding.peer == peer or binding.peer.host != peer.host:
            return
        self.core.bindings.bind(replace(binding, peer=peer))
        self.core.writer.moved(binding.device_id, peer.transport, peer.host, peer.port)

    async def _alarm(self, known: KnownDevice, envelope: Envelope, request: SipRequest) -> None:
        core = self.core
        alarm = AlarmNotify.from_envelope(envelope)
        received = core.clock.now()
        at = device_time(alarm.alarm_time, core.zone)
        core.writer.alarm(
            device_id=known.id,
            channel_gb_id=alarm.device_id[:20],
            at=at,
            received_at=received,
            priority=alarm.alarm_priority,
            method=alarm.alarm_method,
            alarm_type=alarm.alarm_type,
            description=alarm.alarm_description,
            longitude=alarm.longitude,
            latitude=alarm.latitude,
        )
        core.stats.alarms += 1
        await core.bus.publish(
            AlarmReceived(
                known.gb_id,
                alarm.device_id,
                at,
                alarm.alarm_priority,
                alarm.alarm_method,
                alarm.alarm_type,
                alarm.alarm_description,
                alarm.longitude,
                alarm.latitude,
            )
        )
        # GB/T 28181 9.4: the platform answers an alarm with a Response of its own (Result OK).
        binding = core.bindings.get(known.id)
        if binding is not None:
            answer = AlarmResponse(sn=alarm.sn, device_id=alarm.device_id, result="OK")
            core.spawn(self.queries.send(binding, answer, target_id=alarm.device_id))

    async def _position(self, known: KnownDevice, envelope: Envelope, request: SipRequest) -> None:
        core = self.core
        fix = MobilePositionNotify.from_envelope(envelope)
        at = device_time(fix.time, core.zone)
        core.writer.position(
            device_id=known.id,
            channel_gb_id=fix.device_id[:20],
            at=at,
            received_at=core.clock.now(),
            longitude=fix.longitude,
            latitude=fix.latitude,
            speed_kmh=fix.speed_kmh,
            direction_deg=fix.direction_deg,
            altitude_m=fix.altitude_m,
        )
        core.stats.positions += 1
        await core.bus.publish(
            PositionReported(
                known.gb_id, fix.device_id, at, fix.longitude, fix.latitude, fix.speed_kmh, fix.direction_deg
            )
        )

    async def _catalog_changed(self, known: KnownDevice, envelope: Envelope, request: SipRequest) -> None:
        await self.on_catalog_events(known, CatalogNotify.from_envelope(envelope).items)

    async def _media_status(self, known: KnownDevice, envelope: Envelope, request: SipRequest) -> None:
        status = MediaStatusNotify.from_envelope(envelope)
        if status.is_end_of_file:
            await self.media.ended(request.call_id, reason="end of file (MediaStatus 121)")
