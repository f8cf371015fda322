"""The SQL operators and ``SqlSensor`` run by the task runner (``tradewind dags test``) against
real databases: a SQLite file, the session's PostgreSQL and MariaDB servers."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tradewind.definition.exceptions import InvalidTaskArgumentError
from tradewind.integrations.sql import SQLColumnCheckOperator, SqlSensor, SQLTableCheckOperator

LOAD_SQL = """
-- one day of sales; {{ ds }} is the run's logical date
INSERT INTO sales VALUES ('{{ ds }}', 'eu', AMOUNT);
INSERT INTO sales VALUES ('{{ ds }}', 'us', AMOUNT - 5);
INSERT INTO sales VALUES ('{{ ds }}', 'us', AMOUNT - 3);
"""

DAG_FILE = '''
from datetime import datetime
from tradewind import DAG
from tradewind.integrations.sql import (SQLCheckOperator, SQLColumnCheckOperator, SQLExecuteQueryOperator,
                                        SQLTableCheckOperator, SQLValueCheckOperator, SqlSensor)

with DAG("sql_ops", schedule="@daily", start_date=datetime(2024, 1, 1), template_searchpath=["SQL_DIR"]) as dag:
    create = SQLExecuteQueryOperator(task_id="create", conn_id="warehouse", sql=[
        "DROP TABLE IF EXISTS sales",
        "CREATE TABLE sales (day VARCHAR(10), region VARCHAR(10), amount INTEGER)"])
    load = SQLExecuteQueryOperator(task_id="load", conn_id="warehouse", sql="load_sales.sql",
                                   parameters={"amount": "{{ params.amount }}"}, split_statements=True,
                                   params={"amount": 10})
    report = SQLExecuteQueryOperator(
        task_id="report", conn_id="warehouse",
        sql="SELECT region, SUM(amount) AS total FROM sales WHERE day = '{{ ds }}' GROUP BY region ORDER BY region")
    wait = SqlSensor(task_id="wait_rows", conn_id="warehouse", sql="SELECT COUNT(*) FROM sales",
                     success=lambda n: n >= 3, poke_interval=0.1, timeout=60)
    columns = SQLColumnCheckOperator(task_id="columns", conn_id="warehouse", table="sales", column_mapping={
        "amount": {"null_check": {"equal_to": 0}, "min": {"geq_to": 5}, "max": {"equal_to": 9, "tolerance": 0.2}},
        "region": {"distinct_check": {"equal_to": 2}},
    })
    table = SQLTableCheckOperator(task_id="table", conn_id="warehouse", table="sales", checks={
        "row_count": {"check_statement": "COUNT(*) = 3"},
        "positive": {"check_statement": "amount > 0"},
        "us_rows": {"check_statement": "COUNT(*) = 2", "partition_clause": "region = 'us'"},
    })
    total = SQLValueCheckOperator(task_id="total", conn_id="warehouse", sql="SELECT SUM(amount) FROM sales",
                                  pass_value=22)
    any_rows = SQLCheckOperator(task_id="any_rows", conn_id="warehouse", sql="SELECT COUNT(*) FROM sales")
    create >> load >> [report, wait] >> columns >> table >> [total, any_rows]
'''


def _conn_uri(name: str, request, tmp_path) -> str:
    if name == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.db'}"
    if name == "postgres":
        server = request.getfixturevalue("pg_server")
        db = server.new_database_name("sqlops")
        server.execute_autocommit(f'CREATE DATABASE "{db}"')
        request.addfinalizer(lambda: server.execute_autocommit(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        return f"postgres://postgres@127.0.0.1:{server.port}/{db}"
    server = request.getfixturevalue("mariadb_server")
    with server.connect(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS sales")
    return server.uri()


def _xcom(home, dag_id: str, task_id: str):
    with sqlite3.connect(home.path / "tradewind.db") as conn:
        (value,) = conn.execute("SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value'",
                                (dag_id, task_id)).fetchone()
    return json.loads(value) if isinstance(value, str) else value


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mariadb"])
def test_sql_pipeline_with_templated_file_parameters_sensor_and_checks(home, database, request, tmp_path):
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    marker = ":amount" if database == "sqlite" else "%(amount)s"
    (sql_dir / "load_sales.sql").write_text(LOAD_SQL.replace("AMOUNT", marker))
    home.env["TRADEWIND_CONN_WAREHOUSE"] = _conn_uri(database, request, tmp_path)
    home.add_dag("sql_ops.py", DAG_FILE.replace("SQL_DIR", str(sql_dir)))

    result = home.run("dags", "test", "sql_ops", "2024-03-02")
    assert result.returncode == 0, result.stdout + result.stderr
    for task_id in ("create", "load", "report", "wait_rows", "columns", "table", "total", "any_rows"):
        assert f"[dags test] {task_id}: success" in result.stdout, (task_id, result.stdout)
    # The templated file saw the logical date and the (templated) parameter; rows come back as JSON lists.
    assert _xcom(home, "sql_ops", "report") == [["eu", 10], ["us", 12]]


FAILING_DAG = '''
from datetime import datetime
from tradewind import DAG
from tradewind.integrations.sql import (SQLColumnCheckOperator, SQLExecuteQueryOperator, SQLTableCheckOperator,
                                        SQLValueCheckOperator, SqlSensor)

with DAG("sql_fail", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    setup = SQLExecuteQueryOperator(task_id="setup", conn_id="warehouse", split_statements=True, sql="""
        DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER, price INTEGER);
        INSERT INTO t VALUES (1, 5); INSERT INTO t VALUES (1, NULL); INSERT INTO t VALUES (2, 50);""")
    cols = SQLColumnCheckOperator(task_id="cols", conn_id="warehouse", table="t", column_mapping={
        "id": {"unique_check": {"equal_to": 0}}, "price": {"max": {"less_than": 100}}})
    table = SQLTableCheckOperator(task_id="table", conn_id="warehouse", table="t", checks={
        "cheap": {"check_statement": "price < 10"}, "some_rows": {"check_statement": "COUNT(*) > 0"},
        "nothing_there": {"check_statement": "id > 0", "partition_clause": "id > 100"}})
    value = SQLValueCheckOperator(task_id="value", conn_id="warehouse", sql="SELECT COUNT(*) FROM t",
                                  pass_value=10, tolerance=0.1)
    broken = SqlSensor(task_id="broken", conn_id="warehouse", sql="SELECT COUNT(*) FROM t",
                       failure=lambda n: n > 2, poke_interval=0.1, timeout=60)
    empty = SqlSensor(task_id="empty", conn_id="warehouse", sql="SELECT id FROM t WHERE id > 100",
                      fail_on_empty=True, poke_interval=0.1, timeout=60)
    soft = SqlSensor(task_id="soft", conn_id="warehouse", sql="SELECT id FROM t WHERE id > 100",
                     poke_interval=0.1, timeout=0.3, soft_fail=True)
    setup >> [cols, table, value, broken, empty, soft]
'''


def test_failed_checks_and_sensor_failures_name_what_failed(home, tmp_path):
    home.env["TRADEWIND_CONN_WAREHOUSE"] = f"sqlite:///{tmp_path / 'fail.db'}"
    home.add_dag("sql_fail.py", FAILING_DAG)
    result = home.run("dags", "test", "sql_fail")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    states = {"setup": "success", "cols": "failed", "table": "failed", "value": "failed",
              "broken": "failed", "empty": "failed", "soft": "skipped"}
    for task_id, state in states.items():
        assert f"[dags test] {task_id}: {state}" in result.stdout, (task_id, out)
    logs = "\n".join(p.read_text() for p in (home.path / "logs").rglob("*.log"))
    # The column check names the failed check and column; the passing one is not listed.
    assert "Column: id, Check: unique_check, Check Values: {'equal_to': 0}, Result: 1" in logs
    assert "Column: price, Check: max" not in logs
    assert "Check: cheap, Statement: price < 10 (condition false)" in logs
    assert "Check: nothing_there, Statement: id > 0 (no rows to check)" in logs
    assert "Check: some_rows" not in logs
    assert "Pass value: 10\nTolerance: 10%" in logs
    assert "Failure criteria met. failure(3) returned True" in logs
    assert "No rows returned, raising as per fail_on_empty flag" in logs


def test_bad_check_definitions_fail_at_parse_time():
    with pytest.raises(InvalidTaskArgumentError, match="column 'id' check 'nul_check' is unknown"):
        SQLColumnCheckOperator(task_id="c", conn_id="w", table="t", column_mapping={"id": {"nul_check": {}}})
    with pytest.raises(InvalidTaskArgumentError, match="needs one of greater_than"):
        SQLColumnCheckOperator(task_id="c", conn_id="w", table="t", column_mapping={"id": {"min": {"tolerance": 1}}})
    with pytest.raises(InvalidTaskArgumentError, match="unknown key\\(s\\) gt"):
        SQLColumnCheckOperator(task_id="c", conn_id="w", table="t", column_mapping={"id": {"min": {"gt": 1}}})
    with pytest.raises(InvalidTaskArgumentError, match="check 'rows' needs a 'check_statement'"):
        SQLTableCheckOperator(task_id="t", conn_id="w", table="t", checks={"rows": {"statement": "1=1"}})
    with pytest.raises(InvalidTaskArgumentError, match="failure of sensor 's' must be callable"):
        SqlSensor(task_id="s", conn_id="w", sql="SELECT 1", failure="n > 1")
    with pytest.raises(InvalidTaskArgumentError, match="needs conn_id"):
        SQLTableCheckOperator(task_id="t", table="t", checks={"rows": {"check_statement": "1=1"}})
