"""Acceptance criterion 4: retries with a delay and execution_timeout under the real
``tradewind scheduler`` and the local executor, with the per-try log files on disk."""

from __future__ import annotations

import itertools
import re

import pytest
from resilience_support import Cluster, pid_gone

DAG_FILE = '''
from datetime import datetime, timedelta
from pathlib import Path
from tradewind import DAG, BashOperator, PythonOperator

STATE = Path("STATE_PATH")

def flaky():
    # Fails on the first two tries, succeeds on the third; the count survives the try process.
    n = int(STATE.read_text()) if STATE.exists() else 0
    STATE.write_text(str(n + 1))
    print(f"flaky stdout attempt {n + 1}")
    if n < 2:
        raise RuntimeError(f"planned failure {n + 1}")
    print("flaky stdout succeeded")

with DAG("retrying", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="flaky", python_callable=flaky, retries=2, retry_delay=timedelta(seconds=1))
    BashOperator(
        task_id="too_slow",
        bash_command="sleep 60 & echo $! > PID_PATH; wait $!",
        execution_timeout=timedelta(seconds=2),
    )
'''

#: Airflow's line shape: ``[2024-01-01T00:00:00.123+0000] {source} LEVEL - message``.
TIMESTAMPED = re.compile(r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000\] \{[^}]+\} [A-Z]+ - ")


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path / "home")
    c.ok("db", "migrate")
    yield c
    c.close()


def test_retries_with_delay_and_execution_timeout(cluster):
    pid_file = cluster.path / "sleep.pid"
    cluster.add_dag("retrying_dag.py", DAG_FILE.replace("STATE_PATH", str(cluster.path / "flaky.count"))
                    .replace("PID_PATH", str(pid_file)))
    cluster.ok("dags", "trigger", "retrying", "--run-id", "r1")
    cluster.start()
    cluster.wait(lambda: cluster.run_states("retrying")[0] in ("success", "failed"), what="the run to end")

    tis = cluster.tis("retrying")
    assert (tis["flaky"]["state"], tis["flaky"]["try_number"]) == ("success", 3)
    assert (tis["too_slow"]["state"], tis["too_slow"]["try_number"]) == ("failed", 1)
    assert cluster.run_states("retrying") == ["failed"]

    # retry_delay is honoured: each retry starts at least a second after the previous try ended.
    tries = cluster.rows("SELECT try_number, state, start_date, end_date, error FROM task_instance_try "
                         "WHERE task_id = 'flaky' ORDER BY try_number")
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "failed"), (3, "success")]
    assert "planned failure 1" in tries[0]["error"] and "planned failure 2" in tries[1]["error"]
    for before, after in itertools.pairwise(tries):
        gap = _parse(after["start_date"]) - _parse(before["end_date"])
        assert gap.total_seconds() >= 1.0, (before, after)

    # One log file per attempt, every line timestamped, the task's stdout in it.
    task_dir = cluster.path / "logs" / "dag_id=retrying" / "run_id=r1" / "task_id=flaky"
    assert sorted(p.name for p in task_dir.iterdir()) == ["attempt=1.log", "attempt=2.log", "attempt=3.log"]
    for n in (1, 2, 3):
        lines = (task_dir / f"attempt={n}.log").read_text().splitlines()
        assert TIMESTAMPED.match(lines[0]), lines
        assert any(f"flaky stdout attempt {n}" in line and TIMESTAMPED.match(line) for line in lines), lines
    assert "flaky stdout succeeded" in (task_dir / "attempt=3.log").read_text()
    assert "planned failure 1" in (task_dir / "attempt=1.log").read_text()

    # execution_timeout ended the bash task well before its sleep would, and the sleep is gone.
    slow_try = cluster.rows("SELECT start_date, end_date, error FROM task_instance_try WHERE task_id = 'too_slow'")[0]
    assert "timed out" in slow_try["error"].lower() or "timeout" in slow_try["error"].lower(), slow_try["error"]
    assert (_parse(slow_try["end_date"]) - _parse(slow_try["start_date"])).total_seconds() < 30
    sleep_pid = int(pid_file.read_text())
    cluster.wait(lambda: pid_gone(sleep_pid), deadline=10, what="the timed-out task's sleep to be gone")
    slow_log = (cluster.path / "logs" / "dag_id=retrying" / "run_id=r1" / "task_id=too_slow" / "attempt=1.log")
    assert "execution_timeout" in slow_log.read_text() or "timed out" in slow_log.read_text()
    assert cluster.stop() == 0, cluster.output()


def _parse(value):
    from datetime import datetime

    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
