"""Setup/teardown end to end through the real CLI: ``dags test`` runs the teardown after failed
work and takes the outcome from the work; ``tasks clear`` of a work task clears its setup and
teardown too."""

from __future__ import annotations

DAG_FILE = '''
from datetime import datetime
from tradewind import DAG, BashOperator

MARK = "MARK_PATH"

with DAG("st_e2e", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    make = BashOperator(task_id="make", bash_command=f"touch {MARK}")
    remove = BashOperator(task_id="remove", bash_command="REMOVE_COMMAND")
    with remove.as_teardown(setups=make):
        BashOperator(task_id="work", bash_command="WORK_COMMAND")
    other = BashOperator(task_id="other", bash_command="echo unrelated")
'''


def _dag(home, work: str, remove: str) -> None:
    mark = home.path / "resource"
    source = DAG_FILE.replace("MARK_PATH", str(mark)).replace("WORK_COMMAND", work)
    home.add_dag("st_dag.py", source.replace("REMOVE_COMMAND", remove.replace("MARK", str(mark))))


def _states(home) -> dict[str, str]:
    runs = home.json("dags", "list-runs", "st_e2e")
    return {t["task_id"]: t["state"] for t in home.json("tasks", "states-for-dag-run", "st_e2e", runs[0]["run_id"])}


def test_teardown_cleans_up_after_failed_work_and_the_work_decides_the_run(home):
    _dag(home, work="exit 1", remove="rm MARK")
    result = home.run("dags", "test", "st_e2e", "2024-03-02")
    assert result.returncode != 0, result.stdout  # the work failed: the run failed
    assert _states(home) == {"make": "success", "work": "failed", "remove": "success", "other": "success"}
    assert not (home.path / "resource").exists()  # the teardown ran and removed what the setup made

    cleared = home.run("tasks", "clear", "st_e2e", "-t", "^work$", "-y")
    assert cleared.returncode == 0, cleared.stdout + cleared.stderr
    assert "3 task instance(s) cleared." in cleared.stdout
    listed = [line.split() for line in cleared.stdout.splitlines() if line.startswith("  ")]
    assert {words[-2] for words in listed} == {"make", "work", "remove"}  # "<run_id>  <task_id>  (<state>)"


def test_a_failing_teardown_leaves_the_run_successful(home):
    _dag(home, work="echo working", remove="exit 3")
    result = home.run("dags", "test", "st_e2e", "2024-03-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _states(home) == {"make": "success", "work": "success", "remove": "failed", "other": "success"}
    assert home.json("dags", "list-runs", "st_e2e")[0]["state"] == "success"
