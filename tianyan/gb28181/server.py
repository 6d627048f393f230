"""The platform's GB/T 28181 SIP server: one endpoint, the routing table, and the jobs that keep state honest.

It wires the registrar, the inbox, queries, subscriptions and media sessions to one SIP endpoint; restores who
is online from the database after a restart; sweeps devices whose keepalives stopped; and offers the
operations the API needs (catalog refresh, PTZ and other controls, recording queries, INVITE and BYE).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.config import SipConfig
from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import NotFound, Unavailable
from tianyan.db.engine import intend_to_write
from tianyan.gb28181.bindings import Binding, Bindings, Identity, RequestFactory
from tianyan.gb28181.catalog_sync import CatalogChanges, apply_items, remove_channels, set_channel_status
from tianyan.gb28181.context import ServerStats, SipCore
from tianyan.gb28181.directory import DeviceDirectory, KnownDevice
from tianyan.gb28181.endpoint import SipEndpoint
from tianyan.gb28181.events import CatalogChanged, DeviceWentOffline
from tianyan.gb28181.inbox import Inbox
from tianyan.gb28181.manscdp.catalog import CatalogItem
from tianyan.gb28181.manscdp.config_download import ConfigDownloadQuery, ConfigDownloadResponse
from tianyan.gb28181.manscdp.device_info import DeviceInfoQuery, DeviceInfoResponse
from tianyan.gb28181.manscdp.multi_response import Collected
from tianyan.gb28181.media_sessions import MediaSessions
from tianyan.gb28181.models import SipRegistration
from tianyan.gb28181.presence import PresenceTable, Transition
from tianyan.gb28181.queries import QueryManager
from tianyan.gb28181.ratelimit import RateLimiter
from tianyan.gb28181.registrar import Registrar
from tianyan.gb28181.sip.digest import DigestAuthority
from tianyan.gb28181.sip.headers import SipUri
from tianyan.gb28181.sip.message import Limits, SipRequest, SipResponse, response_to
from tianyan.gb28181.sip.transaction import ServerTransaction, Timers
from tianyan.gb28181.state_writer import StateWriter
from tianyan.gb28181.subscriptions import Subscriptions
from tianyan.gb28181.transport import Peer, SipTransport
from tianyan.registry.models import Camera, Device
from tianyan.security import audit

log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 1.0
REPORT_EVERY_S = 30.0
# Follow-up queries after a device comes online, at most this many at once, so a register storm does not
# become a catalog storm.
FOLLOW_UP_CONCURRENCY = 256
FOLLOW_UP_DELAY_S = 1.0
VEHICLE_KINDS = ("vehicle", "bus")
# DVR, NVR, HVR, and platforms (a lower-level platform joining as a device).
CATALOG_SUBSCRIBERS = frozenset({"111", "118", "119", "200"})

Handler = Callable[[SipRequest, Peer, ServerTransaction | None], Awaitable[None]]


class SipServer:
    def __init__(
        self,
        config: SipConfig,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        clock: Clock | None = None,
        timers: Timers | None = None,
        nonce_key: bytes | None = None,
    ) -> None:
        """`nonce_key` signs digest nonces; keeping it across restarts lets a device answer a challenge it got
        just before one (a fresh key would refuse that answer as forged)."""
        limits = Limits(max_message_bytes=config.max_message_bytes, max_body_bytes=config.max_message_bytes)
        transport = SipTransport(
            host=config.host, port=config.port, receiver=lambda data, peer: None, udp="udp" in config.transports,
            tcp="tcp" in config.transports, limits=limits, max_connections=config.max_tcp_connections,
        )  # fmt: skip
        endpoint = SipEndpoint(
            transport, self._handle, timers=timers or Timers(t1_s=config.t1_ms / 1000), limits=limits,
            rate_limiter=RateLimiter(rate_per_s=config.rate_per_source_per_s, burst=config.rate_burst),
            max_transactions=config.max_transactions, max_handlers=config.max_transactions,
        )  # fmt: skip
        identity = Identity(config.id, config.domain, config.advertised_host or config.host, config.port)
        self.core = SipCore(
            config=config, sessions=sessions, bus=bus, clock=clock or SystemClock(),
            zone=ZoneInfo(config.device_timezone), endpoint=endpoint, identity=identity,
            factory=RequestFactory(identity), directory=DeviceDirectory(sessions), bindings=Bindings(),
            presence=PresenceTable(keepalive_interval_s=config.keepalive_interval_s, missed=config.keepalive_missed),
            writer=StateWriter(sessions),
            authority=DigestAuthority(
                config.domain, nonce_key or secrets.token_bytes(32), nonce_ttl_s=config.nonce_ttl_s,
                algorithms=tuple(config.digest_algorithms), qop=True, strict_realm=False,
            ),
        )  # fmt: skip
        core = self.core
        self.queries = QueryManager(core)
        self.queries.unsolicited_catalog = self._unsolicited_catalog
        self.media = MediaSessions(core)
        self.registrar = Registrar(core, on_online=self.device_came_online)
        self.inbox = Inbox(core, queries=self.queries, media=self.media, on_catalog_events=self.catalog_events)
        self.subscriptions = Subscriptions(core, inbox=self.inbox, queries=self.queries)
        self.routes: dict[str, Handler] = {
            "REGISTER": self.registrar.handle,
            "MESSAGE": self.inbox.handle,
            "NOTIFY": self.subscriptions.handle_notify,
            "BYE": self.media.on_bye,
            "ACK": self._ignore,
            "OPTIONS": self._options,
        }
        self._follow_ups: asyncio.Queue[tuple[float, int]] = asyncio.Queue()
        self._follow_up_slots = asyncio.Semaphore(FOLLOW_UP_CONCURRENCY)
        self._pacer: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # The shared parts, under the names the API and tests use.
    @property
    def config(self) -> SipConfig:
        return self.core.config

    @property
    def endpoint(self) -> SipEndpoint:
        return self.core.endpoint

    @property
    def presence(self) -> PresenceTable:
        return self.core.presence

    @property
    def writer(self) -> StateWriter:
        return self.core.writer

    @property
    def directory(self) -> DeviceDirectory:
        return self.core.directory

    @property
    def bindings(self) -> Bindings:
        return self.core.bindings

    @property
    def identity(self) -> Identity:
        return self.core.identity

    @property
    def zone(self) -> ZoneInfo:
        return self.core.zone

    @property
    def stats(self) -> ServerStats:
        return self.core.stats

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.endpoint.start()
        port = self.endpoint.transport.port
        self.core.identity = Identity(self.config.id, self.config.domain, self.identity.host, port)
        self.core.factory = RequestFactory(self.core.identity)
        await self.directory.load(self.endpoint.now(), now=self.core.clock.now())
        await self._restore()
        self.writer.start()
        loop = asyncio.get_running_loop()
        self._sweeper = loop.create_task(self._sweep_loop(), name="sip-sweeper")
        self._pacer = loop.create_task(self._pace_follow_ups(), name="sip-follow-ups")
        log.info(
            "sip: %s listening on %s:%d (%s)",
            self.identity.id,
            self.config.host,
            port,
            "+".join(self.config.transports),
        )

    async def close(self) -> None:
        """Stop taking work, end media sessions, and wait for every job to finish its cancellation, so no
        database session is still in use when the platform disposes of its engine."""
        loops = [task for task in (self._sweeper, self._pacer) if task is not None]
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await self.media.close()
        await self.core.cancel_tasks()
        await self.endpoint.close()
        await self.writer.close()

    @property
    def port(self) -> int:
        return self.endpoint.transport.port

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.core.spawn(coroutine)

    def respond(self, tx: ServerTransaction, response: SipResponse) -> None:
        self.core.respond(tx, response)

    # --- routing --------------------------------------------------------------------------------

    async def _handle(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        handler = self.routes.get(request.method)
        if handler is None:
            if tx is not None:
                allow = ", ".join(sorted(self.routes))
                self.respond(tx, response_to(request, 405, headers=[("Allow", allow)]))
            return
        await handler(request, peer, tx)

    async def _ignore(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        return None

    async def _options(self, request: SipRequest, peer: Peer, tx: ServerTransaction | None) -> None:
        if tx is not None:
            self.respond(tx, response_to(request, 200, headers=[("Allow", ", ".join(sorted(self.routes)))]))

    # --- presence ---------------------------------------------------------------------------------

    async def _restore(self) -> None:
        """Rebuild who is online from the database: nothing changes for a device still inside its window."""
        now = self.core.clock.now()
        async with self.core.sessions() as session:
            rows = (
                await session.execute(
                    select(Device.id, Device.gb_id, SipRegistration)
                    .join(SipRegistration, SipRegistration.device_id == Device.id)
                    .where(Device.online.is_(True))
                )
            ).all()
            stray = (
                (
                    await session.execute(
                        select(Device.id).where(
                            Device.online.is_(True), Device.id.not_in(select(SipRegistration.device_id))
                        )
                    )
                )
                .scalars()
                .all()
            )
        for device_pk, gb_id, registration in rows:
            transition = self.presence.restore(
                device_pk,
                now=now,
                registered_until=registration.expires_at,
                last_seen=registration.last_keepalive_at or registration.registered_at,
            )
            if transition is not None:
                self.writer.transition(transition)
                continue
            peer = Peer(registration.transport, registration.host, registration.port)
            try:
                contact = SipUri.parse(registration.contact)
            except ValueError:
                contact = SipUri(host=registration.host, user=gb_id, port=registration.port)
            self.bindings.bind(Binding(device_pk, gb_id, peer, contact, registration.user_agent))
            # Its subscriptions and its own keepalive interval died with the old process: ask again, paced.
            self.device_came_online(device_pk)
        for device_pk in stray:
            # Online without a registration row: nothing says when it was last heard from, so it is not online.
            self.writer.transition(Transition(device_pk, False, now, "no registration after restart"))
        await self.writer.flush()

    async def _sweep_loop(self) -> None:
        last_report = self.endpoint.now()
        last_keepalives = 0
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                await self.sweep()
            except Exception:
                log.exception("sip: sweep failed")
            now_s = self.endpoint.now()
            if now_s - last_report >= REPORT_EVERY_S:
                rate = (self.stats.keepalives - last_keepalives) / (now_s - last_report)
                log.info(
                    "sip: %d online, %.1f keepalives/s, %d follow-ups waiting, %d transactions, %d media sessions",
                    self.presence.online_count(), rate, self._follow_ups.qsize(),
                    self.endpoint.layer.client_count + self.endpoint.layer.server_count, len(self.media.sessions),
                )  # fmt: skip
                last_report, last_keepalives = now_s, self.stats.keepalives

    async def sweep(self) -> None:
        await self.directory.refresh(self.endpoint.now(), self.core.clock.now())
        for transition in self.presence.sweep(self.core.clock.now()):
            await self.went_offline(transition)
        self.queries.expire()
        await self.media.sweep()
        await self.subscriptions.refresh()

    async def went_offline(self, transition: Transition) -> None:
        self.writer.transition(transition)
        binding = self.bindings.get(transition.device_id)
        self.bindings.unbind(transition.device_id)
        self.subscriptions.device_gone(transition.device_id)
        await self.media.device_gone(transition.device_id)
        known = self.directory.by_id(transition.device_id)
        gb_id = binding.gb_id if binding else known.gb_id if known else str(transition.device_id)
        await self.core.bus.publish(DeviceWentOffline(gb_id, transition.at, transition.reason))

    def device_came_online(self, device_pk: int) -> None:
        # A moment's grace: the device has just got its 200 and may be busy sending its first keepalive.
        self._follow_ups.put_nowait((self.endpoint.now() + FOLLOW_UP_DELAY_S, device_pk))

    async def _pace_follow_ups(self) -> None:
        """Start follow-ups at sip.follow_up_rate_per_s at most, however many devices come online at once: in a
        register storm the registrations go first and the follow-ups trail behind at this pace. Each one is a few
        round trips, so many run side by side (up to FOLLOW_UP_CONCURRENCY)."""
        while True:
            due_s, device_pk = await self._follow_ups.get()
            wait_s = due_s - self.endpoint.now()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            await self._follow_up_slots.acquire()
            self.spawn(self._follow_up_in_slot(device_pk))
            await asyncio.sleep(1.0 / self.config.follow_up_rate_per_s)

    async def _follow_up_in_slot(self, device_pk: int) -> None:
        try:
            await self._follow_up(device_pk)
        finally:
            self._follow_up_slots.release()

    async def _follow_up(self, device_pk: int) -> None:
        """What a newly online device is asked: who it is, its keepalive settings, and its catalog."""
        binding = self.bindings.get(device_pk)
        if binding is None:
            return
        steps = (self._read_device_info, self._read_keepalive_settings, self._sync_catalog_then_subscribe)
        outcomes = await asyncio.gather(*(step(binding) for step in steps), return_exceptions=True)
        for step, outcome in zip(steps, outcomes, strict=True):
            if isinstance(outcome, Exception):  # one device's quirk must not stop the rest of its follow-up
                log.info("sip: follow-up %s of %s failed: %s", step.__name__, binding.gb_id, outcome)

    async def _sync_catalog_then_subscribe(self, binding: Binding) -> None:
        # Positions are subscribed to only for vehicle cameras, which the catalog may just have added; a failure
        # of one subscription does not keep the other from being asked for.
        await self._sync_catalog_of(binding)
        subscriptions = [self._subscribe_positions(binding)]
        if binding.gb_id[10:13] in CATALOG_SUBSCRIBERS:
            # NVRs, DVRs and lower platforms change their channel lists; IPCs mostly refuse the subscription.
            subscriptions.append(self.subscriptions.subscribe(binding, "Catalog"))
        for outcome in await asyncio.gather(*subscriptions, return_exceptions=True):
            if isinstance(outcome, Exception):
                log.info("sip: a subscription to %s failed: %s", binding.gb_id, outcome)

    async def _read_device_info(self, binding: Binding) -> None:
        info = await self.queries.single(
            binding, DeviceInfoQuery(sn=self.queries.next_sn(), device_id=binding.gb_id), DeviceInfoResponse
        )
        async with self.core.sessions() as session:
            await intend_to_write(session)
            await session.execute(
                update(Device)
                .where(Device.id == binding.device_id)
                .values(
                    manufacturer=(info.manufacturer or None) and info.manufacturer[:100],
                    model=(info.model or None) and info.model[:100],
                    firmware=(info.firmware or None) and info.firmware[:100],
                )
            )
            await session.commit()

    async def _read_keepalive_settings(self, binding: Binding) -> None:
        query = ConfigDownloadQuery(sn=self.queries.next_sn(), device_id=binding.gb_id, config_types=("BasicParam",))
        answer = await self.queries.single(binding, query, ConfigDownloadResponse)
        basic = answer.basic_param
        if basic is not None and basic.heart_beat_interval:
            self.presence.set_interval(binding.device_id, float(basic.heart_beat_interval))

    async def _sync_catalog_of(self, binding: Binding) -> None:
        await self.sync_catalog(binding)

    async def _subscribe_positions(self, binding: Binding) -> None:
        async with self.core.sessions() as session:
            moving = await session.execute(
                select(Camera.id).where(Camera.device_id == binding.device_id, Camera.kind.in_(VEHICLE_KINDS)).limit(1)
            )
            if moving.first() is None:
                return
        await self.subscriptions.subscribe(binding, "MobilePosition")

    # --- catalog ------------------------------------------------------------------------------------

    async def sync_catalog(self, binding: Binding) -> CatalogChanges:
        collected = await self.queries.catalog(binding)
        return await self._apply_catalog(binding, collected)

    def _unsolicited_catalog(self, device_gb: str, collected: Collected[CatalogItem]) -> None:
        known = self.directory.cached(device_gb)
        binding = self.bindings.get(known.id) if known is not None else None
        if binding is not None:
            self.spawn(self._apply_catalog(binding, collected))

    async def _apply_catalog(self, binding: Binding, collected: Collected[CatalogItem]) -> CatalogChanges:
        known = self.directory.by_id(binding.device_id)
        if known is None:
            raise NotFound(f"device {binding.gb_id} is not in the registry")
        now = self.core.clock.now()
        async with self.core.sessions() as session:
            await intend_to_write(session)
            changes = await apply_items(
                session,
                known,
                collected.items,
                complete=collected.complete,
                device_online=self.presence.is_online(known.id),
                now=now,
            )
            await _audit_sync(session, known, changes, complete=collected.complete, problem=collected.problem)
            await session.commit()
        self.stats.catalog_syncs += 1
        if changes.any:
            await self.core.bus.publish(
                CatalogChanged(known.gb_id, now, len(changes.added), len(changes.updated), len(changes.removed))
            )
        return changes

    async def catalog_events(self, known: KnownDevice, items: tuple[CatalogItem, ...]) -> None:
        """A catalog NOTIFY: items with ADD/UPDATE/DEL/ON/OFF events."""
        now = self.core.clock.now()
        online = self.presence.is_online(known.id)
        upserts = [item for item in items if item.event in (None, "ADD", "UPDATE")]
        deleted = [item.device_id for item in items if item.event == "DEL"]
        async with self.core.sessions() as session:
            await intend_to_write(session)
            changes = await apply_items(session, known, upserts, complete=False, device_online=online, now=now)
            changes.removed = await remove_channels(session, known, deleted, now) if deleted else []
            for item in items:
                if item.event in ("ON", "OFF"):
                    await set_channel_status(session, known, item.device_id, item.event, device_online=online, now=now)
            await _audit_sync(session, known, changes, complete=False, problem=None)
            await session.commit()
        if changes.any:
            await self.core.bus.publish(
                CatalogChanged(known.gb_id, now, len(changes.added), len(changes.updated), len(changes.removed))
            )

    # --- for the API ----------------------------------------------------------------------------------

    def binding_for(self, device_pk: int, gb_id: str) -> Binding:
        binding = self.bindings.get(device_pk)
        if binding is None or not self.presence.is_online(device_pk):
            raise Unavailable(f"device {gb_id} is not online")
        return binding

    def last_seen(self, device_pk: int) -> datetime | None:
        return self.presence.last_seen(device_pk)


async def _audit_sync(
    session: AsyncSession, known: KnownDevice, changes: CatalogChanges, *, complete: bool, problem: str | None
) -> None:
    """Channels a device's catalog added, detached or refused change the registry: one audit entry says so."""
    if not (changes.any or changes.conflicts):
        return
    await audit.record(
        session, actor="gb28181", action="camera.sync", target=f"device:{known.gb_id}", source="sip",
        detail={"added": changes.added[:50], "updated": len(changes.updated), "removed": changes.removed[:50],
                "conflicts": changes.conflicts[:50], "complete": complete, "problem": problem},
    )  # fmt: skip
