"""ExternalTaskSensor against a real database (SQLite and PostgreSQL) through the runtime task
instance's Task SDK reads (get_ti_count, get_task_states, get_dr_count, get_dagrun_state)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from deftestkit import context_for
from tradewind import DAG, ExternalTaskSensor, TaskGroup
from tradewind.definition.exceptions import TaskSkipped
from tradewind.definition.operators.empty import EmptyOperator
from tradewind.definition.sensors import ExternalDagNotFoundError, ExternalTaskFailedError
from tradewind.execute.db_store import DbTryStore
from tradewind.execute.runtime import RuntimeTaskInstance
from tradewind.parse.snapshot import serialize_dag, snapshot_hash
from tradewind.persist.models import DagModel, DagRun, DagVersion, TaskInstance
from tradewind.workloads import TaskKey

DAY = datetime(2024, 3, 1, tzinfo=timezone.utc)


def upstream_dag():
    with DAG("upstream", start_date=datetime(2024, 1, 1), schedule="@daily") as dag:
        EmptyOperator(task_id="extract")
        EmptyOperator(task_id="load")
        with TaskGroup("checks"):
            EmptyOperator(task_id="rows")
            EmptyOperator(task_id="nulls")
    return dag


@pytest.fixture
def world(any_db):
    """The upstream DAG stored with one run per day (2024-03-01 and 02); states set per test."""
    snapshot = serialize_dag(upstream_dag())
    with any_db.session_scope() as s:
        s.add(DagModel(dag_id="upstream", fileloc="/dags/upstream.py"))
        s.flush()
        version = DagVersion(dag_id="upstream", version_number=1, snapshot_hash=snapshot_hash(snapshot),
                             snapshot=snapshot, fileloc="/dags/upstream.py", created_at=DAY)
        s.add(version)
        s.flush()
        s.get(DagModel, "upstream").latest_version_id = version.id
        for n in range(2):
            day = DAY + timedelta(days=n)
            run_id = f"scheduled__{day.isoformat()}"
            s.add(DagRun(dag_id="upstream", run_id=run_id, run_type="scheduled", state="running",
                         logical_date=day, data_interval_start=day, data_interval_end=day + timedelta(days=1),
                         run_after=day, conf={}, dag_version_id=version.id))
            for task_id in ("extract", "load", "checks.rows", "checks.nulls"):
                s.add(TaskInstance(dag_id="upstream", run_id=run_id, task_id=task_id, state="none"))
    return any_db


def set_states(db, day, run_state=None, **states):
    run_id = f"scheduled__{day.isoformat()}"
    with db.session_scope() as s:
        for ti in s.query(TaskInstance).filter_by(dag_id="upstream", run_id=run_id):
            key = ti.task_id.replace(".", "__")
            if key in states:
                ti.state = states[key]
        if run_state:
            s.query(DagRun).filter_by(dag_id="upstream", run_id=run_id).one().state = run_state


def poke(db, sensor, logical_date=DAY):
    ti = RuntimeTaskInstance(TaskKey("downstream", "r1", sensor.task_id), store=DbTryStore(db, None))
    return sensor.poke(context_for(sensor, ti, logical_date=logical_date))


def sensor(**kw):
    with DAG("downstream", start_date=datetime(2024, 1, 1), schedule="@daily"):
        return ExternalTaskSensor(task_id="wait", external_dag_id="upstream", **kw)


def test_waits_for_one_task_of_the_run_with_the_same_logical_date(world):
    s = sensor(external_task_id="load")
    assert poke(world, s) is False
    set_states(world, DAY + timedelta(days=1), load="success")  # another day does not count
    assert poke(world, s) is False
    set_states(world, DAY, load="success")
    assert poke(world, s) is True


def test_several_tasks_must_all_be_allowed(world):
    s = sensor(external_task_ids=["extract", "load"], allowed_states=["success", "skipped"])
    set_states(world, DAY, extract="success")
    assert poke(world, s) is False
    set_states(world, DAY, load="skipped")
    assert poke(world, s) is True


def test_execution_delta_and_execution_date_fn_pick_other_runs(world):
    set_states(world, DAY, load="success")
    by_delta = sensor(external_task_id="load", execution_delta=timedelta(days=1))
    assert poke(world, by_delta, logical_date=DAY + timedelta(days=1)) is True
    both_days = sensor(external_task_id="load",
                       execution_date_fn=lambda logical_date: [logical_date, logical_date + timedelta(days=1)])
    assert poke(world, both_days) is False
    set_states(world, DAY + timedelta(days=1), load="success")
    assert poke(world, both_days) is True


def test_failed_states_fail_or_soft_fail_and_skipped_states_skip(world):
    set_states(world, DAY, load="failed", extract="skipped")
    with pytest.raises(ExternalTaskFailedError, match="tasks \\['load'\\] of DAG 'upstream'"):
        poke(world, sensor(external_task_id="load", failed_states=["failed", "upstream_failed"]))
    with pytest.raises(TaskSkipped, match="soft_fail"):
        poke(world, sensor(external_task_id="load", failed_states=["failed"], soft_fail=True))
    with pytest.raises(TaskSkipped, match="skipped states"):
        poke(world, sensor(external_task_id="extract", skipped_states=["skipped"]))


def test_task_group_and_whole_run(world):
    group = sensor(external_task_group_id="checks")
    set_states(world, DAY, checks__rows="success")
    assert poke(world, group) is False
    set_states(world, DAY, checks__nulls="success")
    assert poke(world, group) is True

    whole = sensor()  # no task: the DAG run's own state
    assert poke(world, whole) is False
    set_states(world, DAY, run_state="success")
    assert poke(world, whole) is True
    set_states(world, DAY + timedelta(days=1), run_state="failed")
    with pytest.raises(ExternalTaskFailedError):
        poke(world, sensor(failed_states=["failed"]), logical_date=DAY + timedelta(days=1))


def test_check_existence_names_what_is_missing(world):
    with pytest.raises(ExternalDagNotFoundError, match="DAG 'nope' does not exist"):
        with DAG("downstream2", start_date=datetime(2024, 1, 1), schedule=None):
            s = ExternalTaskSensor(task_id="w", external_dag_id="nope", check_existence=True)
        poke(world, s)
    with pytest.raises(ExternalDagNotFoundError, match="\\['ghost'\\] in DAG 'upstream' do not exist"):
        poke(world, sensor(external_task_ids=["load", "ghost"], check_existence=True))
    assert poke(world, sensor(external_task_id="load", check_existence=True)) is False


def test_runtime_reads_match_airflow_task_sdk_shapes(world):
    set_states(world, DAY, load="success", extract="failed", run_state="success")
    ti = RuntimeTaskInstance(TaskKey("downstream", "r1", "wait"), store=DbTryStore(world, None))
    run_id = f"scheduled__{DAY.isoformat()}"
    assert ti.get_ti_count("upstream", task_ids=["load", "extract"], states=["success"]) == 1
    assert ti.get_ti_count("upstream", task_group_id="checks") == 4
    assert ti.get_task_states("upstream", task_ids=["load"], logical_dates=[DAY]) == {run_id: {"load": "success"}}
    assert ti.get_dr_count("upstream", states=["success"]) == 1
    assert ti.get_dr_count("upstream", run_ids=[run_id, "missing"]) == 1
    assert ti.get_dagrun_state("upstream", run_id) == "success"
    assert ti.get_dagrun_state("upstream", "missing") is None
