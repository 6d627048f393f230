"""GET /roles: the role × permission matrix the console shows is the one the server enforces."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import HUIYANG, add_user, api_key, build_regions
from tianyan.security.roles import PERMISSIONS, Role


async def test_any_signed_in_account_reads_every_role_with_its_permissions(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await build_regions(session)
    operator = await api_key(session, await add_user(session, "hy.op", "operator", regions=[HUIYANG]))
    await session.commit()

    response = await client.get("/api/v1/roles", headers=operator)
    assert response.status_code == 200, response.text
    roles = {row["role"]: row for row in response.json()}
    assert list(roles) == [role.value for role in Role]
    assert {name: set(row["permissions"]) for name, row in roles.items()} == {
        role.value: {p.value for p in PERMISSIONS[role]} for role in Role
    }
    # Separation of duties, as an administrator reading the matrix would check it.
    assert "audit.read" not in roles["admin"]["permissions"] and "user.manage" in roles["admin"]["permissions"]
    assert roles["auditor"]["permissions"] == ["camera.read", "audit.read", "plan.read", "health.read"]
    assert roles["operator"]["name_zh"] == "监看员"


async def test_roles_need_a_signed_in_account(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/roles")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
