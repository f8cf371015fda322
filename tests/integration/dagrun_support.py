"""Run one DAG file through the real parser, scheduler and in-process executor; read back the
task states, XComs and task logs (for integration tests of operators against local servers)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tradewind.persist.db import utcnow
from tradewind.persist.models import DagRun, ImportError_, TaskInstance, XCom
from tradewind.persist.queries.dags import latest_snapshot, set_paused
from tradewind.schedule.dag_processor import DagProcessor
from tradewind.schedule.runs import create_manual_run
from tradewind.schedule.scheduler import Scheduler


@dataclass
class RunResult:
    state: str
    #: Task id -> state; a mapped instance is keyed ``task_id[map_index]``.
    states: dict[str, str]
    #: Task id -> its decoded ``return_value`` XCom (unmapped tasks).
    xcoms: dict[str, Any]
    logs: dict[str, str]
    run_id: str = ""
    #: (task id, map index) -> the ``return_value`` row's stored text, as the UI and API read it.
    raw_xcoms: dict[tuple[str, int], str] = field(default_factory=dict)


def run_dag(config: Any, db: Any, dag_id: str, source: str, *, max_steps: int = 200,
            logical_date: datetime | None = None) -> RunResult:
    """Write ``<dags>/<dag_id>.py``, parse it, trigger a manual run (at ``logical_date`` when
    given) and drive it to its end with the real scheduler and the in-process executor."""
    from tradewind.execute.executors.inprocess import InProcessExecutor

    (config.dags_folder / f"{dag_id}.py").write_text(textwrap.dedent(source))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as s:
        found = latest_snapshot(s, dag_id)
        if found is None:
            raise AssertionError(f"{dag_id} did not parse: {[e.message for e in s.scalars(select(ImportError_))]}")
        set_paused(s, dag_id, False)
        version, snapshot = found
        run_id = create_manual_run(s, snapshot, version.id, logical_date=logical_date, now=utcnow()).run_id
    scheduler = Scheduler(config, db, InProcessExecutor(config=config, db=db), only_run=(dag_id, run_id))
    state = "running"
    for _ in range(max_steps):
        scheduler.run_once()
        with db.read_scope() as s:
            state = s.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if state in ("success", "failed"):
            break
    with db.read_scope() as s:
        states = {f"{ti.task_id}[{ti.map_index}]" if ti.map_index >= 0 else ti.task_id: ti.state for ti in s.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id))}
        raw = {(x.task_id, x.map_index): x.value for x in s.scalars(
            select(XCom).where(XCom.dag_id == dag_id, XCom.run_id == run_id, XCom.key == "return_value"))}
    xcoms = {task_id: json.loads(value) for (task_id, map_index), value in raw.items() if map_index < 0}
    logs = {}
    for path in sorted(config.logs_folder.glob(f"dag_id={dag_id}/run_id={run_id}/task_id=*/**/attempt=*.log")):
        task_id = next(p for p in path.parts if p.startswith("task_id=")).split("=", 1)[1]
        logs[task_id] = logs.get(task_id, "") + path.read_text()
    return RunResult(state, states, xcoms, logs, run_id=run_id, raw_xcoms=raw)
