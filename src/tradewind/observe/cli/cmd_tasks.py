"""``tradewind tasks``: list, test, clear, render and diagnose task instances."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from tradewind.observe.cli.common import (
    DATETIME,
    CliContext,
    confirm_or_abort,
    output_option,
    pass_cli,
    render,
)
from tradewind.observe.cli.action_calls import action_session, cli_actor
from tradewind.observe.cli.dagrefs import (
    check_task_id,
    get_dag_ref,
    get_run_by_id_or_date,
    local_option,
    sync_dags,
    ti_row,
)

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from tradewind.parse.snapshot import DagSnapshot
    from tradewind.persist.models import DagRun

TI_COLUMNS = ["task_id", "map_index", "state", "try_number", "start_date", "end_date"]


@click.group("tasks")
def tasks_group() -> None:
    """Inspect, test and clear tasks."""


@tasks_group.command("list")
@click.argument("dag_id")
@click.option("--tree", "-t", is_flag=True, help="Show the tasks as a tree of dependencies.")
@local_option
@pass_cli
def tasks_list(cli: CliContext, dag_id: str, tree: bool, local: bool) -> None:
    """List the tasks of a DAG (topological order).

    \b
    Examples:
      tradewind tasks list my_dag
      tradewind tasks list my_dag --tree
    """
    from tradewind.observe.cli.graph import tree_lines

    db = sync_dags(cli, local=local, dag_id=dag_id)
    with db.session_scope() as session:
        snapshot = get_dag_ref(session, dag_id).snapshot
    lines = tree_lines(snapshot) if tree else list(snapshot.topological_order)
    for line in lines:
        click.echo(line)


@tasks_group.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", type=DATETIME, required=False)
@click.option("--map-index", type=int, default=-1, show_default=True,
              help="Run this instance of a mapped task (its run must have expanded it).")
@pass_cli
def tasks_test(cli: CliContext, dag_id: str, task_id: str, logical_date: datetime | None, map_index: int) -> None:
    """Run one task now, in this process, without checking its dependencies.

    The log goes to the terminal. A run created for the test is removed after it;
    an existing run for LOGICAL_DATE is reused (its XComs can be pulled).
    Exit code 1 if the task fails.

    \b
    Examples:
      tradewind tasks test my_dag extract 2024-01-01
      tradewind tasks test my_dag extract
      tradewind tasks test my_dag mapped_task 2024-01-01 --map-index 2
    """
    from tradewind.observe.cli.task_test import run_task_test

    if not run_task_test(cli, dag_id, task_id, logical_date, map_index=map_index):
        sys.exit(1)


@tasks_group.command("states-for-dag-run")
@click.argument("dag_id")
@click.argument("run_id")
@output_option
@pass_cli
def tasks_states_for_dag_run(cli: CliContext, dag_id: str, run_id: str, output: str) -> None:
    """Show the state of every task instance of a run (RUN_ID or its logical date).

    \b
    Example:
      tradewind tasks states-for-dag-run my_dag manual__2024-01-01T00:00:00+00:00 -o json
    """
    from tradewind.persist.queries.task_instances import list_tis

    db = cli.migrated_db()
    with db.session_scope() as session:
        run = get_run_by_id_or_date(session, dag_id, run_id)
        rows = [ti_row(ti) for ti in list_tis(session, dag_id, run.run_id)]
    render(rows, TI_COLUMNS, output)


@tasks_group.command("clear")
@click.argument("dag_id")
@click.option("--task-regex", "-t", default=None, help="Only tasks whose id matches this regular expression.")
@click.option("--start-date", "-s", type=DATETIME, default=None, help="Only runs with a logical date on/after this.")
@click.option("--end-date", "-e", type=DATETIME, default=None, help="Only runs with a logical date on/before this.")
@click.option("--upstream", "-u", is_flag=True, help="Also clear the upstream tasks of the matched ones.")
@click.option("--downstream", "-d", is_flag=True, help="Also clear the downstream tasks of the matched ones.")
@click.option("--only-failed", "-f", is_flag=True, help="Only failed (and upstream_failed) instances.")
@click.option("--only-running", "-r", is_flag=True, help="Only running instances.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="List what would be cleared and change nothing.")
@pass_cli
def tasks_clear(cli: CliContext, dag_id: str, task_regex: str | None, start_date: datetime | None,
                end_date: datetime | None, upstream: bool, downstream: bool, only_failed: bool, only_running: bool,
                yes: bool, dry_run: bool) -> None:
    """Clear task instances so the scheduler runs them again.

    Their runs go back to queued. Clearing an ExternalTaskMarker also clears the task it
    points at in the other DAG (and that task's downstream), recursively.

    \b
    Examples:
      tradewind tasks clear my_dag --only-failed --yes
      tradewind tasks clear my_dag -t '^load' --downstream -s 2024-01-01 -e 2024-01-31
      tradewind tasks clear my_dag -t extract --dry-run
    """
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    def clear(session: object, dry: bool) -> list:
        return actions.clear_task_instances(
            session, cli_actor(), dag_id, task_regex=task_regex, start_date=start_date, end_date=end_date,
            include_upstream=upstream, include_downstream=downstream, only_failed=only_failed,
            only_running=only_running, dry_run=dry, now=utcnow())

    db = cli.migrated_db()
    with action_session(db, dag_id) as session:
        listing = [f"  {ti.dag_id}  {ti.run_id}  {ti.task_id}  ({ti.state})" for ti in clear(session, True)]
    if not listing:
        click.echo("No task instances to clear.")
        return
    click.echo(f"{len(listing)} task instance(s) to clear:\n" + "\n".join(listing))
    if dry_run:
        click.echo("Dry run: nothing was cleared.")
        return
    confirm_or_abort("Clear them?", yes)
    with action_session(db, dag_id) as session:
        count = len(clear(session, False))
    click.echo(f"{count} task instance(s) cleared.")


@tasks_group.command("set-state")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("task_id")
@click.argument("state", type=click.Choice(["success", "failed", "skipped"]))
@click.option("--upstream", "-u", is_flag=True, help="Also mark the task's upstream tasks in the run.")
@click.option("--downstream", "-d", is_flag=True, help="Also mark the task's downstream tasks in the run.")
@click.option("--map-index", type=int, default=None, help="Only this map index of a mapped task.")
@output_option
@pass_cli
def tasks_set_state(cli: CliContext, dag_id: str, run_id: str, task_id: str, state: str, upstream: bool,
                    downstream: bool, map_index: int | None, output: str) -> None:
    """Mark a task instance success, failed or skipped by hand (Airflow's "mark success/failed").

    RUN_ID may also be the run's logical date. A running try is stopped (its runner sees the
    change at its next heartbeat); the scheduler then decides the run's state again.

    \b
    Examples:
      tradewind tasks set-state my_dag manual__2024-01-01T00:00:00+00:00 load success
      tradewind tasks set-state my_dag 2024-01-01 extract failed --downstream
    """
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    db = cli.migrated_db()
    with action_session(db, dag_id) as session:
        snapshot = get_dag_ref(session, dag_id).snapshot
        run = get_run_by_id_or_date(session, dag_id, run_id)
        check_task_id(snapshot, task_id)
        tis = actions.set_task_instance_state(session, cli_actor(), dag_id, run.run_id, task_id, map_index, state,
                                              include_upstream=upstream, include_downstream=downstream, now=utcnow())
        rows = [ti_row(ti) for ti in tis]
    render(rows, TI_COLUMNS, output)


@tasks_group.command("state")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date_or_run_id")
@click.option("-m", "--map-index", type=int, default=-1, show_default=True,
              help="The map index of a mapped task's instance (-1: an unmapped task).")
@pass_cli
def tasks_state(cli: CliContext, dag_id: str, task_id: str, logical_date_or_run_id: str, map_index: int) -> None:
    """Print the state of a task instance (e.g. success; None when it has no state yet), as Airflow does.

    \b
    Examples:
      tradewind tasks state my_dag load 2024-01-01
      tradewind tasks state my_dag process manual__2024-01-01T00:00:00+00:00 --map-index 2
    """
    from tradewind.persist.queries.task_instances import get_ti

    db = cli.migrated_db()
    with db.read_scope() as session:
        run, snapshot = _run_and_snapshot(session, dag_id, logical_date_or_run_id)
        check_task_id(snapshot, task_id)
        ti = get_ti(session, dag_id, run.run_id, task_id, map_index)
        state = ti.state if ti is not None else None
    click.echo(str(state))



def _run_and_snapshot(session: Session, dag_id: str, run_ref: str) -> tuple[DagRun, DagSnapshot]:
    """The DAG run named by run id or logical date, and the DAG as that run saw it: the version
    the run was created with, else the DAG's current one. Unknown DAG or run: a CliError."""
    from tradewind.persist.queries import dags as dag_queries

    ref = get_dag_ref(session, dag_id)
    run = get_run_by_id_or_date(session, dag_id, run_ref)
    snapshot = dag_queries.snapshot_for_version(session, run.dag_version_id) if run.dag_version_id else None
    return run, snapshot or ref.snapshot


@tasks_group.command("failed-deps")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("run_id_or_date")
@pass_cli
def tasks_failed_deps(cli: CliContext, dag_id: str, task_id: str, run_id_or_date: str) -> None:
    """Explain why a task instance cannot start now.

    \b
    Example:
      tradewind tasks failed-deps my_dag load manual__2024-01-01T00:00:00+00:00
    """
    from tradewind.persist.db import utcnow
    from tradewind.persist.queries.task_instances import get_ti
    from tradewind.schedule.deps import failed_deps

    db = cli.migrated_db()
    with db.session_scope() as session:
        run, snapshot = _run_and_snapshot(session, dag_id, run_id_or_date)
        ti = get_ti(session, dag_id, run.run_id, task_id)
        if ti is None:
            check_task_id(snapshot, task_id)
            reasons = [f"run {run.run_id} is {run.state} and has no instance of {task_id} yet"]
        else:
            reasons = failed_deps(session, ti, snapshot, now=utcnow(), parallelism=cli.config.parallelism, run=run)
    if not reasons:
        click.echo("Task instance dependencies are all met: no failed dependencies.")
        return
    click.echo("Dependencies not met:")
    for reason in reasons:
        click.echo(f"  - {reason}")


@tasks_group.command("render")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", type=DATETIME, required=False)
@pass_cli
def tasks_render(cli: CliContext, dag_id: str, task_id: str, logical_date: datetime | None) -> None:
    """Print the task's template fields rendered for LOGICAL_DATE (nothing is run).

    \b
    Example:
      tradewind tasks render my_dag print_date 2024-01-01
    """
    from tradewind.observe.cli.render_task import render_task_fields

    for name, value in render_task_fields(cli, dag_id, task_id, logical_date):
        click.echo(f"# ----------------------------------------------------------\n# property: {name}\n"
                   f"# ----------------------------------------------------------\n{value}\n")


# Human-in-the-loop answers (observe/cli/cmd_hitl.py): `tasks required-actions`, `tasks respond`.
from tradewind.observe.cli.cmd_hitl import tasks_required_actions, tasks_respond  # noqa: E402

tasks_group.add_command(tasks_required_actions)
tasks_group.add_command(tasks_respond)
