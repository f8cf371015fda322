"""``tradewind info`` (what to paste into a bug report) and ``tradewind cheat-sheet`` (every command
with its one-line help): Airflow's ``airflow info`` and ``airflow cheat-sheet``."""

from __future__ import annotations

import locale
import os
import platform
import shutil
import sys
from typing import Any

import click

from tradewind.observe.cli.common import OUTPUT_FORMATS, CliContext, console, echo_yaml, pass_cli, to_jsonable

#: Programs worth knowing about when something goes wrong, looked up on PATH (never run).
TOOLS = ("dot", "git", "psql", "sqlite3", "mysql", "redis-cli", "docker")


def masked_url(url: str) -> str:
    """The database URL with its password replaced by ``***`` (user, host and database kept)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    return parsed.render_as_string(hide_password=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tradewind")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def installed_extras() -> list[str]:
    """Tradewind's optional extras whose every requirement is installed here (``dev`` left out)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    try:
        meta = distribution("tradewind").metadata
    except PackageNotFoundError:
        return []
    requirements = [Requirement(text) for text in meta.get_all("Requires-Dist") or []]
    found = []
    for extra in meta.get_all("Provides-Extra") or []:
        if extra == "dev":
            continue
        needed = [r for r in requirements if r.marker is not None and r.marker.evaluate({"extra": extra})]
        try:
            for requirement in needed:
                distribution(requirement.name)
        except PackageNotFoundError:
            continue
        found.append(extra)
    return found


def installed_providers() -> dict[str, str]:
    """Airflow provider distributions installed here: ``{package: "version (mode)"}``."""
    from tradewind.compat.providers import list_providers

    return {row.package: f"{row.installed_version} ({row.mode})" for row in list_providers() if row.installed_version}


def gather_info(cli: CliContext) -> dict[str, dict[str, Any]]:
    """The sections ``tradewind info`` prints, as plain data."""
    config = cli.config
    return {
        "Tradewind info": {
            "version": _version(),
            "executor": config.get("core", "executor"),
            "database": masked_url(config.database_url),
            "fernet_key": "configured" if (config.get("core", "fernet_key") or "").strip()
            else f"generated ({config.home / 'fernet_key'})",
        },
        "Paths info": {
            "tradewind_home": str(config.home),
            "config_file": str(config.home / "tradewind.cfg"),
            "dags_folder": str(config.dags_folder),
            "dag_folders": [str(p) for p in config.dag_folders()],
            "logs_folder": str(config.logs_folder),
            "tradewind_on_path": shutil.which("tradewind") is not None,
            "system_path": os.environ.get("PATH", ""),
            "python_path": [p for p in sys.path if p],
        },
        "System info": {
            "os": platform.system(),
            "architecture": platform.machine(),
            "uname": platform.platform(),
            "locale": ".".join(str(part) for part in locale.getlocale() if part) or "C",
            "python_version": sys.version.split()[0],
            "python_location": sys.executable,
        },
        "Tools info": {tool: shutil.which(tool) or "NOT AVAILABLE" for tool in TOOLS},
        "Extras info": {"installed": installed_extras()},
        "Providers info": installed_providers(),
    }


@click.command("info")
@click.option("-o", "--output", type=click.Choice(OUTPUT_FORMATS, case_sensitive=False), default="table",
              show_default=True, help="Output format.")
@pass_cli
def info_command(cli: CliContext, output: str) -> None:
    """Show this installation: version, paths, database (password masked), executor, Python,
    platform, tools on PATH, installed extras and Airflow providers.

    \b
    Examples:
      tradewind info
      tradewind info -o json
    """
    sections = gather_info(cli)
    output = output.lower()
    if output == "json":
        import json

        click.echo(json.dumps(to_jsonable(sections), indent=2))
    elif output == "yaml":
        echo_yaml(sections)
    elif output == "plain":
        for title, values in sections.items():
            for key, value in values.items():
                click.echo(f"{title}\t{key}\t{_flat(value)}")
    else:
        _print_tables(sections)


def _flat(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return os.pathsep.join(str(v) for v in value) if value else ""
    return str(value)


def _print_tables(sections: dict[str, dict[str, Any]]) -> None:
    from rich.table import Table

    out = console()
    for title, values in sections.items():
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column("key")
        table.add_column("value", overflow="fold")
        for key, value in values.items():
            table.add_row(key, _flat(value))
        if not values:
            table.add_row("(none)", "")
        out.print(table)


# --------------------------------------------------------------------------------- cheat-sheet
@click.command("cheat-sheet")
@click.pass_context
def cheat_sheet_command(ctx: click.Context) -> None:
    """Every command with its one-line help, grouped (Airflow's cheat-sheet).

    \b
    Example:
      tradewind cheat-sheet
    """
    root = ctx.find_root().command
    assert isinstance(root, click.Group)
    for title, rows in cheat_sheet_sections(ctx.find_root(), root):
        click.echo(title)
        width = max(len(name) for name, _ in rows)
        for name, help_text in rows:
            click.echo(f"  {name.ljust(width)}  {help_text}")
        click.echo("")


def cheat_sheet_sections(ctx: click.Context, root: click.Group) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(title, [(command line, one-line help), ...]), ...]``: single commands first
    ("Miscellaneous commands"), then one section per group, each in name order."""
    misc: list[tuple[str, str]] = []
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            rows = [(f"tradewind {name} {sub}", _short(command.get_command(ctx, sub)))
                    for sub in command.list_commands(ctx)
                    if command.get_command(ctx, sub) is not None and not command.get_command(ctx, sub).hidden]
            groups.append((f"{name}: {_short(command)}", rows))
        else:
            misc.append((f"tradewind {name}", _short(command)))
    return [("Miscellaneous commands", misc), *groups]


def _short(command: click.Command | None) -> str:
    return command.get_short_help_str(limit=120) if command is not None else ""
