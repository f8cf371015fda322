"""The providers Tradewind implements natively, installed from PyPI with ``tradewind providers
install`` (their modules Tradewind lacks bridged from the distributions), end to end against real
local servers: PostgreSQL (tests/pg.py), MariaDB (tests/mariadb.py; the seed's feature store), a
local HTTP server, a local SMTP server (aiosmtpd). SQLite: test_provider_flavours.py.

Each test runs our DAG file ``dags/provider_services_dag.py`` (or the seed's tutorial) with the
venv's real ``tradewind dags test`` and checks what reached the server.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from e2e_support import dags_test, home_with_dag
from servers import webhook_server  # noqa: F401 - fixture
from smtp_support import running_smtp_server

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv

DAG_FILE = "provider_services_dag.py"
SEEDS = Path(__file__).resolve().parents[1] / "conformance" / "dags" / "seeds"


@pytest.fixture
def home(tradewind_venv, tmp_path):
    return home_with_dag(tradewind_venv, tmp_path / "home", DAG_FILE)


@pytest.fixture
def smtp_server():
    yield from running_smtp_server()


def test_bridged_parts_of_the_native_providers_load(home):
    rows = {row["name"]: row for row in home.json("providers", "list")}
    for name in ("sqlite", "postgres", "mysql", "http", "smtp", "common.sql"):
        assert rows[name]["mode"] == "native+bridged", rows[name]


def test_postgres(home, pg_server):
    database = pg_server.new_database_name("providers")
    pg_server.execute_autocommit(f"CREATE DATABASE {database}")
    home.env["AIRFLOW_CONN_PG_E2E"] = f"postgresql://postgres@127.0.0.1:{pg_server.port}/{database}"
    run = dags_test(home, "provider_postgres")
    assert run.states == {"create": "success", "check": "success", "create_summary": "success",
                          "summarise": "success"}, run.output

    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg_server.port}/{database}") as conn:
        assert conn.execute("SELECT n, total FROM summary").fetchall() == [(2, 15.0)]
        assert conn.execute("SELECT DISTINCT day::text FROM orders").fetchall() == [("2024-03-02",)]


def test_mysql_on_mariadb_and_the_seed_pipeline(home, mariadb_server):
    uri = f"mysql://{mariadb_server.user}:{mariadb_server.password}@127.0.0.1:{mariadb_server.port}"
    database = f"providers_{uuid.uuid4().hex[:10]}"  # the server is shared with other tests' tables
    conn = mariadb_server.connect()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {database}")
    conn.close()
    home.env["AIRFLOW_CONN_MYSQL_E2E"] = f"{uri}/{database}"
    run = dags_test(home, "provider_mysql")
    assert run.states == {"create": "success", "busiest": "success"}, run.output

    # The seed tutorial (apache-airflow-providers-mysql's docs tell its readers to install it):
    # its SQLExecuteQueryOperator drops a table of the MariaDB feature store.
    shutil.copytree(SEEDS, home.path / "dags", dirs_exist_ok=True)
    conn = mariadb_server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE IF NOT EXISTS mlops")
            cur.execute("CREATE TABLE IF NOT EXISTS mlops.ineligible_loan_model_features (applicant_id INT)")
        conn.commit()
        home.env["AIRFLOW_CONN_FEATURE_STORE"] = f"{uri}/mlops"
        run = dags_test(home, "data_extract_pipeline")
        assert run.run_state == "success", run.output
        with conn.cursor() as cur:
            cur.execute(f"SELECT page FROM {database}.busiest")
            assert [row[0] for row in cur.fetchall()] == ["home"]
            cur.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'mlops' "
                        "AND table_name = 'ineligible_loan_model_features'")
            assert cur.fetchone()[0] == 0
    finally:
        conn.close()


def test_http(home, webhook_server):  # noqa: F811
    webhook_server.reply = b"ok from the local server"
    home.env["AIRFLOW_CONN_HTTP_E2E"] = webhook_server.url
    run = dags_test(home, "provider_http")
    assert run.states == {"ready": "success", "post": "success"}, run.output
    requests = webhook_server.received()
    assert [(r.method, r.path) for r in requests] == [("GET", "/health"), ("POST", "/api/runs")]
    assert requests[1].json() == {"day": "2024-03-02"}
    assert requests[1].headers["content-type"] == "application/json"


def test_smtp(home, smtp_server):
    sink, port = smtp_server
    home.env["AIRFLOW_CONN_SMTP_E2E"] = json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "timeout": 10}})
    run = dags_test(home, "provider_smtp")
    assert run.states == {"mail": "success"}, run.output
    (message,) = sink.messages
    assert message.mail_from == "tradewind@example.com" and message.rcpt_tos == ["ops@example.com"]
    assert message.subject == "Report for 2024-03-02"
    assert "Rows: 42" in message.html
