"""Live view in the browser: a signed stream URL per camera, fMP4 over WebSocket for MSE, and HLS as the fallback.

POST /cameras/{gb_id}/live checks the caller's permission and scope, audits the view, and returns URLs carrying a
short-lived token bound to the user, the camera and the stream. The media endpoints trust only that token (a
WebSocket or an HLS player may not carry the session cookie), so they never touch the database per fragment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession, client_address
from tianyan.api.stream_tokens import token_signer
from tianyan.api.websockets import close_socket, stream_viewer
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.core.errors import NotFound, TianyanError, Unavailable
from tianyan.media.hub import StreamUnavailable
from tianyan.media.live import (
    CLOSE_TOKEN_INVALID,
    CLOSE_TOKEN_NOT_HERE,
    CLOSE_UNAVAILABLE,
    LiveMuxer,
    LiveViews,
)
from tianyan.media.tokens import MediaClaims, TokenError, TokenMismatch
from tianyan.registry import service as registry
from tianyan.security import audit
from tianyan.security.roles import Permission
from tianyan.security.scope import Principal

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])

MEDIA_PREFIX = "/media/live"
HLS_PLAYLIST = "application/vnd.apple.mpegurl"
# How long a playlist request waits for the first segments of a stream that is just starting (three GOPs).
HLS_FIRST_SEGMENTS_S = 30.0
# Cameras one POST /live may ask for (four walls of sixteen).
MAX_BATCH = 64


# --- the media plane's parts this router needs ---------------------------------------------------------------


def _media(platform: Platform) -> Any:
    media = getattr(platform, "media", None)
    if media is None or getattr(media, "hub", None) is None:
        raise Unavailable("live video does not run on this node (the media plane is not started)")
    return media


def live_views(platform: Platform, state: Any) -> LiveViews:
    """The node's live muxers: `platform.media.live`, else one made on the media hub with the configured timings."""
    media = _media(platform)
    views = getattr(media, "live", None)
    if isinstance(views, LiveViews):
        return views
    views = getattr(state, "live_views", None)
    if views is None or views.hub is not media.hub:
        config = platform.config.media
        views = state.live_views = LiveViews(media.hub, grace_s=config.live_grace_s)
    return views


def _ttl_s(platform: Platform) -> int:
    return platform.config.media.token_ttl_s


# --- issuing a live view -----------------------------------------------------------------------------------------


class LiveIn(BaseModel):
    stream: Literal["main", "sub"] = "main"
    transport: Literal["ws", "hls"] = "ws"


class LiveOut(BaseModel):
    ws_url: str
    hls_url: str
    mime_codec: str | None = None
    expires_at: datetime
    token: str


@router.post("/cameras/{gb_id}/live", response_model=LiveOut)
async def start_live(
    gb_id: str,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
    body: LiveIn | None = None,
) -> LiveOut:
    """A signed URL to watch the camera live: fMP4 over WebSocket (for MSE) and an HLS playlist (the fallback).

    The URLs are valid for `media.token_ttl_s` seconds, for this user and this camera only; a stream once opened
    keeps playing past that. Every call is audited."""
    body = body or LiveIn()
    principal.require(Permission.VIDEO_LIVE)
    return await _issue(request, principal, session, platform, gb_id, body.stream, body.transport)


class LiveWanted(BaseModel):
    camera: str
    stream: Literal["main", "sub"] = "main"


class LiveBatchIn(BaseModel):
    items: list[LiveWanted] = Field(min_length=1, max_length=MAX_BATCH)
    transport: Literal["ws", "hls"] = "ws"


class LiveRefused(BaseModel):
    status: int
    title: str
    detail: str


class LiveAnswer(BaseModel):
    camera: str
    stream: Literal["main", "sub"]
    live: LiveOut | None = None
    error: LiveRefused | None = None


class LiveBatchOut(BaseModel):
    items: list[LiveAnswer]


@router.post("/live", response_model=LiveBatchOut)
async def start_live_many(
    body: LiveBatchIn,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
) -> LiveBatchOut:
    """Live URLs for several cameras at once (a wall of tiles opening together): one request and one transaction
    instead of one each, so sixteen tiles do not queue sixteen times for the database.

    Each camera is answered on its own, in the order asked: its URLs, or why it was refused (`status` as the
    single-camera call would answer: 403, 404, 422…). Each one issued is audited as `video.live`."""
    principal.require(Permission.VIDEO_LIVE)
    answers = []
    for wanted in body.items:
        try:
            live = await _issue(request, principal, session, platform, wanted.camera, wanted.stream, body.transport)
        except TianyanError as exc:
            refused = LiveRefused(status=exc.status, title=exc.title, detail=exc.detail)
            answers.append(LiveAnswer(camera=wanted.camera, stream=wanted.stream, error=refused))
        else:
            answers.append(LiveAnswer(camera=wanted.camera, stream=wanted.stream, live=live))
    return LiveBatchOut(items=answers)


async def _issue(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    platform: Platform,
    gb_id: str,
    stream: Literal["main", "sub"],
    transport: Literal["ws", "hls"],
) -> LiveOut:
    camera = await registry.get_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    views = live_views(platform, request.app.state)
    token, claims = token_signer(platform, request.app.state).issue(
        user_id=principal.user_id,
        username=principal.username,
        camera=camera.gb_id,
        purpose="live",
        stream=stream,
        ttl_s=_ttl_s(platform),
    )
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="video.live",
        target=f"camera:{camera.gb_id}",
        detail={"stream": stream, "transport": transport, "token": claims.nonce},
        clock=platform.clock,
    )
    muxer = views.muxer(camera.gb_id, stream)
    base = str(request.base_url).rstrip("/")
    ws_base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
    api = request.scope.get("root_path", "") + "/api/v1"
    return LiveOut(
        ws_url=f"{ws_base}{api}{MEDIA_PREFIX}/ws?token={token}",
        hls_url=f"{base}{api}{MEDIA_PREFIX}/hls/{token}/index.m3u8",
        mime_codec=muxer.header.mime_codec if muxer is not None and muxer.header is not None else None,
        expires_at=claims.expires,
        token=token,
    )


# --- WebSocket: fMP4 for Media Source Extensions ---------------------------------------------------------------


@router.websocket(f"{MEDIA_PREFIX}/ws")
async def live_socket(websocket: WebSocket, token: str = "") -> None:
    """Binary fMP4: a JSON text message {mime_codec, width, height}, the init segment, then fragments.

    Closed with 4401 (bad or expired token), 4403 (token for something else), 4503 (the camera's stream cannot be
    started), 4408 (this viewer fell too far behind), 1000 (the stream ended); the reason says more."""
    await websocket.accept()
    platform: Platform = websocket.app.state.platform
    try:
        claims = token_signer(platform, websocket.app.state).verify(token, purpose="live")
        views = live_views(platform, websocket.app.state)
    except TokenMismatch as exc:
        await close_socket(websocket, CLOSE_TOKEN_NOT_HERE, exc.detail)
        return
    except TokenError as exc:
        await close_socket(websocket, CLOSE_TOKEN_INVALID, exc.detail)
        return
    except Unavailable as exc:
        await close_socket(websocket, CLOSE_UNAVAILABLE, exc.detail)
        return
    try:
        viewer = await views.watch(claims.camera, claims.stream)
    except StreamUnavailable as exc:
        await close_socket(websocket, CLOSE_UNAVAILABLE, f"the camera's stream could not be started: {exc}")
        await _audit_end(platform, websocket, claims, outcome="failed", reason=str(exc), sent=0, started=time.time())
        return
    started = time.time()
    try:
        code, reason = await stream_viewer(websocket, viewer, what=f"live socket for {claims.camera}")
    finally:
        await views.leave(viewer)
    await close_socket(websocket, code, reason)
    await _audit_end(platform, websocket, claims, outcome="ok", reason=reason, sent=viewer.sent_bytes, started=started)


async def _audit_end(
    platform: Platform,
    websocket: WebSocket,
    claims: MediaClaims,
    *,
    outcome: str,
    reason: str,
    sent: int,
    started: float,
) -> None:
    """The end of a live view: how long it ran and why it ended, next to the audit entry that opened it."""
    try:
        async with platform.sessions() as session:
            await audit.record(
                session,
                actor=claims.username or str(claims.user_id),
                source=websocket.client.host if websocket.client else "",
                action="video.live.end",
                target=f"camera:{claims.camera}",
                outcome=outcome,
                reason=reason,
                detail={
                    "stream": claims.stream,
                    "token": claims.nonce,
                    "seconds": round(time.time() - started, 1),
                    "bytes": sent,
                },
                clock=platform.clock,
            )
            await session.commit()
    except Exception:
        log.exception("auditing the end of a live view of %s failed", claims.camera)


# --- HLS ---------------------------------------------------------------------------------------------------------


async def _hls_muxer(request: Request, platform: Platform, token: str) -> LiveMuxer:
    views = live_views(platform, request.app.state)
    claims = token_signer(platform, request.app.state).verify(
        token, purpose="live", still_in_use=lambda c: views.hls_session_alive(c.nonce)
    )
    try:
        return await views.hls(claims.camera, claims.stream, lease=claims.nonce)
    except StreamUnavailable as exc:
        raise Unavailable(f"the camera's stream could not be started: {exc}") from exc


@router.get(f"{MEDIA_PREFIX}/hls/{{token}}/index.m3u8", response_class=Response)
async def hls_playlist(token: str, request: Request, platform: CurrentPlatform) -> Response:
    """The live feed as a rolling fMP4 HLS playlist; for a stream just starting it waits until three segments
    (about three GOPs) are there, since players start that far from the live end."""
    muxer = await _hls_muxer(request, platform, token)
    playlist = muxer.hls
    assert playlist is not None
    deadline = time.monotonic() + HLS_FIRST_SEGMENTS_S
    while not playlist.ready and muxer.ended is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Unavailable("the camera's stream has not delivered its first segments yet; try again shortly")
        muxer.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(muxer.changed.wait(), timeout=min(remaining, 1.0))
    if muxer.ended is not None and not playlist.ready:
        raise Unavailable(f"the stream ended: {muxer.ended}")
    log.debug("HLS playlist for %s asked by %s", muxer.channel, client_address(request))
    return Response(playlist.render(), media_type=HLS_PLAYLIST, headers={"Cache-Control": "no-cache"})


@router.get(f"{MEDIA_PREFIX}/hls/{{token}}/init.mp4", response_class=Response)
async def hls_init(token: str, request: Request, platform: CurrentPlatform) -> Response:
    muxer = await _hls_muxer(request, platform, token)
    if muxer.init_segment is None:
        raise NotFound("the stream has no init segment yet; read the playlist first")
    return Response(muxer.init_segment, media_type="video/mp4", headers={"Cache-Control": "no-cache"})


@router.get(f"{MEDIA_PREFIX}/hls/{{token}}/init-{{version}}.mp4", response_class=Response)
async def hls_init_version(token: str, version: int, request: Request, platform: CurrentPlatform) -> Response:
    muxer = await _hls_muxer(request, platform, token)
    data = muxer.hls.init(version) if muxer.hls is not None else None
    if data is None:
        raise NotFound(f"init segment {version} is no longer held; read the playlist again")
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "max-age=60"})


@router.get(f"{MEDIA_PREFIX}/hls/{{token}}/seg-{{sequence}}.m4s", response_class=Response)
async def hls_segment(token: str, sequence: int, request: Request, platform: CurrentPlatform) -> Response:
    muxer = await _hls_muxer(request, platform, token)
    segment = muxer.hls.segment(sequence) if muxer.hls is not None else None
    if segment is None:
        raise NotFound(f"segment {sequence} is not held (live segments roll off after a few seconds)")
    return Response(segment.data, media_type="video/mp4", headers={"Cache-Control": "max-age=60"})
