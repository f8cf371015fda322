"""``tradewind backfill``: create, list, pause, unpause and cancel backfills (Airflow 3's verbs).

The CLI only records the request through the manual actions (:mod:`tradewind.schedule.actions`,
shared with the REST API and UI) and wakes the scheduler, which creates and runs the backfill's runs.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

import click

from tradewind.observe.cli.common import (
    DATETIME,
    JSON_OBJECT,
    CliContext,
    CliError,
    output_option,
    pass_cli,
    render,
)
from tradewind.observe.cli.action_calls import action_session, cli_actor
from tradewind.observe.cli.dagrefs import sync_dags

BACKFILL_COLUMNS = ["id", "dag_id", "from_date", "to_date", "reprocess_behavior", "max_active_runs",
                    "run_backwards", "runs", "done", "failed", "created_at", "completed_at", "triggering_user_name"]
#: How often ``--wait`` looks at the database.
WAIT_POLL_SECONDS = 0.5


@click.group("backfill")
def backfill_group() -> None:
    """Run a DAG over past logical dates (the scheduler creates and runs the runs)."""


@backfill_group.command("create")
@click.argument("dag_id")
@click.option("--from-date", required=True, type=DATETIME, help="Earliest logical date to backfill (inclusive).")
@click.option("--to-date", required=True, type=DATETIME, help="Latest logical date to backfill (inclusive).")
@click.option("--reprocess-behavior", type=click.Choice(["none", "failed", "completed"]), default="none",
              show_default=True, help="Which dates that already have a finished run are run again.")
@click.option("--max-active-runs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Runs of this backfill queued or running at once.")
@click.option("--run-backwards", is_flag=True, help="Newest logical date first.")
@click.option("--dry-run", is_flag=True, help="Print the logical dates and what would happen to each; write nothing.")
@click.option("--conf", type=JSON_OBJECT, default=None, help="JSON object given to every run as dag_run.conf.")
@click.option("--wait", is_flag=True, help="Show progress and exit when the backfill completes (1 if a run failed).")
@pass_cli
def backfill_create(cli: CliContext, dag_id: str, from_date: datetime, to_date: datetime, reprocess_behavior: str,
                    max_active_runs: int, run_backwards: bool, dry_run: bool, conf: dict | None, wait: bool) -> None:
    """Backfill DAG_ID for every logical date its schedule gives from --from-date to --to-date.

    \b
    Examples:
      tradewind backfill create my_dag --from-date 2024-01-01 --to-date 2024-01-31
      tradewind backfill create my_dag --from-date 2024-01-01 --to-date 2024-01-07 --dry-run
      tradewind backfill create my_dag --from-date 2024-01-01 --to-date 2024-01-07 \\
          --reprocess-behavior failed --max-active-runs 2 --wait
    """
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions
    from tradewind.schedule import backfill as bf

    db = sync_dags(cli, dag_id=dag_id)
    with action_session(db, dag_id) as session:
        made = actions.create_backfill(
            session, cli_actor(), dag_id, from_date=from_date, to_date=to_date, run_backwards=run_backwards,
            dag_run_conf=conf, reprocess_behavior=reprocess_behavior, max_active_runs=max_active_runs,
            dry_run=dry_run, config=cli.config, now=utcnow())
        if made.backfill is not None:
            backfill_id = made.backfill.id
            rows = bf.queries.dag_runs_of(session, backfill_id)
            skipped = [r for r in rows if r.exception_reason]
        paused = actions.find_dag(session, dag_id).is_paused
    if dry_run:
        plan = made.plan
        if not plan:
            raise CliError(f"DAG {dag_id} has no runs to backfill in that range")
        click.echo(f"Dry run of a backfill of {dag_id}: {len(plan)} logical date(s); nothing was written.")
        for planned in plan:
            click.echo(f"  {planned.logical_date.isoformat()}  {planned.describe()}")
        return
    click.echo(f"Created backfill {backfill_id} of {dag_id}: {len(rows)} logical date(s)"
               + (f", {len(skipped)} skipped ({_reasons(skipped)})" if skipped else "") + ".")
    if paused:
        click.echo(f"DAG {dag_id} is paused: the backfill runs anyway; its schedule stays paused.")
    if wait:
        sys.exit(_wait(db, backfill_id))


def _reasons(rows: list[Any]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.exception_reason] = counts.get(row.exception_reason, 0) + 1
    return ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))


def _wait(db: Any, backfill_id: int) -> int:
    """Show a progress bar of settled dates until the backfill completes; 1 if any run failed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tradewind.observe.cli.common import console
    from tradewind.schedule import backfill as bf

    def read() -> bf.Progress:
        with db.read_scope() as session:
            backfill = bf.queries.get_backfill(session, backfill_id)
            if backfill is None:
                raise CliError(f"backfill {backfill_id} was deleted (its DAG was deleted?)")
            return bf.progress(session, backfill)

    state = read()
    columns = (TextColumn(f"backfill {backfill_id}"), BarColumn(), MofNCompleteColumn(), TextColumn("dates"),
               TimeElapsedColumn())
    with Progress(*columns, console=console(stderr=True), transient=False) as bar:
        task = bar.add_task("runs", total=state.total, completed=state.done)
        while not state.completed:
            time.sleep(WAIT_POLL_SECONDS)
            state = read()
            bar.update(task, completed=state.done)
    verdict = f"{state.failed} run(s) failed" if state.failed else "all runs succeeded"
    click.echo(f"Backfill {backfill_id} completed: {verdict}.")
    return 1 if state.failed else 0


@backfill_group.command("list")
@click.argument("dag_id", required=False)
@output_option
@pass_cli
def backfill_list(cli: CliContext, dag_id: str | None, output: str) -> None:
    """List backfills (of DAG_ID), newest first.

    \b
    Example:
      tradewind backfill list my_dag -o json
    """
    from tradewind.persist.queries import backfills as queries

    db = cli.migrated_db()
    with db.session_scope() as session:
        items = queries.list_backfills(session, dag_id)
        ids = [b.id for b in items]
        states = queries.run_states(session, ids)
        dates = queries.date_counts(session, ids)
        rows = []
        for b in items:
            total, _with_run, skipped = dates[b.id]
            finished = states[b.id].get("success", 0) + states[b.id].get("failed", 0)
            rows.append({
                "id": b.id, "dag_id": b.dag_id, "from_date": b.from_date, "to_date": b.to_date,
                "reprocess_behavior": b.reprocess_behavior, "max_active_runs": b.max_active_runs,
                "run_backwards": b.run_backwards, "runs": total, "done": skipped + finished,
                "failed": states[b.id].get("failed", 0), "created_at": b.created_at,
                "completed_at": b.completed_at, "triggering_user_name": b.triggering_user_name,
            })
    render(rows, BACKFILL_COLUMNS, output, title="backfills")


@backfill_group.command("cancel")
@click.argument("backfill_id", type=int)
@pass_cli
def backfill_cancel(cli: CliContext, backfill_id: int) -> None:
    """Cancel a backfill: no new runs; its queued runs fail; running runs finish.

    \b
    Example:
      tradewind backfill cancel 3
    """
    from sqlalchemy import func, select

    from tradewind.persist.db import utcnow
    from tradewind.persist.models import DagRun
    from tradewind.schedule import actions

    db = cli.migrated_db()
    with action_session(db) as session:
        queued = session.scalar(select(func.count()).select_from(DagRun).where(
            DagRun.backfill_id == backfill_id, DagRun.state == "queued")) or 0
        actions.cancel_backfill(session, cli_actor(), backfill_id, now=utcnow())
    click.echo(f"Cancelled backfill {backfill_id}: {queued} queued run(s) failed; running runs will finish.")


@backfill_group.command("pause")
@click.argument("backfill_id", type=int)
@pass_cli
def backfill_pause(cli: CliContext, backfill_id: int) -> None:
    """Pause a backfill: none of its runs start until it is unpaused (running ones go on).

    \b
    Example:
      tradewind backfill pause 3
    """
    _set_backfill_paused(cli, backfill_id, True)


@backfill_group.command("unpause")
@click.argument("backfill_id", type=int)
@pass_cli
def backfill_unpause(cli: CliContext, backfill_id: int) -> None:
    """Unpause a backfill: the scheduler starts its runs again.

    \b
    Example:
      tradewind backfill unpause 3
    """
    _set_backfill_paused(cli, backfill_id, False)


def _set_backfill_paused(cli: CliContext, backfill_id: int, paused: bool) -> None:
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    change = actions.pause_backfill if paused else actions.unpause_backfill
    with action_session(cli.migrated_db()) as session:
        change(session, cli_actor(), backfill_id, now=utcnow())
    click.echo(f"Backfill {backfill_id} is {'paused' if paused else 'unpaused'}.")
