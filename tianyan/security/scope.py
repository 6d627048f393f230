"""Who may see which camera: the scope of a principal as a SQL clause, and the same rule for writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from tianyan.core.errors import Forbidden
from tianyan.registry.models import Camera, Device, Region
from tianyan.registry.rules import CLASSES, NETWORKS
from tianyan.security.models import SensitiveGrant
from tianyan.security.roles import SEES_ALL_SENSITIVE, Permission, Role, has_permission


@dataclass(frozen=True)
class Principal:
    """An authenticated account as the rest of the system sees it, with its scope resolved."""

    user_id: int
    username: str
    role: str
    all_regions: bool = False
    # Materialised paths of the region subtrees in scope ("/440000/441300/441303/").
    region_paths: tuple[str, ...] = ()
    networks: frozenset[str] = field(default_factory=frozenset)
    classes: frozenset[int] = field(default_factory=frozenset)
    sector_id: int | None = None
    source: str = ""

    def can(self, permission: Permission) -> bool:
        return has_permission(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(f"role {self.role!r} lacks permission {permission.value!r}")

    @property
    def sees_all_sensitive(self) -> bool:
        return Role(self.role) in SEES_ALL_SENSITIVE


SYSTEM = Principal(
    user_id=0,
    username="system",
    role=Role.ADMIN.value,
    all_regions=True,
    networks=frozenset({"police", "social", "local"}),
    classes=frozenset({1, 2, 3}),
)


def region_clause(
    principal: Principal, region_id: ColumnElement[int] | InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """`region_id` lies in one of the principal's region subtrees (for cameras, devices, anything placed)."""
    if principal.all_regions:
        return true()
    if not principal.region_paths:
        return false()
    in_subtrees = or_(*(Region.path.startswith(path, autoescape=True) for path in principal.region_paths))
    return region_id.in_(select(Region.id).where(in_subtrees))


def camera_clause(principal: Principal) -> ColumnElement[bool]:
    """The WHERE clause every camera query carries: region subtree x network x class x sector x sensitive."""
    parts: list[ColumnElement[bool]] = [
        region_clause(principal, Camera.region_id),
        Camera.network.in_(sorted(principal.networks)) if principal.networks else false(),
        Camera.cls.in_(sorted(principal.classes)) if principal.classes else false(),
    ]
    if principal.role == Role.INDUSTRY.value:
        parts.append(Camera.sector_id == principal.sector_id if principal.sector_id is not None else false())
    if not principal.sees_all_sensitive:
        granted = select(SensitiveGrant.camera_id).where(SensitiveGrant.user_id == principal.user_id)
        parts.append(or_(Camera.sensitive.is_(False), Camera.id.in_(granted)))
    return and_(*parts)


def device_clause(principal: Principal) -> ColumnElement[bool]:
    """Devices in the principal's regions; for an account limited by network, class or sector, only devices that
    carry at least one camera it may see (an industry user sees its own sector's devices, not the police's)."""
    in_regions = region_clause(principal, Device.region_id)
    unrestricted = (
        principal.networks >= set(NETWORKS) and principal.classes >= set(CLASSES) and principal.role != Role.INDUSTRY
    )
    if unrestricted:
        return in_regions
    carries = select(Camera.id).where(Camera.device_id == Device.id, camera_clause(principal)).exists()
    return and_(in_regions, carries)


def check_attributes(
    principal: Principal,
    *,
    region_path: str,
    network: str,
    cls: int,
    sector_id: int | None,
) -> None:
    """Refuse a write that would put a camera outside the writer's own scope."""
    if not principal.all_regions and not any(region_path.startswith(p) for p in principal.region_paths):
        raise Forbidden("the camera's region is outside your scope")
    if network not in principal.networks:
        raise Forbidden(f"network {network!r} is outside your scope")
    if cls not in principal.classes:
        raise Forbidden(f"class {cls} is outside your scope")
    if principal.role == Role.INDUSTRY.value and sector_id != principal.sector_id:
        raise Forbidden("industry users may only manage cameras of their own sector")
