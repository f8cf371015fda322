"""``LatestOnlyOperator``: let the direct downstream tasks run only in the latest scheduled interval.

A scheduled run is "latest" while the clock is inside the window that follows it:
``data_interval_end <= now < next run's data_interval_end`` (the next run from the
DAG's timetable). Catch-up and backfill runs of older intervals fall outside and
skip their direct downstream tasks (the rest follow their trigger rules).
Manually triggered runs, and runs with no following interval, never skip.
"""

from __future__ import annotations

from typing import Any

from tradewind.definition import timezone as tz_helpers
from tradewind.definition.operators import datetime_branch
from tradewind.definition.operators.datetime_branch import BaseBranchOperator

__all__ = ["LatestOnlyOperator"]


def _run_type(dag_run: Any) -> str:
    value = getattr(dag_run, "run_type", None)
    return str(getattr(value, "value", value) or "")


class LatestOnlyOperator(BaseBranchOperator):
    """Skips all direct downstream tasks unless this run is the latest scheduled one."""

    ui_color = "#e9ffdb"

    def choose_branch(self, context: dict[str, Any]) -> list[str]:
        log = self.task_logger(context)
        everything = sorted(self.downstream_task_ids)
        dag_run = context.get("dag_run")
        if _run_type(dag_run) == "manual" or getattr(dag_run, "external_trigger", False):
            log.info("Manually triggered DAG run: allowing execution to proceed")
            return everything
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        timetable = getattr(self.dag, "timetable", None)
        if start is None or end is None or timetable is None:
            log.info("The run has no data interval or the DAG no timetable: allowing execution to proceed")
            return everything
        from tradewind.definition.timetables import DataInterval, TimeRestriction

        start, end = tz_helpers.to_utc(start), tz_helpers.to_utc(end)
        # Unrestricted (no start/end date, catchup on): the pure successor of this interval.
        next_info = timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(start, end),
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
        )
        if next_info is None:
            log.info("No further run is scheduled after this one: allowing execution to proceed")
            return everything
        now = tz_helpers.to_utc(datetime_branch.current_time())
        window_end = tz_helpers.to_utc(next_info.data_interval.end)
        log.info("Checking latest only: now %s, window [%s, %s)", now.isoformat(), end.isoformat(),
                 window_end.isoformat())
        if end <= now < window_end:
            log.info("This is the latest run: allowing execution to proceed")
            return everything
        log.info("Not the latest run: skipping downstream tasks %s", everything)
        return []
