"""Scheduling snapshots built by the real definition layer and serializer (``serialize_dag(DAG(...))``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from schedhelp import T0, FakeClock, SteppingExecutor, runs, store_dag, ti_states
from tradewind import DAG, EmptyOperator, TriggerRule
from tradewind.parse.snapshot import DagSnapshot, serialize_dag
from tradewind.schedule.scheduler import Scheduler


def _store(db, dag):
    data = serialize_dag(dag)
    snap = DagSnapshot.from_dict(data)
    with db.session_scope() as s:
        store_dag(s, snap, data=data)
    return snap


def test_daily_dag_with_catchup_runs_in_order_with_retries(config, db):
    with DAG(dag_id="real", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=True,
             max_active_runs=1) as dag:
        extract = EmptyOperator(task_id="extract", retries=1, retry_delay=timedelta(minutes=5))
        load = EmptyOperator(task_id="load")
        extract >> load
    snap = _store(db, dag)
    assert snap.tasks["extract"].priority_weight_total == 2
    clock = FakeClock(T0 + timedelta(days=2, minutes=1))
    ex = SteppingExecutor(db)
    sched = Scheduler(config, db, ex, clock=clock)
    sched.run_once()
    assert [r.run_id for r in runs(db, "real")] == ["scheduled__2024-01-01T00:00:00+00:00"]
    assert ex.complete("extract", "failed", snapshot=snap, now=clock()) == "up_for_retry"
    clock.advance(minutes=5)
    sched.run_once()
    assert [(w.key.task_id, w.key.try_number) for w in ex.queued] == [("extract", 2)]
    ex.complete("extract", snapshot=snap, now=clock())
    sched.run_once()
    ex.complete("load", snapshot=snap, now=clock())
    sched.run_once()
    sched.run_once()
    assert [(r.run_id, r.state) for r in runs(db, "real")] == [
        ("scheduled__2024-01-01T00:00:00+00:00", "success"),
        ("scheduled__2024-01-02T00:00:00+00:00", "running"),
    ]


def test_one_failed_handler_runs_only_on_failure(config, db):
    with DAG(dag_id="alerts", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
        work = EmptyOperator(task_id="work")
        alert = EmptyOperator(task_id="alert", trigger_rule=TriggerRule.ONE_FAILED)
        done = EmptyOperator(task_id="done", trigger_rule=TriggerRule.ALL_DONE)
        work >> [alert, done]
    snap = _store(db, dag)
    from tradewind.schedule.runs import create_manual_run

    clock = FakeClock(T0 + timedelta(days=1))
    with db.session_scope() as s:
        from tradewind.persist.models import DagModel

        run_id = create_manual_run(s, snap, s.get(DagModel, "alerts").latest_version_id, now=clock()).run_id
    ex = SteppingExecutor(db)
    sched = Scheduler(config, db, ex, clock=clock)
    sched.run_once()
    ex.complete("work", snapshot=snap, now=clock())
    sched.run_once()
    assert ti_states(db, "alerts", run_id) == {"work": "success", "alert": "skipped", "done": "queued"}
    ex.complete("done", snapshot=snap, now=clock())
    sched.run_once()
    assert runs(db, "alerts")[0].state == "success"
