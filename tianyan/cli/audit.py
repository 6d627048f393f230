"""`tianyan audit verify|export`: check the hash chain, export entries."""

from __future__ import annotations

import csv
import sys
from typing import Annotated

import typer

from tianyan.cli.runtime import ConfigOption, print_json, run, with_session
from tianyan.core.sheet_text import csv_cells
from tianyan.security import audit

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


@app.command()
def verify(config: ConfigOption = None) -> None:
    """Walk the hash chain; name the first entry that was altered, inserted or deleted. Exit 1 if broken."""
    result = run(with_session(config, audit.verify))
    print_json(result.as_dict())
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def export(
    actor: Annotated[str | None, typer.Option()] = None,
    action: Annotated[str | None, typer.Option(help="action prefix, e.g. auth.")] = None,
    config: ConfigOption = None,
) -> None:
    """Write matching entries to standard output as CSV."""

    async def work(session) -> None:  # type: ignore[no-untyped-def]
        writer = csv.writer(sys.stdout)
        writer.writerow(audit.EXPORT_COLUMNS)
        async for entry in audit.stream(session, where=audit.AuditFilter(actor=actor, action=action)):
            writer.writerow(csv_cells(audit.export_row(entry)))

    run(with_session(config, work))
