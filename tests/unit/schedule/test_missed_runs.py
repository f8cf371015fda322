"""The missed-run policy (``DAG(missed_runs=...)``) under the real scheduler and a fake clock.

Three ways runs get missed: a new DAG with an old start date, a scheduler that was down,
and a DAG that was paused. Each policy (all, latest, none, a window) is checked in each.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from schedhelp import T0, FakeClock, SteppingExecutor, runs, store_dag
from tradewind import DAG, EmptyOperator, MissedRuns
from tradewind.definition.exceptions import InvalidTaskArgumentError
from tradewind.definition.missed_runs import MISSED_RUN_GRACE
from tradewind.parse.snapshot import DagSnapshot, serialize_dag
from tradewind.persist.models import DagModel
from tradewind.schedule.runs import next_run_info
from tradewind.schedule.scheduler import Scheduler

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def build_dag(dag_id: str, schedule="@hourly", start=T0, **kwargs) -> DAG:
    with DAG(dag_id, schedule=schedule, start_date=start, max_active_runs=100, **kwargs) as dag:
        EmptyOperator(task_id="t")
    return dag


class World:
    """A DAG stored as the parser would store it, and a scheduler on a fake clock."""

    def __init__(self, config, db, dag: DAG, now) -> None:
        self.config, self.db, self.dag_id = config, db, dag.dag_id
        self.clock = FakeClock(now)
        data = serialize_dag(dag)
        self.snapshot = DagSnapshot.from_dict(data)
        with db.session_scope() as s:
            store_dag(s, self.snapshot, data=data, now=now)
        self.restart()

    def restart(self) -> None:
        """A new scheduler process (nothing kept in memory from the last one)."""
        self.scheduler = Scheduler(self.config, self.db, SteppingExecutor(self.db), clock=self.clock)

    def step_at(self, when) -> None:
        self.clock.now = when
        self.scheduler.run_once()

    def run_afters(self) -> list:
        return [r.run_after for r in runs(self.db, self.dag_id)]

    def set_paused(self, paused: bool) -> None:
        with self.db.session_scope() as s:
            s.get(DagModel, self.dag_id).is_paused = paused

    def next_create_after(self):
        with self.db.session_scope() as s:
            return s.scalar(select(DagModel.next_dagrun_create_after).where(DagModel.dag_id == self.dag_id))


POLICIES = {
    "all": {},
    "latest": {"missed_runs": "latest"},
    "none": {"missed_runs": "none"},
    "window": {"missed_runs": timedelta(hours=6)},
}


# ----------------------------------------------------------------------------- a new DAG
@pytest.mark.parametrize(
    ("policy", "expected_run_afters"),
    [
        ("all", [T0 + k * DAY for k in range(-6, 1)]),  # every daily interval since the start date
        ("latest", [T0]),
        ("none", []),
        ("window", [T0 - DAY, T0]),  # run_after within 36h before now (10:00)
    ],
)
def test_new_dag_with_old_start_date(config, db, policy, expected_run_afters):
    kwargs = {"all": {"catchup": True}, "latest": {}, "none": {"missed_runs": "none"},
              "window": {"missed_runs": MissedRuns.within(timedelta(hours=36))}}[policy]
    dag = build_dag(f"new_{policy}", schedule="@daily", start=T0 - 7 * DAY, **kwargs)
    world = World(config, db, dag, T0 + 10 * HOUR)
    world.scheduler.run_once()
    assert world.run_afters() == expected_run_afters
    # Whatever was skipped, the next run is tomorrow's, on time.
    assert world.next_create_after() == T0 + DAY
    world.step_at(T0 + DAY)
    assert world.run_afters() == expected_run_afters + [T0 + DAY]


# ------------------------------------------------------------------- scheduler down for a day
DOWN_EXPECTED = {
    "all": [T0 + k * HOUR for k in range(2, 26)],  # all 24 missed hours
    "latest": [T0 + 25 * HOUR],
    "none": [],
    "window": [T0 + k * HOUR for k in range(20, 26)],  # run_after within 6h before 01:20 next day
}


@pytest.mark.parametrize("policy", list(POLICIES))
def test_scheduler_down_for_a_day(config, db, policy):
    dag = build_dag(f"down_{policy}", **({"catchup": True} if policy == "all" else POLICIES[policy]))
    world = World(config, db, dag, T0 + 30 * timedelta(minutes=1))
    world.scheduler.run_once()
    assert world.run_afters() == []  # nothing due yet; the first interval ends at 01:00
    world.step_at(T0 + HOUR)
    assert world.run_afters() == [T0 + HOUR]  # on time: every policy creates it

    world.restart()  # the scheduler was down from 01:00 until 01:20 the next day
    world.step_at(T0 + 25 * HOUR + 20 * timedelta(minutes=1))
    assert world.run_afters() == [T0 + HOUR] + DOWN_EXPECTED[policy]
    assert world.next_create_after() == T0 + 26 * HOUR

    world.step_at(T0 + 26 * HOUR)  # back to normal: the next hour runs on time
    assert world.run_afters()[-1] == T0 + 26 * HOUR


# -------------------------------------------------------------------- a DAG paused for a day
@pytest.mark.parametrize("policy", list(POLICIES))
def test_dag_unpaused_after_a_day(config, db, policy):
    dag = build_dag(f"paused_{policy}", **({"catchup": True} if policy == "all" else POLICIES[policy]))
    world = World(config, db, dag, T0 + HOUR)
    world.scheduler.run_once()
    assert world.run_afters() == [T0 + HOUR]
    world.set_paused(True)
    world.step_at(T0 + 13 * HOUR)
    assert world.run_afters() == [T0 + HOUR]  # paused: nothing created
    world.set_paused(False)
    world.step_at(T0 + 25 * HOUR + 20 * timedelta(minutes=1))
    assert world.run_afters() == [T0 + HOUR] + DOWN_EXPECTED[policy]


# ---------------------------------------------------------------- on-time runs are never missed
@pytest.mark.parametrize("missed_runs", ["none", timedelta(seconds=10)])
def test_a_run_seen_within_the_grace_is_on_time(config, db, missed_runs):
    dag = build_dag("grace", missed_runs=missed_runs)
    world = World(config, db, dag, T0 + timedelta(minutes=30))
    world.scheduler.run_once()
    world.step_at(T0 + HOUR + MISSED_RUN_GRACE - timedelta(seconds=1))  # a busy scheduler, a bit late
    assert world.run_afters() == [T0 + HOUR]
    world.step_at(T0 + 2 * HOUR + MISSED_RUN_GRACE + timedelta(seconds=1))  # later than the grace: missed
    assert world.run_afters() == [T0 + HOUR]
    assert world.next_create_after() == T0 + 3 * HOUR


def test_none_with_a_once_schedule_in_the_past_never_runs():
    dag = build_dag("once_none", schedule="@once", start=T0, missed_runs="none")
    snap = DagSnapshot.from_dict(serialize_dag(dag))
    assert next_run_info(snap, None, T0 + DAY) is None
    assert next_run_info(snap, None, T0 - HOUR).run_after == T0  # a future start date still runs


def test_end_date_still_bounds_a_window():
    dag = build_dag("ended", end_date=T0 + 3 * HOUR, missed_runs=timedelta(hours=6))
    snap = DagSnapshot.from_dict(serialize_dag(dag))
    first = next_run_info(snap, None, T0 + 5 * HOUR)
    assert first.logical_date == T0  # run_after 01:00 is within 6h of 05:00
    last = next_run_info(snap, first.data_interval, T0 + 10 * HOUR)
    assert last.logical_date == T0 + 3 * HOUR  # 01:00-02:00 and 02:00-03:00 are older than 6h
    assert next_run_info(snap, last.data_interval, T0 + 10 * HOUR) is None  # past the end date


# ------------------------------------------------------------------------- the DAG argument
def test_catchup_maps_to_all_and_latest():
    assert build_dag("c1", catchup=True).missed_runs == MissedRuns("all")
    assert build_dag("c2", catchup=False).missed_runs == MissedRuns("latest")
    assert build_dag("c3").missed_runs == MissedRuns("latest")  # Airflow 3's default: catchup=False
    assert build_dag("c4", missed_runs="all").catchup is True
    assert build_dag("c5", missed_runs="none", catchup=False).catchup is False  # consistent: not catching up
    assert build_dag("c6", missed_runs=" None ").missed_runs == MissedRuns("none")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"catchup": True, "missed_runs": "latest"}, "catchup=True contradicts missed_runs='latest'"),
        ({"catchup": True, "missed_runs": timedelta(hours=1)}, "contradicts missed_runs='window 1:00:00'"),
        ({"catchup": False, "missed_runs": "all"}, "catchup=False contradicts missed_runs='all'"),
        ({"missed_runs": "some"}, "missed_runs must be 'all', 'latest', 'none', a timedelta window"),
        ({"missed_runs": timedelta(0)}, "missed_runs: a missed-run window must be a positive timedelta"),
        ({"missed_runs": 3600}, "got 3600"),
    ],
)
def test_bad_or_contradicting_arguments_name_the_dag(kwargs, message):
    with pytest.raises(InvalidTaskArgumentError) as err:
        build_dag("bad_policy", **kwargs)
    assert "DAG 'bad_policy'" in str(err.value)
    assert message in str(err.value)


def test_policy_round_trips_through_the_snapshot():
    for value, stored in [("all", "all"), ("latest", "latest"), ("none", "none"),
                          (timedelta(hours=6), {"window": 21600.0})]:
        data = serialize_dag(build_dag("rt", missed_runs=value))
        assert data["missed_runs"] == stored
        snap = DagSnapshot.from_dict(data)
        assert MissedRuns.deserialize(snap.missed_runs, catchup=snap.catchup) == build_dag("rt2", missed_runs=value).missed_runs


def test_snapshot_without_the_field_follows_catchup():
    assert MissedRuns.deserialize(None, catchup=True) == MissedRuns("all")
    assert MissedRuns.deserialize(None, catchup=False) == MissedRuns("latest")
