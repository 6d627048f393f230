"""`tianyan export` as an operator on the server runs it: the MP4 and its manifest written where asked, a summary
printed, local times read in the platform's zone, the export audited as "cli", bad requests refused plainly."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.media.test_export import FPS, SegmentFiles, add_segments, segment_files  # noqa: F401 (fixture)
from tests.registry_fixtures import HUICHENG, build_registry
from tianyan import config as config_module
from tianyan.app.platform import Platform
from tianyan.cli.main import app
from tianyan.media import manifest
from tianyan.security import audit
from tianyan.security.audit import AuditFilter

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_tianyan_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TIANYAN_"):
            monkeypatch.delenv(name)


@pytest.fixture
def setup(tmp_path: Path, segment_files: SegmentFiles) -> tuple[Path, str]:  # noqa: F811
    """A configuration (SQLite in tmp_path) whose database holds a Huicheng camera with three recorded segments."""
    cfg = tmp_path / "tianyan.toml"
    cfg.write_text(
        f'[server]\ndata_dir = "{(tmp_path / "data").as_posix()}"\n'
        f'[database]\nurl = "sqlite:///{(tmp_path / "t.db").as_posix()}"\n',
        encoding="utf-8",
    )

    async def prepare() -> str:
        platform = await Platform.open(config_module.load(cfg))
        try:
            async with platform.sessions() as session:
                registry = await build_registry(session, sensitive=(False,))
                camera = next(c for c in registry.cameras if c.region == HUICHENG)
                pool = platform.config.recordings_dir
                files = segment_files.video
                await add_segments(session, camera_id=camera.id, gb_id=camera.gb_id, pool_dir=pool, files=files)
                return camera.gb_id
        finally:
            await platform.close()

    return cfg, asyncio.run(prepare())


def test_export_from_the_command_line(setup: tuple[Path, str], tmp_path: Path) -> None:
    cfg, gb_id = setup
    out = tmp_path / "case-42.mp4"
    # 16:00:02 in Asia/Shanghai (sip.device_timezone) is 08:00:02 UTC, two seconds into the recording.
    args = ["export", gb_id, "--from", "2026-01-01T16:00:02", "--to", "2026-01-01T08:00:07Z"]
    result = runner.invoke(app, [*args, "--reason", "案件 42", "-o", str(out), "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    first, _, rest = result.output.partition("\n")
    summary = json.loads(rest)
    manifest_path = tmp_path / "case-42.manifest.json"
    assert first == str(manifest_path) == summary["manifest"]
    assert summary["actual"]["from"] == "2026-01-01T08:00:02+00:00" and summary["signed"] is True
    assert summary["gaps"] == [] and summary["sha256"] == manifest.file_sha256(out)
    body = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert (body["user"], body["reason"], body["video"]["frames"]) == ("cli", "案件 42", 5 * FPS)
    assert manifest.verify(manifest_path, out).ok

    async def entries() -> list[tuple[str, str, str | None]]:
        platform = await Platform.open(config_module.load(cfg))
        try:
            async with platform.sessions() as session:
                found = await audit.search(session, where=AuditFilter(action="video.export"))
                return [(e.action, e.actor, e.reason) for e in found]
        finally:
            await platform.close()

    assert asyncio.run(entries()) == [("video.export", "cli", "案件 42"), ("video.export.finish", "cli", None)]

    again = runner.invoke(app, [*args, "--reason", "x", "-o", str(out), "--config", str(cfg)])
    assert again.exit_code != 0 and "exists already" in again.output


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"--reason": " "}, "needs a reason"),
        ({"--from": "yesterday"}, "not an ISO 8601 time"),
        ({"--from": "2026-01-01T09:00:00Z", "--to": "2026-01-01T10:00:00Z"}, "no recorded footage"),
        ({"--to": "2026-01-01T07:00:00Z"}, "must come after"),
    ],
)
def test_bad_requests_are_refused(
    setup: tuple[Path, str], tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    cfg, gb_id = setup
    options = {"--from": "2026-01-01T08:00:00Z", "--to": "2026-01-01T08:00:04Z", "--reason": "x", **changes}
    out = tmp_path / "x.mp4"
    args = ["export", gb_id, *[item for pair in options.items() for item in pair], "-o", str(out), "-c", str(cfg)]
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output
    assert not out.exists()
