"""``tradewind scheduler`` and ``tradewind standalone``: the long-running commands."""

from __future__ import annotations

import sys

import click

from tradewind.observe.cli.common import CliContext, CliError, pass_cli


def _announce(message: str) -> None:
    click.echo(message, err=False)
    sys.stdout.flush()


def _run(cli: CliContext, *, port: int | None, host: str | None, executor: str | None, migrate: bool) -> None:
    from tradewind.observe import standalone
    from tradewind.observe.runtime import RuntimeSetupError

    try:
        code = standalone.run(
            cli.config, port=port, host=host, executor_name=executor, announce=_announce, migrate=migrate
        )
    except (standalone.StandaloneError, RuntimeSetupError) as exc:
        raise CliError(str(exc)) from None
    if code:
        sys.exit(code)


@click.command("scheduler")
@click.option("--executor", default=None, help="Executor to use (default: [core] executor, 'local').")
@pass_cli
def scheduler_command(cli: CliContext, executor: str | None) -> None:
    """Run the DAG processor and the scheduler until SIGINT/SIGTERM.

    The database must be migrated (`tradewind db migrate`). Ctrl-C stops
    gracefully: no new tasks start, running ones finish.

    \b
    Example:
      tradewind scheduler
    """
    _run(cli, port=None, host=None, executor=executor, migrate=False)


@click.command("dag-processor")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process ends (scheduler/standalone pass their own pid).")
@pass_cli
def dag_processor_command(cli: CliContext, parent_pid: int | None) -> None:
    """Parse the DAG folders continuously: new and changed files are imported (each in
    a child process with a timeout), their DAGs stored, broken files recorded as
    import errors, DAGs of deleted files made inactive.

    `tradewind scheduler` and `tradewind standalone` start one themselves; run it on
    its own to parse on another machine or in a separate container.

    \b
    Example:
      tradewind dag-processor
    """
    from tradewind.observe import standalone

    try:
        code = standalone.run_dag_processor(cli.config, parent_pid=parent_pid, announce=_announce)
    except standalone.StandaloneError as exc:
        raise CliError(str(exc)) from None
    if code:
        sys.exit(code)


@click.command("standalone")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=None,
              help="HTTP port for the API (default: [api] port, 8080).")
@click.option("--host", default=None, help="Address to listen on (default: [api] host).")
@click.option("--executor", default=None, help="Executor to use (default: [core] executor, 'local').")
@pass_cli
def standalone_command(cli: CliContext, port: int | None, host: str | None, executor: str | None) -> None:
    """Run everything at once: DAG processor, scheduler, executor and API.

    Creates TRADEWIND_HOME (dags/, logs/, tradewind.cfg) if missing and migrates
    the database first. Health: GET /api/v1/health.

    \b
    Examples:
      tradewind standalone
      tradewind standalone --port 9090
    """
    if port is None:
        port = cli.config.getint("api", "port")
    _run(cli, port=port, host=host, executor=executor, migrate=True)
