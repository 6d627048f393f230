"""Login, logout, the current account, TOTP enrolment and API keys."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from tianyan.api.deps import SESSION_COOKIE, CurrentPlatform, CurrentPrincipal, DbSession, client_address
from tianyan.core.errors import NotFound
from tianyan.security import login, totp
from tianyan.security.models import ApiKey, User
from tianyan.security.roles import PERMISSIONS, Role

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    totp: str | None = Field(None, max_length=10)


class Me(BaseModel):
    username: str
    display_name: str
    role: str
    permissions: list[str]
    all_regions: bool
    regions: list[str]
    networks: list[str]
    classes: list[int]
    totp_enabled: bool


def _me(user: User) -> Me:
    return Me(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        permissions=sorted(p.value for p in PERMISSIONS[Role(user.role)]),
        all_regions=user.all_regions,
        regions=list(user.scope_regions or []),
        networks=list(user.scope_networks or []),
        classes=list(user.scope_classes or []),
        totp_enabled=user.totp_enabled,
    )


@router.post("/auth/login", response_model=Me)
async def log_in(body: LoginIn, request: Request, response: Response, session: DbSession, platform: CurrentPlatform):
    result = await login.login(
        session,
        username=body.username,
        password=body.password,
        totp_code=body.totp,
        source=client_address(request),
        clock=platform.clock,
        settings=platform.auth,
    )
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="strict",
        secure=platform.config.server.cookie_secure,
        max_age=platform.config.server.session_max_hours * 3600,
        path="/",
    )
    return _me(result.user)


@router.post("/auth/logout", status_code=204)
async def logout(request: Request, response: Response, session: DbSession) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await login.logout(session, token=token, source=client_address(request))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=Me)
async def me(principal: CurrentPrincipal, session: DbSession):
    return _me(await session.get_one(User, principal.user_id))


class TotpBegin(BaseModel):
    provisioning_uri: str


class TotpConfirm(BaseModel):
    code: str = Field(min_length=6, max_length=8)


@router.post("/auth/totp", response_model=TotpBegin)
async def begin_totp(principal: CurrentPrincipal, session: DbSession):
    user = await session.get_one(User, principal.user_id)
    return TotpBegin(provisioning_uri=await totp.begin_totp(session, user=user))


@router.post("/auth/totp/confirm", status_code=204)
async def confirm_totp(body: TotpConfirm, principal: CurrentPrincipal, session: DbSession, platform: CurrentPlatform):
    user = await session.get_one(User, principal.user_id)
    await totp.confirm_totp(session, user=user, code=body.code, clock=platform.clock, source=principal.source)


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    revoked: bool
    created_at: datetime
    last_used_at: datetime | None
    key: str | None = Field(None, description="the secret, shown only in the response that creates it")


def _key_out(key: ApiKey, plaintext: str | None = None) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        revoked=key.revoked,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        key=plaintext,
    )


@router.get("/auth/api-keys", response_model=list[ApiKeyOut])
async def list_keys(principal: CurrentPrincipal, session: DbSession):
    rows = (await session.execute(select(ApiKey).where(ApiKey.user_id == principal.user_id))).scalars()
    return [_key_out(key) for key in rows]


@router.post("/auth/api-keys", response_model=ApiKeyOut, status_code=201)
async def create_key(body: ApiKeyIn, principal: CurrentPrincipal, session: DbSession):
    user = await session.get_one(User, principal.user_id)
    key, plaintext = await login.create_api_key(
        session, user=user, name=body.name, actor=principal.username, source=principal.source
    )
    return _key_out(key, plaintext)


@router.delete("/auth/api-keys/{key_id}", status_code=204)
async def revoke_key(key_id: int, principal: CurrentPrincipal, session: DbSession) -> None:
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != principal.user_id:
        raise NotFound(f"no API key {key_id}")
    await login.revoke_api_key(session, key=key, actor=principal.username, source=principal.source)
