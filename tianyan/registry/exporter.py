"""Camera export to CSV/.xlsx in the import's own columns, scoped to the principal and streamed from the database."""

from __future__ import annotations

from typing import Any, BinaryIO

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tianyan.core.clock import Clock
from tianyan.registry import tabular
from tianyan.registry.importer import COLUMNS
from tianyan.registry.models import Camera, Device, Organisation, Region
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause

_YIELD_ROWS = 1000
_Unit = aliased(Organisation)
_Sector = aliased(Organisation)


def _query(principal: Principal) -> Select[Any]:
    c = Camera.__table__.c
    # One selected value per file column, in COLUMNS order; the stored retention override, not the
    # class default, so that importing an export changes nothing.
    values = (
        c.gb_id, c.name, c["class"], c.network, Region.code, _Unit.name, _Sector.code, c.kind,
        c.main_width, c.main_height, c.main_fps, c.sub_width, c.sub_height, c.sub_fps, c.latitude,
        c.longitude, c.address, c.install_date, c.retention_days, c.sensitive, c.networked, c.labels,
        Device.gb_id,
    )  # fmt: skip
    return (
        select(*values)
        .join(Region, c.region_id == Region.id)
        .outerjoin(_Unit, c.owning_unit_id == _Unit.id)
        .outerjoin(_Sector, c.sector_id == _Sector.id)
        .outerjoin(Device, c.device_id == Device.id)
        .where(camera_clause(principal))
        .order_by(c.gb_id)
    )


def _cells(row: Any) -> list[Any]:
    cells = list(row)
    labels = COLUMNS.index("labels")
    cells[labels] = ";".join(cells[labels] or [])
    return cells


async def export_cameras(
    session: AsyncSession,
    *,
    principal: Principal,
    out: BinaryIO,
    file_format: tabular.FileFormat,
    clock: Clock | None = None,
) -> int:
    """Write every camera in the principal's scope to `out`; returns how many. Audited as camera.export."""
    principal.require(Permission.CAMERA_EXPORT)
    writer = tabular.writer_for(out, file_format)
    writer.write(COLUMNS)
    count = 0
    result = await session.stream(_query(principal).execution_options(yield_per=_YIELD_ROWS))
    async for row in result:
        writer.write(_cells(row))
        count += 1
    writer.close()
    if session.in_transaction() and not session.new and not session.dirty and not session.deleted:
        # Only reads so far: end them, so the audit entry opens a write transaction of its own (SQLite needs it).
        await session.commit()
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="camera.export",
        target=f"cameras.{file_format}",
        detail={"format": file_format, "cameras": count},
        clock=clock,
    )
    return count
