"""The example DAGs shipped in ``tradewind/examples/dags``: they parse cleanly, and each runs to
success end to end through the real CLI (``tradewind dags test``) in a child process."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import tradewind.examples
from tradewind.parse.dagbag import parse_file

EXAMPLES = Path(tradewind.examples.__file__).parent / "dags"

#: file name -> DAG id it must define, and the tasks it must have.
EXPECTED = {
    "example_asset_producer.py": ("example_asset_producer", {"export_orders"}),
    "example_asset_consumer.py": ("example_asset_consumer", {"summarize"}),
    "example_hello.py": ("example_hello", {"print_date", "python_operator", "greet"}),
    "example_airflow_compat.py": ("example_airflow_compat", {"start", "checks.count_lines", "report", "done"}),
    "example_templated_etl.py": (
        "example_templated_etl",
        {"prepare_workspace", "extract", "transform.clean", "transform.summarize", "load", "report"},
    ),
    "example_ml_pipeline.py": (
        "example_ml_pipeline",
        {"preprocess", "train", "evaluate", "check_accuracy", "deploy_model", "skip_deploy", "predict", "done"},
    ),
    "example_branching.py": (
        "example_branching",
        {"start", "choose_path", "weekday_full_refresh", "weekend_light_refresh", "join",
         "only_on_month_start", "monthly_report", "cleanup"},
    ),
    "example_seed_tutorial.py": ("example_seed_tutorial", {"task_1", "task_2", "task_3", "task_4"}),
    "example_sensors.py": (
        "example_sensors",
        {"interval_closed", "land_file", "wait_for_file", "file_settled", "file_not_empty", "load"},
    ),
    "example_setup_teardown.py": (
        "example_setup_teardown", {"create_workspace", "count_rows", "summarize", "remove_workspace"},
    ),
    "example_trigger_dagrun.py": ("example_trigger_dagrun", {"trigger", "report"}),
    "example_trigger_target.py": ("example_trigger_target", {"show_message", "bash_task"}),
    "example_calendar_branching.py": (
        "example_calendar_branching",
        {"load", "latest_only", "is_weekend", "weekend_digest", "weekday_report", "in_business_hours",
         "morning_alert", "quiet"},
    ),
    "example_deferrable.py": ("example_deferrable", {"wait", "report", "settle", "drop_marker", "marker_arrived"}),
    "example_missed_runs.py": ("example_missed_runs", {"snapshot"}),
    "example_mapping.py": (
        "example_mapping",
        {"list_files", "count_lines", "total", "greet", "per_region.extract", "per_region.report", "summary"},
    ),
    "example_sql.py": (
        "example_sql",
        {"create_table", "load_orders", "wait_for_orders", "check_columns", "check_table", "report"},
    ),
    "example_cross_dag.py": ("example_cross_dag", {"wait_for_hello", "summarise", "notify_target", "done"}),
    "example_reliability.py": ("example_reliability", {"ingest", "aggregate"}),
    "example_python_env.py": ("example_python_env", {"numbers", "stats", "external"}),
    # Run end to end against PostgreSQL and S3 in tests/integration/test_seed_pipelines.py.
    "example_ml_training.py": (
        "example_ml_training",
        {"load_data", "validate", "preprocess", "train", "evaluate", "compare", "publish_model", "keep_current",
         "batch_predict"},
    ),
    "example_etl_listings.py": (
        "example_etl_listings",
        {"create_bucket", "seed_listings", "extract_listings", "transform", "load_report"},
    ),
    "example_s3.py": (
        "example_s3",
        {"create_bucket", "write_raw", "wait_for_raw", "summarise", "publish", "list_published", "clean_staging"},
    ),
}


def _task_ids(snapshot: dict) -> set[str]:
    tasks = snapshot["tasks"]
    if isinstance(tasks, dict):
        return set(tasks)
    return {t["task_id"] for t in tasks}


def test_every_shipped_example_is_covered() -> None:
    shipped = {p.name for p in EXAMPLES.glob("*.py")}
    assert shipped == set(EXPECTED), "add new example files to EXPECTED (and give them a run test)"
    assert (EXAMPLES / "templates" / "prepare_workspace.sh").is_file()


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_example_parses_without_errors(filename: str) -> None:
    result = parse_file(EXAMPLES / filename, timeout=60, sys_path=[str(EXAMPLES)])
    assert result.errors == [], f"{filename}: {[e.message for e in result.errors]}"
    dag_id, task_ids = EXPECTED[filename]
    assert [d["dag_id"] for d in result.dags] == [dag_id]
    snapshot = result.dags[0]
    assert _task_ids(snapshot) == task_ids
    assert "example" in snapshot["tags"]
    assert snapshot["doc_md"], f"{dag_id} has no doc_md"
    assert snapshot["catchup"] is False
    assert snapshot["is_paused_upon_creation"] is True


def test_ml_example_parses_without_sklearn(tmp_path: Path) -> None:
    """scikit-learn is imported inside the tasks, so the file parses even where it is missing."""
    blocker = tmp_path / "blocker"
    (blocker / "sklearn").mkdir(parents=True)
    (blocker / "sklearn" / "__init__.py").write_text("raise ImportError('sklearn blocked for this test')\n")
    result = parse_file(EXAMPLES / "example_ml_pipeline.py", timeout=60, sys_path=[str(blocker), str(EXAMPLES)])
    assert result.errors == []
    assert [d["dag_id"] for d in result.dags] == ["example_ml_pipeline"]


# ------------------------------------------------------------------ end to end via the CLI
def _cli() -> list[str]:
    script = Path(sys.executable).parent / "tradewind"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradewind.observe.cli.main"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A migrated TRADEWIND_HOME with an empty DAGs folder; the examples are loaded."""
    home = tmp_path / "home"
    (home / "dags").mkdir(parents=True)
    _run(home, "db", "migrate")
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND")}
    env["TRADEWIND_HOME"] = str(home)
    env["TRADEWIND__CORE__LOAD_EXAMPLES"] = "True"
    return env


def _run(home: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(_env(home), **(extra_env or {}))
    proc = subprocess.run(_cli() + list(args), env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"tradewind {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.slow
def test_examples_are_listed_paused_unless_disabled(home: Path) -> None:
    listed = json.loads(_run(home, "dags", "list", "-o", "json").stdout)
    examples = {d["dag_id"]: d for d in listed if d["dag_id"].startswith("example_")}
    assert set(examples) == {dag_id for dag_id, _ in EXPECTED.values()}
    assert all(d["is_paused"] for d in examples.values())
    assert {d["owners"] for d in examples.values()} == {"tradewind"}

    other = home.parent / "no_examples"
    (other / "dags").mkdir(parents=True)
    env = dict(_env(other), TRADEWIND__CORE__LOAD_EXAMPLES="False")
    for args in (["db", "migrate"], ["dags", "list", "-o", "json"]):
        proc = subprocess.run(_cli() + args, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    assert [d["dag_id"] for d in json.loads(proc.stdout) if d["dag_id"].startswith("example_")] == []


def _states(home: Path, dag_id: str) -> dict[str, str]:
    """Task states of the DAG's only run, read from the home's SQLite database."""
    conn = sqlite3.connect(home / "tradewind.db")
    try:
        runs = conn.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (dag_id,)).fetchall()
        assert len(runs) == 1, runs
        assert runs[0][1] == "success", runs
        rows = conn.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                            (dag_id, runs[0][0])).fetchall()
    finally:
        conn.close()
    return dict(rows)


def _xcom(home: Path, dag_id: str, task_id: str):
    conn = sqlite3.connect(home / "tradewind.db")
    try:
        row = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value'",
                           (dag_id, task_id)).fetchone()
    finally:
        conn.close()
    assert row is not None, f"no XCom from {dag_id}.{task_id}"
    return json.loads(row[0])


@pytest.mark.slow
def test_hello_runs(home: Path) -> None:
    _run(home, "dags", "test", "example_hello", "2024-03-05")
    assert set(_states(home, "example_hello").values()) == {"success"}
    assert _xcom(home, "example_hello", "python_operator") == "Hello Tradewind"
    assert _xcom(home, "example_hello", "greet") == "HELLO TRADEWIND"


@pytest.mark.slow
def test_sql_example_loads_checks_and_reports(home: Path) -> None:
    env = {"TRADEWIND_CONN_EXAMPLE_SQLITE": f"sqlite:///{home / 'orders.db'}"}
    for _ in range(2):  # re-running the day replaces its rows instead of doubling them
        _run(home, "dags", "test", "example_sql", "2024-03-05", extra_env=env)
    conn = sqlite3.connect(home / "tradewind.db")
    try:
        states = conn.execute("SELECT DISTINCT state FROM task_instance WHERE dag_id = 'example_sql'").fetchall()
        (report,) = conn.execute("SELECT value FROM xcom WHERE dag_id = 'example_sql' AND task_id = 'report' "
                                 "ORDER BY timestamp DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    assert states == [("success",)]
    assert json.loads(report) == [["eu", 3, 12], ["us", 6, 24]]


@pytest.mark.slow
def test_s3_example_writes_summarises_publishes_and_tidies(home: Path, s3_server) -> None:
    s3_server.reset()
    env = {"TRADEWIND_CONN_AWS_DEFAULT": s3_server.connection_json()}
    for _ in range(2):  # a re-run of the day replaces its objects
        _run(home, "dags", "test", "example_s3", "2024-03-05", extra_env=env)
    listed = s3_server.client().list_objects_v2(Bucket="tradewind-example")["Contents"]
    assert sorted(o["Key"] for o in listed) == ["published/2024-03-05.json", "raw/2024-03-05/sales.csv"]
    published = s3_server.client().get_object(Bucket="tradewind-example", Key="published/2024-03-05.json")
    assert json.loads(published["Body"].read()) == {"eu": 20, "us": 30}
    assert _xcom(home, "example_s3", "list_published") == ["published/2024-03-05.json"]


@pytest.mark.slow
def test_python_env_example_runs_in_a_virtualenv_and_another_interpreter(home: Path) -> None:
    _run(home, "dags", "test", "example_python_env", "2024-03-05")
    assert set(_states(home, "example_python_env").values()) == {"success"}
    assert _xcom(home, "example_python_env", "stats") == {"mean": 3.875, "median": 3.5, "max": 9}
    assert _xcom(home, "example_python_env", "external")["day"] == "2024-03-05"


@pytest.mark.slow
def test_airflow_compat_example_runs(home: Path) -> None:
    _run(home, "dags", "test", "example_airflow_compat", "2024-03-05")
    assert set(_states(home, "example_airflow_compat").values()) == {"success"}
    assert _xcom(home, "example_airflow_compat", "report") == "2024-03-05: lines: 3"


@pytest.mark.slow
def test_mapping_example_runs_one_instance_per_item(home: Path) -> None:
    _run(home, "dags", "test", "example_mapping", "2024-03-05")
    assert set(_states(home, "example_mapping").values()) == {"success"}
    assert _xcom(home, "example_mapping", "total") == len("orders.csv") + len("customers.csv") + len("invoices.csv")
    assert _xcom(home, "example_mapping", "summary") == "north: 50 rows; south: 50 rows"


@pytest.mark.slow
def test_missed_runs_example_runs_for_its_hour(home: Path) -> None:
    _run(home, "dags", "test", "example_missed_runs", "2024-03-05T10:00:00+00:00")
    assert _states(home, "example_missed_runs") == {"snapshot": "success"}
    assert _xcom(home, "example_missed_runs", "snapshot") == "2024-03-05 09:00 to 10:00"


@pytest.mark.slow
def test_calendar_branching_follows_the_logical_date(home: Path) -> None:
    # A Saturday 06:00 run: the weekend branch and the 05:00-09:00 window are taken; a manual run is
    # never skipped by latest_only.
    _run(home, "dags", "test", "example_calendar_branching", "2024-03-09T06:00:00+00:00")
    assert _states(home, "example_calendar_branching") == {
        "load": "success", "latest_only": "success", "is_weekend": "success", "weekend_digest": "success",
        "weekday_report": "skipped", "in_business_hours": "success", "morning_alert": "success", "quiet": "skipped",
    }
    assert _xcom(home, "example_calendar_branching", "weekend_digest") == "weekend digest report for 2024-03-09"


@pytest.mark.slow
def test_deferrable_example_waits_on_its_trigger_then_resumes(home: Path) -> None:
    proc = _run(home, "dags", "test", "example_deferrable")
    assert "Pausing task as DEFERRED" in proc.stdout and "calling execute_complete()" in proc.stdout
    assert _states(home, "example_deferrable") == dict.fromkeys(EXPECTED["example_deferrable.py"][1], "success")
    stamps = _xcom(home, "example_deferrable", "wait")
    waited = datetime.fromisoformat(stamps["fired_at"]) - datetime.fromisoformat(stamps["started"])
    assert waited >= timedelta(seconds=1)  # the 2 s timer, at one-second resolution
    assert _xcom(home, "example_deferrable", "report").startswith("waited from ")


@pytest.mark.slow
def test_setup_teardown_example_works_in_a_workspace_it_then_removes(home: Path) -> None:
    _run(home, "dags", "test", "example_setup_teardown", "2024-03-05")
    assert set(_states(home, "example_setup_teardown").values()) == {"success"}
    workspace = Path(_xcom(home, "example_setup_teardown", "create_workspace"))
    assert workspace.is_relative_to(home) and not workspace.exists()  # removed by the teardown
    assert _xcom(home, "example_setup_teardown", "summarize") == "3 orders processed"


@pytest.mark.slow
def test_sensors_example_waits_reschedules_and_loads(home: Path) -> None:
    proc = _run(home, "dags", "test", "example_sensors", "2024-03-05")
    assert set(_states(home, "example_sensors").values()) == {"success"}
    assert "Marking task as UP_FOR_RESCHEDULE" in proc.stdout + proc.stderr  # file_settled waited once
    assert _xcom(home, "example_sensors", "file_settled") == 3
    assert _xcom(home, "example_sensors", "load") == "loaded 3 orders"


@pytest.mark.slow
def test_seed_tutorial_runs(home: Path) -> None:
    _run(home, "dags", "test", "example_seed_tutorial", "2024-03-05")
    assert _states(home, "example_seed_tutorial") == {f"task_{i}": "success" for i in range(1, 5)}
    assert _xcom(home, "example_seed_tutorial", "task_3") == "sleep well!!!"


@pytest.mark.slow
def test_templated_etl_renders_templates_and_writes_files(home: Path) -> None:
    _run(home, "dags", "test", "example_templated_etl", "2024-03-05")
    assert set(_states(home, "example_templated_etl").values()) == {"success"}
    workspace = home / "data" / "templated_etl" / "eu" / "2024-03-05"
    manifest = (workspace / "manifest.txt").read_text()
    assert "logical_date=2024-03-05" in manifest
    assert "region=eu" in manifest
    # A manual @daily run at 2024-03-05 covers the day before, as in Airflow.
    assert "data_interval_start=2024-03-04" in manifest
    assert "data_interval_end=2024-03-05" in manifest
    assert "{{" not in manifest
    assert _xcom(home, "example_templated_etl", "prepare_workspace") == str(workspace)
    summary = json.loads((workspace / "summary.json").read_text())
    assert summary["ds"] == "2024-03-05"
    assert summary["region"] == "eu"
    assert summary["rows"] + summary["dropped"] == 24
    assert summary["units"] > 0
    assert _xcom(home, "example_templated_etl", "load") == str(workspace / "summary.json")


@pytest.mark.slow
def test_trigger_dagrun_creates_the_target_run_that_then_runs(home: Path) -> None:
    _run(home, "dags", "test", "example_trigger_dagrun", "2024-03-05", "-c", '{"message": "hi there"}')
    assert set(_states(home, "example_trigger_dagrun").values()) == {"success"}
    run_id = "triggered_by__manual__2024-03-05T00:00:00+00:00"
    assert _xcom(home, "example_trigger_dagrun", "report") == run_id
    conn = sqlite3.connect(home / "tradewind.db")
    try:
        [(state, conf, logical)] = conn.execute(
            "SELECT state, conf, logical_date FROM dag_run WHERE dag_id = 'example_trigger_target' AND run_id = ?",
            (run_id,)).fetchall()
    finally:
        conn.close()
    assert state == "queued"  # the target DAG is paused; `dags test` runs only the tested DAG's run
    assert json.loads(conf) == {"message": "hi there", "controller_ds": "2024-03-05"}
    assert logical.startswith("2024-03-05")
    # Running the controller for the same date again skips (skip_when_already_exists).
    _run(home, "dags", "test", "example_trigger_dagrun", "2024-03-05")


@pytest.mark.slow
def test_data_folder_variable_moves_the_files(home: Path, tmp_path: Path) -> None:
    custom = tmp_path / "elsewhere"
    _run(home, "dags", "test", "example_templated_etl", "2024-03-07", "-c", '{"region": "apac"}',
         extra_env={"TRADEWIND_VAR_DATA_FOLDER": str(custom)})
    assert (custom / "templated_etl" / "apac" / "2024-03-07" / "summary.json").is_file()
    assert not (home / "data" / "templated_etl").exists()


@pytest.mark.slow
def test_templated_etl_extract_retries_after_a_failed_first_try(home: Path) -> None:
    _run(home, "dags", "test", "example_templated_etl", "2024-03-06", "-c", '{"fail_first_try": true, "rows": 5}')
    assert set(_states(home, "example_templated_etl").values()) == {"success"}
    conn = sqlite3.connect(home / "tradewind.db")
    try:
        tries = conn.execute("SELECT try_number, state FROM task_instance_try WHERE dag_id = ? AND task_id = ? "
                             "ORDER BY try_number", ("example_templated_etl", "extract")).fetchall()
    finally:
        conn.close()
    assert tries == [(1, "failed"), (2, "success")]
    summary = json.loads((home / "data" / "templated_etl" / "eu" / "2024-03-06" / "summary.json").read_text())
    assert summary["rows"] + summary["dropped"] == 5  # the conf overrode the rows param


@pytest.mark.slow
def test_branching_follows_weekday_and_short_circuit(home: Path) -> None:
    # 2024-03-02 is a Saturday and not the 1st: light branch, and the monthly report is skipped.
    _run(home, "dags", "test", "example_branching", "2024-03-02")
    states = _states(home, "example_branching")
    assert states["weekend_light_refresh"] == "success"
    assert states["weekday_full_refresh"] == "skipped"
    assert states["join"] == "success"
    assert states["only_on_month_start"] == "success"
    assert states["monthly_report"] == "skipped"
    assert states["cleanup"] == "success"  # all_done, and the short-circuit only skips its direct downstream


@pytest.mark.slow
def test_branching_on_a_month_start_weekday_runs_the_report(home: Path) -> None:
    # 2024-04-01 is a Monday and the 1st: full branch, and the monthly report runs.
    _run(home, "dags", "test", "example_branching", "2024-04-01")
    states = _states(home, "example_branching")
    assert states["weekday_full_refresh"] == "success"
    assert states["weekend_light_refresh"] == "skipped"
    assert states["monthly_report"] == "success"
    assert _xcom(home, "example_branching", "monthly_report") == "monthly report for April 2024"


@pytest.mark.slow
def test_ml_pipeline_trains_deploys_and_predicts(home: Path) -> None:
    pytest.importorskip("sklearn")
    _run(home, "dags", "test", "example_ml_pipeline", "2024-03-04")
    states = _states(home, "example_ml_pipeline")
    assert states["deploy_model"] == "success"
    assert states["skip_deploy"] == "skipped"
    assert states["predict"] == "success"
    assert states["done"] == "success"

    accuracy = _xcom(home, "example_ml_pipeline", "evaluate")
    assert accuracy > 0.9
    run_folders = [p for p in (home / "data" / "ml_pipeline").iterdir() if p.name != "deployed"]
    assert len(run_folders) == 1
    run_folder = run_folders[0]
    for name in ("train.npz", "test.npz", "scaler.joblib", "model.joblib", "metrics.json", "predictions.csv"):
        assert (run_folder / name).is_file(), name
    metrics = json.loads((run_folder / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(accuracy)
    with open(run_folder / "predictions.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == metrics["n_test"] == 450  # 25% of the 1797 digits, stratified
    correct = sum(r["true_label"] == r["predicted_label"] for r in rows)
    assert correct / len(rows) == pytest.approx(accuracy)
    assert (home / "data" / "ml_pipeline" / "deployed" / "model.joblib").is_file()


@pytest.mark.slow
def test_asset_producer_records_an_event_and_consumer_runs_by_hand(home: Path) -> None:
    _run(home, "dags", "test", "example_asset_producer", "2024-03-05")
    assert _states(home, "example_asset_producer") == {"export_orders": "success"}
    (event,) = json.loads(_run(home, "assets", "events", "--asset", "example_orders", "-o", "json").stdout)
    assert event["source_task_id"] == "export_orders"
    assert event["extra"] == {"rows": 3, "total": 67.75}
    _run(home, "dags", "test", "example_asset_consumer", "2024-03-05")
    assert _xcom(home, "example_asset_consumer", "summarize") == {"events": 0, "rows": 0}


@pytest.mark.slow
def test_cross_dag_waits_for_hello_and_reads_its_xcom(home: Path) -> None:
    _run(home, "dags", "test", "example_hello", "2024-03-05")
    _run(home, "dags", "test", "example_cross_dag", "2024-03-05")
    assert set(_states(home, "example_cross_dag").values()) == {"success"}
    assert _xcom(home, "example_cross_dag", "summarise") == "summary of HELLO TRADEWIND"


@pytest.mark.slow
def test_reliability_journals_callbacks_and_fails_after_its_retry(home: Path) -> None:
    _run(home, "dags", "test", "example_reliability", "2024-03-05")
    assert _states(home, "example_reliability") == {"ingest": "success", "aggregate": "success"}
    env = dict(_env(home), TRADEWIND__SMTP__SMTP_PORT="1")  # nothing listens there: the alert cannot go out
    proc = subprocess.run(_cli() + ["dags", "test", "example_reliability", "2024-03-06", "-c", '{"fail_ingest": true}'],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Could not send the failure email" in proc.stdout + proc.stderr  # logged, never fatal
    journal = [json.loads(line) for line in
               (home / "data" / "reliability" / "journal.jsonl").read_text().splitlines()]
    assert [(e["event"], e["ds"], e["task_id"]) for e in journal] == [
        ("run_success", "2024-03-05", "aggregate"),
        ("task_retry", "2024-03-06", "ingest"),
        ("run_failure", "2024-03-06", "ingest"),
    ]
    assert journal[1]["exception"] == "source for 2024-03-06 is not ready"
    assert journal[2]["reason"] == "task_failure"
