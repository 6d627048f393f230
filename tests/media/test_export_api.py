"""Exports through the HTTP API on SQLite and PostgreSQL: ask (reason, permission, scope), follow progress to done,
download the file and the manifest (hash matches, signature verifies), all of it in the audit log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.media.test_export import FPS, SegmentFiles, add_segments, at, segment_files  # noqa: F401 (fixture)
from tests.registry_fixtures import HUICHENG, HUIYANG, add_user, api_key, build_registry
from tianyan.app.platform import Platform, secret_file
from tianyan.media import manifest
from tianyan.security import audit
from tianyan.security.audit import AuditFilter

API = "/api/v1"


@pytest.fixture
async def camera(session: AsyncSession, platform: Platform, segment_files: SegmentFiles) -> str:  # noqa: F811
    registry = await build_registry(session, sensitive=(False,))
    chosen = next(c for c in registry.cameras if c.region == HUICHENG)
    pool = platform.config.recordings_dir
    await add_segments(session, camera_id=chosen.id, gb_id=chosen.gb_id, pool_dir=pool, files=segment_files.video)
    return chosen.gb_id


@pytest.fixture
async def keys(session: AsyncSession, camera: str) -> dict[str, dict[str, str]]:
    users = {
        "analyst": await add_user(session, "analyst.li", "analyst", regions=[HUICHENG]),
        "colleague": await add_user(session, "analyst.zhao", "analyst", regions=[HUICHENG]),
        "outsider": await add_user(session, "analyst.hy", "analyst", regions=[HUIYANG]),
        "operator": await add_user(session, "op.wang", "operator", regions=[HUICHENG]),
        "admin": await add_user(session, "boss", "admin", all_regions=True),
    }
    headers = {name: await api_key(session, user) for name, user in users.items()}
    await session.commit()
    return headers


async def wait_done(client: httpx.AsyncClient, job_id: int, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = (await client.get(f"{API}/exports/{job_id}", headers=headers)).json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"export {job_id} did not finish in 60 s: {job}")


async def test_export_lifecycle(
    client: httpx.AsyncClient, session: AsyncSession, platform: Platform, camera: str, keys: dict[str, dict[str, str]]
) -> None:
    body = {"from": at(2.5).isoformat(), "to": at(12.5).isoformat(), "reason": "案件 2026-0042", "sign": True}
    created = await client.post(f"{API}/cameras/{camera}/exports", json=body, headers=keys["analyst"])
    assert created.status_code == 202, created.text
    job = created.json()
    assert (job["camera"], job["from"], job["reason"], job["user"]) == (
        camera, at(2.5).isoformat().replace("+00:00", "Z"), "案件 2026-0042", "analyst.li",
    )  # fmt: skip

    done = await wait_done(client, job["id"], keys["analyst"])
    assert (done["status"], done["progress"], done["signed"], done["error"]) == ("done", 1.0, True, None)

    file = await client.get(done["file_url"], headers=keys["analyst"])
    assert file.status_code == 200 and file.headers["content-type"] == "video/mp4"
    assert hashlib.sha256(file.content).hexdigest() == done["sha256"] and len(file.content) == done["bytes"]
    got = await client.get(done["manifest_url"], headers=keys["analyst"])
    facts = got.json()
    assert facts["file"]["sha256"] == done["sha256"] and facts["reason"] == "案件 2026-0042"
    assert facts["video"]["frames"] == 2 * FPS + 4 * FPS + int(2.5 * FPS) + 1
    assert [g["seconds"] for g in facts["gaps"]] == [2.0]

    # What a reviewer does with the two downloads: verify against the platform's published key.
    copy = platform.config.server.data_dir / "review"
    copy.mkdir()
    (copy / facts["file"]["name"]).write_bytes(file.content)
    (copy / "m.json").write_text(json.dumps(facts), encoding="utf-8")
    seed = secret_file(manifest.key_path(platform.config.server.data_dir), size_bytes=manifest.KEY_BYTES)
    trusted = manifest.public_key_text(manifest.signing_key(seed).public_key())
    assert manifest.verify(copy / "m.json", trusted_public_key=trusted).ok

    # Own exports only; an administrator sees everyone's.
    assert (await client.get(f"{API}/exports/{job['id']}", headers=keys["colleague"])).status_code == 404
    assert (await client.get(done["file_url"], headers=keys["colleague"])).status_code == 404
    assert (await client.get(f"{API}/exports", headers=keys["colleague"])).json()["items"] == []
    listed = (await client.get(f"{API}/exports", headers=keys["admin"])).json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]

    entries = await audit.search(session, where=AuditFilter(action="video.export"))
    assert [(e.action, e.actor) for e in entries] == [
        ("video.export", "analyst.li"),
        ("video.export.finish", "analyst.li"),
        ("video.export.download", "analyst.li"),
        ("video.export.download", "analyst.li"),
    ]
    assert entries[0].reason == "案件 2026-0042" and entries[2].detail["what"] == "file"
    assert (await audit.verify(session)).ok


async def test_export_requests_that_are_refused(
    client: httpx.AsyncClient, camera: str, keys: dict[str, dict[str, str]]
) -> None:
    url = f"{API}/cameras/{camera}/exports"
    good = {"from": at(0).isoformat(), "to": at(4).isoformat(), "reason": "案件 7"}

    async def status(headers: dict[str, str], **changes: Any) -> int:
        response = await client.post(url, json={**good, **changes}, headers=headers)
        assert response.headers["content-type"].startswith("application/problem+json"), response.text
        return response.status_code

    assert await status(keys["analyst"], reason="  ") == 422
    missing = await client.post(url, json={k: v for k, v in good.items() if k != "reason"}, headers=keys["analyst"])
    assert missing.status_code == 422
    assert await status(keys["operator"]) == 403  # may watch, may not export
    assert await status(keys["outsider"]) == 404  # outside the scope looks like absent
    assert await status(keys["analyst"], to=at(0).isoformat()) == 422
    assert await status(keys["analyst"], **{"from": "2026-01-01T08:00:00"}) == 422  # no zone
    assert (await client.get(f"{API}/exports", headers=keys["analyst"])).json()["items"] == []
