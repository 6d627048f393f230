"""The health worker: scheduled picture diagnosis, and the sweeps that open and close fault work orders."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.bus.base import Bus
from tianyan.config import Config
from tianyan.core.clock import Clock
from tianyan.core.events import Event
from tianyan.db.engine import intend_to_write
from tianyan.health import workorders
from tianyan.health.vqd_runner import PtzSender, VqdRunner
from tianyan.media.completeness import compliance_of, is_planned, legal_minimum_days
from tianyan.media.hub import StreamHub
from tianyan.media.models import RecordingPlan
from tianyan.registry.models import Camera

log = logging.getLogger(__name__)

OFFLINE_SWEEP_S = 60.0
RETENTION_SWEEP_S = 6 * 3600.0
NEW_CAMERA_GRACE = timedelta(days=1)
_CHUNK = 2000


class HealthService:
    def __init__(
        self, config: Config, sessions: async_sessionmaker[AsyncSession], bus: Bus, *, clock: Clock,
        hub: Callable[[], StreamHub | None] = lambda: None,
        recorded_stream: Callable[[int], str | None] = lambda camera_id: None, ptz: PtzSender | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.sessions = sessions
        self.bus = bus
        self.clock = clock
        self.vqd = VqdRunner(config, sessions, bus, clock=clock, hub=hub, recorded_stream=recorded_stream, ptz=ptz)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        health = self.config.health
        if health.vqd_enabled:
            self.vqd.start()
        if health.work_orders_enabled:
            self._tasks.append(asyncio.create_task(self._every(OFFLINE_SWEEP_S, self.sweep_offline), name="wo-offline"))
            self._tasks.append(
                asyncio.create_task(self._every(RETENTION_SWEEP_S, self.sweep_retention), name="wo-retention")
            )

    async def close(self) -> None:
        await self.vqd.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def _every(self, period_s: float, job: Callable[[], Any]) -> None:
        while True:
            try:
                await job()
            except Exception:
                log.exception("health sweep %s failed; trying again later", getattr(job, "__name__", job))
            await asyncio.sleep(period_s)

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            await self.bus.publish(event)

    async def sweep_offline(self) -> list[Event]:
        health = self.config.health
        async with self.sessions() as session:
            await intend_to_write(session)
            events = await workorders.sweep_offline(
                session, now=self.clock.now(), after_s=health.offline_order_after_s,
                recheck_after_s=health.recheck_after_s,
            )  # fmt: skip
            await session.commit()
        await self._publish(events)
        return events

    async def sweep_retention(self) -> list[Event]:
        """Every camera that must keep footage and is planned to be recorded: compliant or not, from the index."""
        record_classes = self.config.media.record_classes
        async with self.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        Camera.id,
                        Camera.gb_id,
                        Camera.name,
                        Camera.cls,
                        Camera.install_date,
                        Camera.created_at,
                        RecordingPlan.enabled,
                    )
                    .outerjoin(RecordingPlan, RecordingPlan.camera_id == Camera.id)
                    .order_by(Camera.id)
                )
            ).all()
        created = {r.id: r.created_at for r in rows}
        cameras = [
            (r.id, r.gb_id, r.name, r.cls, r.install_date)
            for r in rows
            if legal_minimum_days(r.cls) > 0 and is_planned(r.cls, r.enabled, record_classes)
        ]
        events: list[Event] = []
        for start in range(0, len(cameras), _CHUNK):
            chunk = cameras[start : start + _CHUNK]
            async with self.sessions() as session:
                # First thing: on SQLite a read transaction cannot safely become a writing one later.
                await intend_to_write(session)
                now = self.clock.now()
                verdicts = [
                    (c.camera_id, c.compliant, _compliance_evidence(c))
                    for c in await compliance_of(session, chunk, now=now)
                    if c.status != "no_recordings" or not _new(created.get(c.camera_id), now)
                ]
                events += await workorders.on_compliance(session, verdicts=verdicts, now=now)
                await session.commit()
        await self._publish(events)
        return events


def _new(created_at: datetime | None, now: datetime) -> bool:
    """A camera registered within the last day has had no chance to record yet: no footage is not yet a fault."""
    return created_at is not None and now - created_at < NEW_CAMERA_GRACE


def _compliance_evidence(c: Any) -> dict[str, Any]:
    return {
        "status": c.status,
        "required_days": c.required_days,
        "days_checked": c.days_checked,
        "days_complete": c.days_complete,
        "failing_days": [d.isoformat() for d in c.failing_days][:31],
        "oldest_footage_at": c.oldest_footage_at.isoformat() if c.oldest_footage_at else None,
    }
