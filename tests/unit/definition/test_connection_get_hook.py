"""``Connection.get_hook``: the hook of the connection's conn_type, built for that connection.

The definition layer only asks a resolver; ``tradewind.compat.install()`` installs it (as every
DAG-running process does), so these tests install it too. Real SQLite file, real PostgreSQL
(tests/pg.py), and a DAG run by ``tradewind dags test``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.connection import Connection, set_hook_resolver
from tradewind.definition.exceptions import TradewindException

TRADEWIND = str(Path(sys.executable).parent / "tradewind")


@pytest.fixture
def resolver():
    import tradewind.compat as compat
    from tradewind.compat.connection_hooks import resolve_hook_class

    previous = set_hook_resolver(None)
    compat.install()
    yield resolve_hook_class
    set_hook_resolver(previous)


def test_sqlite_connection_gives_a_working_sqlite_hook(resolver, tmp_path, monkeypatch):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE item (name TEXT, qty INTEGER)")
        db.executemany("INSERT INTO item VALUES (?, ?)", [("nut", 3), ("bolt", 5)])
    monkeypatch.setenv("TRADEWIND_CONN_SHOP", json.dumps({"conn_type": "sqlite", "host": str(path)}))

    hook = Connection.get("shop").get_hook()
    assert type(hook).__name__ == "SqliteHook"
    assert hook.get_records("SELECT name, qty FROM item ORDER BY qty") == [("nut", 3), ("bolt", 5)]


def test_hook_params_reach_the_hook(resolver, tmp_path, monkeypatch):
    monkeypatch.setenv("TRADEWIND_CONN_SHOP", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "x.db")}))
    hook = Connection.get("shop").get_hook(hook_params={"log_sql": False})
    assert hook.log_sql is False
    with pytest.raises(TypeError, match="hook_params must be a dict"):
        Connection.get("shop").get_hook(hook_params=["log_sql"])


def test_postgres_connection_gives_a_postgres_hook_that_queries(resolver, pg_url, monkeypatch):
    uri = pg_url.replace("postgresql+psycopg://", "postgresql://")
    monkeypatch.setenv("TRADEWIND_CONN_WAREHOUSE", uri)
    conn = Connection.get("warehouse")
    assert conn.conn_type == "postgres"
    hook = conn.get_hook()
    assert type(hook).__name__ == "PostgresHook"
    assert hook.get_first("SELECT 40 + 2") == (42,)


@pytest.mark.parametrize("conn_type, class_name", [("http", "HttpHook"), ("aws", "S3Hook"), ("smtp", "SmtpHook")])
def test_other_native_types(resolver, conn_type, class_name):
    assert resolver(conn_type).__name__ == class_name


def test_unknown_conn_type_names_the_type(resolver):
    with pytest.raises(TradewindException, match='Unknown hook type "carrier_pigeon"'):
        Connection(conn_id="coop", conn_type="carrier_pigeon").get_hook()


def test_without_a_resolver_the_error_says_what_installs_it():
    previous = set_hook_resolver(None)
    try:
        with pytest.raises(TradewindException, match=r"tradewind.compat.install\(\)"):
            Connection(conn_id="x", conn_type="sqlite").get_hook()
    finally:
        set_hook_resolver(previous)


def test_template_internals_provider_operators_call():
    class Report(BaseOperator):
        template_fields = ("title", "body")

        def __init__(self, *, title: str, body: str, **kwargs):
            super().__init__(**kwargs)
            self.title, self.body = title, body

        def execute(self, context):
            return None

    op = Report(task_id="report", title="{{ ds }}", body="{{ rows }} rows")
    assert op.times_rendered == 0
    env = op.get_template_env()
    op._do_render_template_fields(op, ["title"], {"ds": "2024-01-02"}, env, set())
    assert (op.title, op.body) == ("2024-01-02", "{{ rows }} rows")
    op.render_template_fields({"ds": "2024-01-02", "rows": 7})
    op.render_template_fields({"ds": "2024-01-02", "rows": 7})
    assert (op.body, op.times_rendered) == ("7 rows", 2)


DAG_SOURCE = '''
from datetime import datetime
from airflow.sdk import DAG, task
from airflow.models import Connection

with DAG("get_hook_dag", start_date=datetime(2024, 1, 1), schedule=None):
    @task
    def count_rows():
        hook = Connection.get_connection_from_secrets("shop").get_hook()
        n = hook.get_first("SELECT count(*) FROM item")[0]
        with open(OUT, "w") as fh:
            fh.write(f"{type(hook).__name__} {n}")

    count_rows()
'''


def test_get_hook_in_a_task_under_dags_test(tmp_path):
    home, out, path = tmp_path / "home", tmp_path / "out.txt", tmp_path / "shop.db"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "get_hook_dag.py").write_text(textwrap.dedent(DAG_SOURCE).replace("OUT", repr(str(out))))
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE item (name TEXT)")
        db.executemany("INSERT INTO item VALUES (?)", [("a",), ("b",), ("c",)])
    env = {k: v for k, v in os.environ.items() if not (k.startswith("TRADEWIND__") or k == "TRADEWIND_HOME")}
    env.update({"TRADEWIND_HOME": str(home), "TRADEWIND__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW_CONN_SHOP": json.dumps({"conn_type": "sqlite", "host": str(path)})})
    for args in (("db", "migrate"), ("dags", "test", "get_hook_dag", "2024-01-02")):
        result = subprocess.run([TRADEWIND, *args], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
    assert "[dags test] count_rows: success" in result.stdout
    assert out.read_text() == "SqliteHook 3"
