"""The files Airflow's ``connections|variables|pools export`` write, read and written here.

Shapes (Airflow 2 and 3; the format is chosen by the file's extension, as Airflow does):

- connections, ``.json``/``.yaml``/``.yml``: ``{conn_id: {conn_type, description, host, login,
  password, schema, port, extra}}`` where ``extra`` is JSON text (Airflow's export) or an object;
  a value may also be a URI string, or an object with ``uri`` / ``extra_dejson`` / ``conn_id`` /
  ``team_name`` (what Airflow's file loader accepts). ``.env``: ``CONN_ID=URI`` or
  ``CONN_ID={json}`` lines.
- variables, ``.json`` (any other extension is read as JSON, as Airflow 2 does), ``.yaml``,
  ``.env`` (Airflow 3): ``{key: value}``; newer Airflow 3 releases write
  ``{key: {"value": v, "description": d}}`` for a variable with a description.
- pools, JSON whatever the extension: ``{name: {slots, description, include_deferred}}``.

Everything is checked before anything is written, and every error names the file, the entry and
the field, so the commands can refuse a bad file whole (one transaction, nothing half-imported).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tradewind.observe.cli.common import CliError

#: Keys an object in a connections file may have (Airflow's ``Connection`` constructor arguments).
CONNECTION_FIELDS = ("conn_type", "description", "host", "login", "password", "schema", "port", "extra")
_CONNECTION_KEYS = {*CONNECTION_FIELDS, "conn_id", "uri", "extra_dejson", "team_name"}
_TEXT_FIELDS = ("conn_type", "description", "host", "login", "password", "schema")
_POOL_KEYS = {"slots", "description", "include_deferred", "team_name"}


def warn(message: str) -> None:
    """A difference the user must know about, on standard error (the import still goes on)."""
    click.echo(f"Warning: {message}", err=True)


# ------------------------------------------------------------------------------ reading
def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def yaml_module() -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency; kept for stripped installs
        raise CliError("YAML files need PyYAML: pip install PyYAML (or use a .json or .env file)") from None
    return yaml


def parse_env(path: Path, text: str, line_form: str = "KEY=VALUE") -> dict[str, list[str]]:
    """``KEY=VALUE`` lines (``#`` comments and blank lines skipped); every value of each key."""
    found: dict[str, list[str]] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{path}:{lineno}: expected {line_form}, got {line[:60]!r}")
        if not value.strip():
            raise CliError(f"{path}:{lineno}: {key.strip()!r} has an empty value")
        found.setdefault(key.strip(), []).append(value.strip())
    return found


def parse_json(path: Path, text: str) -> Any:
    if not text.strip():
        raise CliError(f"{path}: the file is empty (expected a JSON object)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def parse_yaml(path: Path, text: str) -> Any:
    yaml = yaml_module()
    if not text.strip():
        raise CliError(f"{path}: the file is empty (expected a YAML mapping)")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{path}: invalid YAML: {exc}") from None


def read_mapping(path: Path, *, kind: str, formats: tuple[str, ...], line_form: str = "KEY=VALUE") -> dict[str, Any]:
    """The file's top-level ``{id: value}``; env values come as lists (one per line of that key).

    ``formats`` are the extensions understood; ``"*"`` reads any other extension as JSON.
    """
    suffix = path.suffix.lower().lstrip(".")
    text = read_text(path)
    if suffix == "env" and "env" in formats:
        return dict(parse_env(path, text, line_form))
    if suffix in ("yaml", "yml") and "yaml" in formats:
        data = parse_yaml(path, text)
    elif suffix == "json" or "*" in formats:
        data = parse_json(path, text)
    else:
        names = ", ".join(f".{f}" for f in formats if f != "*")
        raise CliError(f"{path}: unsupported file extension {('.' + suffix) if suffix else '(none)'}: use {names}")
    if not isinstance(data, dict):
        raise CliError(f"{path}: expected a JSON object (a YAML mapping) of each {kind} to its value, "
                       f"got {type(data).__name__}")
    return data


def _single(path: Path, kind: str, key: str, value: Any) -> Any:
    """Airflow's loader takes a one-element list as the value; more is an ambiguous file."""
    if isinstance(value, list):
        if len(value) != 1:
            raise CliError(f"{path}: {kind} {key!r} is defined {len(value)} times; keep one")
        return value[0]
    return value


# --------------------------------------------------------------------------- connections
def connections_from_file(path: Path) -> list[Any]:
    """Every connection of an Airflow connections file (json, yaml/yml or env)."""
    data = read_mapping(path, kind="conn_id", formats=("json", "yaml", "env"),
                        line_form="CONN_ID=URI or CONN_ID=JSON")
    return [connection_from_entry(path, str(key), _single(path, "connection", str(key), value))
            for key, value in data.items()]


def connection_from_entry(path: Path, conn_id: str, value: Any) -> Any:
    from tradewind.definition.connection import Connection, InvalidConnectionError

    where = f"{path}: connection {conn_id!r}"
    try:
        if isinstance(value, str) and value.strip().startswith("{"):
            value = _json_object(where, value)  # an env line holding the connection as JSON
        if isinstance(value, str):
            return Connection(conn_id=conn_id, uri=value.strip())
        if isinstance(value, dict):
            return Connection(conn_id=conn_id, **_connection_fields(where, conn_id, value))
    except InvalidConnectionError as exc:
        raise CliError(f"{path}: {exc}") from None
    raise CliError(f"{where}: expected an object of fields or a URI string, got {type(value).__name__}")


def _json_object(where: str, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{where}: the value starts with '{{' but is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CliError(f"{where}: expected a JSON object, got {type(value).__name__}")
    return value


def _connection_fields(where: str, conn_id: str, value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(str(k) for k in value if k not in _CONNECTION_KEYS)
    if unknown:
        raise CliError(f"{where}: unknown field(s) {', '.join(unknown)} "
                       f"(allowed: {', '.join(sorted(_CONNECTION_KEYS))})")
    if value.get("conn_id") not in (None, conn_id):
        raise CliError(f"{where}: field 'conn_id' is {value['conn_id']!r}, not the entry's key")
    if value.get("team_name") is not None:
        warn(f"{where}: team_name {value['team_name']!r} ignored (Tradewind has no teams)")
    fields: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        item = value.get(name)
        if item is not None and not isinstance(item, str):
            raise CliError(f"{where}: field {name!r} must be a string, got {type(item).__name__} {item!r} "
                           "(quote it in YAML)")
        fields[name] = item
    fields["port"] = value.get("port")
    if isinstance(fields["port"], bool) or not isinstance(fields["port"], (int, str, type(None))):
        raise CliError(f"{where}: field 'port' must be a number, got {fields['port']!r}")
    fields["extra"] = _extra_field(where, value)
    uri = value.get("uri")
    if uri is not None:
        given = [n for n in CONNECTION_FIELDS if n != "description" and fields.get(n) not in (None, "")]
        if given:
            raise CliError(f"{where}: field 'uri' cannot be combined with {', '.join(given)}")
        if not isinstance(uri, str):
            raise CliError(f"{where}: field 'uri' must be a string, got {type(uri).__name__}")
        return {"uri": uri, "description": fields["description"]}
    if not fields["conn_type"]:
        raise CliError(f"{where}: field 'conn_type' is required")
    return fields


def _extra_field(where: str, value: dict[str, Any]) -> str | dict[str, Any] | None:
    if "extra" in value and "extra_dejson" in value:
        raise CliError(f"{where}: give field 'extra' or 'extra_dejson', not both")
    if "extra_dejson" in value:
        extra = value["extra_dejson"]
        if extra is not None and not isinstance(extra, dict):
            raise CliError(f"{where}: field 'extra_dejson' must be an object, got {type(extra).__name__}")
        return extra
    extra = value.get("extra")
    if extra is None or isinstance(extra, (str, dict)):
        return extra
    raise CliError(f"{where}: field 'extra' must be JSON text or an object, got {type(extra).__name__}")


def airflow_connection(conn: Any) -> dict[str, Any]:
    """One connection as Airflow's export writes it (``extra`` as the stored JSON text)."""
    return {"conn_type": conn.conn_type, "description": conn.description, "login": conn.login,
            "password": conn.password, "host": conn.host, "port": conn.port, "schema": conn.schema,
            "extra": conn.extra}


# ----------------------------------------------------------------------------- variables
def variables_from_file(path: Path) -> dict[str, tuple[str, str | None]]:
    """``{key: (stored text, description)}`` from an Airflow variables file.

    Strings are stored as they are, anything else as JSON text (Airflow's rule). An object whose
    keys are ``value`` and optionally ``description`` is Airflow 3's form of a described variable;
    other objects are JSON values, so an Airflow 2 value such as ``{"value": 1, "unit": "s"}``
    keeps its meaning.
    """
    data = read_mapping(path, kind="variable key", formats=("json", "yaml", "env", "*"))
    out: dict[str, tuple[str, str | None]] = {}
    for key, raw in data.items():
        if not isinstance(key, str) or not key.strip():
            raise CliError(f"{path}: variable key {key!r} must be a non-empty string")
        where = f"{path}: variable {key!r}"
        raw = _single(path, "variable", key, raw) if path.suffix.lower() == ".env" else raw
        description = None
        if isinstance(raw, dict) and "value" in raw and set(raw) <= {"value", "description"}:
            raw, description = raw["value"], raw.get("description")
            if description is not None and not isinstance(description, str):
                raise CliError(f"{where}: field 'description' must be a string, got {type(description).__name__}")
        out[key] = (raw if isinstance(raw, str) else _json_text(where, raw), description)
    return out


def _json_text(where: str, value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise CliError(f"{where}: the value is not JSON ({exc}); quote it to store it as text") from None


def airflow_variables(rows: list[Any], *, plain: bool) -> tuple[dict[str, Any], int]:
    """``{key: value}`` as Airflow exports it, and how many entries use the described form.

    ``rows`` are variables in clear (:class:`tradewind.persist.queries.variables.StoredVariable`).

    JSON text is written decoded, other text as it is; a value that is JSON text of a string stays
    raw, so importing it back stores the same text. Unless ``plain``, a variable with a description
    (or whose value could be mistaken for that form) is written ``{"value": ..., "description": ...}``.
    """
    out: dict[str, Any] = {}
    wrapped = 0
    for row in rows:
        try:
            value = json.loads(row.value)
        except ValueError:
            value = row.value
        if isinstance(value, str):
            value = row.value
        looks_wrapped = isinstance(value, dict) and "value" in value and set(value) <= {"value", "description"}
        if not plain and (row.description or looks_wrapped):
            out[row.key] = {"value": value, "description": row.description}
            wrapped += 1
        else:
            out[row.key] = value
    return out, wrapped


# --------------------------------------------------------------------------------- pools
def pools_from_file(path: Path) -> dict[str, tuple[int, str | None]]:
    """``{name: (slots, description)}`` from an Airflow pools file (JSON, as Airflow reads it)."""
    data = read_mapping(path, kind="pool", formats=("json", "*"))
    out: dict[str, tuple[int, str | None]] = {}
    for name, value in data.items():
        where = f"{path}: pool {name!r}"
        if not isinstance(value, dict):
            raise CliError(f"{where}: expected an object with slots and description, got {type(value).__name__}")
        unknown = sorted(str(k) for k in value if k not in _POOL_KEYS)
        if unknown:
            raise CliError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_POOL_KEYS))})")
        description = value.get("description")
        if description is not None and not isinstance(description, str):
            raise CliError(f"{where}: field 'description' must be a string, got {type(description).__name__}")
        out[name] = (_pool_slots(where, value), description)
        if value.get("include_deferred"):
            warn(f"{where}: include_deferred ignored: deferred tasks never take pool slots in Tradewind")
        if value.get("team_name") is not None:
            warn(f"{where}: team_name {value['team_name']!r} ignored (Tradewind has no teams)")
    return out


def _pool_slots(where: str, value: dict[str, Any]) -> int:
    if "slots" not in value:
        raise CliError(f"{where}: field 'slots' is required")
    slots = value["slots"]
    if isinstance(slots, str) and slots.strip().lstrip("-").isdigit():
        slots = int(slots)  # Airflow takes int(slots), so "4" is 4
    if isinstance(slots, bool) or not isinstance(slots, int):
        raise CliError(f"{where}: field 'slots' must be a whole number, got {slots!r}")
    if slots == -1:
        raise CliError(f"{where}: field 'slots' is -1 (unlimited in Airflow); Tradewind pools have a size: "
                       "give the largest number of tasks this pool may run at once")
    if slots < 0:
        raise CliError(f"{where}: field 'slots' must be >= 0, got {slots}")
    return slots


def airflow_pools(pools: list[Any]) -> dict[str, dict[str, Any]]:
    """Pools as Airflow 2.7+ and 3 export them (older Airflow ignores include_deferred)."""
    return {p.pool: {"slots": p.slots, "description": p.description, "include_deferred": False} for p in pools}


# ------------------------------------------------------------------------------ writing
def write_output(file: str, text: str, *, private: bool = False) -> None:
    """Write ``text`` to ``file`` ('-': standard output); ``private`` files are created 0600."""
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        path = Path(file)
        if private:
            path.touch(mode=0o600, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {file}: {exc.strerror}") from None
