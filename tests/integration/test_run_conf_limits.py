"""A run conf of 10 MB (and one just over ``[core] max_conf_size``) through every door that
triggers a run: REST API v1 and v2 (the UI's trigger form posts to v1), and ``tradewind dags
trigger --conf``. Each is refused naming the limit that applies, and no run is created."""

from __future__ import annotations

import json

import pytest
from api_support import Api, make_api, store_dag_file
from cli_support import SMALL_DAG, Home
from sqlalchemy import select

from tradewind.config import Config
from tradewind.persist.db import Database
from tradewind.persist.migrate import upgrade
from tradewind.persist.models import DagRun

DAGS = """
with DAG("conf_dag", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="only")
"""

TEN_MB = {"blob": "x" * (10 * 1024 * 1024)}
OVER_CONF = {"blob": "x" * 70_000}  # over 64 KiB of JSON, under the 1 MiB body limit
DOORS = [("/api/v1/dags/conf_dag/dagRuns", {}), ("/api/v2/dags/conf_dag/dagRuns", {"logical_date": None})]
#: What each API answers for a conf over the limit (v1: 422 as for any invalid body; v2: 400, Airflow 3's).
INVALID = {"/api/v1/dags/conf_dag/dagRuns": 422, "/api/v2/dags/conf_dag/dagRuns": 400}


def run_ids(db: Database) -> list[str]:
    with db.session_scope() as session:
        return sorted(session.scalars(select(DagRun.run_id).where(DagRun.dag_id == "conf_dag")))


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "conf_dags", DAGS)
    return make_api(config, db)


@pytest.mark.parametrize(("path", "extra"), DOORS, ids=["v1", "v2"])
def test_a_10_mb_conf_is_413_naming_the_body_limit_and_creates_no_run(api, db, path, extra) -> None:
    assert api.post(path, json={"dag_run_id": "kept", **extra}).status_code in (200, 201)
    response = api.post(path, json={"dag_run_id": "huge", "conf": TEN_MB, **extra})
    assert response.status_code == 413
    assert "[api] max_body_size" in response.json()["detail"]
    assert run_ids(db) == ["kept"]


@pytest.mark.parametrize(("path", "extra"), DOORS, ids=["v1", "v2"])
def test_a_conf_over_max_conf_size_is_refused_naming_it(api, db, path, extra) -> None:
    response = api.post(path, json={"dag_run_id": "big", "conf": OVER_CONF, **extra})
    assert response.status_code == INVALID[path], response.text
    assert "[core] max_conf_size allows 65536" in json.dumps(response.json())
    assert run_ids(db) == []


def test_with_a_larger_body_limit_a_10_mb_conf_meets_max_conf_size(tw_home) -> None:
    config = Config.load(home=tw_home, environ={}, overrides={
        "core": {"load_examples": "False"}, "api": {"max_body_size": str(20 * 1024 * 1024)}})
    config.ensure_home()
    db = Database.from_config(config)
    upgrade(db)
    try:
        store_dag_file(config, db, "conf_dags", DAGS)
        api = make_api(config, db)
        for path, extra in DOORS:
            response = api.post(path, json={"conf": TEN_MB, **extra})
            assert response.status_code == INVALID[path], response.text
            assert "[core] max_conf_size allows 65536" in response.json()["detail"]
        assert run_ids(db) == []
    finally:
        db.engine.dispose()


def test_the_cli_refuses_a_conf_over_max_conf_size_and_keeps_other_runs(home: Home) -> None:
    home.add_dag("small.py", SMALL_DAG)
    home.ok("dags", "trigger", "small", "--run-id", "kept", "--conf", '{"rows": 1}')
    # 100 KB: about the most one command-line argument can carry (Linux: 128 KiB), over the 64 KiB limit.
    result = home.run("dags", "trigger", "small", "--run-id", "big", "--conf", json.dumps({"blob": "x" * 100_000}))
    assert result.returncode != 0
    assert "[core] max_conf_size allows 65536" in result.stderr
    assert [r["run_id"] for r in home.json("dags", "list-runs", "small")] == ["kept"]
