"""Which runs the scheduler would create, and when, without creating any.

``tradewind dags next-execution`` and ``tradewind dags simulate`` (and the pytest plugin's
schedule previews) answer "if the scheduler ran from A to B, which scheduled runs would it
create, covering which data, and at what moment?". The answer comes from the scheduler's
own decision function, :func:`tradewind.schedule.runs.next_run_info` (timetable, start/end
dates, catchup and the missed-run policy), driven by a simulated clock the way the
scheduler drives it: at each moment every run whose ``run_after`` has come is created, then
the clock jumps to the next ``run_after`` (the scheduler sleeps until that deadline).

What the simulation assumes, so people read it right:

- the DAG is unpaused for the whole period (the result says whether it is paused now);
- runs finish before the next one is due (``max_active_runs`` never holds a run back);
- the starting point is the DAG's latest scheduled run in the database (as the scheduler's),
  or nothing at all with ``fresh=True`` (a new DAG, or one whose runs were deleted).

Nothing is written: the database is read in one read-only transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tradewind.definition.timetables import DagRunInfo, DataInterval
from tradewind.parse.snapshot import DagSnapshot
from tradewind.persist.db import Database
from tradewind.schedule.runs import last_automated_interval, missed_runs_of, next_run_info
from tradewind.states import DagRunType

#: Columns of a planned run, in the order the CLI shows them.
PLANNED_RUN_COLUMNS = ("run_id", "logical_date", "data_interval_start", "data_interval_end", "run_after", "created_at")


class PreviewError(ValueError):
    """The preview cannot be made as asked (unknown DAG, bad period); the message says why."""


@dataclass(frozen=True)
class PlannedRun:
    """One scheduled run the scheduler would create.

    ``run_after`` is when the run becomes due; ``created_at`` is when the simulated scheduler
    creates it: the same moment for a run on time, later for a missed run it catches up.
    """

    run_id: str
    logical_date: datetime
    data_interval_start: datetime
    data_interval_end: datetime
    run_after: datetime
    created_at: datetime

    @classmethod
    def from_info(cls, info: DagRunInfo, created_at: datetime) -> "PlannedRun":
        logical = info.logical_date
        assert logical is not None  # DagRunInfo fills it in
        return cls(
            run_id=DagRunType.SCHEDULED.run_id_for(logical.isoformat()),
            logical_date=logical,
            data_interval_start=info.data_interval.start,
            data_interval_end=info.data_interval.end,
            run_after=info.run_after,
            created_at=created_at,
        )

    @property
    def caught_up(self) -> bool:
        """True when the run was created after it was due (a missed run the policy kept)."""
        return self.created_at > self.run_after

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PLANNED_RUN_COLUMNS}


def simulate_runs(
    snapshot: DagSnapshot,
    *,
    start: datetime,
    end: datetime | None,
    last: DataInterval | None = None,
    limit: int | None = None,
) -> list[PlannedRun]:
    """The runs a scheduler whose clock runs from ``start`` to ``end`` would create, in order.

    ``last``: the data interval of the latest scheduled run before ``start`` (None: none yet).
    ``end`` None means no end (then give ``limit``); at most ``limit`` runs are returned.
    """
    if end is not None and end < start:
        raise PreviewError(f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})")
    if end is None and limit is None:
        raise PreviewError("a preview without an end needs a limit on the number of runs")
    clock = start
    planned: list[PlannedRun] = []
    info = next_run_info(snapshot, last, clock)
    while info is not None and (limit is None or len(planned) < limit):
        if info.run_after > clock:
            if end is not None and info.run_after > end:
                break
            clock = info.run_after  # the scheduler sleeps until the next run is due, then looks again
            info = next_run_info(snapshot, last, clock)
            continue
        planned.append(PlannedRun.from_info(info, clock))
        last = info.data_interval
        info = next_run_info(snapshot, last, clock)
    return planned


@dataclass
class DagPreview:
    """A DAG's planned runs over a period, with what the simulation started from."""

    dag_id: str
    schedule: str
    missed_runs: str
    is_paused: bool
    #: Data interval of the latest scheduled run the simulation continued from (None: fresh).
    started_after: DataInterval | None
    start: datetime
    end: datetime | None
    runs: list[PlannedRun] = field(default_factory=list)


def preview_dag(
    db: Database,
    dag_id: str,
    *,
    start: datetime,
    end: datetime | None,
    fresh: bool = False,
    limit: int | None = None,
) -> DagPreview:
    """Simulate ``dag_id`` (its latest stored version) from ``start`` to ``end``; read-only.

    Raises :class:`PreviewError` for an unknown DAG or a period that ends before it starts.
    """
    from tradewind.persist.queries import dags as dag_queries

    with db.read_scope() as session:
        dag = dag_queries.get_dag(session, dag_id)
        latest = dag_queries.latest_snapshot(session, dag_id) if dag is not None else None
        if dag is None or latest is None:
            raise PreviewError(
                f"DAG {dag_id!r} not found in the database; see `tradewind dags list` "
                "(which also parses new DAG files) and `tradewind dags list-import-errors`"
            )
        snapshot = latest[1]
        last = None if fresh else last_automated_interval(session, dag_id)
        paused = bool(dag.is_paused)
    runs = simulate_runs(snapshot, start=start, end=end, last=last, limit=limit)
    return DagPreview(
        dag_id=dag_id,
        schedule=snapshot.timetable_summary,
        missed_runs=str(missed_runs_of(snapshot)),
        is_paused=paused,
        started_after=last,
        start=start,
        end=end,
        runs=runs,
    )
