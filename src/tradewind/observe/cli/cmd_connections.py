"""``tradewind connections``: add, get, list, delete, import, export and test connections.

Airflow's flags and file formats. Passwords are stored Fernet-encrypted and never printed by
``get``/``list``/``add`` (``***``); ``export`` writes them in clear because moving connections
between deployments is its purpose, as in Airflow — keep exported files private.
Also ``tradewind rotate-fernet-key``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tradewind.observe.cli.airflow_files import airflow_connection, connections_from_file, write_output, yaml_module
from tradewind.observe.cli.common import CliContext, CliError, audit, output_option, pass_cli, render, render_mapping

FILE_FORMATS = ("json", "yaml", "env")


@click.group("connections")
def connections_group() -> None:
    """Manage connections (how tasks reach databases, buckets and APIs; passwords encrypted at rest)."""


def _fernet(cli: CliContext) -> Any:
    from tradewind.persist.fernet import FernetKeyError, fernet_from_config

    try:
        return fernet_from_config(cli.config)
    except FernetKeyError as exc:
        raise CliError(str(exc)) from None


def _storage_errors() -> tuple[type[Exception], ...]:
    from tradewind.definition.connection import InvalidConnectionError
    from tradewind.persist.queries.connections import ConnectionStorageError

    return (ConnectionStorageError, InvalidConnectionError)


# ---------------------------------------------------------------------------------- add
@connections_group.command("add")
@click.argument("conn_id")
@click.option("--conn-uri", default=None, help="The whole connection as a URI: type://login:password@host:port/schema?extra.")
@click.option("--conn-json", default=None, help='The whole connection as JSON: {"conn_type": "...", "host": "...", ...}.')
@click.option("--conn-type", default=None, help="Connection type (postgres, mysql, aws, http, smtp, ...); required without --conn-uri/--conn-json.")
@click.option("--conn-description", default=None, help="What the connection is for.")
@click.option("--conn-host", default=None, help="Host name or address.")
@click.option("--conn-login", default=None, help="Login (user name).")
@click.option("--conn-password", default=None, help="Password (stored encrypted, never printed).")
@click.option("--conn-schema", default=None, help="Schema (for databases: the database name).")
@click.option("--conn-port", default=None, help="Port number.")
@click.option("--conn-extra", default=None, help='Extra settings as a JSON object, e.g. \'{"endpoint_url": "http://localhost:9000"}\'.')
@pass_cli
def connections_add(cli: CliContext, conn_id: str, conn_uri: str | None, conn_json: str | None, conn_type: str | None,
                    conn_description: str | None, conn_host: str | None, conn_login: str | None,
                    conn_password: str | None, conn_schema: str | None, conn_port: str | None,
                    conn_extra: str | None) -> None:
    """Add connection CONN_ID (an existing one is an error: delete it first).

    \b
    Examples:
      tradewind connections add warehouse --conn-uri 'postgresql://etl:s3cret@db:5432/sales'
      tradewind connections add s3 --conn-type aws --conn-extra '{"endpoint_url": "http://localhost:9000"}'
      tradewind connections add api --conn-json '{"conn_type": "http", "host": "example.com"}'
    """
    from tradewind.definition.connection import Connection
    from tradewind.observe.connections import masked_uri
    from tradewind.persist.queries.connections import add_connection

    fields = {"--conn-type": conn_type, "--conn-host": conn_host, "--conn-login": conn_login,
              "--conn-password": conn_password, "--conn-schema": conn_schema, "--conn-port": conn_port,
              "--conn-extra": conn_extra}
    given = [name for name, value in fields.items() if value is not None]
    if conn_uri is not None and conn_json is not None:
        raise CliError("give either --conn-uri or --conn-json, not both")
    whole = "--conn-uri" if conn_uri is not None else "--conn-json" if conn_json is not None else None
    if whole and given:
        raise CliError(f"these options cannot be combined with {whole}: {', '.join(given)}")
    try:
        if conn_uri is not None:
            conn = Connection(conn_id=conn_id, uri=conn_uri, description=conn_description)
        elif conn_json is not None:
            conn = Connection.from_json(conn_json, conn_id)
            conn.conn_id = conn_id
            if conn_description is not None:
                conn.description = conn_description
        else:
            if not conn_type:
                raise CliError("give --conn-type (or the whole connection with --conn-uri or --conn-json)")
            conn = Connection(conn_id=conn_id, conn_type=conn_type, description=conn_description, host=conn_host,
                              login=conn_login, password=conn_password, schema=conn_schema, port=conn_port,
                              extra=_extra_option(conn_extra))
        with cli.migrated_db().session_scope() as session:
            add_connection(session, conn, _fernet(cli))
            audit(session, "connection.add", extra={"conn_id": conn_id, "conn_type": conn.conn_type})
    except _storage_errors() as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Successfully added `conn_id`={conn_id} : {masked_uri(conn)}")


def _extra_option(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"--conn-extra is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError("--conn-extra must be a JSON object")
    return value


# ------------------------------------------------------------------------- get / list
def _display(conn: Any) -> dict[str, Any]:
    from tradewind.observe.connections import masked_fields, masked_uri

    return {**masked_fields(conn), "uri": masked_uri(conn)}


@connections_group.command("get")
@click.argument("conn_id")
@output_option
@pass_cli
def connections_get(cli: CliContext, conn_id: str, output: str) -> None:
    """Show connection CONN_ID (password and secret extras as ***).

    \b
    Example:
      tradewind connections get warehouse -o json
    """
    from tradewind.persist.queries.connections import get_connection

    try:
        with cli.migrated_db().session_scope() as session:
            conn = get_connection(session, conn_id, _fernet(cli))
    except _storage_errors() as exc:
        raise CliError(str(exc)) from None
    if conn is None:
        raise CliError(f"connection {conn_id!r} does not exist")
    render_mapping(_display(conn), output)


@connections_group.command("list")
@click.option("--conn-id", default=None, help="Only this connection.")
@output_option
@pass_cli
def connections_list(cli: CliContext, conn_id: str | None, output: str) -> None:
    """List stored connections (password and secret extras as ***).

    \b
    Example:
      tradewind connections list -o table
    """
    from tradewind.persist.queries.connections import get_connection, list_connections

    try:
        with cli.migrated_db().session_scope() as session:
            fernet = _fernet(cli)
            if conn_id is not None:
                found = get_connection(session, conn_id, fernet)
                conns = [found] if found is not None else []
            else:
                conns = list_connections(session, fernet)
    except _storage_errors() as exc:
        raise CliError(str(exc)) from None
    columns = ["conn_id", "conn_type", "description", "host", "schema", "login", "password", "port", "extra"]
    render([_display(conn) for conn in conns], columns, output)


# ------------------------------------------------------------------------------ delete
@connections_group.command("delete")
@click.argument("conn_id")
@pass_cli
def connections_delete(cli: CliContext, conn_id: str) -> None:
    """Delete connection CONN_ID.

    \b
    Example:
      tradewind connections delete warehouse
    """
    from tradewind.persist.queries.connections import delete_connection

    with cli.migrated_db().session_scope() as session:
        deleted = delete_connection(session, conn_id)
        if deleted:
            audit(session, "connection.delete", extra={"conn_id": conn_id})
    if not deleted:
        raise CliError(f"connection {conn_id!r} does not exist")
    click.echo(f"Successfully deleted connection with `conn_id`={conn_id}")


# ------------------------------------------------------------------------------ export
def _format_of(file: str, given: str | None) -> str:
    if given:
        return given.lower()
    suffix = Path(file).suffix.lower().lstrip(".")
    if suffix in ("yaml", "yml"):
        return "yaml"
    if suffix in ("json", "env"):
        return suffix
    raise CliError(f"cannot tell the format of {file!r} from its extension: give --file-format json, yaml or env")


@connections_group.command("export")
@click.argument("file")
@click.option("--file-format", "--format", "file_format", type=click.Choice(FILE_FORMATS, case_sensitive=False),
              default=None, help="File format (default: from the file's extension; json for '-').")
@click.option("--serialization-format", type=click.Choice(["uri", "json"], case_sensitive=False), default=None,
              help="How each connection is written in an env file (default: uri).")
@pass_cli
def connections_export(cli: CliContext, file: str, file_format: str | None, serialization_format: str | None) -> None:
    """Export every stored connection to FILE ('-' for standard output), in Airflow's format.

    The file holds PASSWORDS IN CLEAR (moving connections is what export is for, as in Airflow):
    keep it private. json/yaml: {conn_id: {conn_type, description, login, password, host, port,
    schema, extra}} with extra as JSON text, as `airflow connections export` writes it; env: one
    CONN_ID=URI (or =JSON) line each. `airflow connections import FILE` reads every one of them
    (env: with the default uri serialization).

    \b
    Examples:
      tradewind connections export connections.json
      tradewind connections export - --file-format env
    """
    from tradewind.persist.queries.connections import list_connections

    fmt = _format_of(file, file_format) if file != "-" or file_format else "json"
    if serialization_format and fmt != "env":
        raise CliError("--serialization-format may only be used with the env file format")
    try:
        with cli.migrated_db().session_scope() as session:
            conns = list_connections(session, _fernet(cli))
            audit(session, "connection.export", extra={"file": file, "count": len(conns)})
    except _storage_errors() as exc:
        raise CliError(str(exc)) from None
    write_output(file, _serialize(conns, fmt, (serialization_format or "uri").lower()), private=True)
    if file != "-":
        click.echo(f"Connections successfully exported to {file}: {len(conns)} connection(s).")


def _serialize(conns: list[Any], fmt: str, serialization: str) -> str:
    if fmt == "env":
        lines = []
        for conn in conns:
            value = conn.get_uri() if serialization == "uri" else json.dumps(airflow_connection(conn))
            lines.append(f"{conn.conn_id}={value}")
        return "\n".join(lines) + ("\n" if lines else "")
    data = {conn.conn_id: airflow_connection(conn) for conn in conns}
    if fmt == "yaml":
        return yaml_module().safe_dump(data, sort_keys=True)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# ------------------------------------------------------------------------------ import
@connections_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace connections that already exist (Airflow's flag).")
@click.option("-a", "--action-on-existing-key", "action", type=click.Choice(["skip", "overwrite", "fail"]),
              default=None, help="What to do with a conn_id that already exists (default: skip; --overwrite = overwrite).")
@pass_cli
def connections_import(cli: CliContext, file: Path, overwrite: bool, action: str | None) -> None:
    """Import connections from FILE: .json, .yaml/.yml or .env, as `airflow connections export` writes them.

    Airflow 2 and 3 files are read unchanged (see docs/migrating-from-airflow.md). The whole file is
    checked first: a bad entry is an error naming the file, the connection and the field, and
    nothing is imported.

    \b
    Examples:
      tradewind connections import connections.json
      tradewind connections import connections.env --overwrite
      tradewind connections import connections.yaml -a fail
    """
    from tradewind.persist.queries.connections import import_connections

    if overwrite and action not in (None, "overwrite"):
        raise CliError(f"--overwrite contradicts --action-on-existing-key {action}")
    on_existing = "overwrite" if overwrite else action or "skip"
    conns = connections_from_file(file)
    try:
        with cli.migrated_db().session_scope() as session:
            counts = import_connections(session, conns, _fernet(cli), on_existing=on_existing)  # type: ignore[arg-type]
            audit(session, "connection.import", extra={"file": str(file), "count": len(conns)})
    except _storage_errors() as exc:
        raise CliError(f"{file}: {exc}; nothing imported") from None
    skipped = f", {counts.skipped} skipped (already exist; --overwrite replaces them)" if counts.skipped else ""
    click.echo(f"{counts.created + counts.updated} of {len(conns)} connections imported from {file}{skipped}.")


# -------------------------------------------------------------------------------- test
@connections_group.command("test")
@click.argument("conn_id")
@pass_cli
def connections_test(cli: CliContext, conn_id: str) -> None:
    """Test connection CONN_ID with the hook of its type (exit 1 when it fails).

    The connection is read as a task would: TRADEWIND_CONN_<ID> / AIRFLOW_CONN_<ID> first, then
    the database.

    \b
    Example:
      tradewind connections test warehouse
    """
    from tradewind.definition.connection import ConnectionNotFound, get_connection, set_connection_backend
    from tradewind.observe.connections import try_connection
    from tradewind.persist.queries.connections import DbConnectionBackend

    db = cli.migrated_db()
    previous = set_connection_backend(DbConnectionBackend(db, cli.config))
    try:
        conn = get_connection(conn_id)
    except ConnectionNotFound:
        raise CliError(f"connection {conn_id!r} does not exist") from None
    except _storage_errors() as exc:
        raise CliError(str(exc)) from None
    finally:
        set_connection_backend(previous)
    click.echo(f"Testing connection {conn_id} ({conn.conn_type})...")
    ok, message = try_connection(conn)
    with db.session_scope() as session:
        audit(session, "connection.test", extra={"conn_id": conn_id, "ok": ok})
    if not ok:
        raise CliError(f"Connection failed: {message}")
    click.echo(f"Connection success! {message}")


# ------------------------------------------------------------------- rotate-fernet-key
@click.command("rotate-fernet-key")
@pass_cli
def rotate_fernet_key_command(cli: CliContext) -> None:
    """Re-encrypt every stored connection and variable with the first key of [core] fernet_key.

    Values stored in clear (written by older versions or other tools) are encrypted too. A value
    no key decrypts stops the rotation before anything is written, naming it.

    \b
    Rotating a key:
      1. set [core] fernet_key (or TRADEWIND__CORE__FERNET_KEY) to NEW_KEY,OLD_KEY
      2. tradewind rotate-fernet-key
      3. set it to NEW_KEY alone
    """
    from tradewind.persist.queries.connections import rotate_fernet_key
    from tradewind.persist.queries.variables import VariableError, rotate_variables

    fernet = _fernet(cli)
    try:
        with cli.migrated_db().session_scope() as session:
            changed = rotate_fernet_key(session, fernet)
            variables = rotate_variables(session, fernet)
            audit(session, "connection.rotate_fernet_key", extra={"connections": changed, "variables": variables})
    except (*_storage_errors(), VariableError) as exc:
        raise CliError(str(exc)) from None
    click.echo(f"Re-encrypted {changed} connection(s) and {variables} variable(s) with the first key.")
