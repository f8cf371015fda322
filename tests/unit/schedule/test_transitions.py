"""The state graph, atomic claims and the retry policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from schedhelp import T0, get_ti, make_snapshot, task_dict
from tradewind.workloads import TaskKey
from tradewind.persist.models import DagModel, DagRun, TaskInstance, TaskInstanceTry
from tradewind.schedule import transitions as tr
from tradewind.states import DagRunState, TaskInstanceState as TI


def _seed(db, *, state="none", try_number=0, max_tries=1, task_id="t"):
    with db.session_scope() as s:
        if s.get(DagModel, "d") is None:
            s.add(DagModel(dag_id="d", fileloc="/d.py", tags=[]))
            s.flush()
            s.add(DagRun(dag_id="d", run_id="r", run_type="manual", state="running", run_after=T0, conf={}))
        s.add(TaskInstance(dag_id="d", run_id="r", task_id=task_id, map_index=-1, state=state,
                           try_number=try_number, max_tries=max_tries))


def _key(n=1, task_id="t"):
    return TaskKey("d", "r", task_id, -1, n)


def test_illegal_transition_names_both_states(db):
    _seed(db, state="success")
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance)).one()
        with pytest.raises(tr.IllegalTransition, match="success -> queued"):
            tr.queue_ti(s, ti, T0)


@pytest.mark.parametrize("frm", [s for s in TI])
def test_table_covers_every_state(frm):
    assert frm in tr.TI_TRANSITIONS
    assert all(isinstance(t, TI) for t in tr.TI_TRANSITIONS[frm])


def test_finished_states_do_not_move_except_by_hand(db):
    _seed(db, state="failed")
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance)).one()
        with pytest.raises(tr.IllegalTransition):
            tr.schedule_ti(s, ti, T0)
        tr.set_ti_state(s, ti, "success", T0)
        assert ti.state == "success"
        with pytest.raises(tr.IllegalTransition):
            tr.set_ti_state(s, ti, "running", T0)


def test_queue_increments_try_number_and_claim_runs_once(db):
    _seed(db)
    with db.session_scope() as s:
        ti = s.scalars(select(TaskInstance)).one()
        tr.schedule_ti(s, ti, T0)
        assert tr.queue_ti(s, ti, T0) == 1
    with db.session_scope() as s:
        assert tr.claim_try(s, _key(2), hostname="h", pid=1, now=T0) is None  # wrong try
        ti = tr.claim_try(s, _key(1), hostname="h", pid=7, now=T0)
        assert ti is not None and ti.state == "running" and ti.pid == 7
    with db.session_scope() as s:
        assert tr.claim_try(s, _key(1), hostname="h2", pid=8, now=T0) is None  # second claim loses
        rows = s.scalars(select(TaskInstanceTry)).all()
        assert [(r.try_number, r.state, r.pid) for r in rows] == [(1, "running", 7)]


def _run_try(db, task, n, outcome, now):
    with db.session_scope() as s:
        ti = get_ti_s(s)
        if ti.state != "queued":
            tr.queue_ti(s, ti, now)
        assert ti.try_number == n
    with db.session_scope() as s:
        assert tr.claim_try(s, _key(n), hostname="h", pid=1, now=now) is not None
        return tr.record_try_outcome(s, _key(n), outcome, task=task, now=now + timedelta(seconds=3), error="boom")


def get_ti_s(s):
    return s.scalars(select(TaskInstance)).one()


def test_retry_with_fixed_delay_then_fail(db):
    snap = make_snapshot("d", [task_dict("t", retries=2, retry_delay=60)])
    _seed(db, max_tries=3)
    task = snap.task("t")
    assert _run_try(db, task, 1, "failed", T0) == TI.UP_FOR_RETRY
    ti = get_ti(db, "d", "r", "t")
    assert ti.next_retry_at == T0 + timedelta(seconds=63)
    assert ti.end_date == T0 + timedelta(seconds=3) and ti.duration == 3.0 and ti.note == "boom"
    assert _run_try(db, task, 2, "failed", T0) == TI.UP_FOR_RETRY
    assert _run_try(db, task, 3, "failed", T0) == TI.FAILED
    with db.session_scope() as s:
        rows = s.scalars(select(TaskInstanceTry).order_by(TaskInstanceTry.try_number)).all()
        assert [(r.try_number, r.state, r.duration, r.error) for r in rows] == [
            (1, "failed", 3.0, "boom"), (2, "failed", 3.0, "boom"), (3, "failed", 3.0, "boom")]


def test_failed_without_allow_retry_fails_at_once(db):
    snap = make_snapshot("d", [task_dict("t", retries=2)])
    _seed(db, max_tries=3)
    with db.session_scope() as s:
        tr.queue_ti(s, get_ti_s(s), T0)
    with db.session_scope() as s:
        tr.claim_try(s, _key(1), hostname="h", pid=1, now=T0)
        assert tr.record_try_outcome(s, _key(1), "failed", task=snap.task("t"), now=T0, allow_retry=False) == TI.FAILED


@pytest.mark.parametrize(
    "try_number,base,cap,expected",
    [(1, 10, None, 10), (2, 10, None, 20), (3, 10, None, 40), (4, 10, 50, 50), (1, 10, 5, 5)],
)
def test_exponential_backoff(try_number, base, cap, expected):
    snap = make_snapshot("d", [task_dict("t", retry_delay=base, retry_exponential_backoff=True, max_retry_delay=cap)])
    assert tr.retry_delay(snap.task("t"), try_number) == timedelta(seconds=expected)


def test_fixed_delay_ignores_try_number():
    snap = make_snapshot("d", [task_dict("t", retry_delay=7)])
    assert tr.retry_delay(snap.task("t"), 5) == timedelta(seconds=7)


def test_outcome_for_stale_try_does_not_change_instance(db):
    snap = make_snapshot("d", [task_dict("t")])
    _seed(db)
    with db.session_scope() as s:
        tr.queue_ti(s, get_ti_s(s), T0)
    with db.session_scope() as s:
        tr.claim_try(s, _key(1), hostname="h", pid=1, now=T0)
    with db.session_scope() as s:
        tr.set_ti_state(s, get_ti_s(s), "failed", T0)
    with db.session_scope() as s:
        assert tr.record_try_outcome(s, _key(1), "success", task=snap.task("t"), now=T0) == TI.FAILED
        assert s.scalars(select(TaskInstanceTry)).one().state == "success"


def test_bad_outcome_is_rejected(db):
    snap = make_snapshot("d", [task_dict("t")])
    _seed(db)
    with db.session_scope() as s:
        with pytest.raises(ValueError, match="outcome"):
            tr.record_try_outcome(s, _key(1), "ok", task=snap.task("t"), now=T0)  # type: ignore[arg-type]


def test_heartbeat_only_for_current_running_try(db):
    _seed(db)
    with db.session_scope() as s:
        tr.queue_ti(s, get_ti_s(s), T0)
    with db.session_scope() as s:
        assert not tr.heartbeat(s, _key(1), T0)
        tr.claim_try(s, _key(1), hostname="h", pid=1, now=T0)
        assert tr.heartbeat(s, _key(1), T0 + timedelta(seconds=5))
        assert not tr.heartbeat(s, _key(2), T0)
    assert get_ti(db, "d", "r", "t").last_heartbeat_at == T0 + timedelta(seconds=5)


def test_fail_zombie_uses_retry_policy(db):
    snap = make_snapshot("d", [task_dict("t", retries=1, retry_delay=30)])
    _seed(db, max_tries=2)
    with db.session_scope() as s:
        tr.queue_ti(s, get_ti_s(s), T0)
    with db.session_scope() as s:
        tr.claim_try(s, _key(1), hostname="h", pid=1, now=T0)
    with db.session_scope() as s:
        assert tr.fail_zombie(s, get_ti_s(s), task=snap.task("t"), now=T0, reason="heartbeat timeout") == TI.UP_FOR_RETRY
        assert get_ti_s(s).next_retry_at == T0 + timedelta(seconds=30)
        assert s.scalars(select(TaskInstanceTry)).one().error == "heartbeat timeout"


def test_unqueue_keeps_the_same_try_number(db):
    _seed(db)
    with db.session_scope() as s:
        ti = get_ti_s(s)
        tr.queue_ti(s, ti, T0)
    with db.session_scope() as s:
        ti = get_ti_s(s)
        assert tr.unqueue_ti(s, ti, T0)
        assert ti.state == "scheduled" and ti.try_number == 0
        assert tr.queue_ti(s, ti, T0) == 1


def test_skip_tasks_only_touches_unstarted(db):
    _seed(db, task_id="a")
    _seed(db, task_id="b", state="success")
    with db.session_scope() as s:
        assert tr.skip_tasks(s, "d", "r", ["a", "b", "zzz"], T0) == ["a"]
    assert get_ti(db, "d", "r", "b").state == "success"


def test_clear_bumps_max_tries_and_requeues_run(db):
    _seed(db, state="failed", try_number=3, max_tries=3)
    with db.session_scope() as s:
        run = s.scalars(select(DagRun)).one()
        run.state, run.end_date = "failed", T0
    with db.session_scope() as s:
        assert tr.clear_task_instances(s, [get_ti_s(s)], now=T0, retries_by_task={"t": 2}) == 1
    ti = get_ti(db, "d", "r", "t")
    assert (ti.state, ti.try_number, ti.max_tries) == ("none", 3, 6)
    with db.session_scope() as s:
        run = s.scalars(select(DagRun)).one()
        assert run.state == "queued" and run.end_date is None and run.clear_number == 1


def test_mark_run_success_and_failed_finish_tis(db):
    _seed(db, task_id="a", state="running", try_number=1)
    _seed(db, task_id="b")
    _seed(db, task_id="c", state="failed")
    with db.session_scope() as s:
        run = s.scalars(select(DagRun)).one()
        tr.set_run_state(s, run, DagRunState.FAILED, T0)
        states = {ti.task_id: ti.state for ti in s.scalars(select(TaskInstance))}
        assert states == {"a": "failed", "b": "skipped", "c": "failed"}
        assert run.state == "failed" and run.end_date == T0
        for ti in s.scalars(select(TaskInstance)):
            tr.clear_task_instances(s, [ti], now=T0, dag_run_state="running")
        tr.set_run_state(s, run, "success", T0)
        assert {ti.state for ti in s.scalars(select(TaskInstance))} == {"success"}


def test_claim_try_row_returns_what_the_runner_needs(db):
    _seed(db, max_tries=3)
    with db.session_scope() as s:
        ti = get_ti_s(s)
        ti.operator, ti.dag_version_id = "PythonOperator", 7
        tr.queue_ti(s, ti, T0)
    with db.session_scope() as s:
        assert tr.claim_try_row(s, _key(2), hostname="h", pid=1, now=T0) is None
        row = tr.claim_try_row(s, _key(1), hostname="h", pid=9, now=T0)
        assert (row.max_tries, row.start_date, row.operator, row.dag_version_id) == (3, T0, "PythonOperator", 7)
        assert tr.claim_try_row(s, _key(1), hostname="h", pid=9, now=T0) is None  # claimed once only
    with db.session_scope() as s:
        tries = s.scalars(select(TaskInstanceTry)).all()
        assert [(r.try_number, r.state, r.pid, r.operator, r.start_date) for r in tries] == [
            (1, "running", 9, "PythonOperator", T0)]
        assert (get_ti_s(s).state, get_ti_s(s).pid, get_ti_s(s).last_heartbeat_at) == ("running", 9, T0)


def test_outcome_stores_rendered_fields_and_refreshes_loaded_instance(db):
    snap = make_snapshot("d", [task_dict("t")])
    _seed(db)
    with db.session_scope() as s:
        tr.queue_ti(s, get_ti_s(s), T0)
    with db.session_scope() as s:
        ti = tr.claim_try(s, _key(1), hostname="h", pid=1, now=T0)
        assert ti.state == "running"
        later = T0 + timedelta(seconds=2)
        state = tr.record_try_outcome(s, _key(1), "success", task=snap.task("t"), now=later,
                                      rendered_fields={"bash_command": "echo 1"})
        assert state == TI.SUCCESS
        # The instance this session loaded sees the new state, not a stale copy.
        assert (ti.state, ti.end_date, ti.duration) == ("success", later, 2.0)
    with db.session_scope() as s:
        row = s.scalars(select(TaskInstanceTry)).one()
        assert (row.state, row.rendered_fields, row.duration, row.error) == (
            "success", {"bash_command": "echo 1"}, 2.0, None)


def test_outcome_with_rendered_fields_needs_the_try_row(db):
    snap = make_snapshot("d", [task_dict("t")])
    _seed(db, state="running", try_number=1)  # running without a claim: no try row
    with db.session_scope() as s:
        with pytest.raises(LookupError, match="no try row"):
            tr.record_try_outcome(s, _key(1), "success", task=snap.task("t"), now=T0, rendered_fields={"x": 1})
        with pytest.raises(LookupError, match="no try row"):
            tr.set_rendered_fields(s, _key(1), {"x": 1})
    with db.session_scope() as s:
        with pytest.raises(LookupError, match="no task instance"):
            tr.record_try_outcome(s, _key(1, task_id="nope"), "success", task=snap.task("t"), now=T0)
