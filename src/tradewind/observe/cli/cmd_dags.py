"""``tradewind dags``: list, inspect, trigger, pause, test and delete DAGs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from tradewind.observe.cli.common import (
    DATETIME,
    JSON_OBJECT,
    CliContext,
    CliError,
    confirm_or_abort,
    echo_err,
    output_option,
    pass_cli,
    render,
    render_mapping,
)
from tradewind.observe.cli.action_calls import action_session, cli_actor
from tradewind.observe.cli.dagrefs import get_dag_ref, local_option, run_row, sync_dags

RUN_COLUMNS = ["dag_id", "run_id", "state", "logical_date", "start_date", "end_date"]
DAG_COLUMNS = ["dag_id", "fileloc", "owners", "is_paused", "schedule", "next_dagrun"]


@click.group("dags")
def dags_group() -> None:
    """Manage and run DAGs."""


@dags_group.command("list")
@output_option
@click.option("--include-paused/--exclude-paused", default=True, show_default=True, help="Show paused DAGs.")
@click.option("--include-inactive", is_flag=True, help="Also show DAGs whose file (or DAG) is gone.")
@local_option
@pass_cli
def dags_list(cli: CliContext, output: str, include_paused: bool, include_inactive: bool, local: bool) -> None:
    """List DAGs as the DAG processor stored them (parsed here with --local, or when no
    DAG processor has ever run).

    \b
    Examples:
      tradewind dags list
      tradewind dags list -o json --exclude-paused
      tradewind dags list --local
    """
    from tradewind.persist.queries import dags as dag_queries

    db = sync_dags(cli, local=local)
    with db.session_scope() as session:
        dags = dag_queries.list_dags(session, include_inactive=include_inactive)
        rows = [
            {
                "dag_id": d.dag_id,
                "fileloc": d.fileloc,
                "owners": d.owners,
                "is_paused": d.is_paused,
                "schedule": d.timetable_summary,
                "next_dagrun": d.next_dagrun,
            }
            for d in dags
            if include_paused or not d.is_paused
        ]
    render(rows, DAG_COLUMNS, output)
    if output.lower() == "table":
        note = _safe_mode_note(cli.config)
        if note:
            echo_err(note)


def _safe_mode_note(config: Any) -> str | None:
    """How many ``.py`` files of the DAG folders safe mode left unimported, and how to turn it off
    (None when none were): "No data found" alone does not say why a folder's DAGs are missing."""
    from tradewind.parse.dagbag import list_dag_files
    from tradewind.parse.discovery import discovery_options

    options = discovery_options(config)
    if not options["safe_mode"]:
        return None
    folders = list(config.dag_folders())
    try:
        every = set(list_dag_files(folders, safe_mode=False, ignore_syntax=options["ignore_syntax"]))
        imported = set(list_dag_files(folders, **options))
    except ValueError:  # a bad dag_ignore_file_syntax: the parse itself reports it
        return None
    skipped = len(every - imported)
    if not skipped:
        return None
    return (f"Note: {skipped} .py file(s) in the DAG folders were not imported because of safe mode: it imports only "
            "files that mention 'airflow' or 'tradewind' and 'dag' or 'asset'. To import every .py file, set "
            "[core] dag_discovery_safe_mode = False (environment: TRADEWIND__CORE__DAG_DISCOVERY_SAFE_MODE=False).")


@dags_group.command("list-import-errors")
@output_option
@local_option
@pass_cli
def dags_list_import_errors(cli: CliContext, output: str, local: bool) -> None:
    """List DAG files that failed to import, with the line and message.

    \b
    Example:
      tradewind dags list-import-errors -o json
    """
    from tradewind.persist.queries.import_errors import list_import_errors

    db = sync_dags(cli, local=local)
    with db.session_scope() as session:
        rows = [{"filename": e.filename, "line": e.lineno, "message": e.message} for e in list_import_errors(session)]
    render(rows, ["filename", "line", "message"], output)


def _details(ref: Any) -> dict[str, Any]:
    dag, snap = ref.dag, ref.snapshot
    return {
        "dag_id": dag.dag_id,
        "fileloc": dag.fileloc,
        "description": snap.description,
        "owners": dag.owners,
        "tags": list(snap.tags),
        "is_paused": dag.is_paused,
        "is_active": dag.is_active,
        "schedule": snap.timetable_summary,
        "timetable": snap.timetable,
        "timezone": snap.timezone,
        "start_date": snap.start_date,
        "end_date": snap.end_date,
        "catchup": snap.catchup,
        "max_active_runs": snap.max_active_runs,
        "max_active_tasks": snap.max_active_tasks,
        "dagrun_timeout": snap.dagrun_timeout,
        "params": snap.params,
        "task_count": len(snap.tasks),
        "task_ids": list(snap.topological_order),
        "last_parsed_time": dag.last_parsed_time,
        "latest_version_id": ref.version_id,
        "next_dagrun": dag.next_dagrun,
        "next_dagrun_create_after": dag.next_dagrun_create_after,
    }


@dags_group.command("details")
@click.argument("dag_id")
@output_option
@local_option
@pass_cli
def dags_details(cli: CliContext, dag_id: str, output: str, local: bool) -> None:
    """Show a DAG's settings: schedule, dates, limits, params, tasks.

    \b
    Example:
      tradewind dags details my_dag -o json
    """
    db = sync_dags(cli, local=local, dag_id=dag_id)
    with db.session_scope() as session:
        data = _details(get_dag_ref(session, dag_id))
    render_mapping(data, output)


@dags_group.command("trigger")
@click.argument("dag_id")
@click.option("--conf", "-c", type=JSON_OBJECT, default=None, help="JSON object passed to the run as dag_run.conf.")
@click.option("--run-id", "-r", default=None, help="Run id (default manual__<timestamp>).")
@click.option("--logical-date", "-l", "--exec-date", "-e", "logical_date", type=DATETIME, default=None,
              help="Logical date (default now); -e/--exec-date is Airflow 2's name.")
@pass_cli
def dags_trigger(cli: CliContext, dag_id: str, conf: dict | None, run_id: str | None, logical_date: datetime | None) -> None:
    """Create a manual run; a running scheduler picks it up.

    \b
    Examples:
      tradewind dags trigger my_dag
      tradewind dags trigger my_dag --conf '{"rows": 10}' --logical-date 2024-01-01
    """
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    db = sync_dags(cli, dag_id=dag_id)
    with action_session(db, dag_id) as session:
        run = actions.trigger_run(session, cli_actor(), dag_id, run_id=run_id, logical_date=logical_date, conf=conf,
                                  config=cli.config, now=utcnow())
        created = run_row(run)
        paused = actions.find_dag(session, dag_id).is_paused
    click.echo(f"Created run {created['run_id']} of DAG {dag_id} (logical date {created['logical_date'].isoformat()}).")
    if paused:
        click.echo(f"Note: DAG {dag_id} is paused; the run starts after `tradewind dags unpause {dag_id}`.", err=True)


def _set_paused(cli: CliContext, dag_id: str, paused: bool) -> None:
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    db = sync_dags(cli, dag_id=dag_id)
    with action_session(db, dag_id) as session:
        actions.set_paused(session, cli_actor(), dag_id, paused, now=utcnow())
    click.echo(f"DAG {dag_id} is {'paused' if paused else 'unpaused'}.")


@dags_group.command("pause")
@click.argument("dag_id")
@pass_cli
def dags_pause(cli: CliContext, dag_id: str) -> None:
    """Pause a DAG: no new scheduled runs, running ones stop being scheduled.

    \b
    Example:
      tradewind dags pause my_dag
    """
    _set_paused(cli, dag_id, True)


@dags_group.command("unpause")
@click.argument("dag_id")
@pass_cli
def dags_unpause(cli: CliContext, dag_id: str) -> None:
    """Unpause a DAG.

    \b
    Example:
      tradewind dags unpause my_dag
    """
    _set_paused(cli, dag_id, False)


_PREVIEW_FORMATS = click.Choice(["plain", "table", "json"], case_sensitive=False)


def _preview_or_error(cli: CliContext, db: Any, dag_id: str, **kwargs: Any) -> Any:
    from tradewind.schedule.preview import PreviewError, preview_dag

    try:
        return preview_dag(db, dag_id, **kwargs)
    except PreviewError as exc:
        raise CliError(str(exc)) from None


def _render_planned(preview: Any, output: str, plain_columns: list[str]) -> None:
    from tradewind.schedule.preview import PLANNED_RUN_COLUMNS

    rows = [run.as_row() for run in preview.runs]
    if output.lower() == "plain":
        for row in rows:
            click.echo("\t".join(row[c].isoformat() for c in plain_columns))
        return
    render(rows, list(PLANNED_RUN_COLUMNS), output, title=f"{preview.dag_id}: {preview.schedule}")


@dags_group.command("next-execution")
@click.argument("dag_id")
@click.option("-n", "--num-executions", "count", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many upcoming logical dates to print.")
@click.option("-o", "--output", type=_PREVIEW_FORMATS, default="plain", show_default=True,
              help="plain: logical dates, one per line; table/json: also data interval, run_after, created_at.")
@local_option
@pass_cli
def dags_next_execution(cli: CliContext, dag_id: str, count: int, output: str, local: bool) -> None:
    """Print the next logical date(s) the scheduler will create runs for.

    Starts from the DAG's latest scheduled run and now, under its schedule, start/end
    dates and missed-run policy (`tradewind dags simulate` for a whole period).

    \b
    Example:
      tradewind dags next-execution my_dag -n 3
      tradewind dags next-execution my_dag -n 3 -o table
    """
    from tradewind.persist.db import utcnow

    db = sync_dags(cli, local=local, dag_id=dag_id)
    preview = _preview_or_error(cli, db, dag_id, start=utcnow(), end=None, limit=count)
    if preview.is_paused:
        echo_err(f"Note: DAG {dag_id} is paused; these are the runs it gets once unpaused.")
    if not preview.runs and output.lower() == "plain":
        click.echo(f"None (schedule {preview.schedule}: no upcoming runs)")
        return
    _render_planned(preview, output, ["logical_date"])


@dags_group.command("simulate")
@click.argument("dag_id")
@click.option("--from", "start", type=DATETIME, default=None, help="Start of the simulated period (default now).")
@click.option("--to", "end", type=DATETIME, default=None, help="End of the period (default: one day after --from).")
@click.option("--fresh", is_flag=True,
              help="Simulate the DAG as if it were new (no earlier runs) instead of going on from its latest run.")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Show at most this many runs.")
@click.option("-o", "--output", type=_PREVIEW_FORMATS, default="table", show_default=True, help="Output format.")
@pass_cli
def dags_simulate(cli: CliContext, dag_id: str, start: datetime | None, end: datetime | None, fresh: bool,
                  limit: int, output: str) -> None:
    """List the runs the scheduler would create from --from to --to, without creating any.

    A scheduler whose clock runs through the period, with the DAG unpaused: catch-up
    and missed-run policy included, each run with its logical date, data interval,
    run_after (when it is due) and created_at (when the scheduler would create it; later
    than run_after for a missed run it catches up). It goes on from the DAG's latest
    scheduled run in the database, or from nothing with --fresh. Runs are assumed to
    finish before the next one is due (max_active_runs is not simulated). Reads the DAG
    as last parsed; the database is not changed.

    \b
    Example:
      tradewind dags simulate my_dag --from 2024-01-01 --to 2024-01-08
      tradewind dags simulate my_dag --fresh --to 2024-02-01T00:00 -o json
    """
    from datetime import timedelta

    from tradewind.persist.db import utcnow

    start = start or utcnow()
    end = end or start + timedelta(days=1)
    if end < start:
        raise CliError(f"--to {end.isoformat()} is before --from {start.isoformat()}")
    db = cli.migrated_db()
    preview = _preview_or_error(cli, db, dag_id, start=start, end=end, fresh=fresh, limit=limit + 1)
    truncated = len(preview.runs) > limit
    preview.runs = preview.runs[:limit]
    if output.lower() != "json":
        origin = ("fresh (no earlier runs)" if preview.started_after is None
                  else f"after the run covering {preview.started_after.start.isoformat()}"
                  f" to {preview.started_after.end.isoformat()}")
        echo_err(f"DAG {dag_id}: schedule {preview.schedule}, missed runs: {preview.missed_runs}; "
                 f"from {start.isoformat()} to {end.isoformat()}, starting {origin}"
                 + (" (the DAG is paused now; simulated as unpaused)" if preview.is_paused else ""))
    if truncated:
        echo_err(f"Showing the first {limit} runs; pass --limit for more or a shorter period.")
    _render_planned(preview, output, ["logical_date", "data_interval_start", "data_interval_end", "run_after",
                                      "created_at"])


@dags_group.command("set-run-state")
@click.argument("dag_id")
@click.argument("run_id")
@click.argument("state", type=click.Choice(["success", "failed", "queued"]))
@output_option
@pass_cli
def dags_set_run_state(cli: CliContext, dag_id: str, run_id: str, state: str, output: str) -> None:
    """Mark a DAG run success, failed or queued by hand (Airflow's "mark run as ...").

    success marks every task instance that is not success as success; failed fails the
    instances in a try and skips the ones not started; queued lets the scheduler start the
    run again (instances unchanged; use `tasks clear` to re-run tasks). RUN_ID may also be
    the run's logical date.

    \b
    Examples:
      tradewind dags set-run-state my_dag manual__2024-01-01T00:00:00+00:00 success
      tradewind dags set-run-state my_dag 2024-01-01 failed
    """
    from tradewind.observe.cli.dagrefs import get_run_by_id_or_date, require_dag
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    db = cli.migrated_db()
    with action_session(db, dag_id) as session:
        require_dag(session, dag_id)
        run = get_run_by_id_or_date(session, dag_id, run_id)
        actions.set_run_state(session, cli_actor(), dag_id, run.run_id, state, now=utcnow())
        row = run_row(run)
    render([row], RUN_COLUMNS, output)


@dags_group.command("delete")
@click.argument("dag_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def dags_delete(cli: CliContext, dag_id: str, yes: bool) -> None:
    """Delete all database records of a DAG (runs, task instances, versions).

    The file stays; the DAG comes back on the next parse if the file still defines it.

    \b
    Example:
      tradewind dags delete my_dag --yes
    """
    from tradewind.observe.cli.dagrefs import require_dag
    from tradewind.persist.db import utcnow
    from tradewind.schedule import actions

    db = cli.migrated_db()
    with db.read_scope() as session:
        require_dag(session, dag_id)
    confirm_or_abort(f"Delete every record of DAG {dag_id}?", yes)
    with action_session(db, dag_id) as session:
        actions.delete_dag(session, cli_actor(), dag_id, now=utcnow())
    click.echo(f"DAG {dag_id} deleted.")


@dags_group.command("reserialize")
@pass_cli
def dags_reserialize(cli: CliContext) -> None:
    """Re-parse every DAG file now, even unchanged ones, and store fresh snapshots.

    \b
    Example:
      tradewind dags reserialize
    """
    from tradewind.observe.runtime import build_dag_processor

    db = cli.migrated_db()
    processor = build_dag_processor(cli.config, db)
    try:
        summary = processor.sync_once(force=True)
    finally:
        processor.close()
    click.echo(f"Re-parsed DAG files: {summary}")


def _add_airflow_backfill() -> None:
    """``dags backfill`` (Airflow 2's verb) lives in its own module; it maps onto ``backfill create``."""
    from tradewind.observe.cli.cmd_dags_backfill import dags_backfill

    dags_group.add_command(dags_backfill)


_add_airflow_backfill()


def _add_inspection_commands() -> None:
    """``dags show``, ``state``, ``list-runs`` and ``report`` live in :mod:`.cmd_dags_inspect`."""
    from tradewind.observe.cli.cmd_dags_inspect import dags_list_runs, dags_report, dags_show, dags_state

    for command in (dags_show, dags_state, dags_list_runs, dags_report):
        dags_group.add_command(command)


_add_inspection_commands()


@dags_group.command("test")
@click.argument("dag_id")
@click.argument("logical_date", type=DATETIME, required=False)
@click.option("--conf", "-c", type=JSON_OBJECT, default=None, help="JSON object passed to the run as dag_run.conf.")
@pass_cli
def dags_test(cli: CliContext, dag_id: str, logical_date: datetime | None, conf: dict | None) -> None:
    """Run one DAG run in this process, task by task, and report each outcome.

    The run is recorded in the database (see `dags list-runs`, `tasks
    states-for-dag-run`). Exit code 0 only if the run succeeds.

    \b
    Examples:
      tradewind dags test my_dag
      tradewind dags test my_dag 2024-01-01 --conf '{"rows": 10}'
    """
    import sys

    from tradewind.observe.cli.dag_test import run_dag_test

    ok = run_dag_test(cli, dag_id, logical_date=logical_date, conf=conf)
    if not ok:
        sys.exit(1)
