"""Airflow's old per-database SQL operators, imported the way books' DAG files do, on real databases.

``PostgresOperator`` (session PostgreSQL), ``MySqlOperator`` (session MariaDB) and ``SqliteOperator``
(a SQLite file) each run a templated statement with ``parameters`` through the connection named by
their old ``*_conn_id`` argument, given as Airflow's ``AIRFLOW_CONN_*`` variable.
"""

from __future__ import annotations

import sqlite3
import textwrap

import pytest

from tradewind import compat

pytestmark = pytest.mark.tradewind_sim(start="2024-03-05T12:00")

DAG_FILE = """
from datetime import datetime
from airflow import DAG
from IMPORT_PATH import OPERATOR

with DAG("legacy_sql", schedule=None, start_date=datetime(2024, 1, 1)):
    create = OPERATOR(task_id="create", CONN_ARG="warehouse", sql=[
        "DROP TABLE IF EXISTS visits", "CREATE TABLE visits (day VARCHAR(10), hits INTEGER)"]EXTRA)
    insert = OPERATOR(task_id="insert", CONN_ARG="warehouse",
                      sql="INSERT INTO visits VALUES ('{{ ds }}', PLACEHOLDER)", parameters=PARAMS)
    read = OPERATOR(task_id="read", CONN_ARG="warehouse", sql="SELECT day, hits FROM visits")
    create >> insert >> read
"""

CASES = {
    "sqlite": ("airflow.providers.sqlite.operators.sqlite", "SqliteOperator", "sqlite_conn_id", "?", "(7,)", ""),
    "postgres": ("airflow.operators.postgres_operator", "PostgresOperator", "postgres_conn_id", "%(hits)s",
                 "{'hits': 7}", ", autocommit=True"),
    "mariadb": ("airflow.providers.mysql.operators.mysql", "MySqlOperator", "mysql_conn_id", "%s", "[7]",
                ", autocommit=True"),
}


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True


def _conn_uri(database: str, request, tmp_path) -> str:
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    if database == "postgres":
        server = request.getfixturevalue("pg_server")
        db = server.new_database_name("legacy")
        server.execute_autocommit(f'CREATE DATABASE "{db}"')
        request.addfinalizer(lambda: server.execute_autocommit(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        return f"postgres://postgres@127.0.0.1:{server.port}/{db}"
    return request.getfixturevalue("mariadb_server").uri()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"])
def test_old_operator_runs_with_its_old_arguments(database, request, tmp_path, monkeypatch, tradewind_sim):
    module, operator, conn_arg, placeholder, params, extra = CASES[database]
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", _conn_uri(database, request, tmp_path))
    source = (DAG_FILE.replace("IMPORT_PATH", module).replace("OPERATOR", operator).replace("CONN_ARG", conn_arg)
              .replace("PLACEHOLDER", placeholder).replace("PARAMS", params).replace("EXTRA", extra))
    path = tmp_path / "legacy_sql.py"
    path.write_text(source)
    result = tradewind_sim.run(path, logical_date="2024-03-05")
    assert result.states() == {"create": "success", "insert": "success", "read": "success"}
    assert result.xcom("read") == [["2024-03-05", 7]]
    assert f"{operator} is deprecated in Airflow" in result.log("insert")
    assert "SQLExecuteQueryOperator(conn_id=...)" in result.log("insert")
    if database == "sqlite":
        with sqlite3.connect(tmp_path / "warehouse.db") as conn:
            assert conn.execute("SELECT hits FROM visits").fetchall() == [(7,)]


def test_default_conn_id_and_database_argument():
    from airflow.providers.mysql.operators.mysql import MySqlOperator
    from airflow.providers.postgres.operators.postgres import PostgresOperator
    from airflow.providers.sqlite.operators.sqlite import SqliteOperator
    from airflow.sdk import DAG

    with DAG("defaults", schedule=None):
        pg = PostgresOperator(task_id="pg", sql="SELECT 1", database="reports")
        my = MySqlOperator(task_id="my", sql="SELECT 1")
        lite = SqliteOperator(task_id="lite", sql="SELECT 1")
    assert (pg.conn_id, pg.postgres_conn_id, pg.database) == ("postgres_default", "postgres_default", "reports")
    assert (my.conn_id, lite.conn_id) == ("mysql_default", "sqlite_default")


def test_arguments_the_old_operators_had_but_tradewind_lacks_fail_by_name(tmp_path):
    from tradewind.parse.dagbag import parse_file

    path = tmp_path / "runtime_params.py"
    path.write_text(textwrap.dedent("""
        from datetime import datetime
        from airflow import DAG
        from airflow.providers.postgres.operators.postgres import PostgresOperator

        with DAG("runtime_params", schedule=None, start_date=datetime(2024, 1, 1)):
            PostgresOperator(task_id="t", sql="SELECT 1", runtime_parameters={"statement_timeout": "3000ms"})
    """))
    result = parse_file(str(path), timeout=60)
    assert result.dags == []
    assert "runtime_parameters" in result.errors[0].message
