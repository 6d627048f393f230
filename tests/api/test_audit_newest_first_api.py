"""The audit search newest first, as the console's audit page pages it: the latest entries, then older ones."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.registry_fixtures import add_user, api_key, build_regions
from tianyan.core.clock import FakeClock
from tianyan.security import audit


async def test_newest_first_pages_back_through_the_filtered_log(
    client: httpx.AsyncClient, session: AsyncSession, clock: FakeClock
) -> None:
    await build_regions(session)
    auditor = await api_key(session, await add_user(session, "shen", "auditor", all_regions=True))
    for n in range(1, 8):
        actor = "boss" if n % 2 else "xiao"
        await audit.record(session, actor=actor, action="auth.login", target=f"user:{actor}", clock=clock)
    await session.commit()

    async def page(**params: object) -> dict:
        response = await client.get("/api/v1/audit", params={"order": "desc", **params}, headers=auditor)
        assert response.status_code == 200, response.text
        return response.json()

    def targets(body: dict) -> list[tuple[int, str]]:
        return [(item["seq"], item["actor"]) for item in body["items"]]

    first = await page(action="auth.login", actor="boss", limit=2)
    seqs = [seq for seq, _ in targets(first)]
    assert seqs == sorted(seqs, reverse=True) and {actor for _, actor in targets(first)} == {"boss"}
    assert first["next_before"] == seqs[-1] and first["next_after"] is None
    second = await page(action="auth.login", actor="boss", limit=2, before=first["next_before"])
    assert all(seq < seqs[-1] for seq, _ in targets(second)) and len(second["items"]) == 2
    assert second["next_before"] is None  # boss logged in four times: nothing older
    # The newest entry of all comes first without filters.
    everything = await page(limit=1)
    oldest_first = (await client.get("/api/v1/audit", params={"limit": 1000}, headers=auditor)).json()
    assert everything["items"][0]["seq"] == oldest_first["items"][-1]["seq"]
