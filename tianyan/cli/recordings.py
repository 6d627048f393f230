"""`tianyan recordings ...`: the recording index from the command line: timelines, days, compliance, sweep, locks.

Everything works on the database and the storage pools directly, as the platform's own "cli" account (which sees
every camera; locks are made as an analyst, who does not see sensitive ones); locks and releases are audited under
that name. Output is JSON.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

import typer

from tianyan.cli.runtime import ConfigOption, load_config, platform, print_json, run, with_session
from tianyan.core import gbid
from tianyan.media import evidence, recordings
from tianyan.media.retention_runner import RetentionRunner
from tianyan.security.roles import Role
from tianyan.security.scope import SYSTEM

app = typer.Typer(help="Recordings: timelines, completeness, retention compliance, sweep, evidence locks.",
                  no_args_is_help=True)  # fmt: skip
CLI_PRINCIPAL = dataclasses.replace(SYSTEM, username="cli", source="cli")
# Administrators do not export or keep footage (separation of duties), so locks are made as an analyst who sees
# every region; a sensitive camera therefore needs the API and an account with a grant.
CLI_ANALYST = dataclasses.replace(CLI_PRINCIPAL, role=Role.ANALYST.value)

FromOption = Annotated[datetime, typer.Option("--from", help="e.g. 2026-11-21T08:00:00+08:00 (local time if no zone)")]
ToOption = Annotated[datetime, typer.Option("--to")]


def _zoned(value: datetime) -> datetime:
    return value if value.tzinfo else value.astimezone()


def _camera(value: str) -> str:
    return gbid.parse(value).value


def _now() -> datetime:
    return datetime.now().astimezone()


@app.command()
def timeline(
    camera: str,
    start: FromOption,
    end: ToOption,
    config: ConfigOption = None,
) -> None:
    """A camera's recorded segments and the gaps between them."""

    async def work(session: Any) -> dict[str, Any]:
        segments: list[Any] = []
        cursor: str | None = None
        first: recordings.Timeline | None = None
        while True:
            page = await recordings.timeline(
                session,
                principal=CLI_PRINCIPAL,
                gb_id=_camera(camera),
                start_at=_zoned(start),
                end_at=_zoned(end),
                now=_now(),
                cursor=cursor,
                limit=5000,
            )
            first = first or page
            segments += page.segments
            cursor = page.next_cursor
            if cursor is None:
                break
        return dataclasses.asdict(dataclasses.replace(first, segments=segments, next_cursor=None))

    print_json(run(with_session(config, work)))


@app.command()
def days(
    camera: str,
    first: Annotated[datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first local day, 2026-11-01")],
    last: Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last local day, included")],
    config: ConfigOption = None,
) -> None:
    """Recorded, planned and missing seconds and completeness per local day."""

    async def work(session: Any) -> list[dict[str, Any]]:
        found = await recordings.recording_days(
            session, principal=CLI_PRINCIPAL, gb_id=_camera(camera), first=first.date(), last=last.date()
        )
        return [dataclasses.asdict(d) for d in found]

    print_json(run(with_session(config, work)))


@app.command()
def compliance(
    failing: Annotated[bool, typer.Option("--failing", help="only cameras that do not comply")] = False,
    cls: Annotated[int | None, typer.Option("--class", min=1, max=3)] = None,
    config: ConfigOption = None,
) -> None:
    """Retention compliance per camera: footage back 30 (class 1) / 15 (class 2) days, each day ≥ 99 %."""

    async def work(session: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after: int | None = 0
        now = _now()
        while after is not None:
            page = await recordings.compliance(
                session, principal=CLI_PRINCIPAL, now=now, failing_only=failing, cls=cls, after=after, limit=1000
            )
            found += [dataclasses.asdict(c) for c in page.items]
            after = page.next_after
        return found

    print_json(run(with_session(config, work)))


@app.command()
def sweep(config: ConfigOption = None) -> None:
    """Run retention once: delete expired footage, then free space in pools above high water."""
    cfg = load_config(config)

    async def work() -> dict[str, Any]:
        async with platform(config) as opened:
            runner = RetentionRunner(
                opened.sessions, pools=cfg.storage_pools, media=cfg.media, bus=opened.bus, clock=opened.clock
            )
            return (await runner.run_once()).as_dict()

    print_json(run(work()))


@app.command()
def lock(
    camera: str,
    start: FromOption,
    end: ToOption,
    case: Annotated[str, typer.Option("--case", help="the case reference (案件编号)")],
    reason: Annotated[str, typer.Option("--reason", help="why the footage must be kept")],
    config: ConfigOption = None,
) -> None:
    """Keep a camera's footage in a time range for a case, whatever retention says (audited)."""

    async def work(session: Any) -> dict[str, Any]:
        made = await evidence.create_lock(
            session,
            principal=CLI_ANALYST,
            gb_id=_camera(camera),
            start_at=_zoned(start),
            end_at=_zoned(end),
            case_ref=case,
            reason=reason,
            now=_now(),
        )
        return dataclasses.asdict(made)

    print_json(run(with_session(config, work)))


@app.command()
def release(
    lock_id: int,
    reason: Annotated[str, typer.Option("--reason", help="why the footage need no longer be kept")],
    config: ConfigOption = None,
) -> None:
    """End an evidence lock; its footage then follows retention again (audited)."""

    async def work(session: Any) -> dict[str, Any]:
        done = await evidence.release_lock(session, principal=CLI_ANALYST, lock_id=lock_id, reason=reason, now=_now())
        return dataclasses.asdict(done)

    print_json(run(with_session(config, work)))
