"""Camera import from CSV/.xlsx: per-row validation with line and column, all-or-nothing upsert by GB ID."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.core.clock import Clock, SystemClock
from tianyan.core.errors import Forbidden, RowError
from tianyan.registry import tabular
from tianyan.registry.models import Camera, Device, Organisation, Region
from tianyan.registry.schemas import CameraIn
from tianyan.registry.service import owning_unit_code
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal, camera_clause, check_attributes, region_clause

# The file's columns: CameraIn's fields, by the names users write (and exports use).
COLUMNS: tuple[str, ...] = (
    "gb_id", "name", "class", "network", "region", "owning_unit", "sector", "kind", "main_width", "main_height",
    "main_fps", "sub_width", "sub_height", "sub_fps", "latitude", "longitude", "address", "install_date",
    "retention_days", "sensitive", "networked", "labels", "device",
)  # fmt: skip
REQUIRED: tuple[str, ...] = ("gb_id", "name", "class", "network", "region")

# Headers as the bureau's own registers write them.
ALIASES: dict[str, str] = {
    "国标编码": "gb_id", "国标编号": "gb_id", "国标id": "gb_id", "设备编码": "gb_id", "点位编码": "gb_id",
    "名称": "name", "点位名称": "name", "摄像机名称": "name",
    "类别": "class", "点位类别": "class", "cls": "class",
    "网络": "network", "所属网络": "network",
    "行政区划": "region", "行政区划代码": "region", "区划代码": "region",
    "建设单位": "owning_unit", "权属单位": "owning_unit",
    "行业": "sector", "行业代码": "sector", "所属行业": "sector",
    "类型": "kind", "摄像机类型": "kind",
    "主码流宽度": "main_width", "主码流高度": "main_height", "主码流帧率": "main_fps",
    "子码流宽度": "sub_width", "子码流高度": "sub_height", "子码流帧率": "sub_fps",
    "纬度": "latitude", "经度": "longitude",
    "地址": "address", "安装地址": "address",
    "安装日期": "install_date", "建设日期": "install_date",
    "存储天数": "retention_days", "录像保存天数": "retention_days",
    "涉密": "sensitive", "敏感": "sensitive",
    "联网": "networked", "是否联网": "networked",
    "标签": "labels",
    "所属设备": "device", "上级设备": "device",
}  # fmt: skip

# Camera table columns an import sets; a row whose values all match the stored ones is left untouched.
_COMPARED: tuple[str, ...] = (
    "name", "class", "network", "region_id", "owning_unit_id", "sector_id", "device_id", "kind", "main_width",
    "main_height", "main_fps", "sub_width", "sub_height", "sub_fps", "latitude", "longitude", "address",
    "install_date", "retention_days", "sensitive", "networked", "labels",
)  # fmt: skip
_PLAIN: tuple[str, ...] = tuple(c for c in _COMPARED if not c.endswith("_id") and c != "class")
_SCOPE_COLUMNS = (("region", "region"), ("network", "network"), ("class", "class"), ("sector", "sector"))
_BATCH_ROWS = 1000
_CHUNK_BYTES = 1 << 20


@dataclass
class ImportReport:
    """What an import did (or, when refused or a dry run, did not do)."""

    source_name: str
    sha256: str
    partial: bool = False
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[RowError] = field(default_factory=list)
    # True when nothing was written because of the errors (a bad header, or bad rows without partial).
    rejected: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
            "errors": [{"line": e.line, "column": e.column, "reason": e.reason} for e in self.errors],
        }


def canonical_header(text: str) -> str | None:
    key = text.strip().lstrip("\ufeff").rstrip("*").strip()
    lowered = key.lower().replace(" ", "_")
    if lowered in COLUMNS:
        return lowered
    return ALIASES.get(key) or ALIASES.get(lowered)


@dataclass(slots=True)
class _Row:
    line: int
    gb_id: str
    values: dict[str, Any]
    unit: str | None
    device: str | None


class _Run:
    """State of one import: look-up tables, GB IDs seen, the batch in hand and the report."""

    def __init__(self, session: AsyncSession, principal: Principal, report: ImportReport, clock: Clock) -> None:
        self.session = session
        self.principal = principal
        self.report = report
        self.now = clock.now()
        self.headers: dict[str, str] = {}
        self.columns: list[str | None] = []
        self.regions: dict[str, tuple[int, str]] = {}
        self.sectors: dict[str, int] = {}
        self.units: dict[str, int] = {}
        self.devices: dict[str, int | None] = {}
        self.seen: dict[str, int] = {}
        self.batch: list[_Row] = []
        self.writing = True
        # False when the file as a whole is unusable (no header, unknown columns): even --partial writes nothing.
        self.file_ok = True
        self.on_row: Callable[[int], None] | None = None

    # -- header ----------------------------------------------------------------------------

    def read_header(self, line: int, cells: list[str]) -> bool:
        errors: list[RowError] = []
        for text in cells:
            column = canonical_header(text) if text.strip() else None
            if text.strip() and column is None:
                errors.append(RowError(line, text.strip(), f"unknown column {text.strip()!r}; expected {_expected()}"))
            elif column is not None and column in self.headers:
                errors.append(
                    RowError(line, text.strip(), f"column {column!r} appears twice ({self.headers[column]!r})")
                )
            if column is not None and column not in self.headers:
                self.headers[column] = text.strip()
            self.columns.append(column)
        missing = [c for c in REQUIRED if c not in self.headers]
        if missing:
            errors.append(RowError(line, "", f"missing required column(s): {', '.join(missing)}"))
        self.report.errors.extend(errors)
        return not errors

    def column_name(self, column: str) -> str:
        """The header as the file writes it, so users find the cell."""
        return self.headers.get(column, column)

    # -- rows ------------------------------------------------------------------------------

    async def load_lookups(self) -> None:
        for region_id, code, path in await self.session.execute(select(Region.id, Region.code, Region.path)):
            self.regions[code] = (region_id, path)
        sectors = select(Organisation.id, Organisation.code).where(Organisation.kind == "sector")
        self.sectors = {code: org_id for org_id, code in await self.session.execute(sectors)}

    def error(self, line: int, column: str, reason: str) -> None:
        self.report.errors.append(RowError(line, self.column_name(column) if column else "", reason))

    async def add_row(self, line: int, cells: list[str]) -> None:
        errors_before = len(self.report.errors)
        data: dict[str, str] = {}
        for index, cell in enumerate(cells):
            column = self.columns[index] if index < len(self.columns) else None
            if column is None:
                if cell.strip():
                    self.report.errors.append(RowError(line, "", f"cell {index + 1} ({cell.strip()!r}) has no header"))
                continue
            if cell.strip():
                data[column] = cell
        gb_id = data.get("gb_id", "").strip()
        if gb_id:
            first = self.seen.setdefault(gb_id, line)
            if first != line:
                self.error(line, "gb_id", f"duplicate GB ID {gb_id}: already on line {first}")
        row = self.validate(line, data)
        if len(self.report.errors) > errors_before or row is None:
            self.report.refused += 1
            return
        self.batch.append(row)
        if len(self.batch) >= _BATCH_ROWS:
            await self.flush()

    def validate(self, line: int, data: dict[str, str]) -> _Row | None:
        try:
            camera = CameraIn.model_validate(data)
        except ValidationError as exc:
            for item in exc.errors(include_url=False):
                column, reason = _describe(item, data)
                self.error(line, column, reason)
            return None
        found = self.regions.get(camera.region)
        if found is None:
            self.error(line, "region", f"unknown region code {camera.region!r}")
        sector_id = None
        if camera.sector is not None:
            sector_id = self.sectors.get(camera.sector)
            if sector_id is None:
                self.error(line, "sector", f"unknown industry sector {camera.sector!r}")
                return None
        if found is None:
            return None
        region_id, region_path = found
        try:
            check_attributes(
                self.principal, region_path=region_path, network=camera.network, cls=camera.cls, sector_id=sector_id
            )
        except Forbidden as exc:
            column = next((c for word, c in _SCOPE_COLUMNS if word in exc.detail), "")
            self.error(line, column, exc.detail)
            return None
        values = {name: getattr(camera, name) for name in _PLAIN}
        values.update({"gb_id": camera.gb_id, "class": camera.cls, "region_id": region_id, "sector_id": sector_id})
        return _Row(line=line, gb_id=camera.gb_id, values=values, unit=camera.owning_unit, device=camera.device)

    # -- a batch against the database ------------------------------------------------------

    async def flush(self) -> None:
        batch, self.batch = self.batch, []
        if not batch:
            return
        await self._load_devices({row.device for row in batch if row.device})
        table = Camera.__table__
        in_scope = camera_clause(self.principal).label("in_scope")
        columns = (table.c.id, table.c.gb_id, *(table.c[name] for name in _COMPARED), in_scope)
        query = select(*columns).where(table.c.gb_id.in_([row.gb_id for row in batch]))
        existing = {found.gb_id: found for found in await self.session.execute(query)}
        good: list[_Row] = []
        for row in batch:
            bad = False
            if row.device and self.devices.get(row.device) is None:
                self.error(row.line, "device", f"unknown device {row.device!r}")
                bad = True
            found = existing.get(row.gb_id)
            if found is not None and not found.in_scope:
                self.error(row.line, "gb_id", f"camera {row.gb_id} already exists outside your scope")
                bad = True
            if bad:
                self.report.refused += 1
            else:
                good.append(row)
        if self.report.errors and not self.report.partial:
            # Nothing will be kept; only validation continues, so every bad row gets reported.
            self.writing = False
        if self.writing:
            await self._write(good, existing)

    async def _load_devices(self, wanted: set[str]) -> None:
        wanted -= self.devices.keys()
        if not wanted:
            return
        # A device outside the importer's regions looks unknown, so scope cannot be probed.
        in_scope = region_clause(self.principal, Device.region_id)
        query = select(Device.gb_id, Device.id).where(Device.gb_id.in_(sorted(wanted)), in_scope)
        found = dict((await self.session.execute(query)).tuples().all())
        self.devices.update({gb_id: found.get(gb_id) for gb_id in wanted})

    async def _load_units(self, rows: list[_Row]) -> None:
        """Owning units are referenced by name; a new name becomes a new unit in this transaction."""
        new = {row.unit: row for row in rows if row.unit and row.unit not in self.units}
        if not new:
            return
        query = select(Organisation.name, Organisation.id).where(
            Organisation.kind == "owning_unit", Organisation.name.in_(sorted(new))
        )
        for name, unit_id in await self.session.execute(query):
            self.units.setdefault(name, unit_id)
        missing = [name for name in new if name not in self.units]
        if not missing:
            return
        await self.session.execute(
            insert(Organisation.__table__),
            [
                {
                    "kind": "owning_unit", "code": owning_unit_code(name), "name": name, "parent_id": None,
                    "region_id": new[name].values["region_id"], "sector_id": new[name].values["sector_id"],
                }
                for name in missing
            ],
        )  # fmt: skip
        query = select(Organisation.name, Organisation.id).where(
            Organisation.code.in_([owning_unit_code(name) for name in missing])
        )
        self.units.update(dict((await self.session.execute(query)).tuples().all()))

    async def _write(self, rows: list[_Row], existing: dict[str, Any]) -> None:
        await self._load_units(rows)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            values = row.values
            values["owning_unit_id"] = self.units[row.unit] if row.unit else None
            values["device_id"] = self.devices[row.device] if row.device else None
            found = existing.get(row.gb_id)
            if found is None:
                inserts.append({**values, "created_at": self.now, "updated_at": self.now})
            elif any(values[name] != found._mapping[name] for name in _COMPARED):
                changed = {name: values[name] for name in _COMPARED}
                updates.append({**changed, "updated_at": self.now, "_id": found.id})
            else:
                self.report.unchanged += 1
        table = Camera.__table__
        if inserts:
            await self.session.execute(insert(table), inserts)
            self.report.created += len(inserts)
        if updates:
            await self.session.execute(update(table).where(table.c.id == bindparam("_id")), updates)
            self.report.updated += len(updates)


def _expected() -> str:
    return ", ".join(COLUMNS)


_LOC_FIELDS = {"cls": "class"}


def _describe(item: Any, data: dict[str, str]) -> tuple[str, str]:
    """A pydantic error as (column, reason) in the user's words."""
    message = str(item["msg"]).removeprefix("Value error, ")
    if item["type"] == "missing":
        message = "required, but empty"
    elif item["type"] != "value_error" and isinstance(item.get("input"), str) and item["input"] not in message:
        message += f" (got {item['input']!r})"
    if item["loc"]:
        name = str(item["loc"][0])
        return _LOC_FIELDS.get(name, name), message
    # A cross-field rule names its columns; point at the one left empty, else the first named.
    named = [m.group(0) for m in re.finditer(r"\b[a-z_]+\b", message) if m.group(0) in COLUMNS]
    empty = [column for column in named if column not in data]
    return (empty or named or [""])[0], message


def _sha256(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK_BYTES):
        digest.update(chunk)
    stream.seek(0)
    return digest.hexdigest()


async def import_cameras(
    session: AsyncSession,
    *,
    principal: Principal,
    path_or_stream: str | Path | BinaryIO,
    file_format: tabular.FileFormat | None = None,
    partial: bool = False,
    dry_run: bool = False,
    source_name: str | None = None,
    clock: Clock | None = None,
    on_row: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row, then upsert by GB ID in the caller's transaction, batch by batch.

    Without `partial`, one bad row means nothing is written (the rows already written are rolled
    back to a savepoint); with it, the good rows are written and the bad ones reported. Rows whose
    values all match the stored camera are not touched. The stream must be seekable. `on_row` is told the
    line of each row as it is read (progress for long imports).
    """
    principal.require(Permission.CAMERA_WRITE)
    with ExitStack() as stack:
        if isinstance(path_or_stream, str | Path):
            # Reading is already blocking, row by row between awaits; opening the file is the least of it.
            stream: BinaryIO = stack.enter_context(Path(path_or_stream).open("rb"))  # noqa: ASYNC230
            name = source_name or Path(path_or_stream).name
        else:
            stream = path_or_stream
            name = source_name or str(getattr(stream, "name", "") or "upload")
        head = stream.read(8)
        stream.seek(0)
        file_format = file_format or tabular.format_for(name, head)
        report = ImportReport(source_name=name, sha256=_sha256(stream), partial=partial, dry_run=dry_run)
        run = _Run(session, principal, report, clock or SystemClock())
        run.on_row = on_row
        await run.load_lookups()
        savepoint = await session.begin_nested()
        try:
            await _read(run, stream, file_format)
            report.errors.sort(key=lambda e: e.line)
            report.rejected = bool(report.errors) and (not partial or not run.file_ok)
            if report.rejected or dry_run:
                await savepoint.rollback()
            if report.rejected:
                report.created = report.updated = report.unchanged = 0
            if not dry_run:
                await _audit(session, principal, report, file_format, clock)
            if savepoint.is_active:
                await savepoint.commit()
        except BaseException:
            if savepoint.is_active:
                await savepoint.rollback()
            raise
    return report


async def _read(run: _Run, stream: BinaryIO, file_format: tabular.FileFormat) -> None:
    # Closed here, not by the garbage collector, so the reader lets go of the stream before its owner does.
    with closing(tabular.read_rows(stream, file_format)) as rows:
        await _read_rows(run, rows)


async def _read_rows(run: _Run, rows: Iterator[tuple[int, list[str]]]) -> None:
    header = next(rows, None)
    if header is None:
        run.report.errors.append(RowError(1, "", "the file is empty: no header row"))
        run.file_ok = False
        return
    if not run.read_header(*header):
        run.file_ok = False
        return
    for line, cells in rows:
        await run.add_row(line, cells)
        if run.on_row is not None:
            run.on_row(line)
    await run.flush()


async def _audit(
    session: AsyncSession, principal: Principal, report: ImportReport, file_format: str, clock: Clock | None
) -> None:
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="camera.import",
        target=report.source_name,
        outcome="refused" if report.rejected else "ok",
        detail={
            "format": file_format,
            "sha256": report.sha256,
            "partial": report.partial,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "refused": report.refused,
            "errors": len(report.errors),
        },
        clock=clock,
    )
