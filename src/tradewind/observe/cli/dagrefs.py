"""Finding DAGs, runs and task instances for CLI commands, with errors people can act on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tradewind.observe.cli.common import CliContext, CliError, parse_datetime

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from tradewind.parse.snapshot import DagSnapshot
    from tradewind.persist.db import Database
    from tradewind.persist.models import DagModel, DagRun


@dataclass
class DagRef:
    dag: "DagModel"
    version_id: int
    snapshot: "DagSnapshot"


def local_option(func: Any) -> Any:
    """``--local``: parse the DAG folders here first (Airflow 3's flag) instead of reading what
    the DAG processor stored."""
    import click

    return click.option(
        "--local", is_flag=True,
        help="Parse the DAG folders here now instead of reading the DAGs the DAG processor stored.",
    )(func)


def sync_dags(cli: CliContext, *, local: bool = False, dag_id: str | None = None) -> "Database":
    """The migrated database, with the DAG folders parsed here when that is needed.

    As in Airflow 3, commands read the DAGs a DAG processor keeps current, and parse the
    folders themselves only when asked (``local``: ``--local``, or commands that import the
    file anyway such as ``dags test``), when no DAG processor has ever run on this database
    (parsing here keeps ``dags list`` useful without one), or when ``dag_id`` is not
    stored yet (a file just dropped in). Unchanged files are skipped. What a DAG file
    prints while parsed never reaches this command's output (it goes to the log).
    """
    db = cli.migrated_db()
    if local or not _processor_has_run(cli, db) or (dag_id is not None and not _is_stored(db, dag_id)):
        parse_here(cli, db)
    return db


def parse_here(cli: CliContext, db: "Database") -> None:
    from tradewind.observe.runtime import build_dag_processor

    processor = build_dag_processor(cli.config, db)
    try:
        processor.sync_once()
    finally:
        processor.close()


def _processor_has_run(cli: CliContext, db: "Database") -> bool:
    """Whether a DAG processor ever recorded its job here; a note on stderr when none is alive now."""
    from datetime import timedelta

    from sqlalchemy import select

    from tradewind.observe.cli.common import echo_err
    from tradewind.persist.db import utcnow
    from tradewind.persist.models import Job
    from tradewind.persist.queries.jobs import latest_alive_job

    with db.read_scope() as session:
        latest = session.scalars(
            select(Job).where(Job.job_type == "dag_processor").order_by(Job.latest_heartbeat.desc()).limit(1)
        ).first()
        if latest is None:
            return False
        grace = float(cli.config.get("dag_processor", "health_check_threshold",
                                     fallback=cli.config.get("scheduler", "scheduler_health_check_threshold")))
        alive = latest_alive_job(session, "dag_processor", utcnow(), timedelta(seconds=grace)) is not None
        last_beat = latest.latest_heartbeat
    if not alive:
        echo_err(f"Note: no DAG processor is running (last heartbeat {last_beat:%Y-%m-%d %H:%M:%S} UTC); "
                 "showing DAGs as last parsed. Pass --local to parse the DAG folders now.")
    return True


def _is_stored(db: "Database", dag_id: str) -> bool:
    from tradewind.persist.models import DagModel

    with db.read_scope() as session:
        dag = session.get(DagModel, dag_id)
        return dag is not None and dag.is_active


def did_you_mean(wanted: str, known: "Iterable[str]") -> str:
    """`` Did you mean 'x'?`` (or ``'x' or 'y'``) for the names closest to ``wanted``; "" when none is close."""
    from difflib import get_close_matches

    matches = get_close_matches(wanted, sorted(set(known)), n=3, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


def dag_not_found(session: "Session", dag_id: str) -> CliError:
    """``DAG 'exampel' not found. Did you mean 'example'?`` (exit 1), or where to look when nothing is close."""
    from sqlalchemy import select

    from tradewind.persist.models import DagModel

    known = session.scalars(select(DagModel.dag_id).where(DagModel.is_active.is_(True)))
    hint = did_you_mean(dag_id, known)
    if hint:
        return CliError(f"DAG {dag_id!r} not found.{hint}")
    return CliError(f"DAG {dag_id!r} not found; see `tradewind dags list` and `tradewind dags list-import-errors`")


def task_not_found(snapshot: "DagSnapshot", task_id: str) -> CliError:
    """``Task 'lod' not found in DAG 'etl'. Did you mean 'load'?`` (exit 1)."""
    hint = did_you_mean(task_id, snapshot.tasks)
    tail = hint or f" See `tradewind tasks list {snapshot.dag_id}`."
    return CliError(f"Task {task_id!r} not found in DAG {snapshot.dag_id!r}.{tail}")


def check_task_id(snapshot: "DagSnapshot", task_id: str) -> None:
    """Raise :func:`task_not_found` unless the snapshot has the task."""
    if task_id not in snapshot.tasks:
        raise task_not_found(snapshot, task_id)


def require_dag(session: "Session", dag_id: str) -> "DagModel":
    """The DAG's row, or :func:`dag_not_found`."""
    from tradewind.persist.queries import dags as dag_queries

    dag = dag_queries.get_dag(session, dag_id)
    if dag is None:
        raise dag_not_found(session, dag_id)
    return dag


def get_dag_ref(session: "Session", dag_id: str) -> DagRef:
    """The DAG record and its latest snapshot, or a CliError naming the DAG (with close matches)."""
    from tradewind.persist.queries import dags as dag_queries

    dag = dag_queries.get_dag(session, dag_id)
    latest = dag_queries.latest_snapshot(session, dag_id) if dag is not None else None
    if dag is None or latest is None:
        raise dag_not_found(session, dag_id)
    version, snapshot = latest
    return DagRef(dag=dag, version_id=version.id, snapshot=snapshot)


def get_run_by_id_or_date(session: "Session", dag_id: str, run_ref: str) -> "DagRun":
    """A run given by run id, or by logical date (``2024-01-01`` ...)."""
    from sqlalchemy import select

    from tradewind.persist.models import DagRun
    from tradewind.persist.queries.runs import get_run

    run = get_run(session, dag_id, run_ref)
    if run is not None:
        return run
    try:
        when = parse_datetime(run_ref)
    except ValueError:
        when = None
    if when is not None:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.logical_date == when).order_by(DagRun.id.desc())
        ).first()
        if run is not None:
            return run
    raise CliError(f"DAG {dag_id!r} has no run with run_id or logical date {run_ref!r}; see `tradewind dags list-runs {dag_id}`")


def ti_row(ti: Any) -> dict[str, Any]:
    """The ``tasks states-for-dag-run`` JSON shape."""
    return {
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "state": ti.state,
        "try_number": ti.try_number,
        "start_date": ti.start_date,
        "end_date": ti.end_date,
    }


def run_row(run: Any) -> dict[str, Any]:
    """The ``dags list-runs`` JSON shape."""
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "state": run.state,
        "logical_date": run.logical_date,
        "start_date": run.start_date,
        "end_date": run.end_date,
    }


def default_logical_date(value: datetime | None) -> datetime:
    from tradewind.persist.db import utcnow

    return value if value is not None else utcnow()
