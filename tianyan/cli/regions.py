"""`tianyan region add|list`: the administrative region tree (GB/T 2260 or locally assigned codes)."""

from __future__ import annotations

from typing import Annotated

import typer

from tianyan.cli.runtime import ConfigOption, run, with_session
from tianyan.registry import service
from tianyan.registry.models import Region
from tianyan.security import audit

app = typer.Typer(help="Administrative regions.", no_args_is_help=True)


@app.command()
def add(
    code: str,
    name: str,
    level: Annotated[str, typer.Option(help="province, city, county or station")],
    parent: Annotated[str | None, typer.Option(help="code of the parent region")] = None,
    local: Annotated[bool, typer.Option("--local", help="the code is locally assigned (no GB/T 2260 code)")] = False,
    config: ConfigOption = None,
) -> None:
    """Add a region under its parent."""

    async def work(session) -> Region:  # type: ignore[no-untyped-def]
        region = await service.add_region(
            session, code=code, name=name, level=level, parent_code=parent, locally_assigned=local
        )
        await audit.record(session, actor="cli", source="cli", action="region.create", target=f"region:{code}")
        return region

    region = run(with_session(config, work))
    typer.echo(f"added {region.level} {region.code} {region.name} ({region.path})")


@app.command("list")
def list_regions(
    under: Annotated[str | None, typer.Option(help="only this region's subtree")] = None,
    config: ConfigOption = None,
) -> None:
    """Print the region tree, indented by depth."""
    regions = run(with_session(config, lambda session: service.list_regions(session, under=under)))
    for region in regions:
        depth = region.path.count("/") - 2
        mark = " (locally assigned)" if region.locally_assigned else ""
        typer.echo(f"{'  ' * depth}{region.code} {region.name} [{region.level}]{mark}")
