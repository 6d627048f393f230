"""One node's metrics: its own registry and collector, and the snapshot they show, rebuilt at most every few seconds.

Several Prometheus servers scraping every 15 s share one snapshot: a scrape within `max_age_s` of the last build
gets it as it is, and scrapes that arrive while one is being built wait for that one instead of starting their
own. The figures have three ages: this node's own counters (`max_age_s`, cheap to read), the registry, VQD,
work-order and alarm aggregates (`database_max_age_s`: full scans of tables with a row per camera, a few tenths
of a second at 150,000 cameras), and the stored-bytes sum over every recording segment (`stored_max_age_s`).
That sum grows with the footage kept, so it runs in the background: a scrape waits for it `stored_wait_s` at
most, then shows the last sum it has (none at all before the first one is done).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.gb28181.server import SipServer
from tianyan.health.metrics.collector import SnapshotCollector
from tianyan.health.metrics.database import Stored, read_database, read_stored
from tianyan.health.metrics.figures import DatabaseFigures, MediaFigures, Snapshot
from tianyan.health.metrics.runtime import DiagnosisCounts, RisingTotals, read_media, read_pools, read_sip, read_vqd
from tianyan.media.service import MediaService

log = logging.getLogger(__name__)
MAX_AGE_S = 5.0
DATABASE_MAX_AGE_S = 15.0
STORED_MAX_AGE_S = 300.0
STORED_WAIT_S = 2.0
# Past this the aggregates are left out of the scrape (component_up{component="database"} 0) rather than have
# Prometheus time out on the whole scrape.
DATABASE_TIMEOUT_S = 5.0


class NodeMetrics:
    """The figures of this node and the platform's database, in Prometheus's text format.

    `sip`, `media` and `vqd` (the diagnosis scheduler's stats) are asked for at each build: a node starts those
    parts after the API, and may stop them.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        sip: Callable[[], SipServer | None] = lambda: None,
        media: Callable[[], MediaService | None] = lambda: None,
        vqd: Callable[[], DiagnosisCounts | None] = lambda: None,
        max_age_s: float = MAX_AGE_S,
        database_max_age_s: float = DATABASE_MAX_AGE_S,
        stored_max_age_s: float = STORED_MAX_AGE_S,
        stored_wait_s: float = STORED_WAIT_S,
        database_timeout_s: float = DATABASE_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.sip, self.media, self.vqd = sip, media, vqd
        self.max_age_s = max_age_s
        self.database_max_age_s = database_max_age_s
        self.stored_max_age_s = stored_max_age_s
        self.stored_wait_s = stored_wait_s
        self.database_timeout_s = database_timeout_s
        self._monotonic = monotonic
        self.collector = SnapshotCollector()
        # Never the process-wide default registry: every app (and every test) has its own.
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        self._built_at: float | None = None
        self._database: tuple[float, DatabaseFigures | None] | None = None
        self._stored: tuple[float, Stored] | None = None
        self._summing: asyncio.Task[None] | None = None
        self._rising = RisingTotals()
        self._lock = asyncio.Lock()

    async def exposition(self) -> bytes:
        """The current figures in the text exposition format (CONTENT_TYPE_LATEST)."""
        await self.refresh()
        return generate_latest(self.registry)

    async def refresh(self) -> Snapshot:
        """The snapshot, rebuilt when older than `max_age_s`."""
        async with self._lock:
            snapshot = self.collector.snapshot
            now = self._monotonic()
            if snapshot is None or self._built_at is None or now - self._built_at >= self.max_age_s:
                snapshot = self.collector.snapshot = await self._build(now)
                self._built_at = now
            return snapshot

    async def _build(self, now: float) -> Snapshot:
        started = time.perf_counter()
        sip_server, media_service, vqd_stats = self.sip(), self.media(), self.vqd()
        sip = read_sip(sip_server) if sip_server is not None else None
        vqd = read_vqd(vqd_stats) if vqd_stats is not None else None
        media = await self._media(media_service) if media_service is not None else None
        if self._database is None or now - self._database[0] >= self.database_max_age_s:
            self._database = (now, await self._read_database())
        database = self._database[1]
        stored = await self._stored_sum(now) if database is not None else None
        return Snapshot(
            sip=sip, media=media, vqd=vqd, database=database, stored=stored, build_s=time.perf_counter() - started
        )

    async def _media(self, service: MediaService) -> MediaFigures:
        # A pool on a hung network mount must not stall the event loop, so its statvfs runs in a thread.
        pools = await asyncio.to_thread(read_pools, service.pools)
        return read_media(service, self._rising, pools)

    async def _read_database(self) -> DatabaseFigures | None:
        try:
            async with asyncio.timeout(self.database_timeout_s), self.sessions() as session:
                return await read_database(session)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("metrics: the database could not be read: %s", exc or "timed out")
            return None

    async def _stored_sum(self, now: float) -> Stored | None:
        """The last stored-bytes sum, after starting a new one when it is stale and waiting for it a little."""
        if self._summing is None and (self._stored is None or now - self._stored[0] >= self.stored_max_age_s):
            self._summing = asyncio.create_task(self._sum_stored(now), name="metrics-stored-sum")
        if self._summing is not None:
            await asyncio.wait({self._summing}, timeout=self.stored_wait_s)
        return self._stored[1] if self._stored is not None else None

    async def _sum_stored(self, started_at: float) -> None:
        try:
            async with self.sessions() as session:
                self._stored = (started_at, await read_stored(session))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("metrics: the recording index could not be summed: %s", exc)
        finally:
            self._summing = None
