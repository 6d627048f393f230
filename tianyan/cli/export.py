"""`tianyan export`: an evidence export run directly on this node, audited as the command line's user ("cli")."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from tianyan.app.platform import Platform
from tianyan.cli.runtime import ConfigOption, fail, load_config, print_json, run
from tianyan.core import gbid
from tianyan.core.errors import InvalidInput
from tianyan.core.secrets import secret_file
from tianyan.db.engine import intend_to_write
from tianyan.media import export_jobs, manifest
from tianyan.media.export_jobs import ExportRunner, ExportSettings
from tianyan.security.scope import SYSTEM

CLI_PRINCIPAL = dataclasses.replace(SYSTEM, username="cli", source="cli")


def parse_time(text: str, zone: str) -> datetime:
    """ISO 8601; a time without a zone is read in `zone` (sip.device_timezone: the local time people use)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not an ISO 8601 time (e.g. 2026-01-01T08:00:00 or …+08:00)") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))


async def _export(
    config_path: Path | None, channel: str, start: str, end: str, reason: str, out: Path, sign: bool | None
) -> dict[str, Any]:
    config = load_config(config_path)
    zone = config.sip.device_timezone
    start_at, end_at = parse_time(start, zone), parse_time(end, zone)
    sign = config.media.sign_exports if sign is None else sign
    platform = await Platform.open(config)
    try:
        settings = ExportSettings(
            pools={pool.name: pool.path for pool in config.storage_pools},
            exports_dir=config.exports_dir,
            platform_id=config.sip.id,
            signing_seed=secret_file(manifest.key_path(config.server.data_dir), size_bytes=manifest.KEY_BYTES)
            if sign
            else None,
        )
        async with platform.sessions() as session:
            await intend_to_write(session)
            job = await export_jobs.request_export(
                session,
                principal=CLI_PRINCIPAL,
                gb_id=gbid.parse(channel).value,
                start=start_at,
                end=end_at,
                reason=reason,
                sign=sign,
                settings=settings,
                clock=platform.clock,
            )
            await session.commit()
            job_id = job.id
        finished = await ExportRunner(platform.sessions, settings, clock=platform.clock).run(job_id, out=out)
    finally:
        await platform.close()
    if finished.status != "done":
        fail(f"export {job_id} failed: {finished.error}", code=1)
    manifest_path = manifest.manifest_path_for(out)
    written = manifest.verify(manifest_path, out)
    if not written.ok:
        fail(f"the export does not verify: {'; '.join(written.problems)}", code=1)
    facts = json.loads(manifest_path.read_text(encoding="utf-8"))
    return {
        "job": job_id,
        "file": str(out),
        "manifest": str(manifest_path),
        "bytes": facts["file"]["bytes"],
        "sha256": facts["file"]["sha256"],
        "actual": facts["actual"],
        "gaps": facts["gaps"],
        "signed": written.signed,
        "key_id": written.key_id,
    }


def export(
    channel: Annotated[str, typer.Argument(help="the camera's (channel's) GB ID")],
    start: Annotated[str, typer.Option("--from", help="ISO 8601 time; without a zone, sip.device_timezone")],
    end: Annotated[str, typer.Option("--to", help="ISO 8601 time; without a zone, sip.device_timezone")],
    reason: Annotated[str, typer.Option("--reason", help="the case or incident the export is for (required)")],
    out: Annotated[Path, typer.Option("--output", "-o", help="the MP4 to write; the manifest goes beside it")],
    sign: Annotated[
        bool | None, typer.Option("--sign/--no-sign", help="sign the manifest (default: media.sign_exports)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Export a camera's recording between two times to one MP4 with a manifest (SHA-256, optional signature)."""
    if out.exists():
        fail(f"{out} exists already; choose another file name")
    summary = run(_export(config, channel, start, end, reason, out.resolve(), sign))
    typer.echo(summary["manifest"])
    print_json(summary)
