"""``tradewind dags show | state | list-runs | report``: look at DAGs and their runs (Airflow's verbs,
arguments and output), registered on the ``dags`` group by :mod:`.cmd_dags`."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from tradewind.observe.cli.common import (
    DATETIME,
    CliContext,
    CliError,
    echo_err,
    output_option,
    pass_cli,
    render,
)
from tradewind.observe.cli.dagrefs import (
    get_dag_ref,
    get_run_by_id_or_date,
    local_option,
    require_dag,
    run_row,
    sync_dags,
)

RUN_COLUMNS = ["dag_id", "run_id", "state", "logical_date", "start_date", "end_date"]
REPORT_COLUMNS = ["file", "duration", "dag_num", "task_num", "dags"]
#: ``--save`` extensions written as DOT text; any other is handed to Graphviz's ``dot -T<ext>``.
DOT_EXTENSIONS = (".dot", ".gv")
RUN_STATES = ("queued", "running", "success", "failed")


# ---------------------------------------------------------------------------------- show
@click.command("show")
@click.argument("dag_id")
@click.option("--save", "-s", "save", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the graph to this file: .dot/.gv as DOT text; .png, .svg, .pdf, ... through "
                   "Graphviz's `dot` program.")
@click.option("--text", "as_text", is_flag=True,
              help="Print Tradewind's text view instead (tasks with their downstreams, then a tree).")
@local_option
@pass_cli
def dags_show(cli: CliContext, dag_id: str, save: Path | None, as_text: bool, local: bool) -> None:
    """Print the DAG's graph in Graphviz DOT (as Airflow does), or save it to a file.

    \b
    Examples:
      tradewind dags show my_dag
      tradewind dags show my_dag | dot -Tsvg > my_dag.svg
      tradewind dags show my_dag --save my_dag.png
      tradewind dags show my_dag --text
    """
    from tradewind.observe.cli.graph import dot_source, show

    db = sync_dags(cli, local=local, dag_id=dag_id)
    with db.session_scope() as session:
        snapshot = get_dag_ref(session, dag_id).snapshot
    if as_text:
        if save is not None:
            raise CliError("--text prints the text view; give --save without --text to write a graph file")
        click.echo(show(snapshot))
        return
    source = dot_source(snapshot)
    if save is None:
        click.echo(source, nl=False)
        return
    save_graph(source, save)
    click.echo(f"File {save} saved")


def save_graph(source: str, target: Path) -> None:
    """Write DOT ``source`` to ``target``: as text for .dot/.gv, else rendered by Graphviz's ``dot``."""
    suffix = target.suffix.lower()
    if suffix in DOT_EXTENSIONS:
        target.write_text(source, encoding="utf-8")
        return
    if not suffix:
        raise CliError(f"--save {target}: give a file extension (.dot, .png, .svg, .pdf, ...) to choose the format")
    program = shutil.which("dot")
    if program is None:
        raise CliError(f"--save {target}: rendering {suffix} needs Graphviz's `dot` program, which is not installed; "
                       "install graphviz (e.g. `apt install graphviz` or `brew install graphviz`) or save as .dot")
    result = subprocess.run([program, f"-T{suffix[1:]}", "-o", str(target)], input=source.encode("utf-8"),
                            capture_output=True, timeout=120)
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise CliError(f"--save {target}: Graphviz could not write {suffix} ({reason[-1] if reason else 'no reason'})")


# --------------------------------------------------------------------------------- state
@click.command("state")
@click.argument("dag_id")
@click.argument("logical_date_or_run_id")
@pass_cli
def dags_state(cli: CliContext, dag_id: str, logical_date_or_run_id: str) -> None:
    """Print the state of a DAG run (e.g. success), given by logical date or run id.

    A run with a conf prints it after the state, as Airflow does: `success, {'rows': 10}`.

    \b
    Examples:
      tradewind dags state my_dag 2024-01-01
      tradewind dags state my_dag manual__2024-01-01T00:00:00+00:00
    """
    db = cli.migrated_db()
    with db.read_scope() as session:
        require_dag(session, dag_id)
        run = get_run_by_id_or_date(session, dag_id, logical_date_or_run_id)
        state, conf = run.state, run.conf
    click.echo(f"{state}, {conf}" if conf else str(state))


# ----------------------------------------------------------------------------- list-runs
@click.command("list-runs")
@click.argument("dag_id", required=False)
@click.option("-d", "--dag-id", "dag_id_option", default=None, help="The DAG (Airflow 2's flag; or give it as an argument).")
@click.option("--state", default=None, type=click.Choice(RUN_STATES), help="Only runs in this state.")
@click.option("-s", "--start-date", type=DATETIME, default=None, help="Only runs with a logical date on/after this.")
@click.option("-e", "--end-date", type=DATETIME, default=None, help="Only runs with a logical date on/before this.")
@click.option("--no-backfill", is_flag=True, help="Leave out the runs of backfills.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many runs (newest first).")
@output_option
@pass_cli
def dags_list_runs(cli: CliContext, dag_id: str | None, dag_id_option: str | None, state: str | None,
                   start_date: datetime | None, end_date: datetime | None, no_backfill: bool, limit: int | None,
                   output: str) -> None:
    """List a DAG's runs, newest first.

    \b
    Examples:
      tradewind dags list-runs my_dag --state failed -o json
      tradewind dags list-runs -d my_dag --no-backfill -s 2024-01-01 -e 2024-01-31
    """
    from tradewind.persist.queries.runs import list_runs

    dag_id = _one_dag_id(dag_id, dag_id_option)
    db = cli.migrated_db()
    with db.read_scope() as session:
        require_dag(session, dag_id)
        runs = [run for run in list_runs(session, dag_id, state=state)
                if _wanted(run, start_date, end_date, no_backfill)]
        rows = [run_row(r) for r in runs[:limit]]
    render(rows, RUN_COLUMNS, output)


def _one_dag_id(argument: str | None, option: str | None) -> str:
    if argument and option and argument != option:
        raise click.UsageError(f"DAG given twice, as {argument!r} and -d {option!r}: give it once")
    dag_id = argument or option
    if not dag_id:
        raise click.UsageError("Missing the DAG: give DAG_ID (or -d/--dag-id DAG_ID)")
    return dag_id


def _wanted(run: Any, start: datetime | None, end: datetime | None, no_backfill: bool) -> bool:
    """Whether a run passes ``--start-date``/``--end-date`` (on its logical date) and ``--no-backfill``."""
    if no_backfill and (run.backfill_id is not None or run.run_type == "backfill"):
        return False
    if start is None and end is None:
        return True
    when = run.logical_date
    if when is None:
        return False
    if when.tzinfo is None:
        from datetime import timezone

        when = when.replace(tzinfo=timezone.utc)
    return (start is None or when >= start) and (end is None or when <= end)


# -------------------------------------------------------------------------------- report
@click.command("report")
@output_option
@pass_cli
def dags_report(cli: CliContext, output: str) -> None:
    """Import every DAG file here and report, per file: how long it took, how many DAGs and tasks,
    and the DAG ids (Airflow's `dags report`). Slow files are the ones to look at first.

    \b
    Examples:
      tradewind dags report
      tradewind dags report -o json
    """
    from tradewind.parse.dagbag import list_dag_files
    from tradewind.parse.discovery import discovery_options

    folders = [Path(f) for f in cli.config.dag_folders()]
    try:
        files = list_dag_files(folders, **discovery_options(cli.config))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    _install_backends(cli)
    rows, failed = [], 0
    for path in files:
        row, errors = _report_file(path, folders)
        rows.append(row)
        failed += bool(errors)
    render(rows, REPORT_COLUMNS, output)
    if failed:
        echo_err(f"Note: {failed} file(s) had import errors; see `tradewind dags list-import-errors --local`.")


def _install_backends(cli: CliContext) -> None:
    """Variables and connections from the database for top-level code, when there is one."""
    from tradewind.observe.runtime import install_connection_backend, install_variable_backend

    try:
        db = cli.migrated_db()
    except CliError:  # no database yet: files that read none still import
        return
    install_variable_backend(db)
    install_connection_backend(db, cli.config)


def _report_file(path: Path, folders: list[Path]) -> tuple[dict[str, Any], list[Any]]:
    from tradewind.parse.dagbag import collect_file, output_to_stderr

    started = time.perf_counter()
    with output_to_stderr():
        dags, errors = collect_file(str(path), [str(f) for f in folders])
    duration = time.perf_counter() - started
    return {
        "file": _relative(path, folders),
        "duration": round(duration, 4),
        "dag_num": len(dags),
        "task_num": sum(len(d.get("tasks") or ()) for d in dags),
        "dags": ", ".join(sorted(d["dag_id"] for d in dags)),
    }, errors


def _relative(path: Path, folders: list[Path]) -> str:
    """The file as Airflow's report shows it: relative to its DAG folder (absolute if outside all)."""
    for folder in folders:
        try:
            return str(path.relative_to(folder.expanduser().resolve()))
        except ValueError:
            continue
    return str(path)
