"""What every command shares: loading configuration, opening the platform, printing errors plainly."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from tianyan import config as config_module
from tianyan.app.platform import Platform
from tianyan.core.errors import TianyanError
from tianyan.db.engine import intend_to_write

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="TOML configuration file (default: embedded defaults)", envvar="TIANYAN_CONFIG"
    ),
]


def load_config(path: Path | None) -> config_module.Config:
    try:
        return config_module.load(path)
    except TianyanError as exc:
        fail(exc.detail)


def fail(message: str, code: int = 2) -> Any:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine, turning Tianyan errors into one red line and a non-zero exit."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except TianyanError as exc:
        fail(f"{exc.title}: {exc.detail}")
    raise AssertionError("unreachable")


@asynccontextmanager
async def platform(path: Path | None) -> AsyncIterator[Platform]:
    opened = await Platform.open(load_config(path))
    try:
        yield opened
    finally:
        await opened.close()


async def with_session(path: Path | None, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one transaction on the configured database, committing on success."""
    async with platform(path) as opened, opened.sessions() as session:
        await intend_to_write(session)  # commands are short and most of them write
        result = await work(session)
        await session.commit()
        return result


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")
