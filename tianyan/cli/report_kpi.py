"""`tianyan report kpi|monthly`: the KPIs of a camera set over a period, judged against the active plan, and the
monthly report per district and sector, as a table, JSON, an Excel workbook or a PDF (files are audited)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tianyan.cli.runtime import ConfigOption, fail, load_config, run, with_session
from tianyan.core.errors import TianyanError
from tianyan.health.kpi.model import DIMENSIONS, Period
from tianyan.health.reports import json_out, monthly, pdf, periods, table, xlsx
from tianyan.health.reports.criteria import Criteria
from tianyan.health.reports.document import KpiDocument, active_plan, kpi_document, record_download
from tianyan.planning.catalogue import Plan
from tianyan.security.scope import SYSTEM

FORMATS = ("table", "json", "xlsx", "pdf")
FILE_FORMATS = ("xlsx", "pdf")
# A file is a report to hand on: without --breakdown it is broken down by district and sector, with the trend.
FILE_BREAKDOWNS = monthly.BREAKDOWNS
# An administrator at the console of the machine: the whole registry is in scope.
CLI_PRINCIPAL = dataclasses.replace(SYSTEM, username="cli", source="cli")


def _plan(config: Path | None) -> Plan | None:
    cfg = load_config(config)
    try:
        return active_plan(cfg.health.plan, cfg.server.data_dir)
    except TianyanError as exc:
        fail(f"health.plan: {exc.detail}")
    raise AssertionError("unreachable")


def _checked(work: Any) -> Any:
    try:
        return work()
    except TianyanError as exc:
        fail(f"{exc.title}: {exc.detail}")


def render(doc: KpiDocument, file_format: str) -> bytes:
    if file_format == "xlsx":
        return xlsx.as_xlsx(doc)
    if file_format == "pdf":
        return pdf.as_pdf(doc)
    if file_format == "json":
        return (json.dumps(json_out.as_dict(doc), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    return table.as_table(doc).encode("utf-8")


def _deliver(doc: KpiDocument, file_format: str, output: Path | None) -> None:
    body = render(doc, file_format)
    if output is None:
        typer.echo(body.decode("utf-8"), nl=False)
        return
    try:
        output.write_bytes(body)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}")


def _document(config: Path | None, build: Any, *, report: str, file_format: str) -> KpiDocument:
    """Run `build(session)` on the database; a file leaving the platform is audited as report.export."""

    async def work(session: Any) -> KpiDocument:
        doc = await build(session)
        if file_format in FILE_FORMATS:
            await record_download(session, principal=CLI_PRINCIPAL, document=doc, report=report,
                                  file_format=file_format)  # fmt: skip
        return doc

    return run(with_session(config, work))


def kpi(
    region: Annotated[str | None, typer.Option(help="region code: the region and everything under it")] = None,
    cls: Annotated[int | None, typer.Option("--class", help="camera class: 1, 2 or 3")] = None,
    network: Annotated[str | None, typer.Option(help="police, social or local")] = None,
    sector: Annotated[str | None, typer.Option(help="industry sector's organisation code")] = None,
    unit: Annotated[str | None, typer.Option(help="owning unit's organisation code")] = None,
    camera: Annotated[str | None, typer.Option(help="one camera's 20-digit GB ID")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM, local time (default: 30 days ago)")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="YYYY-MM-DD (that day included) or YYYY-MM-DDTHH:MM (default: now)")
    ] = None,
    file_format: Annotated[str, typer.Option("--format", help="table, json, xlsx or pdf (xlsx and pdf need -o)")] = (
        "table"
    ),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
    worst: Annotated[int, typer.Option(help="how many of the worst cameras to list", min=0, max=1000)] = 20,
    breakdown: Annotated[
        list[str] | None,
        typer.Option(help=f"break down by {', '.join(DIMENSIONS)} (repeatable; files default to district, sector)"),
    ] = None,
    trend: Annotated[bool | None, typer.Option("--trend/--no-trend", help="figures per day (files: on)")] = None,
    config: ConfigOption = None,
) -> None:
    """KPIs of a camera set over a period (online, integrity, recording, retention, networking, HD, format),
    judged against the active plan (health.plan), with the worst cameras and work-order statistics."""
    if file_format not in FORMATS:
        fail(f"unknown format {file_format!r}; expected one of {', '.join(FORMATS)}")
    if file_format in FILE_FORMATS and output is None:
        fail(f"--format {file_format} writes a file: give it with -o FILE")
    unknown = [d for d in breakdown or () if d not in DIMENSIONS]
    if unknown:
        fail(f"unknown breakdown {unknown[0]!r}; expected one of {', '.join(DIMENSIONS)}")
    is_file = file_format in FILE_FORMATS
    dimensions = tuple(breakdown) if breakdown else (FILE_BREAKDOWNS if is_file else ())
    daily = is_file if trend is None else trend
    now = datetime.now(UTC)
    period: Period = _checked(lambda: periods.report_period(start, end, now=now))
    plan = _plan(config)
    criteria = Criteria(region=region, cls=cls, network=network, sector=sector, unit=unit, camera=camera)

    async def build(session: Any) -> KpiDocument:
        return await kpi_document(session, criteria=criteria, period=period, principal=CLI_PRINCIPAL, plan=plan,
                                  now=now, worst=worst, breakdowns=dimensions, trend=daily)  # fmt: skip

    doc = _document(config, build, report="kpi", file_format=file_format)
    _deliver(doc, file_format, output)


def monthly_report(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM (local time)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="write to this file")],
    region: Annotated[str | None, typer.Option(help="region code (default: the whole city)")] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="xlsx or pdf (default: from the file's suffix)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """The monthly report: KPIs by district and sector, the daily trend, the worst cameras and work orders."""
    chosen = file_format or output.suffix.lower().lstrip(".")
    if chosen not in FILE_FORMATS:
        fail(f"the monthly report is xlsx or pdf, not {chosen!r}: give --format or an -o FILE ending .xlsx or .pdf")
    now = datetime.now(UTC)
    _checked(lambda: periods.month_period(month, now=now))
    plan = _plan(config)

    async def build(session: Any) -> KpiDocument:
        return await monthly.monthly_document(session, month=month, region=region, principal=CLI_PRINCIPAL,
                                              plan=plan, now=now)  # fmt: skip

    doc = _document(config, build, report="monthly", file_format=chosen)
    _deliver(doc, chosen, output)
