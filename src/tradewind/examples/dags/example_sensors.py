"""Sensors: wait for the day's interval to close, a file to land and settle, then load it."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

from tradewind import DAG, BashSensor, FileSensor, PokeReturnValue, TimeDeltaSensor, task

with DAG(
    dag_id="example_sensors",
    description="Wait for the interval to close, for a file to land and to stop changing, then load it",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "sensors"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Sensors

1. `interval_closed` (TimeDeltaSensor) waits until 30 minutes after the run's data interval
   ends, in **reschedule** mode: between pokes it gives its worker slot back.
2. `land_file` writes the day's orders file under `[core] data_folder`.
3. `wait_for_file` (FileSensor) waits for `example_sensors/<ds>/orders.csv` (relative paths
   are read under the data folder).
4. `file_settled` (`@task.sensor`, reschedule mode) waits until the file has not changed for a
   second, and returns its row count as its XCom (`PokeReturnValue`).
5. `file_not_empty` (BashSensor) pokes with `test -s`: exit code 0 means done.
6. `load` reports the row count.
""",
) as dag:
    interval_closed = TimeDeltaSensor(task_id="interval_closed", delta=timedelta(minutes=30), mode="reschedule",
                                      poke_interval=60, timeout=timedelta(hours=6))

    @task
    def land_file(ds: str) -> str:
        from tradewind.config import Config

        path = Path(Config.load().data_folder) / "example_sensors" / ds / "orders.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("order_id,amount\n1,9.50\n2,12.00\n3,4.25\n", encoding="utf-8")
        return str(path)

    wait_for_file = FileSensor(task_id="wait_for_file", filepath="example_sensors/{{ ds }}/orders.csv",
                               poke_interval=5, timeout=600, mode="reschedule")

    @task.sensor(poke_interval=1, timeout=120, mode="reschedule")
    def file_settled(path: str) -> PokeReturnValue:
        # A file still being written changes; wait until it has been quiet for a second.
        quiet_for = time.time() - os.path.getmtime(path)
        rows = sum(1 for _ in open(path, encoding="utf-8")) - 1
        return PokeReturnValue(is_done=quiet_for >= 1.0, xcom_value=rows)

    file_not_empty = BashSensor(task_id="file_not_empty",
                                bash_command="test -s \"{{ ti.xcom_pull(task_ids='land_file') }}\"",
                                poke_interval=5, timeout=60)

    @task
    def load(rows: int) -> str:
        message = f"loaded {rows} orders"
        print(message)
        return message

    landed = land_file()
    settled = file_settled(landed)
    interval_closed >> landed >> wait_for_file >> settled >> file_not_empty
    file_not_empty >> load(settled)
