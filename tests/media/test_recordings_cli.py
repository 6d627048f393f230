"""`tianyan recordings ...` as an administrator uses it: a timeline, recording days, compliance, an evidence lock
and its release (audited), and a sweep that deletes what expired and keeps what is locked; JSON on stdout."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from typer.testing import CliRunner, Result

from tianyan import config as config_module
from tianyan.app.platform import Platform
from tianyan.cli.main import app
from tianyan.core import gbid
from tianyan.media import completeness
from tianyan.media.models import RecordingSegment
from tianyan.registry import service
from tianyan.registry.models import Camera
from tianyan.security.models import AuditEntry

runner = CliRunner()
CAMERA = gbid.build(centre="441302", serial=77).value
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _no_tianyan_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TIANYAN_"):
            monkeypatch.delenv(name)


def tianyan(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> object:
    result = tianyan(*args)
    assert result.exit_code == 0, f"tianyan {' '.join(args)} exited {result.exit_code}:\n{result.output}"
    return json.loads(result.output)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    pool = tmp_path / "pool"
    path = tmp_path / "tianyan.toml"
    path.write_text(
        f'[server]\ndata_dir = "{(tmp_path / "data").as_posix()}"\n'
        f'[database]\nurl = "sqlite:///{(tmp_path / "t.db").as_posix()}"\n'
        f'[[media.pools]]\nname = "main"\npath = "{pool.as_posix()}"\ncapacity_gb = 1.0\n',
        encoding="utf-8",
    )
    return path


def seed(cfg: Path, spans: list[tuple[datetime, datetime]]) -> list[Path]:
    """A class 1 camera in 惠城区 with segments (files of a few bytes) over the given spans."""

    async def work() -> list[Path]:
        config = config_module.load(cfg)
        platform = await Platform.open(config)
        pool = config.storage_pools[0].path
        files = []
        try:
            async with platform.sessions() as session:
                await service.add_region(session, code="440000", name="广东省", level="province")
                await service.add_region(session, code="441300", name="惠州市", level="city", parent_code="440000")
                region = await service.add_region(
                    session, code="441302", name="惠城区", level="county", parent_code="441300"
                )
                camera = Camera(gb_id=CAMERA, name="江北路口", cls=1, network="police", region_id=region.id, labels=[])
                session.add(camera)
                await session.flush()
                rows = []
                for n, (start, end) in enumerate(spans):
                    relative = f"{CAMERA}/{start:%Y-%m-%d}/{start:%H%M%S}-{n}.mp4"
                    (pool / relative).parent.mkdir(parents=True, exist_ok=True)
                    (pool / relative).write_bytes(b"fmp4")
                    files.append(pool / relative)
                    rows.append({"camera_id": camera.id, "pool": "main", "path": relative, "start_at": start,
                                 "end_at": end, "bytes": 4, "codec": "h264", "status": "closed"})  # fmt: skip
                await session.execute(insert(RecordingSegment), rows)
                day = completeness.local_day(spans[-1][0])
                await completeness.refresh(session, camera.id, day, now=datetime.now(UTC))
                await session.commit()
        finally:
            await platform.close()
        return files

    return asyncio.run(work())


def test_timeline_days_and_compliance(cfg: Path) -> None:
    start = datetime(2026, 11, 20, 0, tzinfo=UTC)
    seed(cfg, [(start, start + HOUR), (start + 2 * HOUR, start + 3 * HOUR)])
    timeline = ok("recordings", "timeline", CAMERA, "--from", "2026-11-20T08:00:00+08:00",
                  "--to", "2026-11-20T12:00:00+08:00", "--config", str(cfg))  # fmt: skip
    assert isinstance(timeline, dict) and len(timeline["segments"]) == 2 and timeline["recorded_s"] == 7200
    assert [(g["start_at"][:19], g["end_at"][:19]) for g in timeline["gaps"]] == [
        ("2026-11-20 01:00:00", "2026-11-20 02:00:00"),
        ("2026-11-20 03:00:00", "2026-11-20 04:00:00"),
    ]
    days = ok("recordings", "days", CAMERA, "--from", "2026-11-19", "--to", "2026-11-21", "--config", str(cfg))
    assert isinstance(days, list) and [(d["day"], d["recorded_s"]) for d in days] == [("2026-11-20", 7200.0)]
    report = ok("recordings", "compliance", "--failing", "--config", str(cfg))
    assert isinstance(report, list) and [(c["gb_id"], c["status"]) for c in report] == [(CAMERA, "non_compliant")]
    bad = tianyan("recordings", "timeline", "12345", "--from", "2026-11-20T08:00:00+08:00",
                  "--to", "2026-11-20T12:00:00+08:00", "--config", str(cfg))  # fmt: skip
    assert bad.exit_code != 0 and "20 digits" in bad.output


def test_lock_release_and_sweep(cfg: Path) -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    kept, gone = seed(cfg, [(old, old + HOUR), (old + 2 * HOUR, old + 3 * HOUR)])
    lock = ok("recordings", "lock", CAMERA, "--from", (old - HOUR).isoformat(), "--to", (old + HOUR).isoformat(),
              "--case", "惠城刑 2026-9", "--reason", "盗窃", "--config", str(cfg))  # fmt: skip
    assert isinstance(lock, dict) and lock["case_ref"] == "惠城刑 2026-9" and lock["released_at"] is None
    refused = tianyan("recordings", "lock", CAMERA, "--from", old.isoformat(), "--to", old.isoformat(),
                      "--case", "X", "--reason", "y", "--config", str(cfg))  # fmt: skip
    assert refused.exit_code != 0 and "end after" in refused.output
    report = ok("recordings", "sweep", "--config", str(cfg))
    assert isinstance(report, dict) and report["expired"]["segments"] == 1
    assert kept.exists() and not gone.exists()
    released = ok("recordings", "release", str(lock["id"]), "--reason", "结案", "--config", str(cfg))
    assert isinstance(released, dict) and released["released_at"] is not None
    assert ok("recordings", "sweep", "--config", str(cfg))["expired"]["segments"] == 1  # type: ignore[index]
    assert not kept.exists()

    async def audited() -> list[tuple[str, str]]:
        platform = await Platform.open(config_module.load(cfg))
        try:
            async with platform.sessions() as session:
                return [tuple(r) for r in (await session.execute(select(AuditEntry.actor, AuditEntry.action))).all()]
        finally:
            await platform.close()

    assert asyncio.run(audited()) == [("cli", "evidence.lock"), ("cli", "evidence.release")]
