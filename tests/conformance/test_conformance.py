"""Airflow DAG files run unchanged: the conformance corpus and the seeds' tutorial DAGs.

``dags/airflow2`` and ``dags/airflow3`` hold DAG files written in the styles of Airflow 2 and 3
(``from airflow ...`` imports only); ``dags/seeds`` the tutorial DAGs of the seed documents. Each
folder becomes the DAGs folder of a fresh TRADEWIND_HOME; the real CLI parses it (no import error
allowed) and runs each DAG with ``tradewind dags test`` in a child process; the tests then read the
run's task states and XComs from the home's SQLite database.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).parent / "dags"
DATE = "2024-03-05"
RUN_ID = f"manual__{DATE}T00:00:00+00:00"
#: For DAGs whose start_date is days_ago(n): an earlier logical date would create no task instances.
TODAY = datetime.now(timezone.utc).strftime("%Y-%m-%d")
#: Airflow-style environment variables the corpus reads (Variable.get, var.value / var.json).
AIRFLOW_ENV = {
    "AIRFLOW_VAR_CONFORMANCE_REGION": "eu-west",
    "AIRFLOW_VAR_CONFORMANCE_SETTINGS": json.dumps({"batch": 50}),
    "AIRFLOW_CONN_CONFORMANCE_PG": "postgres://etl:s3cret@db.example.com:5433/warehouse",
    "AIRFLOW_CONN_CONFORMANCE_API": json.dumps({"conn_type": "http", "host": "api.example.com",
                                                "extra": {"timeout": 30}}),
}

pytestmark = pytest.mark.slow


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "tradewind"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradewind.observe.cli.main"]


class CorpusHome:
    """A TRADEWIND_HOME whose DAGs folder is a copy of one corpus folder."""

    def __init__(self, path: Path, folder: str, extra_env: dict[str, str] | None = None) -> None:
        self.path = path
        shutil.copytree(CORPUS / folder, path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW_"))}
        self.env.update(TRADEWIND_HOME=str(path), TRADEWIND__CORE__LOAD_EXAMPLES="False", **AIRFLOW_ENV)
        self.env.update(extra_env or {})

    def run(self, *args: str, timeout: float = 240,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_cli() + list(args), env={**self.env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args)
        assert proc.returncode == 0, f"tradewind {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def query(self, sql: str, *params: Any) -> list[tuple]:
        conn = sqlite3.connect(self.path / "tradewind.db")
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def run_state(self, dag_id: str, date: str = DATE) -> str:
        run_id = f"manual__{date}T00:00:00+00:00"
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        assert rows, f"no run {run_id} of {dag_id}"
        return rows[0][0]

    def states(self, dag_id: str, date: str = DATE) -> dict[str, str]:
        run_id = f"manual__{date}T00:00:00+00:00"
        rows = self.query("SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                          dag_id, run_id)
        return {(task if index < 0 else f"{task}[{index}]"): state for task, index, state in rows}

    def xcom(self, dag_id: str, task_id: str, key: str = "return_value", date: str = DATE) -> Any:
        run_id = f"manual__{date}T00:00:00+00:00"
        rows = self.query("SELECT map_index, value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = ? "
                          "AND run_id = ? ORDER BY map_index", dag_id, task_id, key, run_id)
        assert rows, f"no XCom {key!r} from {dag_id}.{task_id}"
        values = [json.loads(value) for _, value in rows]
        return values[0] if len(values) == 1 and rows[0][0] < 0 else values

    def dags_test(self, dag_id: str, date: str = DATE, extra_env: dict[str, str] | None = None) -> str:
        """Run ``dags test``; return the run's state (the exit code must agree with it)."""
        proc = self.run("dags", "test", dag_id, date, extra_env=extra_env)
        state = self.run_state(dag_id, date)
        assert (proc.returncode == 0) == (state == "success"), proc.stdout + proc.stderr
        assert state == "success", f"{dag_id}: {state}\n{proc.stdout}\n{proc.stderr}"
        return state


def _home(tmp_path_factory: pytest.TempPathFactory, folder: str) -> CorpusHome:
    home = CorpusHome(tmp_path_factory.mktemp(f"conformance_{folder}"), folder)
    home.ok("db", "migrate")
    return home


@pytest.fixture(scope="module")
def a2(tmp_path_factory: pytest.TempPathFactory) -> CorpusHome:
    return _home(tmp_path_factory, "airflow2")


@pytest.fixture(scope="module")
def a3(tmp_path_factory: pytest.TempPathFactory) -> CorpusHome:
    return _home(tmp_path_factory, "airflow3")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> CorpusHome:
    return _home(tmp_path_factory, "seeds")


# ----------------------------------------------------------------------------- parsing
AIRFLOW2_DAGS = {
    "a2_bash_basics", "a2_python_context", "a2_branching", "a2_task_groups", "a2_variables", "a2_sensors",
    "a2_taskflow", "a2_skip_and_short_circuit", "a2_templates", "a2_dynamic_acme", "a2_dynamic_globex",
    "a2_failure_handling", "a2_connections",
}
AIRFLOW3_DAGS = {
    "a3_taskflow", "a3_mapping", "a3_asset_producer", "a3_asset_consumer", "a3_providers_standard",
    "a3_branch_decorators", "a3_groups_and_chain", "a3_context_params", "a3_setup_teardown",
    "a3_trigger_and_latest",
}
SEED_DAGS = {"hello-airflow", "my_python_dag", "my_first_airflow_dag", "data_extract_pipeline"}


@pytest.mark.parametrize(("folder", "expected"), [
    ("airflow2", AIRFLOW2_DAGS), ("airflow3", AIRFLOW3_DAGS), ("seeds", SEED_DAGS),
])
def test_every_file_parses_without_import_errors(request: pytest.FixtureRequest, folder: str,
                                                 expected: set[str]) -> None:
    home: CorpusHome = request.getfixturevalue({"airflow2": "a2", "airflow3": "a3", "seeds": "seeds"}[folder])
    errors = json.loads(home.ok("dags", "list-import-errors", "-o", "json").stdout)
    assert errors == [], "\n\n".join(f"{e.get('filename')}:\n{e.get('message')}" for e in errors)
    listed = {d["dag_id"] for d in json.loads(home.ok("dags", "list", "-o", "json").stdout)}
    assert listed == expected


def test_no_corpus_file_imports_tradewind() -> None:
    """The corpus is plain Airflow code: it must reach Tradewind only through the ``airflow`` shims."""
    for path in CORPUS.rglob("*.py"):
        assert "tradewind" not in path.read_text(), path


# ----------------------------------------------------------------------------- Airflow 2 style
def test_a2_bash_basics(a2: CorpusHome) -> None:
    a2.dags_test("a2_bash_basics", TODAY)  # start_date=days_ago(2)
    assert set(a2.states("a2_bash_basics", TODAY).values()) == {"success"}
    day = datetime.strptime(TODAY, "%Y-%m-%d")
    assert a2.xcom("a2_bash_basics", "templated", date=TODAY) == f"{day:%Y%m%d}|{day:%Y/%m/%d}|airflow2"
    assert a2.xcom("a2_bash_basics", "env_task", date=TODAY) == f"run={TODAY}"


def test_a2_python_context(a2: CorpusHome) -> None:
    a2.dags_test("a2_python_context")
    assert a2.xcom("a2_python_context", "extract") == 2
    assert a2.xcom("a2_python_context", "extract", key="rows") == [{"id": 1, "amount": 10}, {"id": 2, "amount": 32}]
    assert a2.xcom("a2_python_context", "transform") == {"count": 2, "total": 84, "ds": DATE}
    assert a2.xcom("a2_python_context", "load") == "loaded:sales_20240305:84:20240305"


def test_a2_branching_follows_the_date(a2: CorpusHome) -> None:
    a2.dags_test("a2_branching")  # the 5th: odd
    assert a2.states("a2_branching") == {
        "start": "success", "branch": "success", "even_day": "skipped", "odd_day": "success",
        "join": "success", "after": "success"}
    a2.dags_test("a2_branching", "2024-03-06")
    assert a2.states("a2_branching", "2024-03-06")["odd_day"] == "skipped"


def test_a2_task_groups(a2: CorpusHome) -> None:
    a2.dags_test("a2_task_groups")
    states = a2.states("a2_task_groups")
    assert {"extract.pull_a", "checks.rows", "checks.schema", "audit_2"} <= set(states)
    assert set(states.values()) == {"success"}
    assert a2.xcom("a2_task_groups", "report") == "a,b,c"


def test_a2_variables_from_airflow_env(a2: CorpusHome) -> None:
    a2.dags_test("a2_variables")
    assert a2.xcom("a2_variables", "read_variables") == "eu-west|50|fallback"
    assert a2.xcom("a2_variables", "templated_variables") == "eu-west-50"


def test_a2_sensors(a2: CorpusHome) -> None:
    a2.dags_test("a2_sensors")
    assert set(a2.states("a2_sensors").values()) == {"success"}
    assert a2.xcom("a2_sensors", "cleanup") == "cleaned"


def test_a2_taskflow(a2: CorpusHome) -> None:
    a2.dags_test("a2_taskflow")
    assert a2.xcom("a2_taskflow", "transform", key="total") == 7
    assert a2.xcom("a2_taskflow", "load") == f"2 kinds, 7 items at {DATE}"


def test_a2_skips(a2: CorpusHome) -> None:
    a2.dags_test("a2_skip_and_short_circuit")
    assert a2.states("a2_skip_and_short_circuit") == {
        "gate": "success", "gated": "skipped", "gated_all_done": "skipped", "skipper": "skipped",
        "always": "success", "latest_only": "success", "after_latest": "success"}


def test_a2_templates(a2: CorpusHome) -> None:
    a2.dags_test("a2_templates")
    assert a2.xcom("a2_templates", "dates") == "2024-03-04 2024-03-05 2024-03-06"
    assert a2.xcom("a2_templates", "macros") == "PLATFORM-42-events"
    assert a2.xcom("a2_templates", "consume") == "got value-from-xcom on 20240305"
    assert a2.xcom("a2_templates", "script") == f"report for {DATE} in a2_templates"


def test_a2_dynamic_dags_from_one_file(a2: CorpusHome) -> None:
    for customer in ("acme", "globex"):
        a2.dags_test(f"a2_dynamic_{customer}")
        assert a2.xcom(f"a2_dynamic_{customer}", "publish") == f"{customer}-publish"


def test_a2_failure_handling(a2: CorpusHome) -> None:
    a2.dags_test("a2_failure_handling")  # the leaves succeed, so the run does
    assert a2.states("a2_failure_handling") == {"fragile": "failed", "alert": "success", "cleanup": "success"}
    tries = a2.query("SELECT try_number FROM task_instance WHERE dag_id = 'a2_failure_handling' "
                     "AND task_id = 'fragile'")
    assert tries == [(1,)]  # AirflowFailException: no retry despite retries=3


def test_a2_connections_from_airflow_env(a2: CorpusHome) -> None:
    a2.dags_test("a2_connections")
    assert a2.xcom("a2_connections", "read_connections") == {
        "pg": ["postgres", "db.example.com", 5433, "warehouse", "etl"], "api": ["http", "api.example.com", 30]}
    assert a2.xcom("a2_connections", "templated_connection") == "db.example.com:5433"


# ----------------------------------------------------------------------------- Airflow 3 style
def test_a3_taskflow(a3: CorpusHome) -> None:
    a3.dags_test("a3_taskflow")
    assert a3.xcom("a3_taskflow", "describe") == "numbers: 6 values, total 108"
    assert a3.xcom("a3_taskflow", "describe_again") == "again: 6 values, total 108"


def test_a3_mapping(a3: CorpusHome) -> None:
    a3.dags_test("a3_mapping")
    assert a3.xcom("a3_mapping", "size") == [50, 60, 70]
    assert a3.xcom("a3_mapping", "total") == 180
    assert a3.xcom("a3_mapping", "total_pairs") == 10
    assert a3.xcom("a3_mapping", "echo") == ["one", "two"]


def test_a3_assets(a3: CorpusHome) -> None:
    a3.dags_test("a3_asset_producer")
    assert a3.xcom("a3_asset_producer", "export_orders") == 7
    events = a3.query("SELECT a.uri FROM asset_event e JOIN asset a ON a.id = e.asset_id")
    assert {uri for (uri,) in events} == {"s3://conformance/orders.csv", "file:///tmp/tw_conformance_customers.csv"}
    a3.dags_test("a3_asset_consumer")
    assert a3.xcom("a3_asset_consumer", "summarize") == 0  # a manual run has no triggering events


def test_a3_providers_standard(a3: CorpusHome) -> None:
    a3.dags_test("a3_providers_standard")
    states = a3.states("a3_providers_standard")
    assert states["python_path"] == "skipped" and states["end"] == "success"
    assert a3.xcom("a3_providers_standard", "bash_path") == DATE


def test_a3_branch_decorators(a3: CorpusHome) -> None:
    a3.dags_test("a3_branch_decorators")
    assert a3.xcom("a3_branch_decorators", "ready") == "sensor-said-go"
    assert a3.states("a3_branch_decorators")["small"] == "skipped"
    assert a3.xcom("a3_branch_decorators", "big") == "big path"
    assert a3.xcom("a3_branch_decorators", "join") == "joined"


def test_a3_groups_and_chain(a3: CorpusHome) -> None:
    a3.dags_test("a3_groups_and_chain")
    assert a3.xcom("a3_groups_and_chain", "math.plus_one") == 26
    assert a3.xcom("a3_groups_and_chain", "final") == "final=26"
    assert a3.states("a3_groups_and_chain")["publish.second"] == "success"


def test_a3_context_params_and_trigger(a3: CorpusHome) -> None:
    a3.dags_test("a3_context_params")
    assert a3.xcom("a3_context_params", "describe") == "fast:3:24h"
    assert a3.xcom("a3_context_params", "from_context") == f"a3_context_params|{DATE}|none"
    assert a3.xcom("a3_context_params", "variable") == "eu-west"

    a3.dags_test("a3_trigger_and_latest")
    assert a3.xcom("a3_trigger_and_latest", "after_latest") == "manual runs are latest"
    confs = [json.loads(conf) for (conf,) in a3.query(
        "SELECT conf FROM dag_run WHERE dag_id = 'a3_context_params' AND run_id != ?", RUN_ID)]
    assert confs == [{"note": f"from {DATE}"}]


def test_a3_setup_teardown(a3: CorpusHome) -> None:
    a3.dags_test("a3_setup_teardown")
    assert set(a3.states("a3_setup_teardown").values()) == {"success"}
    assert a3.xcom("a3_setup_teardown", "work") == 1


# ----------------------------------------------------------------------------- the seeds' tutorials
def test_seed_hello_airflow(seeds: CorpusHome) -> None:
    seeds.dags_test("hello-airflow")
    assert seeds.states("hello-airflow") == {"print_date": "success", "python_operator": "success"}
    assert seeds.xcom("hello-airflow", "python_operator") == "Hello Airflow"


def test_seed_my_python_dag(seeds: CorpusHome) -> None:
    seeds.dags_test("my_python_dag", TODAY)  # start_date=days_ago(n=1)
    assert set(seeds.states("my_python_dag", TODAY).values()) == {"success"}
    assert seeds.xcom("my_python_dag", "task_4", date=TODAY) == "print complete!!!"
    assert seeds.xcom("my_python_dag", "task_3", date=TODAY) == "sleep well!!!"


def test_seed_my_first_airflow_dag_tasks(seeds: CorpusHome) -> None:
    """As published, `templated` runs the command "templated_command" (a string, not the variable):
    it fails as under Airflow, so its tasks are checked one by one with ``tasks test`` (a dags test
    would sit out the tutorial's 5-minute retry delay)."""
    for task_id in ("print_date", "sleep"):
        seeds.ok("tasks", "test", "my_first_airflow_dag", task_id, DATE)
    proc = seeds.run("tasks", "test", "my_first_airflow_dag", "templated", DATE)
    assert proc.returncode == 1
    assert "templated_command: command not found" in proc.stdout + proc.stderr


def test_seed_data_extract_pipeline_on_mariadb(seeds: CorpusHome, mariadb_server: Any) -> None:
    """The tutorial's SQLExecuteQueryOperator drops mlops.ineligible_loan_model_features in the MariaDB
    feature store (connection ``feature_store``, given as AIRFLOW_CONN_FEATURE_STORE)."""
    conn = mariadb_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS mlops")
            cur.execute("CREATE TABLE IF NOT EXISTS mlops.ineligible_loan_model_features (applicant_id INT)")
        conn.commit()
        uri = (f"mysql://{mariadb_server.user}:{mariadb_server.password}@127.0.0.1:{mariadb_server.port}/mlops")
        seeds.dags_test("data_extract_pipeline", extra_env={"AIRFLOW_CONN_FEATURE_STORE": uri})
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'mlops' "
                        "AND table_name = 'ineligible_loan_model_features'")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()
