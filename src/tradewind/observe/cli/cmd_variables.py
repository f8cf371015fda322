"""``tradewind variables``: get, set, list, delete, import and export variables.

Values are stored Fernet-encrypted (:mod:`tradewind.persist.queries.variables`); ``list`` shows
keys only, as Airflow's does, and ``get`` prints one value.

The import/export files are Airflow's (2 and 3; shapes in :mod:`.airflow_files`): one object
mapping each key to its value. String values are stored as they are; other values as JSON
text. Export decodes values holding JSON, so a round trip keeps them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tradewind.observe.cli.airflow_files import airflow_variables, variables_from_file, write_output
from tradewind.observe.cli.common import LIST_FORMATS, CliContext, CliError, audit, pass_cli, render


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
        raise CliError(f"{exc}; drop --json to see it as text" if as_json and "JSON" in str(exc) else str(exc)) from None
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
@click.option("-o", "--output", type=click.Choice(LIST_FORMATS, case_sensitive=False), default="table",
              show_default=True, help="Output format.")
@pass_cli
def variables_list(cli: CliContext, output: str) -> None:
    """List variable keys (as Airflow does: values only through `variables get`).

    \b
    Examples:
      tradewind variables list
      tradewind variables list -o json
    """
    from tradewind.persist.queries.variables import list_variables

    with _session(cli) as session:
        rows = [{"key": v.key} for v in list_variables(session)]
    render(rows, ["key"], output)


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
    "-a",
    "--action-on-existing-key",
    type=click.Choice(["overwrite", "fail", "skip"]),
    default="overwrite",
    show_default=True,
    help="What to do when a key already exists (Airflow's flag and default).",
)
@pass_cli
def variables_import(cli: CliContext, file: Path, action_on_existing_key: str) -> None:
    """Import variables from FILE, as `airflow variables export` writes it (Airflow 2 or 3).

    .json (other extensions are read as JSON, as Airflow 2 does), .yaml/.yml or .env (Airflow 3):
    {"key": value, ...}; {"key": {"value": ..., "description": ...}} carries a description. Strings
    are stored as they are, other values as JSON. The whole file is checked first: a bad entry is
    an error naming the file and the key, and nothing is imported.

    \b
    Examples:
      tradewind variables import variables.json
      tradewind variables import variables.yaml -a skip
    """
    from sqlalchemy import select

    from tradewind.persist.models import Variable
    from tradewind.persist.queries.variables import VariableError, set_variable

    entries = variables_from_file(file)
    try:
        with _session(cli) as session:
            existing = set(session.scalars(select(Variable.key).where(Variable.key.in_(list(entries)))))
            if action_on_existing_key == "fail" and existing:
                raise CliError(f"{file}: variables already exist: {', '.join(sorted(existing))} "
                               "(-a overwrite or -a skip); nothing imported")
            skipped = sorted(existing) if action_on_existing_key == "skip" else []
            for key, (text, description) in entries.items():
                if key not in skipped:
                    set_variable(session, key, text, description)
            audit(session, "variable.import", extra={"file": str(file), "count": len(entries) - len(skipped)})
    except VariableError as exc:
        raise CliError(f"{file}: {exc}; nothing imported") from None
    note = f", {len(skipped)} skipped (already exist): {', '.join(skipped)}" if skipped else ""
    click.echo(f"{len(entries) - len(skipped)} of {len(entries)} variables imported from {file}{note}.")


@variables_group.command("export")
@click.argument("file")
@click.option("--plain", is_flag=True,
              help="Write {key: value} only, without descriptions: the form Airflow 2's variables import reads.")
@pass_cli
def variables_export(cli: CliContext, file: str, plain: bool) -> None:
    """Export all variables to a JSON FILE ('-' for standard output), as `airflow variables export` does.

    {"key": value, ...} with JSON values decoded; a variable with a description is written
    {"key": {"value": ..., "description": ...}}, the form Airflow 3 writes and reads. Airflow 2's
    import would store that object as the value: give --plain for an Airflow 2 deployment.

    \b
    Examples:
      tradewind variables export variables.json
      tradewind variables export variables.json --plain
    """
    from tradewind.persist.queries.variables import VariableError, list_variable_values

    try:
        with _session(cli) as session:
            data, wrapped = airflow_variables(list_variable_values(session), plain=plain)
    except VariableError as exc:
        raise CliError(str(exc)) from None
    write_output(file, json.dumps(data, indent=4, sort_keys=True) + "\n")
    if file == "-":
        return
    click.echo(f"{len(data)} variables exported to {file}.")
    if wrapped:
        click.echo(f"{wrapped} of them written as {{\"value\": ..., \"description\": ...}} (Airflow 3's form); "
                   "for Airflow 2 export with --plain.")
