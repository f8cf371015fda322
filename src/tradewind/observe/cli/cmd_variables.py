"""``tradewind variables``: get, set, list, delete, import and export variables.

The import/export file is Airflow's: one JSON object mapping each key to its value.
String values are stored as they are; other JSON values as JSON text. Export
decodes values holding JSON, so a round trip keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tradewind.observe.cli.common import CliContext, CliError, audit, output_option, pass_cli, render


@click.group("variables")
def variables_group() -> None:
    """Manage variables (key/value settings DAGs read with Variable.get)."""


def _session(cli: CliContext) -> Any:
    return cli.migrated_db().session_scope()


@variables_group.command("get")
@click.argument("key")
@click.option("--default", "-d", "default", default=None, help="Print this when the variable does not exist.")
@click.option("--json", "-j", "as_json", is_flag=True, help="Parse the stored value as JSON and pretty-print it.")
@pass_cli
def variables_get(cli: CliContext, key: str, default: str | None, as_json: bool) -> None:
    """Print the value of variable KEY.

    \b
    Examples:
      tradewind variables get my_key
      tradewind variables get config --json
      tradewind variables get maybe --default fallback
    """
    from tradewind.persist.queries.variables import VariableError, get_variable

    try:
        with _session(cli) as session:
            value = get_variable(session, key, deserialize_json=as_json)
    except VariableError as exc:
        raise CliError(f"{exc}; drop --json to see it as text") from None
    if value is None:
        if default is not None:
            click.echo(default)
            return
        raise CliError(f"variable {key!r} does not exist")
    click.echo(json.dumps(value, indent=2) if as_json else value)


@variables_group.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--json", "-j", "as_json", is_flag=True, help="VALUE is JSON: validate it and store it as JSON.")
@click.option("--description", default=None, help="What the variable is for.")
@pass_cli
def variables_set(cli: CliContext, key: str, value: str, as_json: bool, description: str | None) -> None:
    """Create or update variable KEY with VALUE.

    \b
    Examples:
      tradewind variables set env prod
      tradewind variables set limits '{"rows": 100}' --json --description "Row limits"
    """
    from tradewind.persist.queries.variables import VariableError, set_variable

    parsed: Any = value
    if as_json:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise CliError(f"VALUE for {key!r} is not valid JSON ({exc.msg} at column {exc.colno})") from None
    try:
        with _session(cli) as session:
            set_variable(session, key, parsed, description, serialize_json=as_json)
            audit(session, "variable.set", extra={"key": key})
    except VariableError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Variable {key} set.")


@variables_group.command("list")
@output_option
@pass_cli
def variables_list(cli: CliContext, output: str) -> None:
    """List variables with their values and descriptions.

    \b
    Example:
      tradewind variables list -o json
    """
    from tradewind.persist.queries.variables import list_variables

    with _session(cli) as session:
        rows = [{"key": v.key, "val": v.val, "description": v.description} for v in list_variables(session)]
    render(rows, ["key", "val", "description"], output)


@variables_group.command("delete")
@click.argument("key")
@pass_cli
def variables_delete(cli: CliContext, key: str) -> None:
    """Delete variable KEY.

    \b
    Example:
      tradewind variables delete my_key
    """
    from tradewind.persist.queries.variables import delete_variable

    with _session(cli) as session:
        deleted = delete_variable(session, key)
        if deleted:
            audit(session, "variable.delete", extra={"key": key})
    if not deleted:
        raise CliError(f"variable {key!r} does not exist")
    click.echo(f"Variable {key} deleted.")


@variables_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--action-on-existing-key",
    type=click.Choice(["overwrite", "fail", "skip"]),
    default="overwrite",
    show_default=True,
    help="What to do when a key already exists.",
)
@pass_cli
def variables_import(cli: CliContext, file: Path, action_on_existing_key: str) -> None:
    """Import variables from a JSON FILE ({"key": value, ...}).

    \b
    Example:
      tradewind variables import variables.json
    """
    from tradewind.persist.queries.variables import VariableError, import_variables

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{file}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        with _session(cli) as session:
            counts = import_variables(session, data, on_existing=action_on_existing_key)  # type: ignore[arg-type]
            audit(session, "variable.import", extra={"file": str(file)})
    except VariableError as exc:
        raise CliError(f"{file}: {exc}; nothing imported") from None
    imported = counts.created + counts.updated
    skipped = f", {counts.skipped} skipped" if counts.skipped else ""
    click.echo(f"{imported} of {len(data)} variables imported from {file}{skipped}.")


@variables_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_cli
def variables_export(cli: CliContext, file: Path) -> None:
    """Export all variables to a JSON FILE ({"key": value, ...}; JSON values kept as JSON).

    \b
    Example:
      tradewind variables export variables.json
    """
    from tradewind.persist.queries.variables import export_variables

    with _session(cli) as session:
        data = export_variables(session)
    try:
        file.write_text(json.dumps(data, indent=4, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {file}: {exc.strerror}") from None
    click.echo(f"{len(data)} variables exported to {file}.")
