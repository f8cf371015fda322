"""Finding DAGs, runs and task instances for CLI commands, with errors people can act on."""

from __future__ import annotations

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


def sync_dags(cli: CliContext) -> "Database":
    """The migrated database with the DAG folders parsed and stored (unchanged files are skipped).

    CLI commands read DAGs from the database like the scheduler does; parsing
    first means a file dropped in the DAGs folder is visible without a running
    scheduler, as Airflow users expect from ``dags list``.
    """
    from tradewind.observe.runtime import build_dag_processor

    db = cli.migrated_db()
    build_dag_processor(cli.config, db).sync_once()
    return db


def get_dag_ref(session: "Session", dag_id: str) -> DagRef:
    """The DAG record and its latest snapshot, or a CliError naming the DAG."""
    from tradewind.persist.queries import dags as dag_queries

    dag = dag_queries.get_dag(session, dag_id)
    latest = dag_queries.latest_snapshot(session, dag_id) if dag is not None else None
    if dag is None or latest is None:
        raise CliError(
            f"DAG {dag_id!r} not found; see `tradewind dags list` and `tradewind dags list-import-errors`"
        )
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
