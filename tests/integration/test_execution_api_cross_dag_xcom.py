"""Cross-DAG XCom reads through the execution API (remote workers, Celery), as in Airflow 3: a
running try may read any DAG's XComs; ``include_prior_dates`` means exactly what the database
store (the local executor's) means; the token checks stay.

A real ``tradewind api-server`` process; the reading try runs in a child process with no database
settings (:func:`run_remote_try`), the way a Celery worker runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from execution_api_server import start_api_server
from runner_support import add_dag, add_run, queue
from service_support import stop_process
from tradewind.execute.db_store import DbTryStore
from tradewind.execute.tokens import issue_workload_token
from tradewind.persist.models import DagVersion, XCom
from tradewind.workloads import TaskKey, Workload

UTC = timezone.utc

UPSTREAM = """
def produce():
    return "unused"

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="produce", python_callable=produce)
"""

# What a book-style @asset body does: read the upstream DAG's latest value up to this run.
DOWNSTREAM = """
def consume(ti):
    latest = ti.xcom_pull(dag_id="{up}", task_ids="produce", include_prior_dates=True)
    exact = ti.xcom_pull(dag_id="{up}", task_ids="produce", run_id="u1")
    same_run_only = ti.xcom_pull(dag_id="{up}", task_ids="produce")
    return {"latest": latest, "exact": exact, "same_run_only": same_run_only}

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    PythonOperator(task_id="consume", python_callable=consume)
"""

_CHILD = """
import json, os, sys
assert "TRADEWIND__DATABASE__URL" not in os.environ, "the worker must not know the database"
from tradewind.config import Config
from tradewind.execute.remote import run_remote_try
from tradewind.workloads import Workload
sys.exit(run_remote_try(Workload.from_dict(json.loads(sys.argv[1])), config=Config.load()))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tradewind.db'}"
    else:
        pg = request.getfixturevalue("pg_server")
        name = pg.new_database_name("xdagxcom")
        pg.execute_autocommit(f'CREATE DATABASE "{name}"')
        url = pg.url(name)
    running = start_api_server(tmp_path / "server-home", url)
    yield running
    stop_process(running.proc, timeout=30)
    running.db.engine.dispose()


def _upstream_with_values(server: Any, up: str) -> None:
    """Three runs of the upstream DAG, each with a value: two before the reader's run, one after."""
    add_dag(server.config, server.db, up, UPSTREAM.replace("{dag_id}", up), run_id="u1",
            logical_date=datetime(2024, 1, 1, tzinfo=UTC))
    with server.db.session_scope() as s:
        version_id = s.scalar(select(DagVersion.id).where(DagVersion.dag_id == up))
        add_run(s, up, "u2", datetime(2024, 1, 5, tzinfo=UTC), None, version_id, state="success")
        add_run(s, up, "u3", datetime(2024, 2, 1, tzinfo=UTC), None, version_id, state="success")
        s.flush()
        for run_id, value in (("u1", "january-1"), ("u2", "january-5"), ("u3", "february")):
            s.add(XCom(dag_id=up, run_id=run_id, task_id="produce", map_index=-1, key="return_value",
                       value=json.dumps(value), timestamp=datetime.now(UTC)))


def _claim(server: Any, key: TaskKey) -> str:
    answer = httpx.post(f"{server.url}/execution/v1/try/claim", json={"key": asdict(key), "hostname": "t", "pid": 1},
                        headers={"Authorization": f"Bearer {issue_workload_token(server.config, key)}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def _pull(server: Any, token: str, key: TaskKey, **body: Any) -> httpx.Response:
    payload = {"key": asdict(key), "task_ids": ["produce"], "xcom_key": "return_value", **body}
    return httpx.post(f"{server.url}/execution/v1/xcom/values", json=payload,
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_remote_try_reads_another_dags_xcom_like_the_local_store(server: Any) -> None:
    up, down = f"up_{os.getpid()}", f"down_{os.getpid()}"
    _upstream_with_values(server, up)
    fileloc = add_dag(server.config, server.db, down, DOWNSTREAM.replace("{dag_id}", down).replace("{up}", up),
                      run_id="d1", logical_date=datetime(2024, 1, 10, tzinfo=UTC))
    key = queue(server.db, down, "consume", run_id="d1")
    with server.db.read_scope() as s:
        snapshot_hash = s.scalar(select(DagVersion.snapshot_hash).where(DagVersion.dag_id == down))
    workload = Workload(key=key, fileloc=fileloc, snapshot_hash=snapshot_hash,
                        token=issue_workload_token(server.config, key))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW"))}
    env.update({"TRADEWIND_HOME": str(server.config.home.parent / "worker-home"),
                "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"{server.url}/execution/",
                "TRADEWIND__CORE__LOAD_EXAMPLES": "False"})
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(workload.to_dict())], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with server.db.read_scope() as s:
        row = s.scalars(select(XCom).where(XCom.dag_id == down, XCom.task_id == "consume")).one()
    # Latest upstream value up to the reader's logical date (2024-01-10): u2's, not u3's.
    assert json.loads(row.value) == {"latest": "january-5", "exact": "january-1", "same_run_only": None}


def test_api_answers_equal_the_database_store(server: Any) -> None:
    up, down = f"upq_{os.getpid()}", f"downq_{os.getpid()}"
    _upstream_with_values(server, up)
    add_dag(server.config, server.db, down, DOWNSTREAM.replace("{dag_id}", down).replace("{up}", up),
            run_id="d1", logical_date=datetime(2024, 1, 10, tzinfo=UTC))
    key = queue(server.db, down, "consume", run_id="d1")
    token = _claim(server, key)
    store = DbTryStore(server.db, server.config)
    cases = [("d1", True), ("d1", False), ("u1", False), ("u3", True), ("nope", True)]
    for run_id, prior in cases:
        answer = _pull(server, token, key, dag_id=up, run_id=run_id, include_prior_dates=prior)
        assert answer.status_code == 200, (run_id, answer.text)
        local = store.xcom_values(key, up, run_id, ["produce"], "return_value", include_prior_dates=prior)
        expected = {t: {str(mi): v for mi, v in by.items()} for t, by in local.items()}
        assert answer.json()["values"] == expected, (run_id, prior)
    assert _pull(server, token, key, dag_id=up, run_id="d1", include_prior_dates=True).json()["values"] == {
        "produce": {"-1": "january-5"}}

    # The token checks stay: the body must name the token's own try, and a token is required.
    other_try = {**asdict(key), "task_id": "someone_else"}
    refused = httpx.post(f"{server.url}/execution/v1/xcom/values", timeout=30,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"key": other_try, "dag_id": up, "run_id": "u1", "task_ids": ["produce"],
                               "xcom_key": "return_value"})
    assert refused.status_code == 403 and "someone_else" in refused.json()["detail"]
    anonymous = httpx.post(f"{server.url}/execution/v1/xcom/values", timeout=30,
                           json={"key": asdict(key), "dag_id": up, "run_id": "u1", "task_ids": ["produce"],
                                 "xcom_key": "return_value"})
    assert anonymous.status_code == 401
