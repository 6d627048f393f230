"""`tianyan camera import|export`: the camera register to and from CSV and Excel files (audited as `cli`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from tianyan.cli.runtime import ConfigOption, fail, run, with_session
from tianyan.core.errors import TianyanError
from tianyan.registry import tabular
from tianyan.registry.exporter import export_cameras
from tianyan.registry.importer import ImportReport, import_cameras
from tianyan.security.scope import SYSTEM

app = typer.Typer(help="Import and export the camera register (CSV or .xlsx).", no_args_is_help=True)
# An administrator at the console of the machine: the whole registry is in scope.
CLI_PRINCIPAL = dataclasses.replace(SYSTEM, username="cli", source="cli")
MAX_PRINTED_ERRORS = 200


def _print_report(report: ImportReport) -> None:
    if report.rejected:
        hint = ", or use --partial to write the good rows" if report.refused and not report.partial else ""
        verdict = f"nothing written: fix the rows below{hint}"
    elif report.dry_run:
        verdict = "dry run: nothing written"
    else:
        verdict = "written"
    typer.echo(
        f"{report.source_name}: created {report.created}, updated {report.updated}, unchanged {report.unchanged}, "
        f"refused {report.refused} ({verdict})"
    )
    for error in report.errors[:MAX_PRINTED_ERRORS]:
        typer.echo(f"line {error.line}, column {error.column or '-'}: {error.reason}")
    if len(report.errors) > MAX_PRINTED_ERRORS:
        typer.echo(f"... and {len(report.errors) - MAX_PRINTED_ERRORS} more (fix these and run again)")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="a .csv or .xlsx file")],
    partial: Annotated[bool, typer.Option("--partial", help="write the good rows even if some are bad")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check and count, write nothing")] = False,
    config: ConfigOption = None,
) -> None:
    """Add or update cameras by GB ID; every bad row is reported by line and column. Exit 1 if any was refused."""

    async def work(session) -> ImportReport:  # type: ignore[no-untyped-def]
        return await import_cameras(
            session, principal=CLI_PRINCIPAL, path_or_stream=file, partial=partial, dry_run=dry_run
        )

    report = run(with_session(config, work))
    _print_report(report)
    if report.errors:
        raise typer.Exit(1)


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False, help="file to write (.csv or .xlsx)")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or xlsx (default: from the file name)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write every camera to a file with the same columns `import` reads."""
    try:
        chosen = tabular.parse_format(file_format) if file_format else tabular.format_for(output.name)
    except TianyanError as exc:
        fail(exc.detail)
    # Only a finished export replaces the target; a failed one leaves no half-written file behind.
    unfinished = output.with_name(output.name + ".partial")
    try:
        with unfinished.open("wb") as out:
            count = run(
                with_session(
                    config,
                    lambda session: export_cameras(session, principal=CLI_PRINCIPAL, out=out, file_format=chosen),
                )
            )
    except BaseException:
        unfinished.unlink(missing_ok=True)
        raise
    unfinished.replace(output)
    typer.echo(f"exported {count} cameras to {output} ({chosen})")
