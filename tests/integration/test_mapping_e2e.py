"""Dynamic task mapping end to end: a mapped DAG file run by the real CLI (``tradewind dags test``),
then read back with ``tasks states-for-dag-run`` and from the database."""

from __future__ import annotations

import json
import sqlite3

import pytest

from cli_support import Home

MAPPED_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator, task, task_group

with DAG("mapped", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def make():
        return [1, 2, 3]

    @task(map_index_template="item {{ ti.map_index }}")
    def double(x, factor):
        return x * factor

    @task
    def collect(values):
        return values

    collect(double.partial(factor=2).expand(x=make()))

    BashOperator.partial(task_id="echo").expand(bash_command=["echo a-{{ ti.map_index }}", "echo b"])

    @task
    def nothing():
        return []

    @task
    def after_empty(values):
        return "ran"

    after_empty(double.override(task_id="double_empty").partial(factor=1).expand(x=nothing()))

    @task
    def pairs():
        return {"a": 1, "b": 2}

    @task
    def show(pair):
        return f"{pair[0]}={pair[1]}"

    collect.override(task_id="shown")(show.expand(pair=pairs()))

    @task_group
    def grp(v):
        @task
        def inc(v):
            return v + 100

        @task
        def neg(w):
            return -w

        return neg(inc(v))

    collect.override(task_id="grouped")(grp.expand(v=make()))
'''

TOO_LONG_DAG = '''
from datetime import datetime
from tradewind import DAG, task

with DAG("too_long", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    @task
    def make():
        return list(range(5))

    @task
    def use(x):
        return x

    @task
    def bad():
        return 7

    use.expand(x=make())
    use.override(task_id="use_int").expand(x=bad())
'''


def _xcoms(home: Home, dag_id: str) -> dict[tuple[str, int], object]:
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        rows = conn.execute("SELECT task_id, map_index, value FROM xcom WHERE dag_id = ? AND key = 'return_value'",
                            (dag_id,)).fetchall()
    finally:
        conn.close()
    return {(t, m): json.loads(v) for t, m, v in rows}


def _instances(home: Home, dag_id: str) -> tuple[str, dict[tuple[str, int], dict]]:
    run_id = home.json("dags", "list-runs", dag_id)[0]["run_id"]
    rows = home.json("tasks", "states-for-dag-run", dag_id, run_id)
    return run_id, {(r["task_id"], r["map_index"]): r for r in rows}


@pytest.fixture
def mapped_home(home: Home) -> Home:
    home.add_dag("mapped_dag.py", MAPPED_DAG)
    return home


@pytest.mark.slow
def test_mapped_dag_runs_every_instance_and_downstream_gets_the_list(mapped_home: Home) -> None:
    home = mapped_home
    result = home.run("dags", "test", "mapped", "2024-01-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "double[2]: success" in result.stdout
    _, tis = _instances(home, "mapped")
    states = {key: row["state"] for key, row in tis.items()}
    assert states[("make", -1)] == "success"
    assert [states[("double", i)] for i in range(3)] == ["success"] * 3
    assert ("double", -1) not in states and ("double", 3) not in states
    assert [states[("echo", i)] for i in range(2)] == ["success"] * 2
    # Mapping over an empty list skips the mapped task and, by trigger rule, its downstream.
    assert states[("double_empty", -1)] == "skipped" and states[("after_empty", -1)] == "skipped"
    xcoms = _xcoms(home, "mapped")
    assert [xcoms[("double", i)] for i in range(3)] == [2, 4, 6]
    assert xcoms[("collect", -1)] == [2, 4, 6]  # ordered by map index
    assert xcoms[("echo", 0)] == "a-0" and xcoms[("echo", 1)] == "b"
    assert xcoms[("shown", -1)] == ["a=1", "b=2"]  # a dict maps over its (key, value) items
    assert xcoms[("grouped", -1)] == [-101, -102, -103]  # neg[i] got inc[i]'s value
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        labels = conn.execute("SELECT map_index, rendered_map_index FROM task_instance WHERE task_id = 'double' "
                              "ORDER BY map_index").fetchall()
    finally:
        conn.close()
    assert labels == [(0, "item 0"), (1, "item 1"), (2, "item 2")]


@pytest.mark.slow
def test_tasks_test_runs_one_mapped_instance(mapped_home: Home) -> None:
    home = mapped_home
    assert home.run("dags", "test", "mapped", "2024-01-02").returncode == 0
    result = home.run("tasks", "test", "mapped", "echo", "2024-01-02", "--map-index", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "b" in result.stdout


@pytest.mark.slow
def test_input_too_long_or_not_a_list_fails_the_mapped_task_with_the_reason(home: Home) -> None:
    home.add_dag("too_long_dag.py", TOO_LONG_DAG)
    home.env["TRADEWIND__CORE__MAX_MAP_LENGTH"] = "3"
    result = home.run("dags", "test", "too_long", "2024-01-02")
    assert result.returncode == 1
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        rows = dict(conn.execute("SELECT task_id, state || ': ' || coalesce(note, '') FROM task_instance "
                                 "WHERE dag_id = 'too_long'").fetchall())
    finally:
        conn.close()
    assert rows["use"].startswith("failed: ")
    assert "'use'" in rows["use"] and "5 instances" in rows["use"] and "[core] max_map_length (3)" in rows["use"]
    assert rows["use_int"].startswith("failed: ") and "can only map over a list or a dict, got int 7" in rows["use_int"]
