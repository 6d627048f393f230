"""Playback of footage kept on a device (an NVR's own disk) through GB/T 28181: start, watch, steer, stop."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, WebSocket
from pydantic import AwareDatetime, BaseModel, Field

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.api.stream_tokens import token_signer
from tianyan.api.websockets import close_socket, stream_viewer
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.core.errors import TianyanError, Unavailable
from tianyan.media.device_playback import DevicePlaybacks
from tianyan.media.live import CLOSE_TOKEN_INVALID, CLOSE_TOKEN_NOT_HERE, CLOSE_UNAVAILABLE
from tianyan.media.tokens import TokenError, TokenMismatch
from tianyan.registry import service as registry
from tianyan.security import audit
from tianyan.security.roles import Permission

router = APIRouter(tags=["playback"])
PREFIX = "/media/device-playback"
STREAM_PREFIX = "device:"


def _playbacks(platform: Platform) -> DevicePlaybacks:
    if platform.media is None:
        raise Unavailable("the media plane does not run on this node")
    return platform.media.device_playbacks


class DevicePlaybackIn(BaseModel):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class DevicePlaybackOut(BaseModel):
    id: str
    ws_url: str
    expires_at: datetime


class ControlIn(BaseModel):
    action: Literal["pause", "resume", "scale", "seek"]
    scale: float | None = None
    # Seconds from the start of the range.
    seek_s: Annotated[float | None, Field(ge=0)] = None


class ControlOut(BaseModel):
    id: str
    paused: bool
    scale: float


@router.post("/cameras/{gb_id}/device-playback", response_model=DevicePlaybackOut)
async def start_device_playback(
    gb_id: str,
    body: DevicePlaybackIn,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
) -> DevicePlaybackOut:
    """Ask the camera's device (s=Playback) for footage it keeps itself; watch it over the WebSocket answered."""
    principal.require(Permission.VIDEO_PLAYBACK)
    camera = await registry.get_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    playbacks = _playbacks(platform)
    playback = await playbacks.start(camera.gb_id, body.start, body.end, user_id=principal.user_id)
    token, claims = token_signer(platform, request.app.state).issue(
        user_id=principal.user_id, username=principal.username, camera=camera.gb_id, purpose="playback",
        stream=STREAM_PREFIX + playback.id, ttl_s=platform.config.media.token_ttl_s,
    )  # fmt: skip
    await audit.record(
        session, actor=principal.username, source=principal.source, action="video.playback.device",
        target=f"camera:{camera.gb_id}",
        detail={"from": body.start.isoformat(), "to": body.end.isoformat(), "playback": playback.id},
        clock=platform.clock,
    )  # fmt: skip
    base = str(request.base_url).rstrip("/")
    ws_base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
    return DevicePlaybackOut(
        id=playback.id, ws_url=f"{ws_base}/api/v1{PREFIX}/ws?token={token}", expires_at=claims.expires
    )


@router.post(f"{PREFIX}/{{playback_id}}/control", response_model=ControlOut)
async def control_device_playback(
    playback_id: str, body: ControlIn, principal: CurrentPrincipal, platform: CurrentPlatform
) -> ControlOut:
    """Pause, resume, change speed (scale) or seek (seconds into the range): INFO MANSRTSP to the device."""
    principal.require(Permission.VIDEO_PLAYBACK)
    playback = await _playbacks(platform).control(
        playback_id, body.action, user_id=principal.user_id, scale=body.scale, seek_s=body.seek_s
    )
    return ControlOut(id=playback.id, paused=playback.paused, scale=playback.scale)


@router.delete(f"{PREFIX}/{{playback_id}}", status_code=204)
async def stop_device_playback(playback_id: str, principal: CurrentPrincipal, platform: CurrentPlatform) -> None:
    playbacks = _playbacks(platform)
    playbacks.get(playback_id, user_id=principal.user_id)
    await playbacks.stop(playback_id, reason="stopped by the viewer")


@router.websocket(f"{PREFIX}/ws")
async def device_playback_socket(websocket: WebSocket, token: str = "") -> None:
    """The same messages as a live view: a JSON header, the fMP4 init segment, then fragments."""
    await websocket.accept()
    platform: Platform = websocket.app.state.platform
    try:
        claims = token_signer(platform, websocket.app.state).verify(token, purpose="playback")
        if not claims.stream.startswith(STREAM_PREFIX):
            raise TokenMismatch("this token is not for a device playback")
        playback_id = claims.stream[len(STREAM_PREFIX) :]
        playbacks = _playbacks(platform)
        viewer = playbacks.watch(playback_id, user_id=claims.user_id)
    except TokenMismatch as exc:
        await close_socket(websocket, CLOSE_TOKEN_NOT_HERE, exc.detail)
        return
    except TokenError as exc:
        await close_socket(websocket, CLOSE_TOKEN_INVALID, exc.detail)
        return
    except TianyanError as exc:  # the playback ended, belongs to someone else, or media is not here
        await close_socket(websocket, CLOSE_UNAVAILABLE, exc.detail)
        return
    try:
        code, reason = await stream_viewer(websocket, viewer, what=f"device playback {playback_id}")
    finally:
        await playbacks.leave(playback_id, viewer)
    await close_socket(websocket, code, reason)
