"""``dag.test()``: ``python my_dag.py`` runs the DAG as ``tradewind dags test`` does (a child process).

The file imports ``tradewind``: a plain ``python`` process has no ``airflow`` import shim (only
Tradewind's own processes install it), so ``from airflow ...`` files need it installed first; the
last test does that with ``tradewind.compat.install()`` and ``runpy``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from tradewind import DAG

DAG_FILE = '''
import json
from datetime import datetime

from tradewind import DAG, Variable, task
from tradewind.definition.connection import Connection


with DAG("tutorial_selftest", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    @task
    def extract(**context):
        conn = Connection.get("my_db")
        return {"rows": Variable.get("rows", deserialize_json=True), "host": conn.host,
                "conf": context["dag_run"].conf, "date": context["ds"]}

    @task
    def report(data):
        print("REPORT " + json.dumps(data, sort_keys=True))
        if data["conf"].get("fail"):
            raise ValueError("asked to fail")

    @task(trigger_rule=__import__("os").environ.get("CLEANUP_RULE", "all_done"))
    def cleanup():
        pass

    report(extract()) >> cleanup()


if __name__ == "__main__":
    result = dag.test(
        execution_date=datetime(2024, 3, 5),
        run_conf=json.loads(__import__("os").environ.get("RUN_CONF", "{}")),
        conn_file_path=__import__("os").environ.get("CONN_FILE"),
        variable_file_path=__import__("os").environ.get("VAR_FILE"),
    )
    print("RESULT " + json.dumps({"state": result.state, "tasks": result.task_states}, sort_keys=True))
'''


def _migrated_home(tmp_path: Path) -> Path:
    """As with Airflow's dag.test(), the metadata database must exist first."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env["TRADEWIND_HOME"] = str(home)
    subprocess.run([sys.executable, "-m", "tradewind.observe.cli.main", "db", "migrate"], env=env, check=True,
                   capture_output=True, timeout=120)
    return home


def _run_file(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    home = _migrated_home(tmp_path)
    dag_file = tmp_path / "my_dag.py"
    dag_file.write_text(textwrap.dedent(DAG_FILE))
    (tmp_path / "connections.json").write_text(json.dumps({"my_db": {"conn_type": "postgres", "host": "db.example"}}))
    (tmp_path / "variables.yaml").write_text("rows:\n  - 1\n  - 2\n")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    full_env.update({"TRADEWIND_HOME": str(home), "CONN_FILE": str(tmp_path / "connections.json"),
                     "VAR_FILE": str(tmp_path / "variables.yaml"), **env})
    return subprocess.run([sys.executable, str(dag_file)], capture_output=True, text=True, env=full_env,
                          timeout=180, cwd=tmp_path)


def _result(out: str) -> dict:
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_python_dag_file_runs_the_dag_with_conf_connections_and_variables(tmp_path: Path) -> None:
    proc = _run_file(tmp_path, RUN_CONF='{"who": "me"}')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[dags test] extract: success" in proc.stdout
    assert "[dags test] report: success" in proc.stdout
    report = next(line for line in proc.stdout.splitlines() if line.lstrip().startswith("REPORT ")
                  or "REPORT {" in line)
    data = json.loads(report[report.index("REPORT ") + 7:])
    assert data == {"rows": [1, 2], "host": "db.example", "conf": {"who": "me"}, "date": "2024-03-05"}
    assert _result(proc.stdout) == {"state": "success",
                                    "tasks": {"extract": "success", "report": "success", "cleanup": "success"}}


def test_a_failing_task_gives_airflow_states(tmp_path: Path) -> None:
    proc = _run_file(tmp_path, RUN_CONF='{"fail": true}', CLEANUP_RULE="all_success")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # the script itself ends normally
    assert _result(proc.stdout) == {"state": "failed", "tasks": {
        "extract": "success", "report": "failed", "cleanup": "upstream_failed"}}
    assert "asked to fail" in proc.stdout + proc.stderr


def test_the_leaf_decides_the_run_state_as_in_airflow(tmp_path: Path) -> None:
    # The only leaf (all_done) succeeds after report failed: Airflow marks such a run success.
    proc = _run_file(tmp_path / "leaf", RUN_CONF='{"fail": true}')
    assert _result(proc.stdout) == {"state": "success", "tasks": {
        "extract": "success", "report": "failed", "cleanup": "success"}}


def test_unsupported_arguments_are_refused_naming_them(tmp_path: Path) -> None:
    dag = DAG("refusals", start_date=datetime(2024, 1, 1))
    with pytest.raises(TypeError, match="use_executor"):
        dag.test(use_executor=True)
    with pytest.raises(TypeError, match="mark_success_pattern"):
        dag.test(mark_success_pattern="x.*")
    with pytest.raises(TypeError, match="one of execution_date, logical_date, run_after"):
        dag.test(datetime(2024, 1, 1), logical_date=datetime(2024, 1, 2))


def test_bad_connection_file_names_the_argument(tmp_path: Path) -> None:
    dag_file = tmp_path / "refuse_dag.py"
    dag_file.write_text("from tradewind import DAG\nd = DAG('refuse_files')\n")
    namespace: dict = {"__file__": str(dag_file), "__name__": "refuse_dag"}
    exec(compile(dag_file.read_text(), str(dag_file), "exec"), namespace)
    dag = namespace["d"]
    with pytest.raises(FileNotFoundError, match="conn_file_path"):
        dag.test(conn_file_path=str(tmp_path / "missing.json"))
    (tmp_path / "conns.txt").write_text("x")
    with pytest.raises(ValueError, match=r"conn_file_path.*\.json, \.yaml"):
        dag.test(conn_file_path=str(tmp_path / "conns.txt"))


def test_no_database_raises_naming_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dag_file = tmp_path / "nodb_dag.py"
    dag_file.write_text("from tradewind import DAG, task\nwith DAG('nodb') as d:\n    task(lambda: 1, task_id='t')()\n")
    namespace: dict = {"__name__": "nodb_dag"}
    exec(compile(dag_file.read_text(), str(dag_file), "exec"), namespace)
    monkeypatch.setenv("TRADEWIND_HOME", str(tmp_path / "empty_home"))
    with pytest.raises(RuntimeError, match="could not start a run"):
        namespace["d"].test()


def test_an_airflow_import_file_runs_once_the_shim_is_installed(tmp_path: Path) -> None:
    source = textwrap.dedent(DAG_FILE).replace("from tradewind import DAG, Variable, task",
                                               "from airflow.sdk import DAG, Variable, task")
    source = source.replace("from tradewind.definition.connection import Connection",
                            "from airflow.sdk import Connection")
    (tmp_path / "airflow_dag.py").write_text(source)
    (tmp_path / "connections.env").write_text("my_db=postgres://u:p@envhost:5432/x\n")
    (tmp_path / "variables.json").write_text(json.dumps({"rows": [3]}))
    runner = ("import runpy, sys, tradewind.compat; tradewind.compat.install(); "
              "runpy.run_path(sys.argv[1], run_name='__main__')")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env.update({"TRADEWIND_HOME": str(_migrated_home(tmp_path)), "CONN_FILE": str(tmp_path / "connections.env"),
                "VAR_FILE": str(tmp_path / "variables.json")})
    proc = subprocess.run([sys.executable, "-c", runner, str(tmp_path / "airflow_dag.py")], capture_output=True,
                          text=True, env=env, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _result(proc.stdout)["state"] == "success"
    assert '"host": "envhost"' in proc.stdout and '"rows": [3]' in proc.stdout


def test_a_file_in_the_dags_folder_leaves_the_other_dags_active(tmp_path: Path) -> None:
    home = _migrated_home(tmp_path)
    dags = home / "dags"
    dags.mkdir(exist_ok=True)
    (dags / "other_dag.py").write_text("from tradewind import DAG, task\nwith DAG('other_dag'):\n"
                                       "    task(lambda: 1, task_id='t')()\n")
    (dags / "my_dag.py").write_text(textwrap.dedent(DAG_FILE))
    (tmp_path / "connections.json").write_text(json.dumps({"my_db": "postgres://h:1/x"}))
    (tmp_path / "variables.yaml").write_text("rows: 1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env.update({"TRADEWIND_HOME": str(home), "TRADEWIND__CORE__LOAD_EXAMPLES": "False",
                "CONN_FILE": str(tmp_path / "connections.json"), "VAR_FILE": str(tmp_path / "variables.yaml")})
    cli = [sys.executable, "-m", "tradewind.observe.cli.main"]
    subprocess.run([*cli, "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.run([sys.executable, str(dags / "my_dag.py")], capture_output=True, text=True, env=env,
                          timeout=180, cwd=tmp_path)
    assert _result(proc.stdout)["state"] == "success", proc.stdout + proc.stderr
    assert "outside the DAGs folder" not in proc.stderr
    listed = subprocess.run([*cli, "dags", "list", "-o", "json"], env=env, capture_output=True, text=True,
                            timeout=120, check=True)
    assert {row["dag_id"] for row in json.loads(listed.stdout)} == {"other_dag", "tutorial_selftest"}


def test_a_file_outside_the_dags_folder_says_what_it_does(tmp_path: Path) -> None:
    proc = _run_file(tmp_path)
    assert _result(proc.stdout)["state"] == "success", proc.stdout + proc.stderr
    assert "is outside the DAGs folder" in proc.stderr and "marks the DAGs of other files inactive" in proc.stderr
