"""The pipelines from the seeds, end to end against real local services.

- ``example_ml_training``: digits -> validate -> preprocess -> train -> evaluate -> publish only when
  better -> batch predict, every artifact in a real S3-compatible server (moto's standalone server);
  then the prediction endpoint serves the published model.
- ``example_etl_listings``: PostgreSQL -> CSV in S3 -> pandas -> reporting table; a re-run of an
  interval and a backfill of a past week (run by a real ``tradewind scheduler``) give the same table.

The DAGs run through the real ``tradewind`` CLI in child processes; connections reach them through
``TRADEWIND_CONN_<ID>`` environment variables, as a deployment would set them.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import tradewind.examples
from cli_support import Home, free_port, wait_for
from tradewind.parse.dagbag import parse_file

ML_DAG = "example_ml_training"
ETL_DAG = "example_etl_listings"
ML_BUCKET = "tradewind-ml"
ETL_BUCKET = "tradewind-listings"


@pytest.fixture
def home(tmp_path: Path, s3_server) -> Home:
    """A migrated home with the example DAGs loaded and the ``aws`` connection on the S3 server."""
    s3_server.reset()
    home = Home(tmp_path / "home")
    home.env["TRADEWIND__CORE__LOAD_EXAMPLES"] = "True"
    home.env["TRADEWIND_CONN_AWS"] = s3_server.connection_json()
    home.ok("db", "migrate")
    return home


def _runs(home: Home, dag_id: str) -> dict[str, str]:
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        return dict(conn.execute("SELECT run_id, state FROM dag_run WHERE dag_id = ?", (dag_id,)).fetchall())
    finally:
        conn.close()


def _states(home: Home, dag_id: str, run_id: str) -> dict[str, str]:
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        return dict(conn.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
                                 (dag_id, run_id)).fetchall())
    finally:
        conn.close()


def _xcom(home: Home, dag_id: str, run_id: str, task_id: str):
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        row = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? "
                           "AND key = 'return_value'", (dag_id, run_id, task_id)).fetchone()
    finally:
        conn.close()
    assert row is not None, f"no XCom from {dag_id}.{task_id} in {run_id}"
    return json.loads(row[0])


def _keys(s3_server, bucket: str) -> set[str]:
    listed = s3_server.client().list_objects_v2(Bucket=bucket)
    return {item["Key"] for item in listed.get("Contents", [])}


def _read(s3_server, bucket: str, key: str) -> bytes:
    return s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()


EXAMPLES = Path(tradewind.examples.__file__).parent / "dags"


@pytest.mark.parametrize("filename", ["example_ml_training.py", "example_etl_listings.py"])
def test_pipeline_parses_without_its_heavy_libraries(tmp_path: Path, filename: str) -> None:
    """scikit-learn, numpy, pandas, boto3 and psycopg load inside the tasks: the scheduler's parse needs none."""
    blocker = tmp_path / "blocker"
    for module in ("sklearn", "numpy", "pandas", "boto3", "botocore", "psycopg", "joblib"):
        (blocker / module).mkdir(parents=True)
        (blocker / module / "__init__.py").write_text(f"raise ImportError('{module} blocked for this test')\n")
    result = parse_file(EXAMPLES / filename, timeout=60, sys_path=[str(blocker), str(EXAMPLES)])
    assert result.errors == [], [e.message for e in result.errors]
    assert [d["dag_id"] for d in result.dags] == [filename.removesuffix(".py")]


# ------------------------------------------------------------------------------------- ML training
def _train(home: Home, date: str) -> str:
    home.ok("dags", "test", ML_DAG, date, timeout=300)
    return f"manual__{date}T00:00:00+00:00"


@pytest.mark.slow
def test_ml_training_publishes_only_a_better_model_and_serves_it(home: Home, s3_server, monkeypatch) -> None:
    pytest.importorskip("sklearn")
    first = _train(home, "2024-03-05")  # data interval 2024-03-04 .. 2024-03-05
    states = _states(home, ML_DAG, first)
    assert states == {"load_data": "success", "validate": "success", "preprocess": "success", "train": "success",
                      "evaluate": "success", "compare": "success", "publish_model": "success",
                      "keep_current": "skipped", "batch_predict": "success"}

    metrics = _xcom(home, ML_DAG, first, "evaluate")
    assert metrics["accuracy"] > 0.9 and 0 < metrics["f1_macro"] <= 1
    assert metrics["n_train"] + metrics["n_test"] == _xcom(home, ML_DAG, first, "load_data")["rows"] == 1258
    prefix = "digits/runs/2024-03-04T00-00-00/"
    assert _keys(s3_server, ML_BUCKET) == {
        prefix + name for name in ("sample.npz", "split.npz", "scaler.joblib", "model.joblib", "metrics.json",
                                   "predictions.csv")
    } | {"digits/published/model.joblib", "digits/published/metrics.json"}
    assert json.loads(_read(s3_server, ML_BUCKET, prefix + "metrics.json")) == metrics
    assert json.loads(_read(s3_server, ML_BUCKET, "digits/published/metrics.json")) == metrics
    assert _read(s3_server, ML_BUCKET, "digits/published/model.joblib") == _read(
        s3_server, ML_BUCKET, prefix + "model.joblib")

    predictions = list(csv.DictReader(io.StringIO(_read(s3_server, ML_BUCKET, prefix + "predictions.csv").decode())))
    batch = _xcom(home, ML_DAG, first, "batch_predict")
    assert len(predictions) == batch["rows"] == 1797 - 1258
    assert sum(r["true_label"] == r["predicted_label"] for r in predictions) == batch["correct"]
    assert batch["correct"] / batch["rows"] > 0.9 and batch["model_run_id"] == first

    # The same interval again: the same sample and model, a tie, so the published model stays.
    home.ok("dags", "test", ML_DAG, "2024-03-05", timeout=300)
    assert _xcom(home, ML_DAG, first, "evaluate") == metrics
    again = _states(home, ML_DAG, first)
    assert (again["publish_model"], again["keep_current"], again["batch_predict"]) == ("skipped", "success", "success")

    # Another interval: another sample; whichever model is better is in service afterwards.
    second = _train(home, "2024-03-06")
    other = _xcom(home, ML_DAG, second, "evaluate")
    published = json.loads(_read(s3_server, ML_BUCKET, "digits/published/metrics.json"))
    branch = _states(home, ML_DAG, second)
    if other["accuracy"] > metrics["accuracy"]:
        assert published == other and branch["publish_model"] == "success"
    else:
        assert published == metrics and branch["publish_model"] == "skipped"
    assert _xcom(home, ML_DAG, second, "batch_predict")["model_run_id"] == published["run_id"]

    # The endpoint outside the DAG serves the published model (and reads it only through the connection).
    from fastapi.testclient import TestClient
    from sklearn.datasets import load_digits

    from tradewind.examples.serving.predict_app import create_app

    monkeypatch.setenv("TRADEWIND_CONN_AWS", s3_server.connection_json())
    digits = load_digits()
    with TestClient(create_app()) as client:
        assert client.get("/model").json() == published
        answer = client.post("/predict", json={"instances": digits.data[:200].tolist()})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == published and len(body["predictions"]) == 200
        assert sum(int(p == t) for p, t in zip(body["predictions"], digits.target[:200])) >= 180
        bad = client.post("/predict", json={"instances": [[0] * 63, [17] * 64]})
        assert bad.status_code == 422
        problems = {tuple(e["loc"][:3]) for e in bad.json()["detail"]}
        assert ("body", "instances", 0) in problems and ("body", "instances", 1) in problems

    # And as deployed: the module's app under a real uvicorn process, configured by environment variables.
    import httpx

    port = free_port()
    env = {k: v for k, v in home.env.items() if not k.startswith("TRADEWIND_CONN_")}
    env.update(TRADEWIND_CONN_SERVING=s3_server.connection_json(), PREDICT_APP_CONN_ID="serving",
               PREDICT_APP_BUCKET=ML_BUCKET)
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "tradewind.examples.serving.predict_app:app",
                               "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{url}/model", timeout=5).status_code == 200, deadline=60, what="uvicorn")
        answer = httpx.post(f"{url}/predict", json={"instances": digits.data[:5].tolist()}, timeout=30)
        assert answer.status_code == 200 and answer.json()["predictions"] == body["predictions"][:5]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_prediction_endpoint_answers_503_until_a_model_is_published(s3_server, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from tradewind.examples.serving.predict_app import create_app

    s3_server.reset()
    monkeypatch.setenv("TRADEWIND_CONN_STORE", s3_server.connection_json())
    with TestClient(create_app(bucket="empty-bucket", conn_id="store")) as client:
        answer = client.post("/predict", json={"instances": [[0] * 64]})
        assert answer.status_code == 503
        assert "no model published in s3://empty-bucket/digits/published/model.joblib" in answer.json()["detail"]


# ----------------------------------------------------------------------------------- listings ETL
@pytest.fixture
def listings_db(pg_server, home: Home):
    """A fresh PostgreSQL database for the listings, reachable as connection ``listings_db``."""
    import psycopg

    name = pg_server.new_database_name("listings")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    home.env["TRADEWIND_CONN_LISTINGS_DB"] = f"postgresql://postgres@127.0.0.1:{pg_server.port}/{name}"
    conn = psycopg.connect(host="127.0.0.1", port=pg_server.port, user="postgres", dbname=name, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
        pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _report(conn) -> list[tuple]:
    return conn.execute("SELECT interval_start, interval_end, neighbourhood, room_type, listings, avg_price, "
                        "min_price, max_price FROM listings_report ORDER BY 1, 3, 4").fetchall()


def _expected_report(conn, start: str, end: str) -> list[tuple]:
    """The report of one interval computed in SQL, independently of the DAG's pandas transform."""
    return conn.execute(
        "SELECT neighbourhood, room_type, count(*), avg(price), min(price), max(price) FROM listings "
        "WHERE updated_at >= %s AND updated_at < %s GROUP BY 1, 2 ORDER BY 1, 2", (start, end)).fetchall()


@pytest.mark.slow
def test_etl_listings_exports_transforms_and_reruns_idempotently(home: Home, listings_db, s3_server) -> None:
    pytest.importorskip("pandas")
    home.ok("dags", "test", ETL_DAG, "2024-03-05", timeout=300)  # data interval 2024-03-04 .. 2024-03-05
    run_id = "manual__2024-03-05T00:00:00+00:00"
    assert set(_states(home, ETL_DAG, run_id).values()) == {"success"}

    # 72 twenty-minute slots a day, those whose number is a multiple of 11 without an update.
    first_slot = 1709510400 // 1200  # 2024-03-04T00:00:00Z
    expected_ids = [n for n in range(first_slot, first_slot + 72) if n % 11]
    raw = list(csv.DictReader(io.StringIO(
        _read(s3_server, ETL_BUCKET, "raw/2024-03-04T00-00-00.csv").decode())))
    assert [int(r["listing_id"]) for r in raw] == expected_ids
    assert set(raw[0]) == {"listing_id", "name", "neighbourhood", "room_type", "price", "minimum_nights",
                           "updated_at"}
    assert _keys(s3_server, ETL_BUCKET) == {"raw/2024-03-04T00-00-00.csv", "summary/2024-03-04T00-00-00.csv"}

    report = _report(listings_db)
    expected = _expected_report(listings_db, "2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z")
    assert [r[2:5] for r in report] == [e[:3] for e in expected]
    for row, exp in zip(report, expected):
        assert abs(row[5] - exp[3]) <= Decimal("0.005") and (row[6], row[7]) == (exp[4], exp[5])
    assert sum(r[4] for r in report) == len(expected_ids)
    assert _xcom(home, ETL_DAG, run_id, "transform") == {
        "key": "summary/2024-03-04T00-00-00.csv", "listings": len(expected_ids), "report_rows": len(report)}
    assert _xcom(home, ETL_DAG, run_id, "load_report") == len(report)

    # Re-running the interval changes nothing: no duplicate listings, the same report.
    home.ok("dags", "test", ETL_DAG, "2024-03-05", timeout=300)
    assert listings_db.execute("SELECT count(*) FROM listings").fetchone()[0] == len(expected_ids)
    assert _report(listings_db) == report


@pytest.mark.slow
def test_etl_listings_backfill_of_a_week_matches_reruns(home: Home, listings_db, s3_server) -> None:
    pytest.importorskip("pandas")
    scheduler = home.popen("scheduler")
    try:
        week = ("--from-date", "2024-02-01", "--to-date", "2024-02-07")
        first = home.run("backfill", "create", ETL_DAG, *week, "--wait", timeout=400)
        assert first.returncode == 0, first.stdout + first.stderr
        runs = _runs(home, ETL_DAG)
        assert runs == {f"backfill__2024-02-0{d}T00:00:00+00:00": "success" for d in range(1, 8)}
        report = _report(listings_db)
        starts = sorted({row[0] for row in report})
        assert [s.isoformat() for s in starts] == [f"2024-02-0{d}T00:00:00+00:00" for d in range(1, 8)]
        assert {(row[1] - row[0]).days for row in report} == {1}
        assert len(_keys(s3_server, ETL_BUCKET)) == 14  # raw + summary per day

        # The week again, every run cleared and re-run: the same table.
        again = home.run("backfill", "create", ETL_DAG, *week, "--reprocess-behavior", "completed", "--wait",
                         timeout=400)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=60)
    assert _report(listings_db) == report
    conn = sqlite3.connect(home.path / "tradewind.db")
    try:
        tries = conn.execute("SELECT DISTINCT try_number FROM task_instance WHERE dag_id = ?", (ETL_DAG,)).fetchall()
    finally:
        conn.close()
    assert tries == [(2,)]  # every task really ran twice

    # A manual run over one of those intervals (2024-02-03 .. 2024-02-04) agrees with the backfill.
    home.ok("dags", "test", ETL_DAG, "2024-02-04", timeout=300)
    assert _report(listings_db) == report
