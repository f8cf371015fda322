"""The ``tradewind`` command: a thin Click front end over persist/schedule/execute.

Every command parses and validates its arguments, calls the layer that owns the
logic, and renders the result (Rich tables, JSON or plain text). Sub-command
modules are imported lazily so ``tradewind version`` or ``tradewind standalone``
never pay for modules they do not use.

Errors: a bad argument exits 2 with usage (Click); any other failure exits 1
with one readable line on stderr. ``--verbose`` (or ``TRADEWIND_VERBOSE=1``)
adds the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from tradewind.observe.cli.common import CliContext, CliError

#: Top-level command name -> "module:attribute" that defines it (imported on first use).
_COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("tradewind.observe.cli.cmd_audit:audit_group", "Read the audit log of manual actions."),
    "backfill": ("tradewind.observe.cli.cmd_backfill:backfill_group", "Create, list and cancel backfills."),
    "assets": ("tradewind.observe.cli.cmd_assets:assets_group", "Inspect assets and their events."),
    "api-server": ("tradewind.observe.cli.cmd_api:api_server_command", "Serve the REST API and web UI."),
    "config": ("tradewind.observe.cli.cmd_config:config_group", "View the configuration."),
    "cheat-sheet": ("tradewind.observe.cli.cmd_info:cheat_sheet_command", "Every command with its one-line help."),
    "celery": ("tradewind.observe.cli.cmd_celery:celery_group", "Run and inspect Celery workers."),
    "dag-processor": (
        "tradewind.observe.cli.cmd_services:dag_processor_command",
        "Parse the DAG folders continuously (started by scheduler and standalone).",
    ),
    "connections": ("tradewind.observe.cli.cmd_connections:connections_group", "Manage connections."),
    "dags": ("tradewind.observe.cli.cmd_dags:dags_group", "Manage and run DAGs."),
    "db": ("tradewind.observe.cli.cmd_db:db_group", "Migrate, check, reset or clean the metadata database."),
    "info": (
        "tradewind.observe.cli.cmd_info:info_command",
        "Show version, paths, database, executor, Python, platform and installed providers.",
    ),
    "jobs": ("tradewind.observe.cli.cmd_jobs:jobs_group", "Check that schedulers, triggerers and workers are alive."),
    "pools": ("tradewind.observe.cli.cmd_pools:pools_group", "Manage pools."),
    "providers": (
        "tradewind.observe.cli.cmd_providers:providers_group",
        "List Airflow provider packages usable here (native or bridged) and install them.",
    ),
    "rotate-fernet-key": (
        "tradewind.observe.cli.cmd_connections:rotate_fernet_key_command",
        "Re-encrypt stored connections and variables with the first Fernet key.",
    ),
    "scheduler": ("tradewind.observe.cli.cmd_services:scheduler_command", "Run the scheduler and DAG processor."),
    "standalone": (
        "tradewind.observe.cli.cmd_services:standalone_command",
        "Run everything at once: DAG processor, scheduler, executor and API.",
    ),
    "tasks": ("tradewind.observe.cli.cmd_tasks:tasks_group", "Inspect, test and clear tasks."),
    "triggerer": ("tradewind.observe.cli.cmd_triggerer:triggerer_command", "Run the triggers of deferred tasks."),
    "users": ("tradewind.observe.cli.cmd_users:users_group", "Manage users of the web UI and REST API."),
    "variables": ("tradewind.observe.cli.cmd_variables:variables_group", "Manage variables."),
    "version": ("tradewind.observe.cli.main:version_command", "Print the Tradewind version."),
}


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when invoked (fast start-up)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None or cmd_name not in _COMMANDS:
            return cmd
        module_name, attr = _COMMANDS[cmd_name][0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table above, so `tradewind --help` imports nothing heavy.
        rows = [(name, _COMMANDS[name][1]) for name in sorted(_COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and debug output on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Tradewind: a fast workflow orchestrator that runs Airflow-style DAGs.

    Settings come from $TRADEWIND_HOME/tradewind.cfg and TRADEWIND__SECTION__KEY
    environment variables.

    \b
    Examples:
      tradewind standalone
      tradewind dags list -o json
      tradewind dags test my_dag 2024-01-01
      tradewind tasks test my_dag my_task 2024-01-01
    """
    from tradewind.config import Config, ConfigError

    if verbose:
        os.environ["TRADEWIND_VERBOSE"] = "1"
    try:
        config = Config.load()
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    from tradewind.persist.fernet import register_config_for_database

    # Variables are encrypted with this home's Fernet key in every server this command starts.
    register_config_for_database(config)
    ctx.obj = CliContext(config=config, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)


@click.command("version")
def version_command() -> None:
    """Print the Tradewind version.

    \b
    Example:
      tradewind version
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        click.echo(version("tradewind"))
    except PackageNotFoundError:  # running from a source tree without installing
        click.echo("0.0.0+unknown")


def _verbose_requested(argv: list[str]) -> bool:
    if os.environ.get("TRADEWIND_VERBOSE", "").lower() in ("1", "true", "yes"):
        return True
    level = os.environ.get("TRADEWIND__LOGGING__LOGGING_LEVEL", "").upper()
    return level == "DEBUG" or "--verbose" in argv or "-v" in argv[:1]


def _freeze_heap_at_exit() -> None:
    """At interpreter exit, hide every object alive then from the garbage collector.

    Python's shutdown runs full collections while it tears modules down; with SQLAlchemy
    and imported DAG files loaded, that cost ``dags test`` ~0.1 s after its work was done.
    Freezing skips only those scans: atexit handlers and reference-count cleanup still run
    (the memory goes back with the process). Registered at exit only, so a caller running
    the CLI in-process (tests) is unaffected until it exits itself.
    """
    global _FREEZE_REGISTERED
    if _FREEZE_REGISTERED:
        return
    import atexit
    import gc

    atexit.register(gc.freeze)
    _FREEZE_REGISTERED = True


_FREEZE_REGISTERED = False


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: run the CLI, turning failures into one-line messages."""
    args = list(sys.argv[1:] if argv is None else argv)
    _freeze_heap_at_exit()
    try:
        return cli.main(args=args, prog_name="tradewind", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
        if _verbose_requested(args):
            traceback.print_exc()
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"Error: {type(exc).__name__}: {message}" if message else f"Error: {type(exc).__name__}", err=True)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
