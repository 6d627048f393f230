"""Playback as a browser player meets it: a timeline with gaps squeezed out that maps back to the real clock, and
a fragmented-MP4 stream (init segment, then fragments) that decodes in order with continuous timestamps, from
the right keyframe when seeking; through the API, scoped, audited and behind a signed, short-lived URL."""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import AsyncIterator
from datetime import timedelta
from fractions import Fraction

import av
import httpx
import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.media.test_export import FPS, SegmentFiles, add_segments, at, segment_files, segments_of  # noqa: F401
from tests.registry_fixtures import HUICHENG, HUIYANG, add_user, api_key, build_registry
from tianyan.core.errors import InvalidInput
from tianyan.media import playback
from tianyan.media.export import SegmentFile
from tianyan.security import audit
from tianyan.security.audit import AuditFilter

API = "/api/v1"


def plan_for(files: SegmentFiles, start: float = 2.5, end: float = 12.5) -> playback.PlaybackPlan:
    segments = segments_of(files.video)
    keyframe = playback.first_keyframe(segments, at(start))
    return playback.plan_playback(segments, at(start), at(end), keyframe=keyframe)


def boxes(data: bytes) -> list[str]:
    names, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        names.append(kind.decode("ascii"))
        offset += size
    assert offset == len(data), "a box runs past the end of the stream"
    return names


def frames_of(data: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


async def collect(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


def test_timeline_squeezes_gaps_and_maps_back_to_wall_time(segment_files: SegmentFiles) -> None:  # noqa: F811
    plan = plan_for(segment_files)
    assert plan.start == at(2)  # the keyframe at or before the asked start
    assert [(s.as_dict()["media_s"], s.wall_from) for s in plan.spans] == [(0.0, at(2)), (2.0, at(4)), (6.0, at(10))]
    assert plan.duration_s == pytest.approx(8.5)
    assert [(g.start_at, g.end_at) for g in plan.gaps] == [(at(8), at(10))]
    assert plan.wall_at(5.5) == at(7.5) and plan.wall_at(6.25) == at(10.25)
    assert plan.media_at(at(9)) == 6.0  # a time in the gap shows the footage after it
    assert plan.media_at(at(11)) == 7.0


def test_codec_strings() -> None:
    avcc = bytes([1, 0x64, 0x00, 0x1F, 0xFF])
    assert playback.video_codec_string("h264", avcc) == "avc1.64001f"
    annex_b = b"\x00\x00\x00\x01\x67\x4d\x40\x28\xaa" + b"\x00\x00\x00\x01\x68\xee"
    assert playback.video_codec_string("h264", annex_b) == "avc1.4d4028"
    hvcc = bytes([1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]) + bytes(10)
    assert playback.video_codec_string("hevc", hvcc) == "hvc1.1.6.L93.90"
    assert playback.audio_codec_string(bytes([0x15, 0x88])) == "mp4a.40.2"
    with pytest.raises(InvalidInput):
        playback.video_codec_string("mjpeg", b"")


def test_range_claim_round_trips() -> None:
    claim = playback.range_claim(at(2.5), at(12.5))
    assert playback.parse_range_claim(claim) == (at(2.5), at(12.5))
    with pytest.raises(InvalidInput):
        playback.parse_range_claim("main")


async def test_stream_is_init_then_fragments_with_continuous_time(segment_files: SegmentFiles) -> None:  # noqa: F811
    plan = plan_for(segment_files)
    wall, media = playback.seek_point(plan, 0)
    assert (wall, media) == (at(2), Fraction(0))
    chunks = await collect(playback.fragmented_mp4(plan, wall, media))
    data = b"".join(chunks)
    names = boxes(data)
    assert names[:2] == ["ftyp", "moov"] and set(names[2:]) == {"moof", "mdat"}
    assert names[2:] == ["moof", "mdat"] * (len(names[2:]) // 2)
    # The init segment arrives whole before any fragment: a player can set up its SourceBuffer at once.
    assert boxes(b"".join(itertools.takewhile(lambda c: b"moof" not in c, chunks)))[:2] == ["ftyp", "moov"]

    frames = frames_of(data)
    times = [float(f.time) for f in frames]
    assert len(times) == 2 * FPS + 4 * FPS + int(2.5 * FPS) + 1
    assert {round(b - a, 3) for a, b in itertools.pairwise(times)} == {0.04}  # the 2 s gap is squeezed out
    assert times[0] == 0 and times[-1] == pytest.approx(6 + 2.48, abs=0.002)  # wall 12.48 s, the last before 12.5


async def test_seek_starts_at_the_keyframe_before(segment_files: SegmentFiles) -> None:  # noqa: F811
    plan = plan_for(segment_files)
    wall, media = playback.seek_point(plan, 5.3)  # wall 07.3 s: the keyframe is at 07.0 s, media 5.0
    assert (wall, media) == (at(7), Fraction(5))
    frames = frames_of(b"".join(await collect(playback.fragmented_mp4(plan, wall, media))))
    assert len(frames) == FPS + int(2.5 * FPS) + 1  # [7, 8) then [10, 12.5)
    with av.open(str(segment_files.video[1])) as original:  # wall 07.0 s is 3.0 s into the second segment
        expected = next(itertools.islice(original.decode(video=0), 3 * FPS, None))
    assert np.array_equal(frames[0].to_ndarray(format="gray"), expected.to_ndarray(format="gray"))
    with pytest.raises(InvalidInput):
        playback.seek_point(plan, 99)


async def test_a_client_that_goes_away_stops_the_muxer(segment_files: SegmentFiles) -> None:  # noqa: F811
    plan = plan_for(segment_files, 0, 14)
    stream = playback.fragmented_mp4(plan, at(0), Fraction(0))
    first = await anext(stream)
    assert first.startswith(b"\x00\x00\x00") and b"ftyp" in first[:8]
    await stream.aclose()  # the muxing thread notices and ends; nothing hangs


def test_overlapping_rows_are_not_counted_twice(segment_files: SegmentFiles) -> None:  # noqa: F811
    a, b = segment_files.video[:2]
    segments = [SegmentFile(1, a, at(0), at(4)), SegmentFile(2, b, at(3.5), at(7.5))]
    plan = playback.plan_playback(segments, at(0), at(7.5), keyframe=at(0))
    assert [(float(s.media_s), s.wall_from) for s in plan.spans] == [(0.0, at(0)), (4.0, at(4))]
    assert plan.duration_s == pytest.approx(7.5)


@pytest.fixture
async def camera(session: AsyncSession, platform, segment_files: SegmentFiles) -> str:  # noqa: F811
    registry = await build_registry(session, sensitive=(False,))
    chosen = next(c for c in registry.cameras if c.region == HUICHENG)
    pool = platform.config.recordings_dir
    await add_segments(session, camera_id=chosen.id, gb_id=chosen.gb_id, pool_dir=pool, files=segment_files.video)
    return chosen.gb_id


async def test_playback_through_the_api(
    client: httpx.AsyncClient, session: AsyncSession, platform, camera: str
) -> None:
    operator = await add_user(session, "op.wang", "operator", regions=[HUICHENG])
    headers = await api_key(session, operator)
    await session.commit()
    body = {"from": at(2.5).isoformat(), "to": at(12.5).isoformat()}
    answer = await client.post(f"{API}/cameras/{camera}/playback", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    offer = answer.json()
    assert offer["mime_codec"].startswith("avc1.") and len(offer["mime_codec"]) == len("avc1.64001f")
    assert offer["mime_type"] == f'video/mp4; codecs="{offer["mime_codec"]}"'
    assert [(s["media_s"], s["wall_at"]) for s in offer["timeline"]] == [
        (0.0, at(2).isoformat().replace("+00:00", "Z")), (2.0, at(4).isoformat().replace("+00:00", "Z")),
        (6.0, at(10).isoformat().replace("+00:00", "Z")),
    ]  # fmt: skip
    assert offer["duration_s"] == 8.5 and [g["seconds"] for g in offer["gaps"]] == [2.0]
    url = offer["stream_url"]
    assert "token=" in url

    streamed = await client.get(url)  # no session cookie or key: the signed URL is the ticket
    assert streamed.status_code == 200, streamed.text
    assert streamed.headers["content-type"] == "video/mp4" and float(streamed.headers["x-media-start"]) == 0
    assert len(frames_of(streamed.content)) == 2 * FPS + 4 * FPS + int(2.5 * FPS) + 1

    seeked = await client.get(f"{url}&start=6.3")
    assert seeked.status_code == 200, seeked.text
    assert float(seeked.headers["x-media-start"]) == 6.0
    assert len(frames_of(seeked.content)) == int(2.5 * FPS) + 1
    by_wall = await client.get(url + "&start=" + at(11.5).isoformat().replace("+", "%2B"))
    assert float(by_wall.headers["x-media-start"]) == 7.0

    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert (await client.get(tampered)).status_code == 401
    platform.clock.advance(platform.config.media.token_ttl_s + 1)
    expired = await client.get(url)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]

    entries = await audit.search(session, where=AuditFilter(action="video.playback"))
    assert [(e.actor, e.target) for e in entries] == [("op.wang", f"camera:{camera}")]


async def test_playback_is_scoped_and_needs_the_permission(
    client: httpx.AsyncClient, session: AsyncSession, camera: str
) -> None:
    outsider = await add_user(session, "op.hy", "operator", regions=[HUIYANG])
    maintainer = await add_user(session, "maint", "maintainer", all_regions=True)
    outsider_key, maintainer_key = await api_key(session, outsider), await api_key(session, maintainer)
    await session.commit()
    body = {"from": at(0).isoformat(), "to": at(4).isoformat()}
    assert (await client.post(f"{API}/cameras/{camera}/playback", json=body, headers=outsider_key)).status_code == 404
    assert (await client.post(f"{API}/cameras/{camera}/playback", json=body, headers=maintainer_key)).status_code == 403
    naive = {"from": "2026-01-01T08:00:00", "to": "2026-01-01T08:00:04"}
    operator = await add_user(session, "op.hc", "operator", regions=[HUICHENG])
    operator_key = await api_key(session, operator)
    await session.commit()
    assert (await client.post(f"{API}/cameras/{camera}/playback", json=naive, headers=operator_key)).status_code == 422
    empty = {"from": (at(0) - timedelta(hours=2)).isoformat(), "to": (at(0) - timedelta(hours=1)).isoformat()}
    assert (await client.post(f"{API}/cameras/{camera}/playback", json=empty, headers=operator_key)).status_code == 404


async def test_audio_comes_along_in_the_stream(segment_files: SegmentFiles) -> None:  # noqa: F811
    segments = segments_of(segment_files.with_audio, audio=True)
    video_codec, audio_codec = playback.codecs_of(segments[0])
    assert video_codec.startswith("avc1.") and audio_codec == "mp4a.40.2"
    plan = playback.plan_playback(segments, at(0), at(14), keyframe=playback.first_keyframe(segments, at(0)))
    data = b"".join(await collect(playback.fragmented_mp4(plan, plan.start, Fraction(0))))
    with av.open(io.BytesIO(data)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        kinds = [packet.stream.type for packet in container.demux() if packet.size]
    assert kinds.count("video") > 10 * FPS and kinds.count("audio") > 0
