"""The documents say what the command line does: the README's command list names the real commands and options,
and docs/import-format.md lists every import column with its Chinese headers, and its example imports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main

from tianyan.cli.main import app
from tianyan.registry.importer import ALIASES, COLUMNS, REQUIRED

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
IMPORT_FORMAT = ROOT / "docs" / "import-format.md"
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b")


def readme_block() -> str:
    return README.read_text(encoding="utf-8").split("## The command line", 1)[1].split("```")[1]


def readme_commands() -> dict[tuple[str, ...], set[str]]:
    """Command path -> the options its lines name (a continuation line belongs to the command above it)."""
    root = typer.main.get_command(app)
    found: dict[tuple[str, ...], set[str]] = {}
    current: tuple[str, ...] = ()
    for line in readme_block().splitlines():
        words = line.split()
        if words[:1] == ["tianyan"]:
            current = (words[1],)
            if is_group(root.commands.get(words[1])):  # type: ignore[attr-defined]
                current += (words[2],)
            found.setdefault(current, set())
        if current:
            found[current].update(OPTION.findall(line))
    return found


def is_group(command: Any) -> bool:
    # Typer builds its commands on its own copy of click, so duck typing rather than click.Group.
    return hasattr(command, "commands")


def cli_commands() -> dict[tuple[str, ...], Any]:
    root = typer.main.get_command(app)
    out: dict[tuple[str, ...], Any] = {}
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if is_group(command):
            out.update({(name, sub): leaf for sub, leaf in command.commands.items()})
        else:
            out[(name,)] = command
    return out


def options_of(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def test_every_listed_command_and_option_exists() -> None:
    real = cli_commands()
    for path, options in readme_commands().items():
        assert path in real, f"README lists `tianyan {' '.join(path)}`, which the CLI does not have"
        unknown = options - options_of(real[path])
        assert not unknown, f"README gives `tianyan {' '.join(path)}` options it does not take: {sorted(unknown)}"


def test_every_command_is_listed() -> None:
    missing = set(cli_commands()) - set(readme_commands())
    assert not missing, f"README's command list leaves out: {sorted(' '.join(p) for p in missing)}"


def test_every_command_but_gbid_takes_config_as_the_readme_says() -> None:
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert "Every command except `gbid` and `sim rtsp` takes `--config FILE`" in readme
    for path, command in cli_commands().items():
        assert ("--config" in options_of(command)) == (path[0] != "gbid" and path != ("sim", "rtsp")), path


# --- docs/import-format.md ----------------------------------------------------------------------------


def column_table() -> list[list[str]]:
    """The rows of the columns table, as cells."""
    text = IMPORT_FORMAT.read_text(encoding="utf-8").split("## Columns", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in text.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row] for row in rows]


def test_import_format_lists_every_column_in_export_order_with_its_aliases() -> None:
    rows = column_table()
    documented = [name for row in rows for name in re.findall(r"`([a-z_]+)`", row[0])]
    assert documented == list(COLUMNS)
    required = [name for row in rows if row[1] == "yes" for name in re.findall(r"`([a-z_]+)`", row[0])]
    assert required == list(REQUIRED)
    listed = {
        alias.strip().lower(): name
        for row in rows
        for alias in row[-1].split(",")
        if alias.strip() and alias.strip() != "—"
        for name in re.findall(r"`([a-z_]+)`", row[0])[:1]
    }
    # Every Chinese alias, under the column it names (a pair like 主码流宽度, 主码流高度 share one row).
    chinese = {alias: column for alias, column in ALIASES.items() if not alias.isascii()}
    assert set(listed) == set(chinese)
    for alias, column in chinese.items():
        row = next(r for r in rows if alias in [a.strip().lower() for a in r[-1].split(",")])
        assert column in re.findall(r"`([a-z_]+)`", row[0]), (alias, column)
