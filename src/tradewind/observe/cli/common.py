"""Shared CLI plumbing: the context object, errors, output formats and argument types.

Kept free of heavy imports (no SQLAlchemy at import time) so the root group loads fast.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # pragma: no cover
    from tradewind.config import Config
    from tradewind.persist.db import Database

#: Airflow's ``--output`` choices.
OUTPUT_FORMATS = ("table", "json", "yaml", "plain")
LIST_FORMATS = OUTPUT_FORMATS


class CliError(click.ClickException):
    """A failure the user can act on: printed as ``Error: <message>``, exit code 1."""

    exit_code = 1


@dataclass
class CliContext:
    """What every command gets via ``@pass_cli``: the config, and a database opened on demand."""

    config: "Config"
    verbose: bool = False
    _db: "Database | None" = field(default=None, repr=False)

    @property
    def db(self) -> "Database":
        """The metadata database, opened on first use and checked to be migrated."""
        if self._db is None:
            from tradewind.persist.db import Database

            self._db = Database.from_config(self.config)
        return self._db

    def migrated_db(self) -> "Database":
        """The database, after verifying its schema is current (clear error otherwise)."""
        from tradewind.persist.migrate import revision_problem

        db = self.db
        problem = revision_problem(db)
        if problem:
            raise CliError(f"{problem} (database {self.config.database_url})")
        return db

    def close(self) -> None:
        if self._db is not None:
            self._db.engine.dispose()
            self._db = None


pass_cli = click.make_pass_decorator(CliContext)


# ----------------------------------------------------------------------------- output
def output_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-o/--output table|json|yaml|plain`` (default table)."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUT_FORMATS, case_sensitive=False),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)


def to_jsonable(value: Any) -> Any:
    """Datetimes as ISO strings, enums as values, tuples as lists (recursively)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, (list, tuple, set)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(to_jsonable(value), sort_keys=True)
    return str(value)


def console(stderr: bool = False) -> Any:
    """A Rich console; wide when not a terminal so piped tables are not squeezed to 80 columns."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream)
    width = int(os.environ.get("COLUMNS", "0") or 0) or max(shutil.get_terminal_size((200, 24)).columns, 200)
    return Console(file=stream, width=width, color_system=None, highlight=False)


def echo_yaml(data: Any) -> None:
    """Print JSON-able data as YAML (block style, keys in the order given)."""
    import yaml

    click.echo(yaml.safe_dump(to_jsonable(data), sort_keys=False, allow_unicode=True, default_flow_style=False),
               nl=False)


def render(rows: Sequence[dict[str, Any]], columns: Sequence[str], output: str, *, title: str | None = None) -> None:
    """Print rows as a Rich table, a JSON or YAML list of objects (keys = ``columns``), or tab-separated text."""
    output = output.lower()
    if output in ("json", "yaml"):
        data = [{c: to_jsonable(row.get(c)) for c in columns} for row in rows]
        if output == "yaml":
            echo_yaml(data)
        else:
            click.echo(json.dumps(data, indent=2))
        return
    if output == "plain":
        click.echo("\t".join(columns))
        for row in rows:
            click.echo("\t".join(_cell(row.get(c)) for c in columns))
        return
    from rich.table import Table

    if not rows:
        click.echo("No data found" + (f" ({title})" if title else "") + ".")
        return
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console().print(table)


def render_mapping(data: dict[str, Any], output: str) -> None:
    """Print one object: key/value table, JSON or YAML object, or ``key<TAB>value`` lines."""
    output = output.lower()
    if output == "json":
        click.echo(json.dumps(to_jsonable(data), indent=2))
        return
    if output == "yaml":
        echo_yaml(data)
        return
    if output == "plain":
        for key, value in data.items():
            click.echo(f"{key}\t{_cell(value)}")
        return
    from rich.table import Table

    table = Table(show_header=True)
    table.add_column("property")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(key, _cell(value))
    console().print(table)


def echo_err(message: str) -> None:
    click.echo(message, err=True)


# ------------------------------------------------------------------------ argument types
def parse_datetime(text: str) -> datetime:
    """``2024-01-01``, ``2024-01-01T08:00:00``, ``2024-01-01 08:00``, with or without an offset.

    A value without an offset is UTC. Raises ``ValueError`` naming the accepted forms.
    """
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw.replace(" ", "T", 1) if len(raw) > 10 else raw)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM] (UTC when no offset)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


class DateTimeType(click.ParamType):
    """Click type for dates/datetimes on the command line (aware UTC when no offset is given)."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        try:
            return parse_datetime(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class JsonObjectType(click.ParamType):
    """A JSON object given on the command line (``--conf '{"a": 1}'``)."""

    name = "JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        try:
            data = json.loads(value)
        except json.JSONDecodeError as exc:
            self.fail(f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {value!r}", param, ctx)
        if not isinstance(data, dict):
            self.fail(f"must be a JSON object like '{{\"key\": \"value\"}}', got {type(data).__name__}", param, ctx)
        return data


DATETIME = DateTimeType()
JSON_OBJECT = JsonObjectType()


def confirm_or_abort(question: str, yes: bool) -> None:
    """Ask unless ``--yes``; a 'no' (or no terminal to ask on) aborts with exit code 1."""
    if yes:
        return
    if not click.confirm(question, default=False, err=True):
        raise CliError("cancelled; nothing was changed (pass --yes to skip this question)")


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def first_line(items: Iterable[str]) -> str:
    for item in items:
        return item
    return ""


# ----------------------------------------------------------------------------- audit
def cli_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still record something
        return "unknown"


def audit(session: Any, event: str, *, dag_id: str | None = None, task_id: str | None = None,
          run_id: str | None = None, extra: dict[str, Any] | None = None) -> None:
    """Record a manual action in the audit log (``log`` table) within the caller's transaction."""
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries.audit import record

    record(session, event, owner=cli_user(), dag_id=dag_id, task_id=task_id, run_id=run_id,
           extra={"source": "cli", **(to_jsonable(extra) or {})}, now=utcnow())
