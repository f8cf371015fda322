"""``conn_ids`` in task snapshots: the connections a remote try may read (execution API)."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, task
from tradewind.definition.operators.bash import BashOperator
from tradewind.parse.snapshot import MAX_CONN_IDS, TaskSnapshot, serialize_dag, task_conn_ids


def _tasks(dag):
    return {t["task_id"]: t for t in serialize_dag(dag)["tasks"]}


def test_callable_literals_and_conn_id_attributes_are_recorded_sorted():
    with DAG("conns", start_date=datetime(2024, 1, 1), schedule=None) as dag:
        @task
        def uses_db():
            from tradewind.definition.connection import Connection

            def nested():
                return Connection.get("warehouse.ro")

            return Connection.get("my_db"), "has spaces so no", "12345", nested

        uses_db()
        BashOperator(task_id="plain", bash_command="echo hi")
    tasks = _tasks(dag)
    assert tasks["uses_db"]["conn_ids"] == ["my_db", "warehouse.ro"]
    assert "conn_ids" not in tasks["plain"]  # no key: its snapshot hash is as before
    assert TaskSnapshot.from_dict(tasks["uses_db"]).conn_ids == ("my_db", "warehouse.ro")
    assert TaskSnapshot.from_dict(tasks["plain"]).conn_ids == ()


def test_conn_id_attributes_count_and_the_list_is_capped():
    class FakeOp:
        def __init__(self):
            self.postgres_conn_id = "pg_main"
            self.conn_id = "other"
            self.not_a_conn = "ignored"
            self.bad_conn_id = "has space"

    assert task_conn_ids(FakeOp()) == ["other", "pg_main"]

    many = "def f():\n    return [" + ", ".join(f"'c{i:03d}'" for i in range(200)) + "]\n"
    namespace: dict = {}
    exec(compile(many, "<many>", "exec"), namespace)

    class CallableOp:
        python_callable = staticmethod(namespace["f"])

        def __init__(self):
            self.aws_conn_id = "zz_aws"

    found = task_conn_ids(CallableOp())
    assert len(found) == MAX_CONN_IDS and found == sorted(found)
    assert "zz_aws" in found  # attribute names win over literals when capping
