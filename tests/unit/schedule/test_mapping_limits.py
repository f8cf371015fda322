"""``[core] max_map_length`` against huge inputs: a mapped task whose upstream returns 100,000
items fails with a note naming the setting, no instance rows are built, and the scheduler counts
the items in the database instead of loading the value. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import func, select

from schedhelp import make_snapshot, task_dict
from test_mapping_scheduler import Env, mapped
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.persist.queries.xcom import xcom_items
from tradewind.schedule.mapping import input_length

HUGE = 100_000


def dag():
    return make_snapshot("m", [
        task_dict("make"),
        mapped("double", ("make",)),
        task_dict("small"),
        mapped("fine", ("small",)),
    ])


def instance_count(env: Env, task_id: str) -> int:
    with env.db.session_scope() as s:
        return s.scalar(select(func.count()).select_from(TaskInstance).where(TaskInstance.task_id == task_id))


def test_an_input_of_100000_items_fails_naming_the_limit_and_builds_no_rows(config, any_db):
    env = Env(config, any_db, dag())
    env.step()
    env.complete("make", value=[f"item-{i:06d}" for i in range(HUGE)])
    env.complete("small", value=[1, 2, 3])
    env.step()
    states = env.states()
    assert states[("double", -1)] == "failed"
    assert env.note("double") == ("mapped task 'double' cannot expand to 100000 instances: "
                                  "that is more than [core] max_map_length (1024)")
    assert instance_count(env, "double") == 1  # only the -1 instance, never 100,000 rows
    # The other mapped task of the same run expands as usual.
    assert [states[("fine", i)] for i in range(3)] == ["queued"] * 3


def test_the_database_counts_lists_and_dicts_without_handing_the_value_over(config, any_db):
    env = Env(config, any_db, dag())
    env.step()
    env.complete("make", value={f"k{i}": i for i in range(2000)})
    env.complete("small", value=list(range(7)))
    with any_db.session_scope() as s:
        run = s.scalars(select(DagRun)).one()
        assert xcom_items(s, run.dag_id, run.run_id, "make", "return_value") == (2000, None)
        assert xcom_items(s, run.dag_id, run.run_id, "small", "return_value") == (7, None)
        counted = input_length(s, run, env.snap, env.snap.task("double"), cap=1025)
        assert (counted.length, counted.capped, counted.sources) == (1025, True, {"make": 2000})
        exact = input_length(s, run, env.snap, env.snap.task("fine"), cap=1025)
        assert (exact.length, exact.capped) == (7, False)
    env.step()
    assert env.note("double") == ("mapped task 'double' cannot expand to 2000 instances: "
                                  "that is more than [core] max_map_length (1024)")


def test_past_the_exact_count_the_note_names_the_upstreams_count(config, any_db):
    env = Env(config, any_db, dag())
    env.step()
    env.complete("make", value=[0] * 250_000)
    env.complete("small", value=[1])
    env.step()
    assert env.note("double") == ("mapped task 'double' cannot expand to more than 1024 instances "
                                  "(upstream 'make' returned 250000 items): that is more than [core] max_map_length (1024)")
    assert instance_count(env, "double") == 1


def test_a_tuple_still_maps_and_a_scalar_still_fails_naming_its_type(config, any_db):
    env = Env(config, any_db, dag())
    env.step()
    env.complete("make", value=("a", "b"))  # stored as a typed envelope: decoded, then counted
    env.complete("small", value="not a list")
    env.step()
    states = env.states()
    assert states[("double", 0)] == states[("double", 1)] == "queued"
    assert states[("fine", -1)] == "failed"
    assert "can only map over a list or a dict, got str" in env.note("fine")


def test_a_literal_list_of_100000_fails_naming_the_limit(config, any_db):
    spec = {"kind": "product", "args": {"x": {"literal": HUGE}}}
    env = Env(config, any_db, make_snapshot("m", [mapped("lit", spec=spec)]))
    env.step()
    assert env.states() == {("lit", -1): "failed"}
    assert env.note("lit").startswith(
        "mapped task 'lit' cannot expand to 100000 instances: that is more than [core] max_map_length (1024)")


def test_a_mapped_upstream_is_counted_by_its_instances(config, any_db):
    snap = make_snapshot("m", [
        task_dict("make"),
        mapped("first", ("make",)),
        mapped("second", ("first",)),
    ])
    env = Env(config, any_db, snap)
    env.step()
    env.complete("make", value=[1, 2, 3])
    env.step()
    for i in range(3):
        env.complete("first", i, value={"big": "x" * 1000, "i": i})
    env.step()
    assert [env.states()[("second", i)] for i in range(3)] == ["queued"] * 3
