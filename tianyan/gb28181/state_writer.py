"""Signaling state to the database in batches: transitions, registrations, keepalive times, positions, alarms.

A register storm or fifty thousand keepalives a minute must not become one transaction each, so the SIP
handlers only queue what happened and this writer flushes it every half second in one transaction. Online
transitions cascade to the device's cameras (a camera is online when its device is and its channel is not
OFF) and every change is appended to availability_transitions, which online rate is computed from.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.gb28181.models import DeviceAlarm, MobilePosition, SipRegistration
from tianyan.gb28181.presence import Transition
from tianyan.registry.models import AvailabilityTransition, Camera, Device

log = logging.getLogger(__name__)
_CHUNK = 500


@dataclass(frozen=True)
class Registration:
    device_id: int
    transport: str
    host: str
    port: int
    contact: str
    user_agent: str
    registered_at: datetime
    expires_at: datetime


@dataclass
class _Batch:
    transitions: list[Transition] = field(default_factory=list)
    registrations: dict[int, Registration] = field(default_factory=dict)
    unregistrations: set[int] = field(default_factory=set)
    keepalives: dict[int, datetime] = field(default_factory=dict)
    moves: dict[int, tuple[str, str, int]] = field(default_factory=dict)
    positions: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.transitions)
            + len(self.registrations)
            + len(self.unregistrations)
            + len(self.keepalives)
            + len(self.moves)
            + len(self.positions)
            + len(self.alarms)
        )


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class StateWriter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, flush_interval_s: float = 0.5, max_pending: int = 500_000
    ) -> None:
        self._sessions = sessions
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self._batch = _Batch()
        self.keepalive_persist_s = 30.0
        self._keepalive_written: dict[int, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._flushing = asyncio.Lock()
        self.flushed = 0
        self.failures = 0
        self.dropped = 0

    # --- what handlers report ---------------------------------------------------------------

    def transition(self, transition: Transition) -> None:
        self._batch.transitions.append(transition)
        self._nudge()

    def registration(self, registration: Registration) -> None:
        self._batch.unregistrations.discard(registration.device_id)
        self._batch.registrations[registration.device_id] = registration
        self._nudge()

    def unregistration(self, device_id: int) -> None:
        self._keepalive_written.pop(device_id, None)
        self._batch.registrations.pop(device_id, None)
        self._batch.keepalives.pop(device_id, None)
        self._batch.unregistrations.add(device_id)
        self._nudge()

    def keepalive(self, device_id: int, at: datetime) -> None:
        """Persisted at most every `keepalive_persist_s` per device: the time only matters after a restart,
        where it starts the device's window; being that much early costs nothing (see presence.restore)."""
        last = self._keepalive_written.get(device_id)
        if last is not None and (at - last).total_seconds() < self.keepalive_persist_s:
            return
        self._keepalive_written[device_id] = at
        self._batch.keepalives[device_id] = at

    def moved(self, device_id: int, transport: str, host: str, port: int) -> None:
        """The device's packets now come from elsewhere (NAT rebinding, a new TCP connection)."""
        self._batch.moves[device_id] = (transport, host, port)
        self._nudge()

    def position(self, **values: Any) -> None:
        self._batch.positions.append(values)
        self._nudge()

    def alarm(self, **values: Any) -> None:
        self._batch.alarms.append(values)
        self._nudge()

    def _nudge(self) -> None:
        if len(self._batch) > self.max_pending:
            # The database has been away a long while: keep transitions (they are the record), shed the rest.
            self.dropped += len(self._batch.positions) + len(self._batch.keepalives)
            self._batch.positions.clear()
            self._batch.keepalives.clear()

    # --- running ------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sip-state-writer")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            await self.flush()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.flush()

    async def flush(self) -> None:
        async with self._flushing:
            batch, self._batch = self._batch, _Batch()
            if not len(batch):
                return
            try:
                async with self._sessions() as session:
                    await self._write(session, batch)
                    await session.commit()
                self.flushed += len(batch)
            except Exception:
                self.failures += 1
                log.exception("sip state writer: the database refused a batch; keeping it for the next flush")
                self._requeue(batch)

    def _requeue(self, batch: _Batch) -> None:
        newer = self._batch
        batch.transitions.extend(newer.transitions)
        batch.registrations.update(newer.registrations)
        batch.unregistrations = (batch.unregistrations - set(newer.registrations)) | newer.unregistrations
        batch.keepalives.update(newer.keepalives)
        batch.moves.update(newer.moves)
        batch.positions.extend(newer.positions)
        batch.alarms.extend(newer.alarms)
        self._batch = batch
        self._nudge()

    async def _write(self, session: AsyncSession, batch: _Batch) -> None:
        await self._write_registrations(session, batch)
        for segment in _segments(batch.transitions):
            await self._apply_transitions(session, segment)
        if batch.keepalives:
            await session.execute(
                update(SipRegistration.__table__)
                .where(SipRegistration.__table__.c.device_id == bindparam("_device"))
                .values(last_keepalive_at=bindparam("_at")),
                [{"_device": device, "_at": at} for device, at in batch.keepalives.items()],
            )
        if batch.moves:
            await session.execute(
                update(SipRegistration.__table__)
                .where(SipRegistration.__table__.c.device_id == bindparam("_device"))
                .values(transport=bindparam("_transport"), host=bindparam("_host"), port=bindparam("_port")),
                [{"_device": d, "_transport": t, "_host": h, "_port": p} for d, (t, h, p) in batch.moves.items()],
            )
        if batch.positions:
            await session.execute(insert(MobilePosition.__table__), batch.positions)
        if batch.alarms:
            await session.execute(insert(DeviceAlarm.__table__), batch.alarms)

    async def _write_registrations(self, session: AsyncSession, batch: _Batch) -> None:
        table = SipRegistration.__table__
        if batch.unregistrations:
            for chunk in _chunks(sorted(batch.unregistrations)):
                await session.execute(delete(table).where(table.c.device_id.in_(chunk)))
        if not batch.registrations:
            return
        rows = [vars(r) | {"last_keepalive_at": r.registered_at} for r in batch.registrations.values()]
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        changed = {name: upsert.excluded[name] for name in rows[0] if name != "device_id"}
        await session.execute(upsert.on_conflict_do_update(index_elements=["device_id"], set_=changed), rows)

    async def _apply_transitions(self, session: AsyncSession, transitions: Sequence[Transition]) -> None:
        """One segment: no device twice, so each direction can be written set-wise."""
        for online in (True, False):
            chosen = [t for t in transitions if t.online is online]
            if not chosen:
                continue
            devices = Device.__table__
            await session.execute(
                update(devices)
                .where(devices.c.id == bindparam("_id"))
                .values(online=online, online_changed_at=bindparam("_at")),
                [{"_id": t.device_id, "_at": t.at} for t in chosen],
            )
            rows = [
                {"at": t.at, "device_id": t.device_id, "camera_id": None, "online": online, "reason": t.reason}
                for t in chosen
            ]
            by_device = {t.device_id: t for t in chosen}
            cameras = Camera.__table__
            for chunk in _chunks(list(by_device)):
                flips = cameras.c.online.is_(not online)
                if online:
                    flips = and_(flips, or_(cameras.c.channel_status.is_(None), cameras.c.channel_status != "OFF"))
                found = (
                    await session.execute(
                        select(cameras.c.id, cameras.c.device_id).where(cameras.c.device_id.in_(chunk), flips)
                    )
                ).all()
                if not found:
                    continue
                for camera_chunk in _chunks([camera_id for camera_id, _ in found]):
                    await session.execute(update(cameras).where(cameras.c.id.in_(camera_chunk)).values(online=online))
                rows += [
                    {
                        "at": by_device[device].at,
                        "device_id": device,
                        "camera_id": camera,
                        "online": online,
                        "reason": by_device[device].reason,
                    }
                    for camera, device in found
                ]
            await session.execute(insert(AvailabilityTransition.__table__), rows)


def _segments(transitions: list[Transition]) -> list[list[Transition]]:
    """Split into runs in which no device appears twice, keeping order, so set-wise writes stay correct."""
    segments: list[list[Transition]] = []
    current: list[Transition] = []
    seen: set[int] = set()
    for transition in transitions:
        if transition.device_id in seen:
            segments.append(current)
            current, seen = [], set()
        current.append(transition)
        seen.add(transition.device_id)
    if current:
        segments.append(current)
    return segments
