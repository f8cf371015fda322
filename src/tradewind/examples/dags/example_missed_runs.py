"""An hourly DAG that only catches up on the last six hours it missed (``missed_runs``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from tradewind import DAG, task

with DAG(
    dag_id="example_missed_runs",
    description="Hourly snapshot that catches up at most six missed hours",
    schedule="@hourly",
    start_date=datetime(2024, 1, 1),
    # If the scheduler was down (or the DAG paused) for a day, only the runs that were due in the
    # last six hours are created; older hours are skipped. "all" = catchup=True, "latest" =
    # catchup=False, "none" = skip every missed run.
    missed_runs=timedelta(hours=6),
    is_paused_upon_creation=True,
    tags=["example"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Missed-run policy

`missed_runs=timedelta(hours=6)`: after an outage, runs whose time passed more than six hours
ago are skipped, the newer ones are created at once, oldest first.

See what the scheduler would do, without running anything:

    tradewind dags simulate example_missed_runs --fresh --from 2024-03-01T12:30 --to 2024-03-01T15:00
    tradewind dags next-execution example_missed_runs -n 3 -o table
""",
) as dag:

    @task
    def snapshot(data_interval_start=None, data_interval_end=None) -> str:
        """Record which hour this run covers (the data interval the scheduler gave it)."""
        covered = f"{data_interval_start:%Y-%m-%d %H:%M} to {data_interval_end:%H:%M}"
        print(f"snapshot of the hour {covered}")
        return covered

    snapshot()
