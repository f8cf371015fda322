"""Asset-triggered runs, driven step by step: producer events recorded through the real query
functions, the scheduler (fake clock, stepping executor) creating the consumer's runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from schedhelp import FakeClock, SteppingExecutor, make_snapshot, runs, snapshot_to_dict, store_dag, task_dict
from tradewind.definition.assets import Asset, AssetOrTimeSchedule
from tradewind.definition.timetables import CronTriggerTimetable
from tradewind.persist.models import AssetDagRunQueue, DagModel, DagRunAssetEvent
from tradewind.persist.queries import assets as aq
from tradewind.persist.queries.dags import set_paused
from tradewind.workloads import TaskKey
from tradewind.schedule.scheduler import Scheduler
from tradewind.definition.assets import OutletEventAccessors

A, B, C = Asset("s3://bucket/a"), Asset("b"), Asset(name="c", uri="file:///data/c")


class World:
    """A producer DAG (one task per asset) and consumer DAGs stored as the parser would."""

    def __init__(self, config, db):
        self.db = db
        self.clock = FakeClock()
        self.ex = SteppingExecutor(db)
        self.sched = Scheduler(config, db, self.ex, clock=self.clock)
        producer = make_snapshot("producer", [
            task_dict(f"make_{a.name[-1]}", outlets=[a.to_dict()]) for a in (A, B, C)
        ])
        self.add(producer)

    def add(self, snap, *, paused=False):
        data = snapshot_to_dict(snap)
        with self.db.session_scope() as s:
            store_dag(s, snap, paused=paused, data=data)
            aq.sync_dag_assets(s, data, self.clock())
        return snap

    def consumer(self, dag_id, schedule, **kw):
        from tradewind.definition.timetables import timetable_from_schedule

        tt = timetable_from_schedule(schedule)
        snap = make_snapshot(dag_id, [task_dict("use")], timetable=tt.serialize(), timetable_summary=tt.summary)
        return self.add(snap, **kw)

    def produce(self, asset, extra=None, run_id="manual__1"):
        accessors = OutletEventAccessors([asset])
        if extra:
            accessors[asset].extra.update(extra)
        key = TaskKey("producer", run_id, f"make_{asset.name[-1]}", -1, 1)
        with self.db.session_scope() as s:
            aq.record_asset_events(s, [asset.to_dict()], extras=accessors.extras(),
                                   source=(key.dag_id, key.task_id, key.run_id, key.map_index), now=self.clock())

    def step(self):
        return self.sched.run_once()

    def runs(self, dag_id):
        return runs(self.db, dag_id)

    def queue_rows(self, dag_id):
        with self.db.session_scope() as s:
            return s.scalar(select(func.count()).select_from(AssetDagRunQueue)
                            .where(AssetDagRunQueue.target_dag_id == dag_id))


def test_single_asset_event_creates_one_asset_triggered_run(config, db):
    w = World(config, db)
    w.consumer("eats_a", [A])
    assert w.step() is False or w.runs("eats_a") == []
    assert w.runs("eats_a") == []
    w.clock.advance(minutes=1)
    w.produce(A, extra={"rows": 3})
    produced_at = w.clock()
    w.clock.advance(seconds=5)
    w.step()
    (run,) = w.runs("eats_a")
    assert run.run_type == "asset_triggered"
    assert run.run_id == f"asset_triggered__{w.clock().isoformat()}"
    assert run.logical_date == w.clock()
    assert run.data_interval_start == run.data_interval_end == produced_at
    assert run.triggered_by == "asset"
    assert w.queue_rows("eats_a") == 0
    with db.session_scope() as s:
        (event,) = aq.events_for_run(s, "eats_a", run.run_id)
    assert (event.name, event.uri, event.extra) == (A.name, A.uri, {"rows": 3})
    assert (event.source_dag_id, event.source_task_id, event.source_run_id) == ("producer", "make_a", "manual__1")
    # Nothing new: no second run however often the scheduler steps.
    w.clock.advance(minutes=1)
    w.step()
    w.step()
    assert len(w.runs("eats_a")) == 1


def test_list_means_all_assets_and_waits_for_each(config, db):
    w = World(config, db)
    w.consumer("eats_ab", [A, B])
    w.produce(A)
    w.clock.advance(seconds=1)
    w.produce(A)  # a second event for the same asset keeps one queue row
    w.step()
    assert w.runs("eats_ab") == []
    assert w.queue_rows("eats_ab") == 1
    w.clock.advance(seconds=1)
    w.produce(B)
    w.step()
    (run,) = w.runs("eats_ab")
    with db.session_scope() as s:
        events = aq.events_for_run(s, "eats_ab", run.run_id)
    assert [e.name for e in events] == [A.name, A.name, B.name]
    assert run.data_interval_start < run.data_interval_end


def test_or_creates_a_run_per_update_and_nested_conditions(config, db):
    w = World(config, db)
    w.consumer("eats_any", A | B)
    w.consumer("nested", A & (B | C))
    w.produce(B)
    w.step()
    assert len(w.runs("eats_any")) == 1
    assert w.runs("nested") == []
    w.clock.advance(seconds=1)
    w.produce(C)
    w.step()
    assert w.runs("nested") == []
    w.clock.advance(seconds=1)
    w.produce(A)
    w.step()
    assert len(w.runs("eats_any")) == 2
    (run,) = w.runs("nested")
    with db.session_scope() as s:
        names = sorted(e.name for e in aq.events_for_run(s, "nested", run.run_id))
    assert names == sorted([A.name, B.name, C.name])
    # The next nested run only counts events after this one.
    w.clock.advance(seconds=1)
    w.produce(A)
    w.step()
    assert len(w.runs("nested")) == 1


def test_paused_consumer_accumulates_and_runs_once_when_unpaused(config, db):
    w = World(config, db)
    w.consumer("sleepy", [A], paused=True)
    w.produce(A)
    w.clock.advance(seconds=1)
    w.produce(A)
    w.step()
    assert w.runs("sleepy") == []
    assert w.queue_rows("sleepy") == 1
    with db.session_scope() as s:
        set_paused(s, "sleepy", False)
    w.clock.advance(seconds=1)
    w.step()
    (run,) = w.runs("sleepy")
    with db.session_scope() as s:
        assert len(aq.events_for_run(s, "sleepy", run.run_id)) == 2


def test_asset_run_is_started_like_any_run(config, db):
    w = World(config, db)
    w.consumer("eats_a", [A])
    w.produce(A)
    w.step()
    w.step()
    assert [k.task_id for k in w.ex.keys()] == ["use"]
    assert w.ex.keys()[0].run_id.startswith("asset_triggered__")


def test_idle_evaluation_is_not_repeated_until_the_queue_changes(config, db):
    w = World(config, db)
    w.consumer("eats_ab", [A, B])
    w.produce(A)
    with db.session_scope() as s:
        assert w.sched.run_creation.asset_runs.pending(s)
    w.step()
    with db.session_scope() as s:
        assert not w.sched.run_creation.asset_runs.pending(s)  # evaluated; still waiting for B
    w.clock.advance(seconds=1)
    w.produce(B)
    with db.session_scope() as s:
        assert w.sched.run_creation.asset_runs.pending(s)


def test_rescheduled_dag_drops_queue_and_producer_failure_queues_nothing(config, db):
    w = World(config, db)
    snap = w.consumer("switch", [A])
    w.produce(A)
    assert w.queue_rows("switch") == 1
    timed = make_snapshot("switch", [task_dict("use")])
    w.add(timed)
    assert w.queue_rows("switch") == 0
    w.step()
    assert w.runs("switch") == []
    assert snap.dag_id == "switch"
    with db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(DagRunAssetEvent)) == 0


def test_asset_or_time_schedule_runs_on_both(config, db):
    w = World(config, db)
    tt = AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 * * * *", "UTC"), assets=[A])
    snap = make_snapshot("both", [task_dict("use")], timetable=tt.serialize(), timetable_summary=tt.summary,
                         start_date=(w.clock() + timedelta(minutes=1)).isoformat(), catchup=True)
    w.add(snap)
    assert snap.timetable_summary == "Asset or 0 * * * *"
    w.produce(A)
    w.step()
    assert [r.run_type for r in w.runs("both")] == ["asset_triggered"]
    w.clock.advance(minutes=30)
    w.step()
    assert len(w.runs("both")) == 1
    w.clock.advance(minutes=31)
    w.step()
    assert sorted(r.run_type for r in w.runs("both")) == ["asset_triggered", "scheduled"]


def test_inactive_consumer_is_ignored(config, db):
    w = World(config, db)
    w.consumer("gone", [A])
    with db.session_scope() as s:
        s.get(DagModel, "gone").is_active = False
    w.produce(A)
    w.step()
    assert w.runs("gone") == []
