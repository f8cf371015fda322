"""Clearing a mapped task re-counts its input (Airflow): the next expansion creates missing
instances and removes extra ones; and ``failed_deps`` judges trigger rules over every mapped
instance of an upstream, as the scheduler does. Driven step by step with a fake clock."""

from __future__ import annotations

from sqlalchemy import select

import test_mapping_scheduler as ms
from schedhelp import make_snapshot, task_dict
from tradewind.persist.models import TaskInstance
from tradewind.persist.queries.xcom import xcom_get_many
from tradewind.schedule import deps
from tradewind.schedule.clearing import ClearRequest, clear, instances_for


def clear_tasks(env: ms.Env, regex: str, *, downstream: bool = True) -> int:
    with env.db.session_scope() as s:
        tis = instances_for(s, env.snap, ClearRequest(dag_id=env.snap.dag_id, task_regex=regex,
                                                      run_id=env.run_id, downstream=downstream))
        return clear(s, tis, now=env.clock())


def run_first_time(env: ms.Env, items: list) -> None:
    """make -> double over ``items`` -> total, all successful."""
    env.step()
    env.complete("make", value=items)
    env.step()
    for i in range(len(items)):
        env.complete("double", i, value=items[i] * 2)
    env.step()
    env.complete("total")
    env.step()
    assert env.run_state() == "success"


def double_states(env: ms.Env) -> dict[int, str]:
    return {mi: state for (tid, mi), state in env.states().items() if tid == "double"}


def test_clearing_with_more_items_creates_the_missing_instances(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    run_first_time(env, [1, 2])
    assert clear_tasks(env, "^make$") == 4  # make, double[0], double[1], total
    env.step()
    env.complete("make", value=[1, 2, 3, 4])
    env.step()
    assert env.queued() == [("double", i) for i in range(4)]
    for i in range(4):
        env.complete("double", i)
    env.step()
    env.complete("total")
    env.step()
    assert double_states(env) == dict.fromkeys(range(4), "success")
    assert env.run_state() == "success"


def test_clearing_with_fewer_items_removes_the_extra_instances_and_their_values(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    run_first_time(env, [1, 2, 3])
    clear_tasks(env, "^make$")
    env.step()
    env.complete("make", value=[5])
    env.step()
    assert env.queued() == [("double", 0)]
    assert double_states(env) == {0: "queued", 1: "removed", 2: "removed"}
    with db.session_scope() as s:  # a downstream pull sees only the instances that still count
        assert set(xcom_get_many(s, "m", env.run_id, ["double"], "return_value")) == {("double", 0)}
    env.complete("double", 0, value=10)
    env.step()
    assert env.queued() == [("total", -1)]  # removed instances do not hold the downstream back
    env.complete("total")
    env.step()
    assert env.run_state() == "success"


def test_clearing_with_an_empty_input_skips_the_mapped_task(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    run_first_time(env, [1, 2])
    clear_tasks(env, "^make$")
    env.step()
    env.complete("make", value=[])
    env.step()
    assert double_states(env) == {0: "skipped", 1: "removed"}
    assert env.states()[("total", -1)] == "skipped"
    with db.session_scope() as s:
        note = s.scalars(select(TaskInstance.note).where(TaskInstance.task_id == "double",
                                                         TaskInstance.map_index == 0)).one()
    assert "empty input" in note
    assert env.run_state() == "success"


def test_clearing_with_an_input_that_cannot_be_mapped_fails_the_cleared_instances(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    run_first_time(env, [1, 2])
    clear_tasks(env, "^make$")
    env.step()
    env.complete("make", value="not a list")
    env.step()
    assert double_states(env) == {0: "failed", 1: "failed"}
    assert env.states()[("total", -1)] == "upstream_failed"
    assert env.run_state() == "failed"


def test_clearing_only_the_mapped_task_runs_the_same_instances_again(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    run_first_time(env, [1, 2])
    clear_tasks(env, "^double$")
    env.step()
    assert env.queued() == [("double", 0), ("double", 1)]
    assert double_states(env) == {0: "queued", 1: "queued"}


def test_a_removed_instance_comes_back_when_a_later_clear_grows_the_input(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    run_first_time(env, [1, 2])
    clear_tasks(env, "^make$")
    env.step()
    env.complete("make", value=[1])
    env.step()
    env.complete("double", 0)
    env.step()
    env.complete("total")
    env.step()
    assert double_states(env) == {0: "success", 1: "removed"}
    clear_tasks(env, "^make$")  # clears the removed instance too
    env.step()
    env.complete("make", value=[1, 2, 3])
    env.step()
    assert env.queued() == [("double", i) for i in range(3)]


# ------------------------------------------------------------------------------- failed_deps
def _reasons(env: ms.Env, task_id: str, map_index: int = -1) -> str:
    with env.db.session_scope() as s:
        ti = s.scalars(select(TaskInstance).where(TaskInstance.task_id == task_id,
                                                  TaskInstance.map_index == map_index)).one()
        return " | ".join(deps.failed_deps(s, ti, env.snap, now=env.clock()))


def test_failed_deps_counts_every_instance_of_a_mapped_upstream(config, db):
    env = ms.Env(config, db, ms.producer_dag())
    env.step()
    env.complete("make", value=[1, 2, 3])
    env.step()
    env.complete("double", 0)
    env.complete("double", 1)
    env.step()
    assert "done 2/3" in _reasons(env, "total")  # one instance still running
    env.complete("double", 2, outcome="failed")
    assert "1 upstream task(s) failed" in _reasons(env, "total")


def test_failed_deps_inside_a_mapped_group_counts_the_same_map_index(config, db):
    spec = ms.xcom_input("make")
    snap = make_snapshot("m", [
        task_dict("make"),
        ms.mapped("g.one", ("make",), spec=spec, group="g"),
        ms.mapped("g.two", ("g.one",), spec=spec, group="g"),
    ])
    env = ms.Env(config, db, snap)
    env.step()
    env.complete("make", value=["a", "b"])
    env.step()
    env.complete("g.one", 0)
    assert "trigger rule" not in _reasons(env, "g.two", 0)  # its own upstream instance succeeded
    assert "done 0/1" in _reasons(env, "g.two", 1)
