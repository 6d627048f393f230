"""Fixtures for the audit log: a recorded chain, an attacker with database access, and API accounts by role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.audit.auditlog import CHAIN_LENGTH, REMOTE_ADDRESS, Accounts, Tamper, record_chain
from tests.registry_fixtures import add_user, api_key, build_regions
from tianyan.api.app import create_app
from tianyan.app.platform import Platform
from tianyan.core.clock import FakeClock


@pytest.fixture
def tamper(engine: AsyncEngine, backend: str) -> Tamper:
    return Tamper(engine, backend)


@pytest.fixture
async def chain(session: AsyncSession, clock: FakeClock, tamper: Tamper) -> list[dict[str, Any]]:
    """A sound log of CHAIN_LENGTH entries; returns the rows as stored before anyone touched them."""
    await record_chain(session, clock)
    rows = await tamper.rows()
    assert [row["seq"] for row in rows] == list(range(1, CHAIN_LENGTH + 1))
    return rows


@pytest.fixture
async def accounts(session: AsyncSession) -> Accounts:
    """Regions 广东 > 惠州 > 惠城区/惠阳区, and the auditor shen, the administrator boss and the operator xiao."""
    await build_regions(session)
    auditor = await add_user(session, "shen", "auditor", all_regions=True)
    admin = await add_user(session, "boss", "admin", all_regions=True)
    operator = await add_user(session, "xiao", "operator", regions=["441302"])
    headers = Accounts(
        auditor=await api_key(session, auditor),
        admin=await api_key(session, admin),
        operator=await api_key(session, operator),
    )
    await session.commit()
    return headers


@pytest.fixture
async def remote(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """An API client connecting from REMOTE_ADDRESS."""
    transport = httpx.ASGITransport(app=create_app(platform), client=(REMOTE_ADDRESS, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
