"""Helpers for scheduler tests: snapshots built from dicts, a stepping executor, a fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from tradewind.schedule.executor_interface import BaseExecutor, ExecutorEvent, TaskKey, Workload
from tradewind.parse.snapshot import DagSnapshot, snapshot_hash
from tradewind.persist.models import DagModel, DagRun, DagVersion, TaskInstance
from tradewind.schedule import transitions as tr

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


class FakeClock:
    """An injectable clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def task_dict(task_id: str, upstream: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    return {"task_id": task_id, "operator": "EmptyOperator", "upstream": list(upstream), **extra}


def make_snapshot(dag_id: str, tasks: list[dict[str, Any]], **dag_fields: Any) -> DagSnapshot:
    """A DagSnapshot from task dicts; downstream lists are derived from upstream lists."""
    downstream: dict[str, list[str]] = {t["task_id"]: [] for t in tasks}
    for t in tasks:
        for up in t.get("upstream", []):
            downstream[up].append(t["task_id"])
    full = [{**t, "downstream": downstream[t["task_id"]]} for t in tasks]
    data = {
        "dag_id": dag_id,
        "fileloc": f"/dags/{dag_id}.py",
        "timetable": dag_fields.pop("timetable", {"__type": "null"}),
        "timetable_summary": dag_fields.pop("timetable_summary", "None"),
        "tasks": full,
        **dag_fields,
    }
    return DagSnapshot.from_dict(data)


def snapshot_to_dict(snap: DagSnapshot) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(snap)
    data["tasks"] = [asdict(t) for t in snap.tasks.values()]
    return data


def store_dag(session, snap: DagSnapshot, *, now: datetime = T0, paused: bool = False, data=None) -> int:
    """Insert DagModel + DagVersion rows (what the parser would store); returns the version id."""
    data = data if data is not None else snapshot_to_dict(snap)
    model = session.get(DagModel, snap.dag_id)
    if model is None:
        model = DagModel(dag_id=snap.dag_id, fileloc=snap.fileloc, is_paused=paused, is_active=True, tags=[])
        session.add(model)
    number = len(session.scalars(select(DagVersion).where(DagVersion.dag_id == snap.dag_id)).all()) + 1
    version = DagVersion(
        dag_id=snap.dag_id, version_number=number, snapshot_hash=snapshot_hash(data), snapshot=data,
        fileloc=snap.fileloc, created_at=now,
    )
    session.add(version)
    session.flush()
    model.latest_version_id = version.id
    model.max_active_runs = snap.max_active_runs
    model.max_active_tasks = snap.max_active_tasks
    session.flush()
    return version.id


class SteppingExecutor(BaseExecutor):
    """Records workloads; the test completes them through the real transitions."""

    name = "stepping"

    def __init__(self, db, parallelism: int = 32) -> None:
        super().__init__(parallelism)
        self.db = db
        self.queued: list[Workload] = []
        self.running: dict[TaskKey, Workload] = {}
        self.events: list[ExecutorEvent] = []
        self.history: list[TaskKey] = []

    def start(self) -> None:
        pass

    def queue_workload(self, workload: Workload) -> None:
        self.queued.append(workload)
        self.running[workload.key] = workload
        self.history.append(workload.key)

    def collect_events(self) -> list[ExecutorEvent]:
        out, self.events = self.events, []
        return out

    def slots_available(self) -> int:
        return self.parallelism - len(self.running)

    def end(self, *, wait: bool = True) -> None:
        pass

    def running_keys(self) -> set[TaskKey]:
        return set(self.running)

    # --- driving -------------------------------------------------------------
    def keys(self) -> list[TaskKey]:
        return [w.key for w in self.queued]

    def take(self, task_id: str) -> Workload:
        for w in self.queued:
            if w.key.task_id == task_id:
                self.queued.remove(w)
                return w
        raise AssertionError(f"{task_id} not queued; queued: {[w.key.task_id for w in self.queued]}")

    def complete(self, task_id: str, outcome: str = "success", *, snapshot: DagSnapshot, now: datetime,
                 skip: tuple[str, ...] = ()) -> str:
        """Claim and finish the queued try of ``task_id`` as the task runner would."""
        w = self.take(task_id)
        with self.db.session_scope() as s:
            ti = tr.claim_try(s, w.key, hostname="test", pid=1, now=now)
            assert ti is not None, f"could not claim {w.key}"
            if skip:
                tr.skip_tasks(s, w.key.dag_id, w.key.run_id, skip, now)
            state = tr.record_try_outcome(s, w.key, outcome, task=snapshot.task(task_id), now=now)
        del self.running[w.key]
        self.events.append(ExecutorEvent(w.key, 0 if outcome != "failed" else 1, recorded=True))
        return state

    def die(self, task_id: str, return_code: int = -9, *, claim: bool = True, now: datetime) -> TaskKey:
        """The try's process ends without recording anything."""
        w = self.take(task_id)
        if claim:
            with self.db.session_scope() as s:
                assert tr.claim_try(s, w.key, hostname="test", pid=1, now=now) is not None
        del self.running[w.key]
        self.events.append(ExecutorEvent(w.key, return_code, recorded=False))
        return w.key


def ti_states(db, dag_id: str, run_id: str | None = None) -> dict[str, str]:
    with db.session_scope() as s:
        q = select(TaskInstance).where(TaskInstance.dag_id == dag_id)
        if run_id is not None:
            q = q.where(TaskInstance.run_id == run_id)
        return {ti.task_id: ti.state for ti in s.scalars(q)}


def get_ti(db, dag_id: str, run_id: str, task_id: str) -> TaskInstance:
    with db.session_scope() as s:
        return s.scalars(select(TaskInstance).where(
            TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id, TaskInstance.task_id == task_id)).one()


def runs(db, dag_id: str) -> list[DagRun]:
    with db.session_scope() as s:
        return list(s.scalars(select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date, DagRun.id)))
