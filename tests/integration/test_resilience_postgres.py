"""Acceptance criterion 7: the CLI and a real ``tradewind scheduler`` on PostgreSQL.

Each test gets its own empty database on the session's PostgreSQL server and
points ``TRADEWIND__DATABASE__URL`` at it; no SQLite file may appear in the home.
"""

from __future__ import annotations

import pytest
from cli_support import SMALL_DAG
from resilience_support import Cluster, scheduler_killed_while_queued_and_while_running

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_cluster(tmp_path, pg_server):
    name = pg_server.new_database_name("resilience")
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    cluster = Cluster(tmp_path / "home", db_url=pg_server.url(name))
    try:
        yield cluster
    finally:
        cluster.close()
        pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _assert_stayed_on_postgres(cluster: Cluster) -> None:
    assert not list(cluster.path.glob("*.db")), "a SQLite database was created although the URL is PostgreSQL"


def test_migrate_and_dags_test_on_postgres(pg_cluster):
    assert pg_cluster.rows("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'") == [{"n": 0}]
    pg_cluster.ok("db", "migrate")
    assert pg_cluster.rows("SELECT count(*) AS n FROM dag_run") == [{"n": 0}]
    pg_cluster.add_dag("small_dag.py", SMALL_DAG)
    result = pg_cluster.run("dags", "test", "small", "2024-01-01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hello-from-bash 2024-01-01" in result.stdout

    runs = pg_cluster.json("dags", "list-runs", "small")
    assert [(r["state"], r["logical_date"]) for r in runs] == [("success", "2024-01-01T00:00:00+00:00")]
    # Read straight from PostgreSQL: the run, its task instances and the XCom are there.
    assert pg_cluster.run_states("small") == ["success"]
    assert {t: (ti["state"], ti["try_number"]) for t, ti in pg_cluster.tis("small").items()} == {
        "hello": ("success", 1), "shout": ("success", 1),
    }
    xcom = pg_cluster.rows("SELECT task_id FROM xcom WHERE dag_id = 'small' AND key = 'return_value'")
    assert {r["task_id"] for r in xcom} >= {"shout"}
    _assert_stayed_on_postgres(pg_cluster)


def test_scheduler_on_postgres_runs_a_triggered_run(pg_cluster):
    pg_cluster.ok("db", "migrate")
    pg_cluster.add_dag("small_dag.py", SMALL_DAG)
    pg_cluster.ok("dags", "trigger", "small", "--run-id", "on_pg")
    pg_cluster.start()
    pg_cluster.wait(lambda: pg_cluster.run_states("small") == ["success"], what="the triggered run to succeed")
    assert pg_cluster.stop() == 0, pg_cluster.output()

    states = {t["task_id"]: (t["state"], t["try_number"]) for t in
              pg_cluster.json("tasks", "states-for-dag-run", "small", "on_pg")}
    assert states == {"hello": ("success", 1), "shout": ("success", 1)}
    log = pg_cluster.path / "logs" / "dag_id=small" / "run_id=on_pg" / "task_id=hello" / "attempt=1.log"
    assert "hello-from-bash" in log.read_text()
    # A clean stop ends the scheduler's and its DAG processor's job rows in PostgreSQL.
    jobs = pg_cluster.rows("SELECT job_type, state FROM job")
    assert {(j["job_type"], j["state"]) for j in jobs} == {("scheduler", "success"), ("dag_processor", "success")}
    _assert_stayed_on_postgres(pg_cluster)


@pytest.mark.slow
def test_scheduler_killed_and_restarted_on_postgres_loses_nothing(pg_cluster):
    """On PostgreSQL the restarted scheduler sees the dead one's job row still 'running' with a
    fresh heartbeat; its process being gone must not stop the queued try from being taken back."""
    pg_cluster.ok("db", "migrate")
    scheduler_killed_while_queued_and_while_running(pg_cluster)
    _assert_stayed_on_postgres(pg_cluster)
