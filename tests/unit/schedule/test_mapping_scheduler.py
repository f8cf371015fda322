"""Dynamic task mapping in the scheduler: expansion of a mapped task's -1 instance, per-instance
decisions, trigger rules over all instances, mapped task groups. Driven step by step with a fake
clock; tries are completed through the real transitions (XComs written as the runner would)."""

from __future__ import annotations

from sqlalchemy import select

from schedhelp import FakeClock, SteppingExecutor, make_snapshot, store_dag, task_dict
from tradewind.config import Config
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries.xcom import xcom_set
from tradewind.schedule import transitions as tr
from tradewind.schedule.executor_interface import ExecutorEvent
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler


def xcom_input(task_id: str) -> dict:
    return {"kind": "product", "args": {"x": {"xcom": task_id, "key": "return_value"}}}


def mapped(task_id: str, upstream=(), spec=None, group=None, **extra):
    info = {"is_mapped": True, "expand_input": spec or xcom_input(upstream[0])}
    if group:
        info["mapped_group"] = group
    return task_dict(task_id, tuple(upstream), operator="@task", extra=info, **extra)


class Env:
    def __init__(self, config, db, snap):
        self.db, self.snap = db, snap
        self.clock = FakeClock()
        self.ex = SteppingExecutor(db)
        with db.session_scope() as s:
            self.version_id = store_dag(s, snap)
        self.sched = Scheduler(config, db, self.ex, clock=self.clock)
        with db.session_scope() as s:
            self.run_id = create_manual_run(s, snap, self.version_id, now=self.clock()).run_id

    def step(self, times: int = 1) -> None:
        for _ in range(times):
            self.sched.run_once()

    def queued(self) -> list[tuple[str, int]]:
        return sorted((w.key.task_id, w.key.map_index) for w in self.ex.queued)

    def complete(self, task_id: str, map_index: int = -1, outcome: str = "success", value=None) -> None:
        """Finish the queued try of (task_id, map_index), pushing ``value`` as its return value."""
        w = next(w for w in self.ex.queued if (w.key.task_id, w.key.map_index) == (task_id, map_index))
        self.ex.queued.remove(w)
        now = self.clock()
        with self.db.session_scope() as s:
            assert tr.claim_try(s, w.key, hostname="t", pid=1, now=now) is not None
            if value is not None:
                xcom_set(s, w.key.dag_id, w.key.run_id, task_id, map_index, "return_value", value, now)
            tr.record_try_outcome(s, w.key, outcome, task=self.snap.task(task_id), now=now)
        del self.ex.running[w.key]
        self.ex.events.append(ExecutorEvent(w.key, 0, recorded=True))

    def states(self) -> dict[tuple[str, int], str]:
        with self.db.session_scope() as s:
            rows = s.scalars(select(TaskInstance).where(TaskInstance.run_id == self.run_id))
            return {(ti.task_id, ti.map_index): ti.state for ti in rows}

    def note(self, task_id: str) -> str:
        with self.db.session_scope() as s:
            return s.scalars(select(TaskInstance.note).where(TaskInstance.task_id == task_id)).one()

    def run_state(self) -> str:
        with self.db.session_scope() as s:
            return s.scalars(select(DagRun.state).where(DagRun.run_id == self.run_id)).one()


def producer_dag(**consumer_extra):
    return make_snapshot("m", [
        task_dict("make"),
        mapped("double", ("make",), **consumer_extra),
        task_dict("total", ("double",)),
    ])


def test_mapped_task_starts_as_one_unmapped_instance_and_waits_for_its_input(config, db):
    env = Env(config, db, producer_dag())
    env.step()
    assert env.states() == {("make", -1): "queued", ("double", -1): "none", ("total", -1): "none"}
    assert env.queued() == [("make", -1)]


def test_expands_to_one_instance_per_item_and_downstream_waits_for_all(config, db):
    env = Env(config, db, producer_dag())
    env.step()
    env.complete("make", value=[10, 20, 30])
    env.step()
    assert env.queued() == [("double", 0), ("double", 1), ("double", 2)]
    assert ("double", -1) not in env.states()
    env.complete("double", 0)
    env.complete("double", 2)
    env.step()
    assert env.states()[("total", -1)] == "none"  # one instance still running
    env.complete("double", 1)
    env.step()
    assert env.queued() == [("total", -1)]
    env.complete("total")
    env.step()
    assert env.run_state() == "success"


def test_one_failed_instance_fails_downstream_and_the_run(config, db):
    env = Env(config, db, producer_dag())
    env.step()
    env.complete("make", value={"a": 1, "b": 2})  # a dict maps over its items
    env.step()
    env.complete("double", 0)
    env.complete("double", 1, outcome="failed")
    env.step()
    states = env.states()
    assert states[("double", 0)] == "success" and states[("double", 1)] == "failed"
    assert states[("total", -1)] == "upstream_failed"
    assert env.run_state() == "failed"


def test_all_done_downstream_counts_every_instance(config, db):
    snap = make_snapshot("m", [
        task_dict("make"), mapped("double", ("make",)), task_dict("report", ("double",), trigger_rule="all_done"),
    ])
    env = Env(config, db, snap)
    env.step()
    env.complete("make", value=[1, 2])
    env.step()
    env.complete("double", 0, outcome="failed")
    env.step()
    assert env.states()[("report", -1)] == "none"
    env.complete("double", 1)
    env.step()
    assert env.queued() == [("report", -1)]


def test_empty_input_skips_the_mapped_task_and_downstream(config, db):
    env = Env(config, db, producer_dag())
    env.step()
    env.complete("make", value=[])
    env.step()
    assert env.states() == {("make", -1): "success", ("double", -1): "skipped", ("total", -1): "skipped"}
    assert "empty input" in env.note("double")
    assert env.run_state() == "success"


def test_input_that_is_not_a_list_or_dict_fails_the_mapped_task(config, db):
    env = Env(config, db, producer_dag())
    env.step()
    env.complete("make", value=42)
    env.step()
    states = env.states()
    assert states[("double", -1)] == "failed" and states[("total", -1)] == "upstream_failed"
    note = env.note("double")
    assert "can only map over a list or a dict" in note and "int 42" in note and "'double'" in note
    assert env.run_state() == "failed"


def test_input_longer_than_max_map_length_fails_naming_task_length_and_setting(tw_home, db):
    config = Config.load(home=tw_home, environ={}, overrides={"core": {"load_examples": "False",
                                                                       "max_map_length": "3"}})
    env = Env(config, db, producer_dag())
    env.step()
    env.complete("make", value=[1, 2, 3, 4])
    env.step()
    assert env.states()[("double", -1)] == "failed"
    note = env.note("double")
    assert "'double'" in note and "4 instances" in note and "max_map_length (3)" in note


def test_upstream_without_a_value_leaves_the_mapped_task_upstream_failed(config, db):
    snap = make_snapshot("m", [task_dict("make"), mapped("double", ("make",), trigger_rule="all_done")])
    env = Env(config, db, snap)
    env.step()
    env.complete("make", outcome="failed")
    env.step()
    assert env.states()[("double", -1)] == "upstream_failed"
    assert "pushed no XCom" in env.note("double")


def test_literal_input_expands_in_the_first_step_as_a_product(config, db):
    spec = {"kind": "product", "args": {"a": {"literal": 2}, "b": {"literal": 3}}}
    snap = make_snapshot("m", [mapped("echo", (), spec=spec)])
    env = Env(config, db, snap)
    env.step()
    assert env.queued() == [("echo", i) for i in range(6)]


def test_retries_apply_per_instance(config, db):
    env = Env(config, db, producer_dag(retries=1))
    env.step()
    env.complete("make", value=[1, 2])
    env.step()
    env.complete("double", 0, outcome="failed")
    env.complete("double", 1)
    env.step()
    states = env.states()
    assert states[("double", 0)] == "up_for_retry" and states[("double", 1)] == "success"


def test_max_active_tis_per_dagrun_limits_mapped_instances(config, db):
    env = Env(config, db, producer_dag(max_active_tis_per_dagrun=2))
    env.step()
    env.complete("make", value=[1, 2, 3, 4])
    env.step()
    assert env.queued() == [("double", 0), ("double", 1)]
    env.complete("double", 0)
    env.step()
    assert env.queued() == [("double", 1), ("double", 2)]


def test_mapped_group_instances_follow_the_same_map_index_upstream(config, db):
    spec = xcom_input("make")
    snap = make_snapshot("m", [
        task_dict("make"),
        mapped("g.one", ("make",), spec=spec, group="g"),
        mapped("g.two", ("g.one",), spec=spec, group="g"),
        task_dict("after", ("g.two",)),
    ])
    env = Env(config, db, snap)
    env.step()
    env.complete("make", value=["a", "b"])
    env.step()
    # Both group tasks expanded at once; two[i] waits only for one[i].
    assert {k: v for k, v in env.states().items() if k[0] == "g.two"} == {("g.two", 0): "none", ("g.two", 1): "none"}
    env.complete("g.one", 1, outcome="failed")
    env.step()
    states = env.states()
    assert states[("g.two", 1)] == "upstream_failed" and states[("g.two", 0)] == "none"
    env.complete("g.one", 0)
    env.step()
    assert env.queued() == [("g.two", 0)]
    env.complete("g.two", 0)
    env.step()
    assert env.states()[("after", -1)] == "upstream_failed"  # counts every instance of g.two
