"""One stored DAG driven by the real scheduler, a fake clock and a stepping executor
(shared by the setup/teardown, wait_for_downstream and consecutive-failure tests)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from schedhelp import FakeClock, SteppingExecutor, store_dag
from tradewind.persist.models import DagModel, DagRun
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler


class StepEnv:
    def __init__(self, config, db, snap) -> None:
        self.db, self.snap = db, snap
        self.clock = FakeClock()
        self.ex = SteppingExecutor(db)
        with db.session_scope() as s:
            self.version_id = store_dag(s, snap)
        self.sched = Scheduler(config, db, self.ex, clock=self.clock)

    def trigger(self, logical_date: datetime | None = None) -> str:
        with self.db.session_scope() as s:
            return create_manual_run(s, self.snap, self.version_id, logical_date=logical_date,
                                     now=self.clock()).run_id

    def step(self) -> bool:
        return self.sched.run_once()

    def queued(self, run_id: str | None = None) -> list[str]:
        return sorted(w.key.task_id for w in self.ex.queued if run_id is None or w.key.run_id == run_id)

    def complete(self, task_id: str, outcome: str = "success", *, run_id: str | None = None) -> str:
        """Finish ``task_id``'s queued try (of ``run_id`` when several runs have it queued)."""
        if run_id is not None:  # put the wanted run's workload first so take() finds it
            self.ex.queued.sort(key=lambda w: w.key.run_id != run_id)
        return self.ex.complete(task_id, outcome, snapshot=self.snap, now=self.clock())

    def run_state(self, run_id: str) -> str:
        with self.db.session_scope() as s:
            return s.scalars(select(DagRun.state).where(DagRun.run_id == run_id)).one()

    def is_paused(self) -> bool:
        with self.db.session_scope() as s:
            return s.get(DagModel, self.snap.dag_id).is_paused

    def drain(self, outcomes: dict[str, str]) -> None:
        """Step and complete queued tries (``outcomes[task_id]``, default success) until nothing is queued."""
        self.step()
        while self.ex.queued:
            w = self.ex.queued[0]
            self.complete(w.key.task_id, outcomes.get(w.key.task_id, "success"), run_id=w.key.run_id)
            self.step()
