"""Schedule previews (``dags next-execution``/``dags simulate``): the runs the scheduler would
create and when, checked against the real scheduler on a fake clock, and read-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from schedhelp import T0, FakeClock, SteppingExecutor, runs, store_dag
from tradewind import DAG, EmptyOperator
from tradewind.parse.snapshot import DagSnapshot, serialize_dag
from tradewind.persist.models import DagModel, DagRun
from tradewind.schedule.preview import PreviewError, preview_dag, simulate_runs
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def snapshot_of(dag_id: str, **kwargs) -> tuple[DagSnapshot, dict]:
    kwargs.setdefault("schedule", "@hourly")
    kwargs.setdefault("start_date", T0 - 5 * HOUR)
    with DAG(dag_id, max_active_runs=100, **kwargs) as dag:
        EmptyOperator(task_id="t")
    data = serialize_dag(dag)
    return DagSnapshot.from_dict(data), data


def scheduler_creates(config, db, snap, data, *, start, end) -> list[tuple]:
    """What the real scheduler creates when its clock runs from ``start`` to ``end``, waking at
    each deadline it sets itself (as ``run_forever`` does)."""
    with db.session_scope() as s:
        store_dag(s, snap, data=data, now=start)
    clock = FakeClock(start)
    scheduler = Scheduler(config, db, SteppingExecutor(db), clock=clock)
    while True:
        scheduler.run_once()
        with db.session_scope() as s:
            after = s.scalar(select(DagModel.next_dagrun_create_after).where(DagModel.dag_id == snap.dag_id))
        if after is None or after > end:
            break
        clock.now = max(after, clock.now)
    return [(r.logical_date, r.run_after, r.queued_at) for r in runs(db, snap.dag_id)]


@pytest.mark.parametrize("policy", [{"catchup": True}, {"catchup": False}, {"missed_runs": "none"},
                                    {"missed_runs": timedelta(hours=2)}],
                         ids=["all", "latest", "none", "window"])
def test_simulation_matches_what_the_scheduler_does(config, db, policy):
    snap, data = snapshot_of("same_path", **policy)
    start, end = T0 + 10 * MINUTE, T0 + 4 * HOUR
    planned = simulate_runs(snap, start=start, end=end)
    assert [(p.logical_date, p.run_after, p.created_at) for p in planned] == \
        scheduler_creates(config, db, snap, data, start=start, end=end)
    # After the catch-up at the start, runs come on time, each created when it is due.
    assert [p.created_at for p in planned[-4:]] == [T0 + k * HOUR for k in range(1, 5)]
    assert all(not p.caught_up for p in planned[-4:])


def test_catch_up_runs_are_created_at_the_start_and_flagged():
    snap, _ = snapshot_of("cu", catchup=True)
    planned = simulate_runs(snap, start=T0 + 10 * MINUTE, end=T0 + 2 * HOUR)
    assert [p.logical_date for p in planned] == [T0 + k * HOUR for k in range(-5, 2)]
    assert [p.caught_up for p in planned] == [True] * 5 + [False] * 2
    assert planned[0].run_id == "scheduled__2023-12-31T19:00:00+00:00"
    assert (planned[0].data_interval_start, planned[0].data_interval_end) == (T0 - 5 * HOUR, T0 - 4 * HOUR)


def test_limit_without_end_lists_upcoming_runs():
    snap, _ = snapshot_of("up", missed_runs="none")
    planned = simulate_runs(snap, start=T0 + 10 * MINUTE, end=None, limit=3)
    assert [p.run_after for p in planned] == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]


def test_end_date_and_unscheduled_dags_end_the_preview():
    snap, _ = snapshot_of("ends", end_date=T0 + 2 * HOUR)
    assert [p.logical_date for p in simulate_runs(snap, start=T0, end=None, limit=10)] == [T0 - HOUR, T0, T0 + HOUR, T0 + 2 * HOUR]
    manual, _ = snapshot_of("manual", schedule=None)
    assert simulate_runs(manual, start=T0, end=T0 + 100 * HOUR) == []


def test_bad_periods_are_refused():
    snap, _ = snapshot_of("bad")
    with pytest.raises(PreviewError, match="ends .* before it starts"):
        simulate_runs(snap, start=T0, end=T0 - HOUR)
    with pytest.raises(PreviewError, match="needs a limit"):
        simulate_runs(snap, start=T0, end=None)


def _dump(db) -> dict[str, list]:
    tables = ["dag", "dag_version", "dag_run", "task_instance", "log"]
    with db.session_scope() as s:
        return {t: [tuple(r) for r in s.execute(text(f"SELECT * FROM {t} ORDER BY 1"))] for t in tables}


def test_preview_goes_on_from_the_latest_scheduled_run_and_writes_nothing(config, db):
    snap, data = snapshot_of("from_db", missed_runs="latest")
    with db.session_scope() as s:
        version = store_dag(s, snap, data=data, paused=True)
    clock = FakeClock(T0 + 2 * HOUR)
    with db.session_scope() as s:
        s.get(DagModel, "from_db").is_paused = False
    Scheduler(config, db, SteppingExecutor(db), clock=clock).run_once()  # creates the 01:00 run
    with db.session_scope() as s:
        s.get(DagModel, "from_db").is_paused = True
        create_manual_run(s, snap, version, now=T0 + 3 * HOUR)  # manual runs do not move the schedule
    before = _dump(db)

    later = preview_dag(db, "from_db", start=T0 + 2 * HOUR + 30 * MINUTE, end=T0 + 4 * HOUR)
    assert later.is_paused and later.started_after.start == T0 + HOUR
    assert [p.logical_date for p in later.runs] == [T0 + 2 * HOUR, T0 + 3 * HOUR]
    fresh = preview_dag(db, "from_db", start=T0 + 2 * HOUR + 30 * MINUTE, end=T0 + 4 * HOUR, fresh=True)
    assert fresh.started_after is None
    assert [p.logical_date for p in fresh.runs] == [T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR]
    assert fresh.missed_runs == "latest" and fresh.schedule == "@hourly"

    assert _dump(db) == before
    with db.session_scope() as s:
        assert s.scalar(select(DagRun.run_id).where(DagRun.run_type == "scheduled")) == "scheduled__2024-01-01T01:00:00+00:00"


def test_unknown_dag_is_a_clear_error(db):
    with pytest.raises(PreviewError, match="DAG 'ghost' not found"):
        preview_dag(db, "ghost", start=T0, end=T0 + HOUR)
