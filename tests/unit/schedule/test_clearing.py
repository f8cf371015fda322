"""What a manual clear selects and does, ExternalTaskMarker recursion included."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from schedhelp import make_snapshot, store_dag, task_dict
from tradewind.persist.models import DagRun, TaskInstance
from tradewind.schedule import clearing

D1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
D2 = D1 + timedelta(days=1)


def marker(task_id, ext_dag, ext_task, upstream=(), depth=10, logical_date="{{ logical_date.isoformat() }}"):
    return task_dict(task_id, upstream, operator="ExternalTaskMarker", extra={
        "external_dag_id": ext_dag, "external_task_id": ext_task, "logical_date": logical_date,
        "recursion_depth": depth})


def seed(session, snap, when, states):
    store_dag(session, snap)
    run_id = f"scheduled__{when.isoformat()}"
    session.add(DagRun(dag_id=snap.dag_id, run_id=run_id, run_type="scheduled", state="success", logical_date=when,
                       data_interval_start=when, data_interval_end=when + timedelta(days=1), run_after=when,
                       conf={}))
    for task_id, state in states.items():
        session.add(TaskInstance(dag_id=snap.dag_id, run_id=run_id, task_id=task_id, state=state, try_number=1,
                                 max_tries=1))
    session.flush()


def states(db):
    with db.session_scope() as s:
        return {(ti.dag_id, ti.run_id[11:21], ti.task_id): ti.state for ti in s.scalars(select(TaskInstance))}


PARENT = make_snapshot("parent", [task_dict("p1"), marker("m", "child", "c1", ("p1",))])
CHILD = make_snapshot("child", [task_dict("c0"), task_dict("c1", ("c0",)), task_dict("c2", ("c1",))])


def test_clearing_a_marker_clears_the_external_task_and_its_downstream_same_logical_date(db):
    with db.session_scope() as s:
        for when in (D1, D2):
            seed(s, PARENT, when, {"p1": "success", "m": "success"})
            seed(s, CHILD, when, {"c0": "success", "c1": "failed", "c2": "upstream_failed"})
    with db.session_scope() as s:
        tis = clearing.instances_for(s, PARENT, clearing.ClearRequest("parent", task_regex="^m$", start=D1, end=D1))
        assert sorted((t.dag_id, t.task_id) for t in tis) == [("child", "c1"), ("child", "c2"), ("parent", "m")]
        assert clearing.clear(s, tis, now=D2) == 3
    after = states(db)
    assert after[("child", "2024-01-01", "c1")] == "none" and after[("child", "2024-01-01", "c2")] == "none"
    assert after[("child", "2024-01-01", "c0")] == "success"  # upstream of the target is not cleared
    assert after[("child", "2024-01-02", "c1")] == "failed"  # other logical dates untouched
    with db.session_scope() as s:
        child_run = s.scalars(select(DagRun).where(DagRun.dag_id == "child", DagRun.logical_date == D1)).one()
        assert child_run.state == "queued"


def test_marker_logical_date_template_is_rendered_with_the_runs_dates(db):
    shifted = make_snapshot("parent", [marker("m", "child", "c1",
                                              logical_date="{{ (logical_date + macros.timedelta(days=1)).isoformat() }}")])
    with db.session_scope() as s:
        seed(s, shifted, D1, {"m": "success"})
        seed(s, CHILD, D2, {"c0": "success", "c1": "success", "c2": "success"})
        tis = clearing.instances_for(s, shifted, clearing.ClearRequest("parent"))
        assert sorted((t.dag_id, t.run_id, t.task_id) for t in tis)[0] == ("child", f"scheduled__{D2.isoformat()}", "c1")


def test_markers_that_form_a_cycle_stop_at_recursion_depth(db):
    a = make_snapshot("a", [marker("to_b", "b", "to_a", depth=3)])
    b = make_snapshot("b", [marker("to_a", "a", "to_b", depth=3)])
    with db.session_scope() as s:
        seed(s, a, D1, {"to_b": "success"})
        seed(s, b, D1, {"to_a": "success"})
        # a cycle revisits instances already chosen, so it ends; a longer chain would hit the limit
        tis = clearing.instances_for(s, a, clearing.ClearRequest("a"))
        assert sorted(t.dag_id for t in tis) == ["a", "b"]
    chain = [make_snapshot(f"d{i}", [marker("m", f"d{i + 1}", "m", depth=2)]) for i in range(4)]
    with db.session_scope() as s:
        for snap in chain:
            seed(s, snap, D1, {"m": "success"})
        with pytest.raises(clearing.ClearError, match="maximum recursion depth 2 reached"):
            clearing.instances_for(s, chain[0], clearing.ClearRequest("d0"))


def test_selection_options(db):
    snap = make_snapshot("sel", [task_dict("extract"), task_dict("load", ("extract",)), task_dict("report", ("load",))])
    with db.session_scope() as s:
        seed(s, snap, D1, {"extract": "success", "load": "failed", "report": "running"})
        pick = lambda **kw: sorted(t.task_id for t in clearing.instances_for(s, snap, clearing.ClearRequest("sel", **kw)))  # noqa: E731
        assert pick(task_regex="^load$", upstream=True) == ["extract", "load"]
        assert pick(task_regex="^load$", downstream=True) == ["load", "report"]
        assert pick(only_failed=True) == ["load"]
        assert pick(only_running=True) == ["report"]
        assert pick(start=D2) == []
        with pytest.raises(clearing.ClearError, match="no task of DAG sel matches"):
            pick(task_regex="nothing")
        with pytest.raises(clearing.ClearError, match="not a valid regular expression"):
            pick(task_regex="(")
        with pytest.raises(clearing.ClearError, match="exclude each other"):
            pick(only_failed=True, only_running=True)
