"""Request dependencies: the platform, a database session, and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.app.platform import Platform
from tianyan.core.errors import Unauthenticated
from tianyan.db.engine import intend_to_write
from tianyan.security import login
from tianyan.security.scope import Principal

SESSION_COOKIE = "tianyan_session"
# Requests that only read; the rest take the write lock up front on SQLite (see db.engine).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_platform(request: Request) -> Platform:
    return request.app.state.platform


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back when it raises."""
    platform: Platform = request.app.state.platform
    async with platform.sessions() as session:
        if request.method not in SAFE_METHODS:
            await intend_to_write(session)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


async def get_principal(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
) -> Principal:
    platform: Platform = request.app.state.platform
    source = client_address(request)
    authorization = request.headers.get("authorization", "")
    api_key = request.headers.get("x-api-key") or (
        authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
    )
    if api_key:
        return await login.principal_from_api_key(session, key=api_key, source=source, clock=platform.clock)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return await login.principal_from_session(
            session, token=token, source=source, clock=platform.clock, settings=platform.auth
        )
    raise Unauthenticated("log in, or send an API key as 'Authorization: Bearer …'")


DbSession = Annotated[AsyncSession, Depends(get_session)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentPlatform = Annotated[Platform, Depends(get_platform)]
