"""Our DAGs for the provider tests against real local servers, written as for Airflow 3 with the
provider packages' paths. Connections come from AIRFLOW_CONN_* variables set by the test:
``pg_e2e`` (PostgreSQL), ``mysql_e2e`` (MariaDB), ``http_e2e`` (a local HTTP server),
``smtp_e2e`` (a local SMTP server)."""

import json
from datetime import datetime

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator, SQLValueCheckOperator
from airflow.providers.http.operators.http import HttpOperator
from airflow.providers.http.sensors.http import HttpSensor
from airflow.providers.mysql.hooks.mysql import MySqlHook
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.providers.smtp.operators.smtp import EmailOperator
from airflow.sdk import DAG, task

START = datetime(2024, 1, 1)

with DAG("provider_postgres", schedule=None, start_date=START):
    create = SQLExecuteQueryOperator(
        task_id="create",
        conn_id="pg_e2e",
        sql="CREATE TABLE orders (id INT PRIMARY KEY, day DATE, amount NUMERIC); "
            "INSERT INTO orders VALUES (1, '{{ ds }}', 10.5), (2, '{{ ds }}', 4.5)",
        split_statements=True,
    )
    check = SQLValueCheckOperator(task_id="check", conn_id="pg_e2e", sql="SELECT SUM(amount) FROM orders",
                                  pass_value=15)

    @task
    def summarise():
        hook = PostgresHook(postgres_conn_id="pg_e2e")
        total = hook.get_first("SELECT SUM(amount)::float, COUNT(*) FROM orders")
        hook.insert_rows("summary", [(total[1], total[0])], target_fields=["n", "total"])
        return list(total)

    create_summary = SQLExecuteQueryOperator(
        task_id="create_summary", conn_id="pg_e2e", sql="CREATE TABLE summary (n INT, total FLOAT)")
    create >> check >> create_summary >> summarise()

with DAG("provider_mysql", schedule=None, start_date=START):
    create = SQLExecuteQueryOperator(
        task_id="create",
        conn_id="mysql_e2e",
        sql=["CREATE TABLE IF NOT EXISTS visits (page VARCHAR(50), n INT)",
             "DELETE FROM visits",
             "INSERT INTO visits VALUES ('home', 3), ('about', 1)"],
    )

    @task
    def busiest():
        hook = MySqlHook(mysql_conn_id="mysql_e2e")
        page = hook.get_first("SELECT page FROM visits ORDER BY n DESC LIMIT 1")[0]
        hook.run("CREATE TABLE IF NOT EXISTS busiest (page VARCHAR(50))")
        hook.insert_rows("busiest", [(page,)], target_fields=["page"])
        return page

    create >> busiest()

with DAG("provider_http", schedule=None, start_date=START):
    ready = HttpSensor(task_id="ready", http_conn_id="http_e2e", endpoint="health",
                       response_check=lambda response: "ok" in response.text, poke_interval=1, timeout=30)
    post = HttpOperator(
        task_id="post",
        http_conn_id="http_e2e",
        endpoint="api/runs",
        method="POST",
        data=json.dumps({"day": "{{ ds }}"}),
        headers={"Content-Type": "application/json"},
        response_filter=lambda response: response.text.upper(),
    )
    ready >> post

with DAG("provider_smtp", schedule=None, start_date=START):
    EmailOperator(
        task_id="mail",
        conn_id="smtp_e2e",
        to=["ops@example.com"],
        subject="Report for {{ ds }}",
        html_content="<p>Rows: {{ params.rows }}</p>",
        params={"rows": 42},
        from_email="tradewind@example.com",
    )
