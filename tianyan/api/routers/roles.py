"""The fixed roles and the permissions each carries, so consoles show the matrix the server enforces."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from tianyan.api.deps import get_principal
from tianyan.security.roles import PERMISSIONS, ROLE_NAMES_ZH, Permission, Role

router = APIRouter(tags=["users"])


class RoleOut(BaseModel):
    role: str
    name_zh: str
    permissions: list[str]


# Any signed-in account may read it: the matrix is public in docs/access.md, and users ask what their role allows.
@router.get("/roles", response_model=list[RoleOut], dependencies=[Depends(get_principal)])
async def list_roles() -> list[RoleOut]:
    """Every role with its permissions, in the order of the permission list (docs/access.md holds the same table)."""
    order = list(Permission)
    return [
        RoleOut(
            role=role.value,
            name_zh=ROLE_NAMES_ZH[role],
            permissions=[p.value for p in sorted(PERMISSIONS[role], key=order.index)],
        )
        for role in Role
    ]
