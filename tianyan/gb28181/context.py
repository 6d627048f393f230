"""What every part of the SIP server shares: configuration, clock, endpoint, device tables, state writer, bus.

The registrar, inbox, queries, subscriptions and media sessions each take this core plus, explicitly, the
few other parts they call, so none of them needs the server object (and nothing imports back up to it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.config import SipConfig
from tianyan.core.clock import Clock
from tianyan.db.engine import intend_to_write
from tianyan.gb28181.bindings import Bindings, Identity, RequestFactory
from tianyan.gb28181.directory import DeviceDirectory
from tianyan.gb28181.endpoint import SipEndpoint
from tianyan.gb28181.presence import PresenceTable
from tianyan.gb28181.sip.digest import DigestAuthority
from tianyan.gb28181.sip.message import SipResponse
from tianyan.gb28181.sip.transaction import ServerTransaction
from tianyan.gb28181.state_writer import StateWriter
from tianyan.security import audit

log = logging.getLogger(__name__)


@dataclass
class ServerStats:
    registrations: int = 0  # REGISTERs accepted (refreshes included), not unregistrations
    keepalives: int = 0
    alarms: int = 0
    positions: int = 0
    invites: int = 0
    bad_bodies: int = 0
    catalog_syncs: int = 0


@dataclass
class SipCore:
    config: SipConfig
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    clock: Clock
    zone: ZoneInfo
    endpoint: SipEndpoint
    identity: Identity
    factory: RequestFactory
    directory: DeviceDirectory
    bindings: Bindings
    presence: PresenceTable
    writer: StateWriter
    authority: DigestAuthority
    stats: ServerStats = field(default_factory=ServerStats)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def respond(self, tx: ServerTransaction, response: SipResponse) -> None:
        self.endpoint.respond(tx, response)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run a background job; its failure is logged, never raised into the handler that started it."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("sip: background job failed: %s", task.exception())

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def audit(self, **entry: Any) -> None:
        async with self.sessions() as session:
            await intend_to_write(session)
            await audit.record(session, **entry)
            await session.commit()
