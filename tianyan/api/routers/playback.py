"""Playback of recorded footage in the browser: a signed stream URL with the range's timeline, and the stream."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from tianyan.api.deps import CurrentPlatform, CurrentPrincipal, DbSession
from tianyan.api.stream_tokens import token_signer
from tianyan.app.platform import Platform
from tianyan.core import gbid
from tianyan.core.errors import InvalidInput, NotFound
from tianyan.media import playback, tokens
from tianyan.media.evidence import scoped_camera
from tianyan.media.export import Footage, load_footage
from tianyan.media.export_jobs import check_range
from tianyan.registry.models import Camera
from tianyan.security import audit
from tianyan.security.roles import Permission

router = APIRouter(tags=["playback"])
STREAM_PATH = "/api/v1/playback/stream"


def _pools(platform: Platform) -> dict[str, Any]:
    return {pool.name: pool.path for pool in platform.config.storage_pools}


class PlaybackIn(BaseModel):
    start: AwareDatetime = Field(alias="from")
    end: AwareDatetime = Field(alias="to")


class SpanOut(BaseModel):
    media_s: float
    wall_at: datetime


class GapOut(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    seconds: float
    cause: str


class PlaybackOut(BaseModel):
    stream_url: str
    expires_at: datetime
    mime_codec: str
    mime_type: str
    start: datetime = Field(serialization_alias="from", description="the keyframe the timeline begins with")
    end: datetime = Field(serialization_alias="to")
    duration_s: float
    timeline: list[SpanOut]
    gaps: list[GapOut]


async def _plan(footage: Footage, start: datetime, end: datetime) -> playback.PlaybackPlan:
    if not footage.segments:
        raise playback.NoFootage(f"no recorded footage between {start.isoformat()} and {end.isoformat()}")
    keyframe = await asyncio.to_thread(playback.first_keyframe, footage.segments, start)
    return playback.plan_playback(footage.segments, start, end, keyframe=keyframe, known=footage.known_gaps)


@router.post("/cameras/{gb_id}/playback", response_model=PlaybackOut, response_model_by_alias=True)
async def start_playback(
    gb_id: str,
    body: PlaybackIn,
    request: Request,
    principal: CurrentPrincipal,
    session: DbSession,
    platform: CurrentPlatform,
):
    """A short-lived stream URL for the camera's recording between `from` and `to`, and its timeline (audited)."""
    principal.require(Permission.VIDEO_PLAYBACK)
    start, end = check_range(body.start, body.end)
    camera = await scoped_camera(session, principal=principal, gb_id=gbid.parse(gb_id).value)
    footage = await load_footage(session, camera_id=camera.id, start=start, end=end, pools=_pools(platform))
    plan = await _plan(footage, start, end)
    video_codec, audio_codec = await asyncio.to_thread(playback.codecs_of, plan.spans[0].segment)
    token, claims = token_signer(platform, request.app.state).issue(
        user_id=principal.user_id,
        username=principal.username,
        camera=camera.gb_id,
        purpose="playback",
        ttl_s=platform.config.media.token_ttl_s,
        stream=playback.range_claim(start, end),
    )
    await audit.record(
        session,
        actor=principal.username,
        source=principal.source,
        action="video.playback",
        target=f"camera:{camera.gb_id}",
        detail={"from": start.isoformat(), "to": end.isoformat()},
        clock=platform.clock,
    )
    codecs = video_codec if audio_codec is None else f"{video_codec},{audio_codec}"
    return PlaybackOut(
        stream_url=f"{STREAM_PATH}?token={token}",
        expires_at=claims.expires,
        mime_codec=video_codec,
        mime_type=f'video/mp4; codecs="{codecs}"',
        start=plan.start,
        end=end,
        duration_s=round(plan.duration_s, 3),
        timeline=[SpanOut(**span.as_dict()) for span in plan.spans],
        gaps=[GapOut(start=g.start_at, end=g.end_at, seconds=round(g.seconds, 3), cause=g.cause) for g in plan.gaps],
    )


def _start_point(plan: playback.PlaybackPlan, start: str | None) -> float:
    """`start` is media seconds on the timeline, or a wall time (ISO 8601 with a zone)."""
    if start is None or start == "":
        return 0.0
    try:
        return float(start)
    except ValueError:
        pass
    try:
        wall = datetime.fromisoformat(start)
    except ValueError as exc:
        raise InvalidInput("start must be media seconds or an ISO 8601 time with a zone") from exc
    if wall.tzinfo is None:
        raise InvalidInput("a start time needs a zone")
    return plan.media_at(wall)


@router.get("/playback/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    session: DbSession,
    platform: CurrentPlatform,
    token: Annotated[str, Query(max_length=tokens.MAX_TOKEN_CHARS)],
    start: Annotated[str | None, Query(max_length=64, description="media seconds, or a wall time, to seek to")] = None,
) -> StreamingResponse:
    """Fragmented MP4 for Media Source Extensions: init segment, then fragments from the keyframe at or before
    `start`. Header X-Media-Start: the media second the stream's time zero is on the timeline."""
    claims = token_signer(platform, request.app.state).verify(token, purpose="playback")
    range_start, range_end = playback.parse_range_claim(claims.stream)
    camera = (await session.execute(Camera.__table__.select().where(Camera.gb_id == claims.camera))).one_or_none()
    if camera is None:
        raise NotFound(f"camera {claims.camera} no longer exists")
    footage = await load_footage(session, camera_id=camera.id, start=range_start, end=range_end, pools=_pools(platform))
    await session.commit()  # hold no transaction open while streaming
    plan = await _plan(footage, range_start, range_end)
    wall_start, media_start = await asyncio.to_thread(playback.seek_point, plan, _start_point(plan, start))
    headers = {
        "Cache-Control": "no-store",
        "X-Media-Start": f"{float(media_start):.6f}",
        "X-Wall-Start": wall_start.isoformat(),
    }
    return StreamingResponse(
        playback.fragmented_mp4(plan, wall_start, media_start), media_type="video/mp4", headers=headers
    )
