"""Deferrable tasks: wait without holding a worker slot, resume when a trigger fires.

Also deferrable sensors: ``TimeDeltaSensorAsync`` (and ``deferrable=True`` on the time
sensors and ``FileSensor``) wait in the triggerer instead of poking.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tradewind import DAG, BaseOperator, FileSensor, TimeDeltaSensorAsync, TimeDeltaTrigger, task


class WaitThenStamp(BaseOperator):
    """Defers for ``seconds``; resumed, returns when it started waiting and when it woke.

    While it waits, the task is ``deferred``: no process runs it, the triggerer's event
    loop holds its timer, and its slot runs other tasks.
    """

    def __init__(self, *, seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seconds = seconds

    def execute(self, context: dict[str, Any]) -> None:
        started = datetime.now().astimezone().isoformat(timespec="seconds")
        self.log.info("Waiting %ss without a worker slot", self.seconds)
        self.defer(trigger=TimeDeltaTrigger(timedelta(seconds=self.seconds)), method_name="execute_complete",
                   kwargs={"started": started}, timeout=timedelta(minutes=10))

    def execute_complete(self, context: dict[str, Any], event: datetime, started: str) -> dict[str, str]:
        # ``event`` is the trigger's payload: for a time trigger, the moment it fired at.
        return {"started": started, "fired_at": event.isoformat(timespec="seconds")}


with DAG(
    dag_id="example_deferrable",
    description="A task defers to a timer trigger, frees its slot, then resumes in execute_complete",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "deferrable"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Deferrable operators

`wait` calls `self.defer(trigger=TimeDeltaTrigger(...), method_name="execute_complete")`:
its process ends, the task instance becomes **deferred**, and the `triggerer` (started by
`tradewind standalone`) runs the timer in its event loop. When it fires the task is
scheduled again and a new process calls `execute_complete(context, event=...)`, whose
return value is the XCom `report` reads.

`settle` is a `TimeDeltaSensorAsync`: it defers to a `DateTimeTrigger` of the run's data
interval end plus 3 seconds (returning at once if that moment has passed), with its
`timeout` as the deferral timeout. `marker_arrived` is a `FileSensor(deferrable=True)`: it
pokes once, and would defer to a `FileTrigger` if the marker `drop_marker` wrote were not there.
""",
) as dag:
    wait = WaitThenStamp(task_id="wait", seconds=2)

    @task
    def report(stamps: dict[str, str]) -> str:
        return f"waited from {stamps['started']} until {stamps['fired_at']}"

    report(wait.output)

    settle = TimeDeltaSensorAsync(task_id="settle", delta=timedelta(seconds=3), timeout=timedelta(minutes=5))

    @task
    def drop_marker(run_id: str | None = None) -> str:
        folder = Path(tempfile.gettempdir()) / "tradewind_example_deferrable"
        folder.mkdir(exist_ok=True)
        marker = folder / f"{run_id}.done".replace(":", "_")
        marker.write_text("ready\n")
        return str(marker)

    marker = drop_marker()
    marker_arrived = FileSensor(task_id="marker_arrived", filepath=marker, deferrable=True, poke_interval=1,
                                timeout=timedelta(minutes=5))
    settle >> marker >> marker_arrived
