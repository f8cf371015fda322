"""The manual action layer (schedule/actions.py) on a real SQLite file: each action's change, its
audit entry, its errors (kind and field), the wake-up mark, the conf size limit and notes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from schedhelp import make_snapshot, store_dag, task_dict
from tradewind.config import Config
from tradewind.definition.timetables import CronDataIntervalTimetable
from tradewind.persist.models import AuditLog, DagRun, DagRunNote, TaskInstance, TaskInstanceNote
from tradewind.persist.queries.notes import run_notes, ti_notes
from tradewind.schedule import actions
from tradewind.schedule.runs import start_run

NOW = datetime(2024, 2, 1, 12, tzinfo=timezone.utc)
D1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ALICE = actions.Actor("alice", "api")
DAILY = CronDataIntervalTimetable("0 0 * * *", "UTC").serialize()

CHAIN = make_snapshot("chain", [task_dict("a"), task_dict("b", ("a",)), task_dict("c", ("b",))],
                      params={"rows": {"default": 5, "schema": {"type": "integer", "minimum": 1}}})
MAPPED = make_snapshot("mapped", [task_dict("m"), task_dict("after", ("m",))])
DAILY_DAG = make_snapshot("daily", [task_dict("a")], timetable=DAILY, timetable_summary="@daily",
                          start_date="2024-01-01T00:00:00+00:00")


@pytest.fixture
def dags(db):
    with db.session_scope() as s:
        for snap in (CHAIN, MAPPED, DAILY_DAG):
            store_dag(s, snap, now=NOW)
    return db


def audit(db, event=None):
    with db.read_scope() as s:
        stmt = select(AuditLog).order_by(AuditLog.id)
        if event is not None:
            stmt = stmt.where(AuditLog.event == event)
        return [(e.event, e.owner, e.dag_id, e.run_id, e.task_id, json.loads(e.extra or "{}")) for e in s.scalars(stmt)]


def trigger(db, config, dag_id="chain", run_id="r1", *, logical_date=D1, started=True, **kw):
    """A manual run through the action; started (instances created) unless told otherwise."""
    with db.session_scope() as s:
        run = actions.trigger_run(s, ALICE, dag_id, run_id=run_id, logical_date=logical_date, config=config,
                                  now=NOW, **kw)
        if started:
            start_run(s, run, actions.find_snapshot(s, dag_id)[1], NOW)
    return run_id


def set_states(db, dag_id, run_id, states):
    with db.session_scope() as s:
        for ti in s.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)):
            if ti.task_id in states:
                ti.state = states[ti.task_id]


def failed_chain_run(db, config, states):
    """Run r1 of "chain", started, its instances in ``states`` and the run itself failed."""
    trigger(db, config)
    set_states(db, "chain", "r1", states)
    with db.session_scope() as s:
        s.get(DagRun, actions.find_run(s, "chain", "r1").id).state = "failed"


def ti_states(db, dag_id, run_id):
    with db.read_scope() as s:
        return {(ti.task_id, ti.map_index): ti.state for ti in s.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id))}


def run_state(db, dag_id, run_id):
    with db.read_scope() as s:
        return s.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one().state


def fails(exc_type, field, fn, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    assert info.value.field == field, (info.value.field, str(info.value))
    return str(info.value)


# ------------------------------------------------------------------------ trigger
def test_trigger_creates_a_queued_run_with_its_note_audit_and_wake_mark(dags, config):
    with dags.session_scope() as s:
        run = actions.trigger_run(s, ALICE, "chain", run_id="r1", logical_date=D1, conf={"rows": 7},
                                  note="looked at it", config=config, now=NOW)
        assert (run.state, run.conf, run.run_type) == ("queued", {"rows": 7}, "manual")
        assert actions.wake_needed(s)
    assert actions.wake_after(dags, s) is True
    assert actions.wake_after(dags, s) is False  # the mark is used once: no interface wakes twice
    with dags.read_scope() as s:
        note = s.scalars(select(DagRunNote)).one()
        assert (note.content, note.user_id) == ("looked at it", "alice")
    [entry] = audit(dags, "trigger")
    assert entry[1:4] == ("alice", "chain", "r1")
    assert entry[5] == {"conf": {"rows": 7}, "note": "looked at it", "source": "api"}


def test_trigger_errors_name_their_field_and_change_nothing(dags, config):
    trigger(dags, config, run_id="taken", started=False)
    with dags.session_scope() as s:
        message = fails(actions.Conflict, "dag_run_id", actions.trigger_run, s, ALICE, "chain", run_id="taken",
                        config=config, now=NOW)
        assert "taken" in message and "already exists" in message
        fails(actions.NotFound, "dag_id", actions.trigger_run, s, ALICE, "nope", config=config, now=NOW)
        with pytest.raises(actions.Invalid) as info:
            actions.trigger_run(s, ALICE, "chain", conf={"rows": 0}, config=config, now=NOW)
        assert info.value.field == "conf.rows" and info.value.errors[0]["field"] == "conf.rows"
        fails(actions.Invalid, "conf", actions.trigger_run, s, ALICE, "chain", conf=["a"], config=config, now=NOW)
        fails(actions.Invalid, "logical_date", actions.trigger_run, s, ALICE, "chain",
              logical_date=datetime(2024, 1, 1), config=config, now=NOW)
        fails(actions.Invalid, "dag_run_id", actions.trigger_run, s, ALICE, "chain", run_id="a/b", config=config,
              now=NOW)
        message = fails(actions.Invalid, "note", actions.trigger_run, s, ALICE, "chain", note="x" * 1001,
                        config=config, now=NOW)
        assert "1001" in message and "1000" in message
        assert not actions.wake_needed(s)
    with dags.read_scope() as s:
        assert [r.run_id for r in s.scalars(select(DagRun))] == ["taken"]
    assert [e[0] for e in audit(dags)] == ["trigger"]


def test_trigger_refuses_a_conf_bigger_than_max_conf_size_naming_the_limit(dags, config):
    big = {"blob": "x" * 70_000}
    size = len(json.dumps(big, separators=(",", ":")))
    with dags.session_scope() as s:
        message = fails(actions.Invalid, "conf", actions.trigger_run, s, ALICE, "chain", conf=big, config=config,
                        now=NOW)
    assert message == f"conf is {size} bytes of JSON; [core] max_conf_size allows 65536"
    roomy = Config.load(home=config.home, environ={}, overrides={"core": {"max_conf_size": "200000"}})
    with dags.session_scope() as s:  # the limit comes from the Config passed in
        assert actions.trigger_run(s, ALICE, "chain", conf=big, config=roomy, now=NOW).conf == big


def test_trigger_takes_an_explicit_data_interval_and_run_after(dags, config):
    start, end, later = D1, D1 + timedelta(hours=6), NOW + timedelta(hours=1)
    with dags.session_scope() as s:
        run = actions.trigger_run(s, ALICE, "chain", run_id="di", logical_date=D1, data_interval_start=start,
                                  data_interval_end=end, run_after=later, config=config, now=NOW)
        assert (run.data_interval_start, run.data_interval_end, run.run_after) == (start, end, later)
        fails(actions.Invalid, "data_interval_end", actions.trigger_run, s, ALICE, "chain",
              data_interval_start=start, config=config, now=NOW)
        fails(actions.Invalid, "data_interval_end", actions.trigger_run, s, ALICE, "chain",
              data_interval_start=end, data_interval_end=start, config=config, now=NOW)
        fails(actions.Invalid, "run_after", actions.trigger_run, s, ALICE, "chain",
              run_after=datetime(2024, 3, 1), config=config, now=NOW)


# ------------------------------------------------------------------------ runs
def test_set_run_state_marks_instances_records_and_refuses_bad_states(dags, config):
    trigger(dags, config)
    set_states(dags, "chain", "r1", {"a": "failed", "b": "upstream_failed"})
    with dags.session_scope() as s:
        run = actions.set_run_state(s, ALICE, "chain", "r1", "success", now=NOW)
        assert run.state == "success" and actions.wake_needed(s)
    assert set(ti_states(dags, "chain", "r1").values()) == {"success"}
    [entry] = audit(dags, "set_run_state")
    assert entry[5] == {"from": "running", "state": "success", "source": "api"}
    with dags.session_scope() as s:
        fails(actions.Invalid, "state", actions.set_run_state, s, ALICE, "chain", "r1", "running", now=NOW)
        message = fails(actions.NotFound, "dag_run_id", actions.set_run_state, s, ALICE, "chain", "r9", "failed",
                        now=NOW)
        assert message == "DAGRun with DAG ID: 'chain' and DagRun ID: 'r9' not found"


def test_delete_run_takes_its_rows_and_note(dags, config):
    trigger(dags, config, note="bye")
    with dags.session_scope() as s:
        assert actions.delete_run(s, ALICE, "chain", "r1", now=NOW) == 4  # 3 instances + the run
        assert not actions.wake_needed(s)
    with dags.read_scope() as s:
        assert s.scalars(select(DagRun)).all() == [] and s.scalars(select(DagRunNote)).all() == []
    assert audit(dags, "delete_dag_run")[0][3:] == ("r1", None, {"rows": 4, "source": "api"})
    with dags.session_scope() as s:
        fails(actions.NotFound, "dag_run_id", actions.delete_run, s, ALICE, "chain", "r1", now=NOW)


# ------------------------------------------------------------------------ clearing
def test_clear_run_dry_run_changes_nothing_then_clears_only_failed(dags, config):
    failed_chain_run(dags, config, {"a": "success", "b": "failed", "c": "upstream_failed"})
    with dags.session_scope() as s:
        dry = actions.clear_run(s, ALICE, "chain", "r1", only_failed=True, dry_run=True, now=NOW)
        assert sorted(t.task_id for t in dry) == ["b", "c"] and not actions.wake_needed(s)
    assert ti_states(dags, "chain", "r1")[("b", -1)] == "failed" and audit(dags, "clear") == []
    with dags.session_scope() as s:
        done = actions.clear_run(s, ALICE, "chain", "r1", only_failed=True, now=NOW)
        assert sorted(t.task_id for t in done) == ["b", "c"] and actions.wake_needed(s)
    assert ti_states(dags, "chain", "r1") == {("a", -1): "success", ("b", -1): "none", ("c", -1): "none"}
    assert run_state(dags, "chain", "r1") == "queued"
    [entry] = audit(dags, "clear")
    assert entry[3] == "r1" and entry[5]["task_ids"] == ["b", "c"] and entry[5]["count"] == 2


def test_clear_task_instances_picks_single_mapped_instances_and_validates(dags, config):
    trigger(dags, config, "mapped")
    with dags.session_scope() as s:
        first = s.scalars(select(TaskInstance).where(TaskInstance.task_id == "m")).one()
        first.map_index, first.state = 0, "failed"
        for i in (1, 2):
            s.add(TaskInstance(dag_id="mapped", run_id="r1", task_id="m", map_index=i, state="failed",
                               try_number=1, max_tries=1))
    with dags.session_scope() as s:
        tis = actions.clear_task_instances(s, ALICE, "mapped", dag_run_id="r1", task_ids=[("m", 1)],
                                           only_failed=True, now=NOW)
        assert [(t.task_id, t.map_index) for t in tis] == [("m", 1)]
    assert ti_states(dags, "mapped", "r1")[("m", 1)] == "none"
    assert ti_states(dags, "mapped", "r1")[("m", 0)] == "failed"
    with dags.session_scope() as s:
        dry = actions.clear_task_instances(s, ALICE, "mapped", task_regex="^m$", dry_run=True, now=NOW)
        assert sorted(t.map_index for t in dry) == [0, 1, 2]
        fails(actions.Invalid, "task_ids", actions.clear_task_instances, s, ALICE, "mapped", task_ids=["zz"], now=NOW)
        fails(actions.Invalid, "task_ids", actions.clear_task_instances, s, ALICE, "mapped", task_ids=[("m", "x")],
              now=NOW)
        fails(actions.Invalid, "reset_dag_runs", actions.clear_task_instances, s, ALICE, "mapped",
              reset_dag_runs=False, now=NOW)
        fails(actions.Invalid, "task_regex", actions.clear_task_instances, s, ALICE, "mapped", task_regex="(",
              now=NOW)
        fails(actions.NotFound, "dag_run_id", actions.clear_task_instances, s, ALICE, "mapped", dag_run_id="zz",
              now=NOW)
    assert len(audit(dags, "clear")) == 1


def test_clear_task_instances_with_include_past_reaches_earlier_runs(dags, config):
    trigger(dags, config, run_id="old", logical_date=D1)
    trigger(dags, config, run_id="new", logical_date=D1 + timedelta(days=1))
    for run_id in ("old", "new"):
        set_states(dags, "chain", run_id, {"a": "failed"})
    with dags.session_scope() as s:
        only = actions.clear_task_instances(s, ALICE, "chain", dag_run_id="new", task_ids=["a"], only_failed=True,
                                            dry_run=True, now=NOW)
        both = actions.clear_task_instances(s, ALICE, "chain", dag_run_id="new", task_ids=["a"], only_failed=True,
                                            include_past=True, dry_run=True, now=NOW)
    assert [t.run_id for t in only] == ["new"] and sorted(t.run_id for t in both) == ["new", "old"]


# ------------------------------------------------------------------------ marking instances
def test_set_task_instance_state_marks_downstream_and_hands_the_run_back(dags, config):
    failed_chain_run(dags, config, {"a": "failed", "b": "upstream_failed", "c": "upstream_failed"})
    with dags.session_scope() as s:
        dry = actions.set_task_instance_state(s, ALICE, "chain", "r1", "b", None, "success", include_downstream=True,
                                              dry_run=True, now=NOW)
        assert sorted(t.task_id for t in dry) == ["b", "c"] and not actions.wake_needed(s)
    assert ti_states(dags, "chain", "r1")[("b", -1)] == "upstream_failed"
    with dags.session_scope() as s:
        actions.set_task_instance_state(s, ALICE, "chain", "r1", "b", None, "success", include_downstream=True,
                                        now=NOW)
        assert actions.wake_needed(s)
    assert ti_states(dags, "chain", "r1") == {("a", -1): "failed", ("b", -1): "success", ("c", -1): "success"}
    assert run_state(dags, "chain", "r1") == "running"  # the scheduler decides its state again
    [entry] = audit(dags, "set_state")
    assert entry[3:5] == ("r1", "b") and entry[5]["task_ids"] == ["b", "c"] and entry[5]["state"] == "success"


def test_set_task_instance_state_past_future_and_errors(dags, config):
    for n, run_id in enumerate(("r1", "r2", "r3")):
        trigger(dags, config, run_id=run_id, logical_date=D1 + timedelta(days=n))
    with dags.session_scope() as s:
        marked = actions.set_task_instance_state(s, ALICE, "chain", "r2", "a", None, "skipped", include_future=True,
                                                 now=NOW)
        assert sorted(t.run_id for t in marked) == ["r2", "r3"]
    assert ti_states(dags, "chain", "r1")[("a", -1)] == "none"
    assert ti_states(dags, "chain", "r3")[("a", -1)] == "skipped"
    with dags.session_scope() as s:
        fails(actions.Invalid, "new_state", actions.set_task_instance_state, s, ALICE, "chain", "r1", "a", None,
              "running", now=NOW)
        fails(actions.NotFound, "task_id", actions.set_task_instance_state, s, ALICE, "chain", "r1", "zz", None,
              "success", now=NOW)
        fails(actions.NotFound, "task_id", actions.set_task_instance_state, s, ALICE, "chain", "r1", "a", 4,
              "success", now=NOW)
        fails(actions.NotFound, "dag_id", actions.set_task_instance_state, s, ALICE, "nope", "r1", "a", None,
              "success", now=NOW)


def test_delete_task_instance_takes_its_rows_and_note(dags, config):
    trigger(dags, config)
    with dags.session_scope() as s:
        actions.set_task_instance_note(s, ALICE, "chain", "r1", "b", -1, "gone soon", now=NOW)
    set_states(dags, "chain", "r1", {"b": "running"})
    with dags.session_scope() as s:
        fails(actions.Conflict, "task_id", actions.delete_task_instance, s, ALICE, "chain", "r1", "b", now=NOW)
    set_states(dags, "chain", "r1", {"b": "failed"})
    with dags.session_scope() as s:
        assert actions.delete_task_instance(s, ALICE, "chain", "r1", "b", now=NOW) == 1
        fails(actions.NotFound, "task_id", actions.delete_task_instance, s, ALICE, "chain", "r1", "b", now=NOW)
    assert set(ti_states(dags, "chain", "r1")) == {("a", -1), ("c", -1)}
    with dags.read_scope() as s:
        assert s.scalars(select(TaskInstanceNote)).all() == []
    assert audit(dags, "delete_task_instance")[0][3:] == ("r1", "b", {"rows": 1, "source": "api"})


# ------------------------------------------------------------------------ notes
def test_run_and_task_instance_notes_round_trip_and_are_capped(dags, config):
    trigger(dags, config)
    with dags.session_scope() as s:
        first = actions.set_run_note(s, ALICE, "chain", "r1", "first", now=NOW)
        created = first.created_at
        actions.set_run_note(s, actions.Actor("bob", "ui"), "chain", "r1", "y" * 1000, now=NOW + timedelta(1))
        actions.set_task_instance_note(s, ALICE, "chain", "r1", "b", -1, "flaky", now=NOW)
    with dags.read_scope() as s:
        run = actions.find_run(s, "chain", "r1")
        row = s.get(DagRunNote, run.id)
        assert (row.content, row.user_id, row.created_at, row.updated_at) == ("y" * 1000, "bob", created,
                                                                             NOW + timedelta(1))
        ti = actions.find_task_instance(s, "chain", "r1", "b")
        assert ti_notes(s, [ti.id]) == {ti.id: "flaky"} and ti.note is None  # the scheduler's reason stays apart
    with dags.session_scope() as s:
        message = fails(actions.Invalid, "note", actions.set_task_instance_note, s, ALICE, "chain", "r1", "b", -1,
                        "z" * 1001, now=NOW)
        assert message == "note is 1001 characters long; a note may have at most 1000"
        fails(actions.NotFound, "task_id", actions.set_task_instance_note, s, ALICE, "chain", "r1", "b", 3, "x",
              now=NOW)
        fails(actions.NotFound, "dag_run_id", actions.set_run_note, s, ALICE, "chain", "r7", "x", now=NOW)
        actions.set_run_note(s, ALICE, "chain", "r1", "", now=NOW)  # "" clears
        assert run_notes(s, [actions.find_run(s, "chain", "r1").id]) == {actions.find_run(s, "chain", "r1").id: None}
        assert not actions.wake_needed(s)
    events = [(e[0], e[1], e[5]["source"]) for e in audit(dags) if e[0].endswith("set_note")]
    assert events == [("dag_run.set_note", "alice", "api"), ("dag_run.set_note", "bob", "ui"),
                      ("task_instance.set_note", "alice", "api"), ("dag_run.set_note", "alice", "api")]
    with dags.read_scope() as s:
        assert len(s.scalars(select(TaskInstanceNote)).all()) == 1


# ------------------------------------------------------------------------ DAGs
def test_set_paused_records_changes_only_and_wakes_on_unpause(dags):
    with dags.session_scope() as s:
        assert actions.set_paused(s, ALICE, "chain", True, now=NOW) is True and not actions.wake_needed(s)
        assert actions.set_paused(s, ALICE, "chain", True, now=NOW) is False
    with dags.session_scope() as s:
        assert actions.set_paused(s, ALICE, "chain", False, now=NOW) is True and actions.wake_needed(s)
        fails(actions.NotFound, "dag_id", actions.set_paused, s, ALICE, "nope", True, now=NOW)
    assert [e[0] for e in audit(dags)] == ["paused", "unpaused"]


def test_delete_dag_refuses_while_running_then_deletes(dags, config):
    trigger(dags, config)
    set_states(dags, "chain", "r1", {"a": "running"})
    with dags.session_scope() as s:
        fails(actions.Conflict, "dag_id", actions.delete_dag, s, ALICE, "chain", now=NOW)
    set_states(dags, "chain", "r1", {"a": "failed"})
    with dags.session_scope() as s:
        assert actions.delete_dag(s, ALICE, "chain", now=NOW) > 4
        fails(actions.NotFound, "dag_id", actions.delete_dag, s, ALICE, "chain", now=NOW)
    assert audit(dags, "delete_dag")[0][2] == "chain"


# ------------------------------------------------------------------------ backfills
def test_backfill_create_dry_run_conflict_and_conf_limit(dags, config):
    window = {"from_date": D1, "to_date": D1 + timedelta(days=2)}
    with dags.session_scope() as s:
        dry = actions.create_backfill(s, ALICE, "daily", dry_run=True, config=config, now=NOW, **window)
        assert dry.backfill is None and len(dry.plan) == 3 and not actions.wake_needed(s)
        message = fails(actions.Invalid, "dag_run_conf", actions.create_backfill, s, ALICE, "daily",
                        dag_run_conf={"b": "x" * 70_000}, config=config, now=NOW, **window)
        assert "[core] max_conf_size allows 65536" in message
        fails(actions.Invalid, "from_date", actions.create_backfill, s, ALICE, "daily", from_date=D1 + timedelta(9),
              to_date=D1, config=config, now=NOW)
        fails(actions.Invalid, "dag_id", actions.create_backfill, s, ALICE, "chain", config=config, now=NOW, **window)
        fails(actions.Invalid, "to_date", actions.create_backfill, s, ALICE, "daily", from_date=D1,
              to_date=datetime(2024, 1, 3), config=config, now=NOW)
    assert audit(dags) == []
    with dags.session_scope() as s:
        made = actions.create_backfill(s, ALICE, "daily", max_active_runs=2, config=config, now=NOW, **window)
        assert made.backfill.max_active_runs == 2 and len(made.plan) == 3 and actions.wake_needed(s)
        backfill_id = made.backfill.id
    with dags.session_scope() as s:
        fails(actions.Conflict, "dag_id", actions.create_backfill, s, ALICE, "daily", config=config, now=NOW,
              **window)
    [entry] = audit(dags, "backfill.create")
    assert entry[5]["backfill_id"] == backfill_id and entry[5]["max_active_runs"] == 2


def test_backfill_pause_unpause_cancel(dags, config):
    with dags.session_scope() as s:
        backfill_id = actions.create_backfill(s, ALICE, "daily", from_date=D1, to_date=D1, config=config,
                                              now=NOW).backfill.id
    with dags.session_scope() as s:
        assert actions.pause_backfill(s, ALICE, backfill_id, now=NOW).is_paused is True
        assert not actions.wake_needed(s)
    with dags.session_scope() as s:
        assert actions.unpause_backfill(s, ALICE, backfill_id, now=NOW).is_paused is False
        assert actions.wake_needed(s)
    with dags.session_scope() as s:
        assert actions.cancel_backfill(s, ALICE, backfill_id, now=NOW).completed_at is not None
    with dags.session_scope() as s:
        for act in (actions.pause_backfill, actions.unpause_backfill, actions.cancel_backfill):
            fails(actions.Conflict, "backfill_id", act, s, ALICE, backfill_id, now=NOW)
        fails(actions.NotFound, "backfill_id", actions.pause_backfill, s, ALICE, 999, now=NOW)
    assert [e[0] for e in audit(dags)] == ["backfill.create", "backfill.pause", "backfill.unpause", "backfill.cancel"]


def test_actor_via_is_checked():
    with pytest.raises(ValueError, match="via"):
        actions.Actor("x", "email")
