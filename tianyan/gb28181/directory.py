"""The devices the SIP server knows, kept in memory so a register storm or a keepalive flood costs no queries.

Loaded whole at start-up. A GB ID not found is looked up on its own (another node or the API may have just
added it; an unknown one is remembered as unknown for a TTL). What changes later (approvals, passwords, new
devices) is picked up by `refresh`, which reads only the rows changed since the last one, every TTL; removals
are picked up by a full reload every few minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tianyan.core import gbid
from tianyan.core.errors import InvalidInput
from tianyan.db.engine import intend_to_write
from tianyan.gb28181.models import DeviceCredential
from tianyan.gb28181.sip.digest import StoredHa1
from tianyan.registry.models import Device, Region


@dataclass(frozen=True)
class KnownDevice:
    id: int
    gb_id: str
    name: str
    approval: str
    enabled: bool
    region_id: int | None
    credential: StoredHa1 | None  # None: the platform's default password

    @property
    def may_register(self) -> bool:
        return self.enabled and self.approval == "approved"


_COLUMNS = (
    Device.id,
    Device.gb_id,
    Device.name,
    Device.approval,
    Device.enabled,
    Device.region_id,
    DeviceCredential.realm,
    DeviceCredential.ha1_md5,
    DeviceCredential.ha1_sha256,
)


def _known(row: tuple[object, ...]) -> KnownDevice:
    device_id, gb_id, name, approval, enabled, region_id, realm, md5, sha256 = row
    credential = StoredHa1(str(realm), str(md5), str(sha256)) if realm is not None else None
    return KnownDevice(
        int(str(device_id)),
        str(gb_id),
        str(name),
        str(approval),
        bool(enabled),
        int(str(region_id)) if region_id is not None else None,
        credential,
    )


class DeviceDirectory:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, ttl_s: float = 30.0, full_reload_s: float = 600.0
    ) -> None:
        self._sessions = sessions
        self.ttl_s = ttl_s
        self.full_reload_s = full_reload_s
        self._entries: dict[str, tuple[KnownDevice | None, float]] = {}
        self._by_id: dict[int, KnownDevice] = {}
        self._refreshed_s = 0.0
        self._reloaded_s = 0.0
        self._changed_since: datetime | None = None

    def _query(self):  # type: ignore[no-untyped-def]
        return select(*_COLUMNS).outerjoin(DeviceCredential, DeviceCredential.device_id == Device.id)

    async def load(self, now_s: float, *, now: datetime | None = None) -> int:
        """Read every device (the start, and every `full_reload_s`); devices no longer there are dropped."""
        async with self._sessions() as session:
            rows = (await session.execute(self._query())).all()
        fresh = {device.gb_id: device for device in (_known(tuple(row)) for row in rows)}
        for gb_id, (device, _) in list(self._entries.items()):
            if device is not None and gb_id not in fresh:
                del self._entries[gb_id]
                self._by_id.pop(device.id, None)
        for device in fresh.values():
            self._put(device, now_s)
        self._refreshed_s = self._reloaded_s = now_s
        self._changed_since = now
        return len(rows)

    async def refresh(self, now_s: float, now: datetime) -> None:
        """Re-read what changed since the last refresh (a few rows); a full reload now and then for removals."""
        if now_s - self._reloaded_s >= self.full_reload_s or self._changed_since is None:
            await self.load(now_s, now=now - timedelta(seconds=5))
            return
        if now_s - self._refreshed_s < self.ttl_s:
            return
        since = self._changed_since
        # A little overlap: a change committed just before the last refresh read must not fall in the gap.
        self._changed_since = now - timedelta(seconds=5)
        self._refreshed_s = now_s
        changed = or_(Device.updated_at >= since, DeviceCredential.updated_at >= since)
        async with self._sessions() as session:
            rows = (await session.execute(self._query().where(changed))).all()
        for row in rows:
            self._put(_known(tuple(row)), now_s)

    def _put(self, device: KnownDevice, now_s: float) -> None:
        self._entries[device.gb_id] = (device, now_s)
        self._by_id[device.id] = device

    def by_id(self, device_id: int) -> KnownDevice | None:
        return self._by_id.get(device_id)

    def cached(self, gb_id: str) -> KnownDevice | None:
        """What is known without asking the database (a device that just registered is always here)."""
        entry = self._entries.get(gb_id)
        return entry[0] if entry is not None else None

    async def get(self, gb_id: str, now_s: float) -> KnownDevice | None:
        cached = self._entries.get(gb_id)
        if cached is not None and (cached[0] is not None or now_s - cached[1] < self.ttl_s):
            return cached[0]
        async with self._sessions() as session:
            row = (await session.execute(self._query().where(Device.gb_id == gb_id))).first()
        device = _known(tuple(row)) if row is not None else None
        if device is None:
            old = cached[0] if cached else None
            if old is not None:
                self._by_id.pop(old.id, None)
            # Unknown IDs are remembered too, briefly, so a device hammering us costs no query each time.
            self._entries[gb_id] = (None, now_s)
            if len(self._entries) > 1_000_000:
                self._entries.clear()
        else:
            self._put(device, now_s)
        return device

    def forget(self, gb_id: str) -> None:
        self._entries.pop(gb_id, None)

    async def enrol(self, gb_id: str, *, now: datetime, now_s: float) -> KnownDevice:
        """Auto-enrolment: a pending device in the region its centre code names (when that region exists)."""
        parsed = gbid.parse(gb_id)
        async with self._sessions() as session:
            await intend_to_write(session)
            region_id = await region_for_centre(session, parsed.centre)
            device = Device(
                gb_id=gb_id,
                name=f"待审批设备 {gb_id}",
                type_code=parsed.type_code,
                region_id=region_id,
                approval="pending",
                created_at=now,
                updated_at=now,
            )
            session.add(device)
            await session.commit()
            known = KnownDevice(device.id, gb_id, device.name, "pending", True, region_id, None)
        self._put(known, now_s)
        return known


async def region_for_centre(session: AsyncSession, centre: str) -> int | None:
    """The most specific registered region a GB centre code names: station, else county, city, province."""
    candidates = [centre, centre[:6], centre[:4] + "00", centre[:2] + "0000"]
    found = await session.execute(select(Region.code, Region.id).where(Region.code.in_(candidates)))
    rows = dict(found.tuples().all())
    return next((rows[code] for code in candidates if code in rows), None)


def ha1_for(gb_id: str, realm: str, password: str) -> StoredHa1:
    if not password:
        raise InvalidInput("a device password cannot be empty")
    return StoredHa1.of(username=gb_id, realm=realm, password=password)
