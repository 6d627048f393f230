"""A small hand-made registry for scope and API tests: 广东 → 惠州 → 惠城区/惠阳区 (+ a station each), cameras
across every region × network × class × sensitive flag, two industry sectors; and accounts without Argon2 cost."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core import gbid
from tianyan.registry import service
from tianyan.registry.models import Camera, Organisation
from tianyan.registry.rules import CLASSES, NETWORKS
from tianyan.security import login
from tianyan.security.models import SensitiveGrant, User
from tianyan.security.passwords import hash_password

PROVINCE, CITY = "440000", "441300"
HUICHENG, HUIYANG = "441302", "441303"
HUICHENG_STATION, HUIYANG_STATION = "44130201", "44130301"
# Where cameras sit: both districts and a police-station area under each.
CAMERA_REGIONS = (HUICHENG, HUICHENG_STATION, HUIYANG, HUIYANG_STATION)
SECTORS = ("S-EDU", "S-HEALTH")
PASSWORD = "Tianyan-Test-2026!"
_NETWORK_DIGIT = {"police": "0", "social": "8", "local": "0"}


@dataclass(frozen=True)
class CameraFacts:
    """What the tests know about a camera, independently of the code under test."""

    id: int
    gb_id: str
    region: str
    network: str
    cls: int
    sensitive: bool
    sector: str | None


@dataclass(frozen=True)
class Registry:
    cameras: tuple[CameraFacts, ...]
    sector_ids: dict[str, int]

    def by_gb_id(self, gb_id: str) -> CameraFacts:
        return next(c for c in self.cameras if c.gb_id == gb_id)


async def build_regions(session: AsyncSession) -> dict[str, int]:
    """The region tree and the two sectors; returns sector code → id."""
    await service.add_region(session, code=PROVINCE, name="广东省", level="province")
    await service.add_region(session, code=CITY, name="惠州市", level="city", parent_code=PROVINCE)
    await service.add_region(session, code=HUICHENG, name="惠城区", level="county", parent_code=CITY)
    await service.add_region(session, code=HUIYANG, name="惠阳区", level="county", parent_code=CITY)
    await service.add_region(session, code=HUICHENG_STATION, name="江北派出所", level="station", parent_code=HUICHENG)
    await service.add_region(session, code=HUIYANG_STATION, name="淡水派出所", level="station", parent_code=HUIYANG)
    ids = {}
    for code, name in zip(SECTORS, ("教育", "卫生"), strict=True):
        ids[code] = (await service.add_organisation(session, kind="sector", code=code, name=name, region_code=CITY)).id
    return ids


async def build_registry(
    session: AsyncSession,
    *,
    regions: Sequence[str] = CAMERA_REGIONS,
    networks: Sequence[str] = NETWORKS,
    classes: Sequence[int] = CLASSES,
    sensitive: Sequence[bool] = (False, True),
) -> Registry:
    """Regions, sectors and one camera per combination (sectors rotate S-EDU, S-HEALTH, none); committed."""
    sector_ids = await build_regions(session)
    region_ids = {r.code: r.id for r in await service.list_regions(session)}
    rows: list[tuple[Camera, str, str | None]] = []
    for serial, (region, network, cls, flag) in enumerate(
        itertools.product(regions, networks, classes, sensitive), start=1
    ):
        sector = (*SECTORS, None)[serial % 3]
        camera = Camera(
            gb_id=gbid.build(centre=region, network=_NETWORK_DIGIT[network], serial=serial).value,
            name=f"{region}-{network}-{cls}{'-敏感' if flag else ''}",
            cls=cls,
            network=network,
            region_id=region_ids[region],
            sector_id=sector_ids[sector] if sector else None,
            sensitive=flag,
            labels=[],
        )
        rows.append((camera, region, sector))
    session.add_all([camera for camera, _, _ in rows])
    await session.flush()
    facts = tuple(
        CameraFacts(
            id=camera.id,
            gb_id=camera.gb_id,
            region=region,
            network=camera.network,
            cls=camera.cls,
            sensitive=camera.sensitive,
            sector=sector,
        )
        for camera, region, sector in rows
    )
    await session.commit()
    return Registry(cameras=facts, sector_ids=sector_ids)


@functools.cache
def password_hash(password: str = PASSWORD) -> str:
    """One Argon2id hash per password per run: each costs a fifth of a second."""
    return hash_password(password)


async def add_user(
    session: AsyncSession,
    username: str,
    role: str,
    *,
    all_regions: bool = False,
    regions: Iterable[str] = (),
    networks: Iterable[str] = NETWORKS,
    classes: Iterable[int] = CLASSES,
    sector: str | None = None,
    password: str = PASSWORD,
) -> User:
    """An account with a scope, written directly (no audit entry, a cached hash); flushed, not committed."""
    sector_id = None
    if sector is not None:
        sector_id = (await session.execute(select(Organisation.id).where(Organisation.code == sector))).scalar_one()
    user = User(
        username=username,
        role=role,
        password_hash=password_hash(password),
        all_regions=all_regions,
        scope_regions=list(regions),
        scope_networks=sorted(networks),
        scope_classes=sorted(classes),
        sector_id=sector_id,
    )
    session.add(user)
    await session.flush()
    return user


async def grant(session: AsyncSession, grants: Iterable[tuple[int, int]]) -> None:
    """Sensitive-camera grants as (user id, camera id) pairs, in one statement."""
    values = [{"user_id": user_id, "camera_id": camera_id, "granted_by": "test"} for user_id, camera_id in grants]
    if values:
        await session.execute(insert(SensitiveGrant), values)


async def api_key(session: AsyncSession, user: User) -> dict[str, str]:
    """Headers that authenticate as `user` with a fresh API key (no password check, so no Argon2 cost)."""
    _, plaintext = await login.create_api_key(session, user=user, name="tests", actor="test")
    return {"Authorization": f"Bearer {plaintext}"}
