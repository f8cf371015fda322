"""``tradewind tasks``: list, test, clear, render and diagnose task instances."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from typing import Any

import click

from tradewind.observe.cli.common import (
    DATETIME,
    CliContext,
    CliError,
    audit,
    confirm_or_abort,
    output_option,
    pass_cli,
    render,
)
from tradewind.observe.cli.dagrefs import get_dag_ref, get_run_by_id_or_date, sync_dags, ti_row

TI_COLUMNS = ["task_id", "map_index", "state", "try_number", "start_date", "end_date"]


@click.group("tasks")
def tasks_group() -> None:
    """Inspect, test and clear tasks."""


@tasks_group.command("list")
@click.argument("dag_id")
@click.option("--tree", "-t", is_flag=True, help="Show the tasks as a tree of dependencies.")
@pass_cli
def tasks_list(cli: CliContext, dag_id: str, tree: bool) -> None:
    """List the tasks of a DAG (topological order).

    \b
    Examples:
      tradewind tasks list my_dag
      tradewind tasks list my_dag --tree
    """
    from tradewind.observe.cli.graph import tree_lines

    db = sync_dags(cli)
    with db.session_scope() as session:
        snapshot = get_dag_ref(session, dag_id).snapshot
    lines = tree_lines(snapshot) if tree else list(snapshot.topological_order)
    for line in lines:
        click.echo(line)


@tasks_group.command("test")
@click.argument("dag_id")
@click.argument("task_id")
@click.argument("logical_date", type=DATETIME, required=False)
@pass_cli
def tasks_test(cli: CliContext, dag_id: str, task_id: str, logical_date: datetime | None) -> None:
    """Run one task now, in this process, without checking its dependencies.

    The log goes to the terminal. A run created for the test is removed after it;
    an existing run for LOGICAL_DATE is reused (its XComs can be pulled).
    Exit code 1 if the task fails.

    \b
    Examples:
      tradewind tasks test my_dag extract 2024-01-01
      tradewind tasks test my_dag extract
    """
    from tradewind.observe.cli.task_test import run_task_test

    if not run_task_test(cli, dag_id, task_id, logical_date):
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


def _select_task_ids(snapshot: Any, pattern: str | None, upstream: bool, downstream: bool) -> set[str]:
    if pattern is None:
        return set(snapshot.tasks)
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise CliError(f"--task-regex {pattern!r} is not a valid regular expression: {exc}") from None
    chosen = {tid for tid in snapshot.tasks if regex.search(tid)}
    if not chosen:
        raise CliError(f"no task of DAG {snapshot.dag_id} matches --task-regex {pattern!r}")
    extra: set[str] = set()
    for tid in chosen:
        if upstream:
            extra |= snapshot.all_upstream(tid)
        if downstream:
            extra |= snapshot.all_downstream(tid)
    return chosen | extra


def _tis_to_clear(session: Any, dag_id: str, task_ids: set[str], start: datetime | None, end: datetime | None,
                  only_failed: bool) -> list[Any]:
    from tradewind.persist.queries.runs import list_runs
    from tradewind.persist.queries.task_instances import list_tis

    runs = [
        r for r in list_runs(session, dag_id, newest_first=False)
        if (start is None or (r.logical_date is not None and r.logical_date >= start))
        and (end is None or (r.logical_date is not None and r.logical_date <= end))
    ]
    states = ["failed", "upstream_failed"] if only_failed else None
    tis = []
    for run in runs:
        tis += list_tis(session, dag_id, run.run_id, task_ids=sorted(task_ids), state=states)
    return tis


@tasks_group.command("clear")
@click.argument("dag_id")
@click.option("--task-regex", "-t", default=None, help="Only tasks whose id matches this regular expression.")
@click.option("--start-date", "-s", type=DATETIME, default=None, help="Only runs with a logical date on/after this.")
@click.option("--end-date", "-e", type=DATETIME, default=None, help="Only runs with a logical date on/before this.")
@click.option("--upstream", "-u", is_flag=True, help="Also clear the upstream tasks of the matched ones.")
@click.option("--downstream", "-d", is_flag=True, help="Also clear the downstream tasks of the matched ones.")
@click.option("--only-failed", "-f", is_flag=True, help="Only failed (and upstream_failed) instances.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def tasks_clear(cli: CliContext, dag_id: str, task_regex: str | None, start_date: datetime | None,
                end_date: datetime | None, upstream: bool, downstream: bool, only_failed: bool, yes: bool) -> None:
    """Clear task instances so the scheduler runs them again.

    \b
    Examples:
      tradewind tasks clear my_dag --only-failed --yes
      tradewind tasks clear my_dag -t '^load' --downstream -s 2024-01-01 -e 2024-01-31
    """
    from tradewind.persist.db import utcnow
    from tradewind.schedule.transitions import clear_task_instances

    db = cli.migrated_db()
    with db.session_scope() as session:
        snapshot = get_dag_ref(session, dag_id).snapshot
        task_ids = _select_task_ids(snapshot, task_regex, upstream, downstream)
        tis = _tis_to_clear(session, dag_id, task_ids, start_date, end_date, only_failed)
        listing = [f"  {ti.run_id}  {ti.task_id}  ({ti.state})" for ti in tis]
    if not listing:
        click.echo("No task instances to clear.")
        return
    click.echo(f"{len(listing)} task instance(s) to clear:\n" + "\n".join(listing))
    confirm_or_abort("Clear them?", yes)
    with db.session_scope() as session:
        tis = _tis_to_clear(session, dag_id, task_ids, start_date, end_date, only_failed)
        retries = {tid: t.retries for tid, t in snapshot.tasks.items()}
        count = clear_task_instances(session, tis, now=utcnow(), retries_by_task=retries)
        audit(session, "clear", dag_id=dag_id, extra={"task_ids": sorted({ti.task_id for ti in tis}), "count": count})
    from tradewind.schedule.wakeup import notify_scheduler

    notify_scheduler(db)  # committed: the cleared instances are rescheduled now, not after an idle wait
    click.echo(f"{count} task instance(s) cleared.")


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
    from tradewind.persist.queries import dags as dag_queries
    from tradewind.persist.queries.task_instances import get_ti
    from tradewind.schedule.deps import failed_deps

    db = cli.migrated_db()
    with db.session_scope() as session:
        ref = get_dag_ref(session, dag_id)
        run = get_run_by_id_or_date(session, dag_id, run_id_or_date)
        snapshot = (dag_queries.snapshot_for_version(session, run.dag_version_id) if run.dag_version_id else None) \
            or ref.snapshot
        ti = get_ti(session, dag_id, run.run_id, task_id)
        if ti is None:
            if task_id not in snapshot.tasks:
                raise CliError(f"DAG {dag_id!r} has no task {task_id!r}")
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
