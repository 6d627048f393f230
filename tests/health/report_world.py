"""January 2026 in Huizhou for the end-to-end report tests: three cameras in two districts with histories whose
KPIs and work-order statistics are worked out by hand below, on top of tests/health/kpi_fixtures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.kpi_fixtures import LONG_AGO, World, at, build_world
from tianyan.health.models import WorkOrder
from tianyan.registry.models import Organisation

DAY_S = 86_400
# Online seconds over the 31 days: c1 30 days (offline on the 2nd), c2 15 days (offline from the 16th), c3 all.
ONLINE_DAYS = {"c1": 30, "c2": 15, "c3": 31}
HUICHENG_ONLINE = 30 / 31  # c1
HUIYANG_ONLINE = (15 + 31) / 62  # c2 and c3
CITY_ONLINE = (30 + 15 + 31) / 93
# Orders closed in January: c1 offline (1 day 30 minutes), c3 picture (10 days); MTTR is their mean.
MTTR_H = (24.5 + 240) / 2


@dataclass(frozen=True)
class Month:
    world: World
    cameras: dict[str, int]
    gb_ids: dict[str, str]


async def _order(
    session: AsyncSession,
    camera: int,
    fault: str,
    unit: int | None,
    since: datetime,
    closed: datetime | None = None,
) -> None:
    session.add(
        WorkOrder(
            camera_id=camera,
            fault=fault,
            unit_id=unit,
            status="closed" if closed else "open",
            opened_at=since + timedelta(minutes=30),
            fault_since=since,
            closed_at=closed,
            fixed_by="auto" if closed else None,
        )
    )


async def build_month(session: AsyncSession) -> Month:
    """Committed: 惠城区 has c1 (class 1); 惠阳区 has c2 (class 2, sector 教育) and c3 (class 1)."""
    world = await build_world(session)
    c1 = await world.camera(region="44130201", name="江北大道口")
    c2 = await world.camera(region="441303", cls=2, network="social", sector="S-EDU", name="第一中学门口")
    c3 = await world.camera(region="44130301", name="淡水河桥")
    await world.transitions(c1, [(LONG_AGO, True), (at(2), False), (at(3), True)])
    await world.transitions(c2, [(LONG_AGO, True), (at(16), False)])
    await world.transitions(c3, [(LONG_AGO, True)])
    await world.diagnoses(c3, [(LONG_AGO, True), (at(1), False), (at(11), True)])
    units = {}
    for code, name in (("M-HC", "惠城区运维中心"), ("M-HY", "惠阳区电信分公司")):
        org = Organisation(kind="maintainer", code=code, name=name, region_id=world.regions["441300"])
        session.add(org)
        await session.flush()
        units[code] = org.id
    await _order(session, c1, "offline", units["M-HC"], at(2), closed=at(3, 0, 30))
    await _order(session, c3, "vqd", units["M-HY"], at(1), closed=at(11))
    await _order(session, c2, "offline", units["M-HY"], at(16))  # still open
    await _order(session, c3, "offline", units["M-HY"], at(-5), closed=at(-3))  # all in December: not counted
    await _order(session, c1, "retention", None, at(-2))  # opened in December, open now
    await session.commit()
    gb_ids = {name: f"44130200001320{n:06d}" for n, name in enumerate(("c1", "c2", "c3"), start=1)}
    return Month(world, {"c1": c1, "c2": c2, "c3": c3}, gb_ids)
