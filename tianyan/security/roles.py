"""Roles and the explicit permissions each holds (the table in docs/access.md is generated from this)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # 管理员
    OPERATOR = "operator"  # 监看员
    ANALYST = "analyst"  # 研判员
    MAINTAINER = "maintainer"  # 运维员
    INDUSTRY = "industry"  # 行业用户
    AUDITOR = "auditor"  # 审计员


ROLE_NAMES_ZH = {
    Role.ADMIN: "管理员",
    Role.OPERATOR: "监看员",
    Role.ANALYST: "研判员",
    Role.MAINTAINER: "运维员",
    Role.INDUSTRY: "行业用户",
    Role.AUDITOR: "审计员",
}


class Permission(StrEnum):
    CAMERA_READ = "camera.read"  # list and read camera records in scope
    CAMERA_WRITE = "camera.write"  # create, edit, delete, import cameras in scope
    CAMERA_EXPORT = "camera.export"  # export the registry (CSV/Excel) in scope
    DEVICE_WRITE = "device.write"  # add and edit devices
    DEVICE_APPROVE = "device.approve"  # approve auto-enrolled devices
    VIDEO_LIVE = "video.live"
    VIDEO_PLAYBACK = "video.playback"
    VIDEO_EXPORT = "video.export"
    PTZ_CONTROL = "ptz.control"
    USER_MANAGE = "user.manage"  # accounts, roles, scopes, sensitive grants
    AUDIT_READ = "audit.read"  # search, export and verify the audit log
    PLAN_READ = "plan.read"  # plan progress and KPI reports
    REGION_WRITE = "region.write"  # regions and organisations
    HEALTH_READ = "health.read"  # picture diagnoses and fault work orders in scope
    WORK_ORDER_WRITE = "workorder.write"  # handle work orders, tune diagnosis thresholds


_ALL_VIDEO = {Permission.VIDEO_LIVE, Permission.VIDEO_PLAYBACK}

# Separation of duties (MLPS 三员分立): administrators run the system but do not
# read the audit log; auditors read it but cannot change anything or watch video.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(
        {
            Permission.CAMERA_READ,
            Permission.CAMERA_WRITE,
            Permission.CAMERA_EXPORT,
            Permission.DEVICE_WRITE,
            Permission.DEVICE_APPROVE,
            Permission.USER_MANAGE,
            Permission.PLAN_READ,
            Permission.REGION_WRITE,
            *_ALL_VIDEO,
            Permission.PTZ_CONTROL,
            Permission.HEALTH_READ,
            Permission.WORK_ORDER_WRITE,
        }
    ),
    Role.OPERATOR: frozenset({Permission.CAMERA_READ, *_ALL_VIDEO, Permission.PTZ_CONTROL}),
    Role.ANALYST: frozenset(
        {
            Permission.CAMERA_READ,
            Permission.CAMERA_EXPORT,
            *_ALL_VIDEO,
            Permission.VIDEO_EXPORT,
            Permission.PLAN_READ,
            Permission.HEALTH_READ,
        }
    ),
    Role.MAINTAINER: frozenset(
        {
            Permission.CAMERA_READ,
            Permission.CAMERA_WRITE,
            Permission.CAMERA_EXPORT,
            Permission.DEVICE_WRITE,
            Permission.VIDEO_LIVE,
            Permission.PLAN_READ,
            Permission.HEALTH_READ,
            Permission.WORK_ORDER_WRITE,
        }
    ),
    Role.INDUSTRY: frozenset(
        {Permission.CAMERA_READ, Permission.CAMERA_WRITE, *_ALL_VIDEO, Permission.PTZ_CONTROL, Permission.HEALTH_READ}
    ),
    Role.AUDITOR: frozenset(
        {Permission.CAMERA_READ, Permission.AUDIT_READ, Permission.PLAN_READ, Permission.HEALTH_READ}
    ),
}

# Roles that see sensitive cameras without a per-camera grant.
SEES_ALL_SENSITIVE = frozenset({Role.ADMIN})


def has_permission(role: str, permission: Permission) -> bool:
    return permission in PERMISSIONS.get(Role(role), frozenset())


def permission_table_markdown() -> str:
    roles = list(Role)
    head = "| permission | " + " | ".join(f"{r.value} ({ROLE_NAMES_ZH[r]})" for r in roles) + " |"
    rule = "|---|" + "---|" * len(roles)
    rows = [
        f"| `{p.value}` | " + " | ".join("✓" if p in PERMISSIONS[r] else "" for r in roles) + " |" for p in Permission
    ]
    return "\n".join([head, rule, *rows])
