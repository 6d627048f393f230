"""Registry operations: regions, organisations and scoped camera reads and changes, each audited."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tianyan.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from tianyan.registry import rules
from tianyan.registry.models import Camera, Device, Organisation, Region
from tianyan.registry.schemas import CameraIn, CameraOut, CameraPatch, validation_message
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause, check_attributes

LEVEL_ORDER = {level: i for i, level in enumerate(rules.REGION_LEVELS)}

# --- regions and organisations ---------------------------------------------------------------


async def region_by_code(session: AsyncSession, code: str) -> Region:
    region = (await session.execute(select(Region).where(Region.code == code))).scalar_one_or_none()
    if region is None:
        raise InvalidInput(f"unknown region code {code!r}")
    return region


async def add_region(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    level: str,
    parent_code: str | None = None,
    locally_assigned: bool = False,
) -> Region:
    if level not in LEVEL_ORDER:
        raise InvalidInput(f"unknown region level {level!r}; expected one of {list(rules.REGION_LEVELS)}")
    if not code.isdigit() or not 2 <= len(code) <= 12:
        raise InvalidInput(f"region code must be 2-12 digits, got {code!r}")
    if (await session.execute(select(Region.id).where(Region.code == code))).first():
        raise Conflict(f"region {code!r} already exists")
    parent = await region_by_code(session, parent_code) if parent_code else None
    if parent is not None and LEVEL_ORDER[parent.level] >= LEVEL_ORDER[level]:
        raise InvalidInput(f"a {level} cannot sit under a {parent.level}")
    path = (parent.path if parent else "/") + code + "/"
    region = Region(
        code=code,
        name=name,
        level=level,
        parent_id=parent.id if parent else None,
        path=path,
        locally_assigned=locally_assigned,
    )
    session.add(region)
    await session.flush()
    return region


async def list_regions(session: AsyncSession, *, under: str | None = None) -> Sequence[Region]:
    query = select(Region).order_by(Region.path)
    if under:
        root = await region_by_code(session, under)
        query = query.where(Region.path.startswith(root.path, autoescape=True))
    return (await session.execute(query)).scalars().all()


async def organisation_by_code(session: AsyncSession, code: str, *, kind: str | None = None) -> Organisation:
    query = select(Organisation).where(Organisation.code == code)
    if kind:
        query = query.where(Organisation.kind == kind)
    org = (await session.execute(query)).scalar_one_or_none()
    if org is None:
        raise InvalidInput(f"unknown {kind or 'organisation'} {code!r}")
    return org


async def add_organisation(
    session: AsyncSession,
    *,
    kind: str,
    code: str,
    name: str,
    region_code: str | None = None,
    parent_code: str | None = None,
    sector_code: str | None = None,
) -> Organisation:
    if kind not in rules.ORGANISATION_KINDS:
        raise InvalidInput(f"unknown organisation kind {kind!r}; expected one of {list(rules.ORGANISATION_KINDS)}")
    if (await session.execute(select(Organisation.id).where(Organisation.code == code))).first():
        raise Conflict(f"organisation {code!r} already exists")
    org = Organisation(
        kind=kind,
        code=code,
        name=name,
        region_id=(await region_by_code(session, region_code)).id if region_code else None,
        parent_id=(await organisation_by_code(session, parent_code)).id if parent_code else None,
        sector_id=(await organisation_by_code(session, sector_code, kind="sector")).id if sector_code else None,
    )
    session.add(org)
    await session.flush()
    return org


async def list_organisations(session: AsyncSession, *, kind: str | None = None) -> Sequence[Organisation]:
    query = select(Organisation).order_by(Organisation.kind, Organisation.code)
    if kind:
        query = query.where(Organisation.kind == kind)
    return (await session.execute(query)).scalars().all()


def owning_unit_code(name: str) -> str:
    """A stable code for an owning unit known only by name."""
    return "OU-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:16]


async def owning_unit_for(session: AsyncSession, *, name: str, sector_id: int | None, region_id: int) -> Organisation:
    """Owning units are many and named by their owners; an unknown name becomes a new unit."""
    found = (
        await session.execute(
            select(Organisation).where(Organisation.kind == "owning_unit", Organisation.name == name).limit(1)
        )
    ).scalar_one_or_none()
    if found is not None:
        return found
    unit = Organisation(
        kind="owning_unit",
        code=owning_unit_code(name),
        name=name,
        region_id=region_id,
        sector_id=sector_id,
    )
    session.add(unit)
    await session.flush()
    return unit


# --- cameras ---------------------------------------------------------------------------------

_Unit = aliased(Organisation)
_Sector = aliased(Organisation)


def _camera_view() -> Select[Any]:
    return (
        select(Camera, Region.code, Region.name, _Unit.name, _Sector.code, Device.gb_id)
        .join(Region, Camera.region_id == Region.id)
        .outerjoin(_Unit, Camera.owning_unit_id == _Unit.id)
        .outerjoin(_Sector, Camera.sector_id == _Sector.id)
        .outerjoin(Device, Camera.device_id == Device.id)
    )


def camera_out(row: Any) -> CameraOut:
    camera, region_code, region_name, unit_name, sector_code, device_gb_id = row
    return CameraOut(
        id=camera.id,
        gb_id=camera.gb_id,
        name=camera.name,
        cls=camera.cls,
        network=camera.network,
        region=region_code,
        region_name=region_name,
        owning_unit=unit_name,
        sector=sector_code,
        kind=camera.kind,
        main_width=camera.main_width,
        main_height=camera.main_height,
        main_fps=camera.main_fps,
        sub_width=camera.sub_width,
        sub_height=camera.sub_height,
        sub_fps=camera.sub_fps,
        hd=rules.is_hd(camera.main_width, camera.main_height, camera.main_fps),
        meets_format_minimum=rules.meets_format_minimum(camera.main_width, camera.main_height, camera.main_fps),
        latitude=camera.latitude,
        longitude=camera.longitude,
        address=camera.address,
        install_date=camera.install_date,
        retention_days=rules.retention_days(camera.cls, camera.retention_days),
        retention_overridden=camera.retention_days is not None,
        sensitive=camera.sensitive,
        networked=camera.networked,
        labels=list(camera.labels or []),
        device=device_gb_id,
    )


@dataclass(frozen=True)
class CameraFilter:
    q: str | None = None  # name, GB ID, address or label
    region: str | None = None  # a region code: its whole subtree
    cls: int | None = None
    network: str | None = None
    kind: str | None = None
    sector: str | None = None
    hd: bool | None = None

    def clause(self) -> ColumnElement[bool]:
        parts: list[ColumnElement[bool]] = []
        if self.q:
            needle = self.q.strip()
            parts.append(
                or_(
                    Camera.name.contains(needle, autoescape=True),
                    Camera.gb_id.startswith(needle, autoescape=True),
                    Camera.address.contains(needle, autoescape=True),
                    func.cast(Camera.labels, Camera.address.type).contains(needle, autoescape=True),
                    # Labels are stored as JSON text with non-ASCII escaped (\uXXXX); match that form too.
                    func.cast(Camera.labels, Camera.address.type).contains(json.dumps(needle)[1:-1], autoescape=True),
                )
            )
        if self.region:
            subtree = select(Region.path).where(Region.code == self.region).scalar_subquery()
            parts.append(Camera.region_id.in_(select(Region.id).where(Region.path.startswith(subtree))))
        if self.cls is not None:
            parts.append(Camera.cls == self.cls)
        if self.network:
            parts.append(Camera.network == self.network)
        if self.kind:
            parts.append(Camera.kind == self.kind)
        if self.sector:
            parts.append(Camera.sector_id.in_(select(Organisation.id).where(Organisation.code == self.sector)))
        if self.hd is not None:
            hd = and_(
                Camera.main_width >= rules.HD_MIN_WIDTH,
                Camera.main_height >= rules.HD_MIN_HEIGHT,
                Camera.main_fps >= rules.MIN_FPS,
            )
            parts.append(hd if self.hd else ~func.coalesce(hd, False))
        return and_(True, *parts)


@dataclass(frozen=True)
class CameraPage:
    items: list[CameraOut]
    total: int
    next_after: int | None


async def list_cameras(
    session: AsyncSession,
    *,
    principal: Principal,
    where: CameraFilter | None = None,
    after: int = 0,
    limit: int = 100,
) -> CameraPage:
    """Cameras in the principal's scope, keyset-paginated by id; the scope is part of the SQL."""
    principal.require(Permission.CAMERA_READ)
    condition = and_(camera_clause(principal), (where or CameraFilter()).clause())
    total = (await session.execute(select(func.count()).select_from(Camera).where(condition))).scalar_one()
    rows = (
        await session.execute(_camera_view().where(condition, Camera.id > after).order_by(Camera.id).limit(limit + 1))
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return CameraPage(
        items=[camera_out(row) for row in rows],
        total=total,
        next_after=rows[-1][0].id if more and rows else None,
    )


async def _scoped_camera(session: AsyncSession, principal: Principal, gb_id: str) -> Any:
    row = (await session.execute(_camera_view().where(Camera.gb_id == gb_id, camera_clause(principal)))).one_or_none()
    if row is None:
        # Out of scope and absent look the same, so scope cannot be probed.
        raise NotFound(f"no camera {gb_id} in your scope")
    return row


async def get_camera(session: AsyncSession, *, principal: Principal, gb_id: str) -> CameraOut:
    principal.require(Permission.CAMERA_READ)
    return camera_out(await _scoped_camera(session, principal, gb_id))


async def _still_visible(session: AsyncSession, principal: Principal, gb_id: str) -> CameraOut:
    """After a flushed write: the writer must still see the camera (a sensitive flag needs a grant too)."""
    try:
        return camera_out(await _scoped_camera(session, principal, gb_id))
    except NotFound:
        raise Forbidden(
            "the change would put the camera outside your scope (a sensitive camera needs a grant)"
        ) from None


@dataclass(frozen=True)
class References:
    region: Region
    owning_unit_id: int | None
    sector_id: int | None
    device_id: int | None


async def _resolve(
    session: AsyncSession, *, region: str, owning_unit: str | None, sector: str | None, device: str | None
) -> References:
    region_row = await region_by_code(session, region)
    sector_id = (await organisation_by_code(session, sector, kind="sector")).id if sector else None
    unit_id = None
    if owning_unit:
        unit_id = (await owning_unit_for(session, name=owning_unit, sector_id=sector_id, region_id=region_row.id)).id
    device_id = None
    if device:
        device_id = (await session.execute(select(Device.id).where(Device.gb_id == device))).scalar_one_or_none()
        if device_id is None:
            raise InvalidInput(f"unknown device {device!r}")
    return References(region=region_row, owning_unit_id=unit_id, sector_id=sector_id, device_id=device_id)


_PLAIN_FIELDS = (
    "name", "cls", "network", "kind", "main_width", "main_height", "main_fps", "sub_width", "sub_height",
    "sub_fps", "latitude", "longitude", "address", "install_date", "retention_days", "sensitive", "networked",
    "labels",
)  # fmt: skip


async def create_camera(session: AsyncSession, *, principal: Principal, data: CameraIn) -> CameraOut:
    principal.require(Permission.CAMERA_WRITE)
    if (await session.execute(select(Camera.id).where(Camera.gb_id == data.gb_id))).first():
        raise Conflict(f"camera {data.gb_id} already exists")
    # A savepoint, so a refused write (and any owning unit it created) leaves nothing behind in the session.
    async with session.begin_nested():
        refs = await _resolve(
            session, region=data.region, owning_unit=data.owning_unit, sector=data.sector, device=data.device
        )
        check_attributes(principal, region_path=refs.region.path, network=data.network, cls=data.cls,
                         sector_id=refs.sector_id)  # fmt: skip
        camera = Camera(
            gb_id=data.gb_id,
            region_id=refs.region.id,
            owning_unit_id=refs.owning_unit_id,
            sector_id=refs.sector_id,
            device_id=refs.device_id,
            **{name: getattr(data, name) for name in _PLAIN_FIELDS},
        )
        session.add(camera)
        await session.flush()
        created = await _still_visible(session, principal, data.gb_id)
    await audit.record(
        session, actor=principal.username, source=principal.source, action="camera.create",
        target=f"camera:{data.gb_id}", detail=data.model_dump(mode="json", by_alias=True, exclude_none=True),
    )  # fmt: skip
    return created


async def update_camera(session: AsyncSession, *, principal: Principal, gb_id: str, patch: CameraPatch) -> CameraOut:
    principal.require(Permission.CAMERA_WRITE)
    current = camera_out(await _scoped_camera(session, principal, gb_id))
    camera = await session.get_one(Camera, current.id)
    changes = patch.model_dump(exclude_unset=True)
    # The stored override, not the effective retention, so an edit does not pin the class default.
    # By field name, like `changes`: CameraOut dumps by alias ("class"), which with a patched "cls" is two keys.
    stored = current.model_dump(include=set(CameraIn.model_fields), by_alias=False) | {
        "retention_days": camera.retention_days
    }
    try:
        candidate = CameraIn.model_validate(stored | changes, by_name=True)
    except ValidationError as exc:
        # The patch alone was well-formed; only together with the stored camera does a rule break.
        raise InvalidInput(validation_message(exc)) from None
    before = {key: getattr(current, key) for key in changes}
    async with session.begin_nested():
        refs = await _resolve(
            session, region=candidate.region, owning_unit=candidate.owning_unit, sector=candidate.sector,
            device=candidate.device,
        )  # fmt: skip
        check_attributes(principal, region_path=refs.region.path, network=candidate.network, cls=candidate.cls,
                         sector_id=refs.sector_id)  # fmt: skip
        for name in _PLAIN_FIELDS:
            setattr(camera, name, getattr(candidate, name))
        camera.region_id = refs.region.id
        camera.owning_unit_id = refs.owning_unit_id
        camera.sector_id = refs.sector_id
        camera.device_id = refs.device_id
        await session.flush()
        after = await _still_visible(session, principal, gb_id)
    await audit.record(
        session, actor=principal.username, source=principal.source, action="camera.update",
        target=f"camera:{gb_id}",
        detail={"before": before, "after": {key: getattr(after, key, changes[key]) for key in changes}},
    )  # fmt: skip
    return after


async def delete_camera(session: AsyncSession, *, principal: Principal, gb_id: str, reason: str | None = None) -> None:
    principal.require(Permission.CAMERA_WRITE)
    current = camera_out(await _scoped_camera(session, principal, gb_id))
    await session.delete(await session.get_one(Camera, current.id))
    await session.flush()
    await audit.record(
        session, actor=principal.username, source=principal.source, action="camera.delete",
        target=f"camera:{gb_id}", reason=reason, detail=current.model_dump(mode="json", by_alias=True),
    )  # fmt: skip
