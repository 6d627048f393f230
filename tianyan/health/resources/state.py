"""A camera's state as the console shows it, and the online / fault counts of a set of cameras, in SQL."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.sql.elements import Label

from tianyan.health.models import VqdLatest
from tianyan.registry import rules
from tianyan.registry.models import Camera
from tianyan.security.scope import Principal, camera_clause

State = Literal["online", "offline", "fault"]
# GB/T 28181 PTZType: 1 dome and 4 remote-controlled bullet can be steered; 2 half-dome and 3 fixed bullet cannot.
PTZ_TYPES = (1, 4)

# The cameras whose latest picture diagnosis found a fault (black screen, blur, signal loss...): few, and a partial
# index holds exactly them, so testing membership costs far less than joining every camera to its diagnosis.
FAILING = select(VqdLatest.camera_id).where(~VqdLatest.ok)
# Online with a faulty picture: the integrity rule's "fault".
FAULTY: ColumnElement[bool] = and_(Camera.online.is_(True), Camera.id.in_(FAILING))


def count_columns() -> tuple[Label[Any], Label[Any], Label[Any]]:
    """total, online, fault over the cameras of a query."""
    return (
        func.count(Camera.id).label("total"),
        func.coalesce(func.sum(case((Camera.online.is_(True), 1), else_=0)), 0).label("online"),
        func.coalesce(func.sum(case((FAULTY, 1), else_=0)), 0).label("fault"),
    )


def scoped(principal: Principal, *columns: Any) -> Select[Any]:
    """SELECT columns FROM cameras WHERE the principal may see the camera."""
    return select(*columns).select_from(Camera).where(camera_clause(principal))


def scoped_channels(principal: Principal, *extra: Any) -> Select[Any]:
    """The CAMERA_COLUMNS (and `extra`) of the cameras the principal may see, with their latest diagnosis."""
    return (
        select(*CAMERA_COLUMNS, *extra)
        .select_from(Camera)
        .outerjoin(VqdLatest, VqdLatest.camera_id == Camera.id)
        .where(camera_clause(principal))
    )


class Counts(BaseModel):
    total: int
    online: int
    fault: int


def counts_of(row: Any) -> Counts:
    return Counts(total=int(row.total or 0), online=int(row.online or 0), fault=int(row.fault or 0))


# The camera columns a channel node needs; `diagnosis_ok` is NULL for a camera never diagnosed.
CAMERA_COLUMNS = (
    Camera.id, Camera.gb_id, Camera.name, Camera.online, Camera.cls, Camera.network, Camera.kind, Camera.ptz_type,
    Camera.main_width, Camera.main_height, Camera.main_fps, Camera.latitude, Camera.longitude, Camera.address,
    VqdLatest.ok.label("diagnosis_ok"),
)  # fmt: skip


class CameraNode(BaseModel):
    """One camera as the tree and the map show it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    gb_id: str
    name: str
    state: State
    online: bool
    cls: int = Field(alias="class")
    network: str
    kind: str
    hd: bool
    ptz: bool
    latitude: float | None
    longitude: float | None
    address: str | None


def state_of(online: bool, diagnosis_ok: bool | None) -> State:
    if not online:
        return "offline"
    return "fault" if diagnosis_ok is False else "online"


def camera_node(row: Any) -> CameraNode:
    """A row selected with CAMERA_COLUMNS."""
    return CameraNode(
        gb_id=row.gb_id,
        name=row.name,
        state=state_of(bool(row.online), row.diagnosis_ok),
        online=bool(row.online),
        cls=row.cls,
        network=row.network,
        kind=row.kind,
        # The registry's rule (1280x720 at 25 fps), so the console agrees with the HD share the KPIs report.
        hd=rules.is_hd(row.main_width, row.main_height, row.main_fps),
        ptz=row.kind == "ptz" or row.ptz_type in PTZ_TYPES,
        latitude=row.latitude,
        longitude=row.longitude,
        address=row.address,
    )
