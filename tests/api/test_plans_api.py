"""Plans over the API: the list says which plan KPIs are judged by, so the console opens that one first."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import add_user, api_key, build_registry
from tianyan.app.platform import Platform


async def test_the_list_marks_the_active_plan(
    client: httpx.AsyncClient, session: AsyncSession, platform: Platform
) -> None:
    await build_registry(session)
    headers = await api_key(session, await add_user(session, "analyst", "analyst", all_regions=True))
    await session.commit()
    listed = (await client.get("/api/v1/plans", headers=headers)).json()
    assert {p["id"] for p in listed} >= {"huizhou-2012-2014", "ningxia-2014", "national-2020"}
    assert [p["id"] for p in listed if p["active"]] == [platform.config.health.plan] == ["huizhou-2012-2014"]
    platform.config.health.plan = "national-2020"
    assert [p["id"] for p in (await client.get("/api/v1/plans", headers=headers)).json() if p["active"]] == [
        "national-2020"
    ]
