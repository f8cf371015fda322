"""SQL tasks on a database connection: load a day of orders from a templated ``.sql`` file, wait
for the rows, check the table's quality, report per region.

It runs on the SQLite connection ``example_sqlite`` (no extra needed); point it at a file first::

    export TRADEWIND_CONN_EXAMPLE_SQLITE=sqlite:////tmp/example_orders.db
    tradewind dags test example_sql 2024-03-05

The same operators work on PostgreSQL (``postgres://...``, the ``postgres`` extra) and
MySQL/MariaDB (``mysql://...``, the ``mysql`` extra); only the parameter markers in the SQL
differ (``:name`` for SQLite, ``%(name)s`` for the others).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tradewind import DAG
from tradewind.integrations.sql import (
    SQLColumnCheckOperator,
    SQLExecuteQueryOperator,
    SqlSensor,
    SQLTableCheckOperator,
)

CONN_ID = "example_sqlite"

with DAG(
    dag_id="example_sql",
    description="Load, check and report a day of orders with the SQL operators",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "sql"],
    default_args={"owner": "tradewind"},
    template_searchpath=[str(Path(__file__).parent / "templates")],
    doc_md=__doc__,
) as dag:
    create_table = SQLExecuteQueryOperator(
        task_id="create_table",
        conn_id=CONN_ID,
        sql="CREATE TABLE IF NOT EXISTS orders (day TEXT, region TEXT, quantity INTEGER, amount INTEGER)",
    )
    # A .sql file is a template: {{ ds }} is the run's date; the statements share the parameters.
    load_orders = SQLExecuteQueryOperator(
        task_id="load_orders",
        conn_id=CONN_ID,
        sql="example_sql_load.sql",
        parameters={"unit_price": 4},
        split_statements=True,
    )
    wait_for_orders = SqlSensor(
        task_id="wait_for_orders",
        conn_id=CONN_ID,
        sql="SELECT COUNT(*) FROM orders WHERE day = '{{ ds }}'",
        success=lambda count: count >= 3,
        poke_interval=5,
        timeout=300,
    )
    check_columns = SQLColumnCheckOperator(
        task_id="check_columns",
        conn_id=CONN_ID,
        table="orders",
        partition_clause="day = '{{ ds }}'",
        column_mapping={
            "quantity": {"null_check": {"equal_to": 0}, "min": {"greater_than": 0}},
            "region": {"distinct_check": {"geq_to": 1}},
        },
    )
    check_table = SQLTableCheckOperator(
        task_id="check_table",
        conn_id=CONN_ID,
        table="orders",
        partition_clause="day = '{{ ds }}'",
        checks={
            "has_rows": {"check_statement": "COUNT(*) > 0"},
            "amount_matches_quantity": {"check_statement": "amount = quantity * 4"},
        },
    )
    # The rows become the task's XCom as JSON lists: [["eu", 3, 12], ["us", 6, 24]].
    report = SQLExecuteQueryOperator(
        task_id="report",
        conn_id=CONN_ID,
        sql="SELECT region, SUM(quantity), SUM(amount) FROM orders WHERE day = '{{ ds }}' "
            "GROUP BY region ORDER BY region",
    )

    create_table >> load_orders >> wait_for_orders >> [check_columns, check_table] >> report
