"""DbTryStore against real databases (SQLite and PostgreSQL): each TryStore call's semantics.

The runner and the execution API both rely on these rules, so they are pinned here at the
store, without a task process: the claim is atomic, a heartbeat notices a cleared try, the
finish applies the stored retry policy, XCom reads honour ``include_prior_dates``, and the
TriggerDagRunOperator request creates, refuses or resets a run.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schedule"))
from schedhelp import make_snapshot, store_dag, task_dict  # noqa: E402

from tradewind.definition.connection import Connection  # noqa: E402
from tradewind.definition.exceptions import DagRunAlreadyExists, TaskSkipped, TradewindException  # noqa: E402
from tradewind.execute.db_store import DbTryStore  # noqa: E402
from tradewind.execute.try_store import (  # noqa: E402
    DeferRequest,
    FinishRequest,
    TriggerRunRequest,
    TryStoreRefused,
    outlet_extra_key,
)
from tradewind.persist.models import (  # noqa: E402
    AssetEvent,
    DagRun,
    TaskInstance,
    TaskInstanceTry,
    Trigger,
    XCom,
)
from tradewind.persist.queries.xcom import xcom_set  # noqa: E402
from tradewind.workloads import TaskKey  # noqa: E402

DAY1 = datetime(2024, 3, 1, tzinfo=timezone.utc)
DAY2 = datetime(2024, 3, 2, tzinfo=timezone.utc)
TASKS = [
    task_dict("work", retries=2, retry_delay=120.0),
    task_dict("other", ("work",)),
    task_dict("later", ("work",)),
]


def _run(session, dag_id: str, run_id: str, logical: datetime, version_id: int) -> None:
    session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type="scheduled", state="running", logical_date=logical,
                       data_interval_start=logical, data_interval_end=logical, run_after=logical, start_date=logical,
                       conf={"x": 1}, dag_version_id=version_id))


@pytest.fixture
def world(any_db):
    """DAG "d" (work -> other, later) with runs r1 (day 1) and r2 (day 2); DAG "target" to trigger."""
    with any_db.session_scope() as s:
        version = store_dag(s, make_snapshot("d", TASKS))
        store_dag(s, make_snapshot("target", [task_dict("t")]))
        _run(s, "d", "r1", DAY1, version)
        _run(s, "d", "r2", DAY2, version)
        s.flush()
        for run_id in ("r1", "r2"):
            for task_id in ("work", "other", "later"):
                s.add(TaskInstance(dag_id="d", run_id=run_id, task_id=task_id, map_index=-1, state="none",
                                   try_number=0, max_tries=3 if task_id == "work" else 1))
    return any_db


@pytest.fixture
def store(world, config) -> DbTryStore:
    return DbTryStore(world, config)


def queued(db, task_id: str = "work", run_id: str = "r2", try_number: int = 1) -> TaskKey:
    with db.session_scope() as s:
        s.execute(update(TaskInstance).where(TaskInstance.dag_id == "d", TaskInstance.run_id == run_id,
                                             TaskInstance.task_id == task_id)
                  .values(state="queued", try_number=try_number))
    return TaskKey("d", run_id, task_id, -1, try_number)


def ti(db, key: TaskKey) -> TaskInstance:
    with db.session_scope() as s:
        row = s.scalars(select(TaskInstance).where(TaskInstance.dag_id == key.dag_id, TaskInstance.run_id == key.run_id,
                                                   TaskInstance.task_id == key.task_id)).one()
        s.expunge(row)
        return row


def test_claim_succeeds_once_and_clears_the_instances_old_xcoms(store, world) -> None:
    key = queued(world)
    with world.session_scope() as s:
        xcom_set(s, "d", "r2", "work", -1, "stale", 1, DAY2)
    claimed = store.claim(key, hostname="h1", pid=42)
    assert claimed is not None
    assert claimed.run.run_id == "r2" and claimed.run.conf == {"x": 1} and claimed.max_tries == 3
    assert claimed.prev_success is None  # r1 is running, not successful
    row = ti(world, key)
    assert (row.state, row.hostname, row.pid) == ("running", "h1", 42)
    with world.session_scope() as s:
        assert s.scalars(select(XCom).where(XCom.run_id == "r2")).all() == []
    assert store.claim(key, hostname="h2", pid=43) is None  # already running: nobody claims it again
    assert DbTryStore(world, None).claim(key, hostname="h3", pid=44) is None
    assert ti(world, key).hostname == "h1"


def test_claim_of_another_try_number_runs_nothing(store, world) -> None:
    key = queued(world, try_number=2)
    assert store.claim(TaskKey("d", "r2", "work", -1, 1), hostname="h", pid=1) is None
    assert ti(world, key).state == "queued"


def test_heartbeat_is_false_once_the_instance_was_cleared(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    assert store.heartbeat(key) is True
    with world.session_scope() as s:
        s.execute(update(TaskInstance).where(TaskInstance.task_id == "work", TaskInstance.run_id == "r2")
                  .values(state="none"))
    assert store.heartbeat(key) is False


def test_finish_applies_the_stored_retry_policy_then_fails(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    before = datetime.now(timezone.utc)
    state = store.finish(key, FinishRequest(outcome="failed", error="ValueError: boom"))
    assert state == "up_for_retry"
    row = ti(world, key)
    assert row.note == "ValueError: boom"
    # retry_delay=120 s from the stored snapshot (the default would be 300 s)
    assert before + timedelta(seconds=119) <= row.next_retry_at.replace(tzinfo=timezone.utc) <= \
        datetime.now(timezone.utc) + timedelta(seconds=121)
    # A store that did not claim the try (another API server process) reads the policy from the TI.
    second = queued(world, try_number=2)
    store.claim(second, hostname="h", pid=1)
    assert DbTryStore(world, None).finish(second, FinishRequest(outcome="failed", error="again")) == "up_for_retry"
    third = queued(world, try_number=3)
    store.claim(third, hostname="h", pid=1)
    assert store.finish(third, FinishRequest(outcome="failed", error="last")) == "failed"


def test_finish_without_retry_fails_at_once(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    assert store.finish(key, FinishRequest(outcome="failed", error="no", allow_retry=False)) == "failed"


def test_finish_success_commits_xcoms_rendered_fields_label_and_outlet_events(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    asset = {"name": "sales", "uri": "s3://b/sales", "group": "asset", "extra": {}}
    state = store.finish(key, FinishRequest(
        outcome="success", xcoms={"return_value": {"n": 1}, "k": [1, 2]}, rendered_fields={"cmd": "echo 2"},
        map_index_label="Label", outlets=[asset],
        outlet_extras={outlet_extra_key("sales", "s3://b/sales"): {"rows": 3}},
    ))
    assert state == "success"
    assert store.xcom_values(key, "d", "r2", ["work"], "k") == {"work": {-1: [1, 2]}}
    with world.session_scope() as s:
        attempt = s.scalars(select(TaskInstanceTry).where(TaskInstanceTry.run_id == "r2")).one()
        assert attempt.rendered_fields == {"cmd": "echo 2"} and attempt.state == "success"
        assert s.scalar(select(TaskInstance.rendered_map_index).where(
            TaskInstance.run_id == "r2", TaskInstance.task_id == "work")) == "Label"
        event = s.scalars(select(AssetEvent)).one()
        assert event.extra == {"rows": 3} and event.source_task_id == "work"
    events = store.asset_events(asset)
    assert [(e["name"], e["extra"], e["source_run_id"]) for e in events] == [("sales", {"rows": 3}, "r2")]


def test_a_failed_try_records_no_outlet_events(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    asset = {"name": "sales", "uri": "sales", "group": "asset", "extra": {}}
    store.finish(key, FinishRequest(outcome="failed", error="x", outlets=[asset]))
    assert store.asset_events(asset) == []


def test_finish_refuses_an_unknown_outcome_and_a_reschedule_without_date(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    with pytest.raises(TryStoreRefused, match="'exploded'"):
        store.finish(key, FinishRequest(outcome="exploded"))
    with pytest.raises(TryStoreRefused, match="reschedule_date"):
        store.finish(key, FinishRequest(outcome="up_for_reschedule"))
    assert ti(world, key).state == "running"


def test_reschedule_and_its_summary(store, world) -> None:
    key = queued(world)
    claimed = store.claim(key, hostname="h", pid=1)
    when = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert store.finish(key, FinishRequest(outcome="up_for_reschedule", reschedule_date=when)) == "up_for_reschedule"
    first, count = store.reschedule_summary(key)
    assert count == 1 and first is not None
    assert abs(first.replace(tzinfo=timezone.utc) - claimed.start_date.replace(tzinfo=timezone.utc)) < timedelta(seconds=1)


def test_defer_stores_the_trigger_and_the_pushed_xcoms(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    state = store.defer(key, DeferRequest(
        classpath="tradewind.definition.triggers.DateTimeTrigger", trigger_kwargs={"moment": "2030-01-01T00:00:00"},
        next_method="execute_complete", next_kwargs=None, timeout_at=None, xcoms={"before": 1},
        rendered_fields={"f": "v"},
    ))
    assert state == "deferred"
    row = ti(world, key)
    assert row.next_method == "execute_complete" and row.trigger_id is not None
    with world.session_scope() as s:
        assert s.get(Trigger, row.trigger_id).classpath == "tradewind.definition.triggers.DateTimeTrigger"
    assert store.xcom_values(key, "d", "r2", ["work"], "before") == {"work": {-1: 1}}


def test_xcom_values_with_and_without_prior_dates(store, world) -> None:
    key = TaskKey("d", "r2", "later", -1, 1)
    with world.session_scope() as s:
        xcom_set(s, "d", "r1", "work", -1, "return_value", "old", DAY1)
        xcom_set(s, "d", "r1", "other", 0, "return_value", "m0", DAY1)
        xcom_set(s, "d", "r1", "other", 1, "return_value", "m1", DAY1)
        xcom_set(s, "d", "r2", "work", -1, "return_value", "new", DAY2)
    assert store.xcom_values(key, "d", "r2", ["work", "other"], "return_value") == {"work": {-1: "new"}}
    assert store.xcom_values(key, "d", "r2", ["work", "other"], "return_value", include_prior_dates=True) == {
        "work": {-1: "new"}, "other": {0: "m0", 1: "m1"}}
    # prior dates never look at later runs
    assert store.xcom_values(key, "d", "r1", ["work"], "return_value", include_prior_dates=True) == {
        "work": {-1: "old"}}
    assert store.xcom_values(key, "d", "r2", ["work"], "missing_key", include_prior_dates=True) == {}


def test_skip_tasks_skips_only_instances_not_started(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    queued(world, task_id="later")
    assert store.skip_tasks(key, ["other", "later", "work"]) == ["other"]
    assert ti(world, TaskKey("d", "r2", "other")).state == "skipped"
    assert ti(world, TaskKey("d", "r2", "later")).state == "queued"
    assert ti(world, TaskKey("d", "r1", "other")).state == "none"  # another run is untouched


def test_cross_run_reads(store, world) -> None:
    with world.session_scope() as s:
        s.execute(update(TaskInstance).where(TaskInstance.run_id == "r1").values(state="success"))
        s.execute(update(DagRun).where(DagRun.run_id == "r1").values(state="success"))
    assert store.ti_count("d", states=["success"]) == 3
    assert store.ti_count("d", task_ids=["work"], logical_dates=[DAY1, DAY2]) == 2
    assert store.task_states("d", task_ids=["work"], run_ids=["r1"]) == {"r1": {"work": "success"}}
    assert store.dr_count("d", states=["success"]) == 1
    assert store.dagrun_state("d", "r1") == "success" and store.dagrun_state("d", "nope") is None
    assert store.dag_task_ids("d") == {"work", "other", "later"} and store.dag_task_ids("ghost") is None


def test_variables_round_trip(store) -> None:
    key = TaskKey("d", "r2", "work")
    assert store.variable_get(key, "color") is None
    store.variable_set(key, "color", "blue", "why")
    assert store.variable_get(key, "color") == "blue"
    store.variable_set(key, "color", "red", None)
    assert store.variable_get(key, "color") == "red"
    assert store.variable_delete(key, "color") is True
    assert store.variable_delete(key, "color") is False
    assert store.variable_get(key, "color") is None


def test_connections_are_decrypted_and_missing_ones_are_none(store, world, config) -> None:
    from tradewind.persist.fernet import fernet_from_config
    from tradewind.persist.queries.connections import add_connection

    with world.session_scope() as s:
        add_connection(s, Connection(conn_id="pg", conn_type="postgres", host="db.local", login="u", password="s3cret",
                                     port=5432), fernet_from_config(config))
    key = TaskKey("d", "r2", "work")
    conn = store.connection_get(key, "pg")
    assert (conn.host, conn.login, conn.password, conn.port) == ("db.local", "u", "s3cret", 5432)
    assert store.connection_get(key, "nope") is None


def test_trigger_dag_run_creates_refuses_skips_and_resets(store, world) -> None:
    key = TaskKey("d", "r2", "work")
    made = store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id="target", dag_run_id="t1",
                                                        logical_date=DAY1, conf={"a": 1}))
    assert (made.run_id, made.reset, made.paused) == ("t1", False, False)
    assert made.logical_date.replace(tzinfo=timezone.utc) == DAY1
    with world.session_scope() as s:
        run = s.scalars(select(DagRun).where(DagRun.dag_id == "target", DagRun.run_id == "t1")).one()
        assert run.conf == {"a": 1} and run.triggered_by == "operator"
        run.state = "success"
        s.add(TaskInstance(dag_id="target", run_id="t1", task_id="t", map_index=-1, state="success", try_number=1))
    with pytest.raises(DagRunAlreadyExists, match="'t1'"):
        store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id="target", dag_run_id="t1"))
    with pytest.raises(TaskSkipped, match="skip_when_already_exists"):
        store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id="target", dag_run_id="t1",
                                                     skip_when_already_exists=True))
    again = store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id="target", dag_run_id="t1", reset_dag_run=True))
    assert again.reset is True
    assert store.dagrun_state("target", "t1") == "queued"
    assert ti(world, TaskKey("target", "t1", "t")).state == "none"
    with pytest.raises(TradewindException, match="'ghost': no such DAG"):
        store.trigger_dag_run(key, TriggerRunRequest(trigger_dag_id="ghost"))
