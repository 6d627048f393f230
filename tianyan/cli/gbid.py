"""`tianyan gbid decode|new`: GB/T 28181 IDs on the command line, as JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from tianyan.cli.runtime import fail, print_json
from tianyan.core import gbid
from tianyan.core.errors import InvalidInput

app = typer.Typer(help="Decode and build GB/T 28181 20-digit IDs.", no_args_is_help=True)


@app.command()
def decode(value: str) -> None:
    """Print the fields of a GB/T 28181 ID as JSON."""
    try:
        print_json(gbid.parse(value).describe())
    except InvalidInput as exc:
        fail(f"invalid GB ID: {exc.detail}")


@app.command()
def new(
    centre: Annotated[str, typer.Option(help="8-digit centre code or 6-digit GB/T 2260 region code")],
    industry: Annotated[str, typer.Option(help="2-digit industry code")] = "00",
    type_code: Annotated[str, typer.Option("--type", help="3-digit type code (132 = IPC)")] = "132",
    network: Annotated[str, typer.Option(help="network digit (0-4 video private network, 8 social)")] = "0",
    serial: Annotated[int, typer.Option(help="serial number 0-999999")] = 1,
) -> None:
    """Build an ID from its fields and print it decoded as JSON."""
    try:
        built = gbid.build(centre=centre, industry=industry, type_code=type_code, network=network, serial=serial)
    except InvalidInput as exc:
        fail(f"cannot build GB ID: {exc.detail}")
    print_json(built.describe())
