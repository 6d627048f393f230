"""`tianyan report plans|plan|kpi|monthly`: the known construction plans and progress against one of them; KPI
reports (report_kpi.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from tianyan.cli.report_kpi import kpi, monthly_report
from tianyan.cli.runtime import ConfigOption, fail, load_config, run, with_session
from tianyan.core.errors import TianyanError
from tianyan.planning import catalogue, report
from tianyan.planning.progress import PlanProgress, plan_progress
from tianyan.security.scope import SYSTEM

app = typer.Typer(help="Reports: construction plans and progress against them; KPIs.", no_args_is_help=True)
app.command("kpi")(kpi)
app.command("monthly")(monthly_report)
# An administrator at the console of the machine: the whole registry is in scope.
CLI_PRINCIPAL = dataclasses.replace(SYSTEM, username="cli", source="cli")


def _plans(config: Path | None) -> list[catalogue.Plan]:
    try:
        return catalogue.list_plans(user_dir=catalogue.user_plans_dir(load_config(config).server.data_dir))
    except TianyanError as exc:
        fail(f"{exc.title}: {exc.detail}")
    raise AssertionError("unreachable")


@app.command("plans")
def list_plans(config: ConfigOption = None) -> None:
    """List the plans: the shipped ones and any in <data_dir>/plans."""
    for plan in _plans(config):
        typer.echo(f"{plan.id}\t{plan.shape}\t{plan.origin}\t{plan.title}")


@app.command("plan")
def plan(
    plan_id: Annotated[str, typer.Option("--plan", help="plan id (see `tianyan report plans`)")],
    at: Annotated[str | None, typer.Option(help="the day to report on, YYYY-MM-DD (default: today)")] = None,
    file_format: Annotated[str, typer.Option("--format", help="table, json or xlsx (xlsx needs -o)")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
    config: ConfigOption = None,
) -> None:
    """Built vs target per unit, HD shares, industry integration and milestones of one plan on one day."""
    if file_format not in report.FORMATS:
        fail(f"unknown format {file_format!r}; expected one of {', '.join(report.FORMATS)}")
    if file_format == "xlsx" and output is None:
        fail("--format xlsx writes a workbook: give the file with -o FILE")
    try:
        day = date.fromisoformat(at) if at else date.today()
    except ValueError:
        fail(f"--at must be a date as YYYY-MM-DD, got {at!r}")
    known = {p.id: p for p in _plans(config)}
    if plan_id not in known:
        fail(f"unknown plan {plan_id!r}; known plans: {', '.join(known)}")

    async def work(session) -> PlanProgress:  # type: ignore[no-untyped-def]
        return await plan_progress(session, plan=known[plan_id], at=day, principal=CLI_PRINCIPAL)

    progress = run(with_session(config, work))
    if file_format == "xlsx":
        assert output is not None
        output.write_bytes(report.as_xlsx(progress))
        typer.echo(f"wrote {output}")
        return
    text = (
        json.dumps(report.as_dict(progress), ensure_ascii=False, indent=2) + "\n"
        if file_format == "json"
        else report.as_table(progress)
    )
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")
