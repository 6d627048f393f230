"""Hand-made registries and histories for KPI tests: regions (惠州 with two districts and a station each), two
sectors, two owning units, one device, and cameras whose transitions, diagnoses and recording days the tests
write row by row, so every expected figure can be worked out by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.conftest import _drop_pg_schema, open_engine
from tianyan.health.kpi.engine import compute_report
from tianyan.health.kpi.model import CameraSet, KpiReport, Period
from tianyan.health.models import VqdEvent, VqdLatest
from tianyan.media.models import RecordingDay, RecordingSegment
from tianyan.planning.catalogue import Plan
from tianyan.registry.models import AvailabilityTransition, Camera, Device, Organisation, Region
from tianyan.schema.migrate import upgrade
from tianyan.security.scope import SYSTEM, Principal

# The month measured in most tests: January 2026, local (UTC+8) midnight to midnight.
START = datetime(2025, 12, 31, 16, tzinfo=UTC)
END = datetime(2026, 1, 31, 16, tzinfo=UTC)
MONTH = Period(START, END)
MONTH_S = 31 * 86_400
LONG_AGO = datetime(2025, 6, 1, tzinfo=UTC)

REGIONS = (
    # code, name, level, parent
    ("440000", "广东省", "province", None),
    ("441300", "惠州市", "city", "440000"),
    ("441302", "惠城区", "county", "441300"),
    ("441303", "惠阳区", "county", "441300"),
    ("44130201", "江北派出所", "station", "441302"),
    ("44130301", "淡水派出所", "station", "441303"),
)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """Local (UTC+8) time on 2026-01-`day` as an aware UTC datetime; day 0 is 31 December, 32 is 1 February."""
    return START + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)


@dataclass
class World:
    session: AsyncSession
    regions: dict[str, int]
    orgs: dict[str, int]
    device_id: int
    serial: int = 0

    async def camera(
        self,
        *,
        region: str = "44130201",
        cls: int = 1,
        network: str = "police",
        sector: str | None = None,
        unit: str | None = None,
        created_at: datetime = LONG_AGO,
        width: int | None = 1920,
        height: int | None = 1080,
        fps: float | None = 25.0,
        networked: bool = True,
        install_date: date | None = None,
        sensitive: bool = False,
        name: str | None = None,
    ) -> int:
        self.serial += 1
        result = await self.session.execute(
            insert(Camera)
            .values(
                gb_id=f"44130200001320{self.serial:06d}",
                name=name or f"camera {self.serial}",
                device_id=self.device_id,
                cls=cls,
                network=network,
                region_id=self.regions[region],
                sector_id=self.orgs[sector] if sector else None,
                owning_unit_id=self.orgs[unit] if unit else None,
                main_width=width,
                main_height=height,
                main_fps=fps,
                networked=networked,
                install_date=install_date,
                sensitive=sensitive,
                labels=[],
                created_at=created_at,
            )
            .returning(Camera.id)
        )
        return int(result.scalar_one())

    async def transitions(self, camera_id: int, history: Iterable[tuple[datetime, bool]]) -> None:
        rows = [
            {"at": when, "device_id": self.device_id, "camera_id": camera_id, "online": online, "reason": "test"}
            for when, online in history
        ]
        if rows:
            await self.session.execute(insert(AvailabilityTransition), rows)

    async def diagnoses(self, camera_id: int, history: Iterable[tuple[datetime, bool]]) -> None:
        rows = [
            {"camera_id": camera_id, "at": when, "ok": ok, "faults": [] if ok else ["blur"], "scores": {}}
            for when, ok in history
        ]
        if rows:
            await self.session.execute(insert(VqdEvent), rows)
            when, ok = rows[-1]["at"], rows[-1]["ok"]
            await self.session.execute(
                insert(VqdLatest).values(
                    camera_id=camera_id, at=when, source="live", ok=ok, faults=[] if ok else ["blur"], scores={}
                )
            )

    async def recording_days(self, camera_id: int, days: Iterable[tuple[date, float, float]]) -> None:
        """(day, completeness, planned seconds) rows; recorded seconds follow from them."""
        rows = [
            {
                "camera_id": camera_id,
                "day": day,
                "recorded_s": c * p,
                "gap_s": p - c * p,
                "planned_s": p,
                "completeness": c,
                "updated_at": END,
            }
            for day, c, p in days
        ]
        if rows:
            await self.session.execute(insert(RecordingDay), rows)

    async def footage_since(self, camera_id: int, oldest: datetime) -> None:
        await self.session.execute(
            insert(RecordingSegment).values(
                camera_id=camera_id,
                pool="p",
                path=f"{camera_id}/{oldest.timestamp()}.mp4",
                start_at=oldest,
                end_at=oldest + timedelta(minutes=5),
                bytes=1,
                codec="h264",
                frames=1,
                has_audio=False,
                status="closed",
                source="live",
            )
        )


async def build_world(session: AsyncSession) -> World:
    regions: dict[str, int] = {}
    paths: dict[str, str] = {}
    for code, name, level, parent in REGIONS:
        paths[code] = f"{paths[parent] if parent else '/'}{code}/"
        row = Region(code=code, name=name, level=level, parent_id=regions.get(parent or ""), path=paths[code])
        session.add(row)
        await session.flush()
        regions[code] = row.id
    orgs: dict[str, int] = {}
    for code, kind, name in (
        ("S-EDU", "sector", "教育"),
        ("S-HEALTH", "sector", "卫生"),
        ("U-SCHOOL", "owning_unit", "第一中学"),
        ("U-HOSPITAL", "owning_unit", "中心医院"),
    ):
        org = Organisation(kind=kind, code=code, name=name, region_id=regions["441300"])
        session.add(org)
        await session.flush()
        orgs[code] = org.id
    device = Device(gb_id="44130200001110000001", name="NVR", type_code="118", region_id=regions["441302"])
    session.add(device)
    await session.flush()
    return World(session, regions, orgs, device.id)


@asynccontextmanager
async def migrated(backend: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated database for a whole test module (the histories are only read once written)."""
    engine, schema = await open_engine(backend, tmp_path)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        if schema:
            await _drop_pg_schema(schema)


async def report(
    engine: AsyncEngine,
    selection: CameraSet | None = None,
    *,
    period: Period = MONTH,
    principal: Principal = SYSTEM,
    plan: Plan | None = None,
    now: datetime = END,
    **options: object,
) -> KpiReport:
    async with AsyncSession(engine) as session:
        result = await compute_report(
            session, selection=selection or CameraSet(), period=period, principal=principal, plan=plan, now=now,
            **options,  # type: ignore[arg-type]
        )  # fmt: skip
        await session.commit()
        return result
