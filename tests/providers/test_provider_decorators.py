"""Providers' ``@task.<name>`` decorators (``get_provider_info()["task-decorators"]``) on Tradewind's
decorator base (``airflow.sdk.bases.decorator``), with the real distributions from PyPI.

``@task.sql`` is common-sql's (Tradewind has no native one): its module subclasses
``DecoratedOperator`` and Tradewind's native ``SQLExecuteQueryOperator``; the ``tradewind_venv`` of
conftest.py has common-sql and sqlite. ``@task.stub`` is the standard
distribution's, in the ``airflow_venv`` (Apache Airflow pulled in by pip). A decorator no installed provider declares fails the DAG's
import naming it and the distribution to install. The last test checks the base in-process.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from e2e_support import dags_test, import_errors

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv

SQL_DAG = '''
from datetime import datetime

from airflow.sdk import DAG, task

with DAG("sql_decorator", start_date=datetime(2024, 1, 1), schedule=None):
    @task.sql(conn_id="sqlite_e2e")
    def create():
        return ["DROP TABLE IF EXISTS t", "CREATE TABLE t (n INTEGER, day TEXT)",
                "INSERT INTO t VALUES (1, '{{ ds }}'), (2, '{{ ds }}'), (3, 'other')"]

    @task.sql(conn_id="sqlite_e2e", parameters={"day": "2024-03-02"})
    def total(table):
        return f"SELECT SUM(n) FROM {table} WHERE day = :day"

    @task
    def table_name():
        return "t"

    @task
    def check(rows):
        assert rows == [[3]], rows
        return rows[0][0]

    created = create()
    summed = total(table_name())
    created >> summed
    check(summed)
    created >> total.override(task_id="per_table").expand(table=["t", "(SELECT * FROM t)"])
'''

MISSING_DAG = '''
from datetime import datetime

from airflow.sdk import DAG, task

with DAG("k8s_decorator", start_date=datetime(2024, 1, 1), schedule=None):
    @task.kubernetes(image="python:3.12")
    def in_a_pod():
        return 1

    in_a_pod()
'''


def test_task_sql_from_common_sql_runs(tradewind_venv, tmp_path):
    home = tradewind_venv.home(tmp_path / "home")
    home.add_dag("sql_decorator_dag.py", SQL_DAG)
    home.add_dag("k8s_decorator_dag.py", MISSING_DAG)
    home.ok("db", "migrate")
    home.env["AIRFLOW_CONN_SQLITE_E2E"] = f"sqlite:///{tmp_path / 'data.db'}"
    run = dags_test(home, "sql_decorator")
    assert run.states == {"create": "success", "table_name": "success", "total": "success",
                          "check": "success", "per_table[0]": "success", "per_table[1]": "success"}, run.output
    # The decorated function's SQL (rendered: {{ ds }}) reached the database.
    import sqlite3

    with sqlite3.connect(tmp_path / "data.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM t WHERE day = '2024-03-02'").fetchone() == (2,)
    errors = import_errors(home)
    assert "sql_decorator_dag.py" not in errors
    message = errors["k8s_decorator_dag.py"]
    assert "'kubernetes'" in message and "apache-airflow-providers-cncf-kubernetes" in message, message


STUB_DAG = '''
from datetime import datetime

from airflow.sdk import DAG, task

with DAG("stub_tasks", start_date=datetime(2024, 1, 1), schedule=None):
    @task
    def prepare():
        return 1

    @task.stub(queue="golang")
    def in_go(n):
        \"\"\"Implemented by a Go worker.\"\"\"
        ...

    in_go(prepare())
'''

BAD_STUB_DAG = '''
from datetime import datetime

from airflow.sdk import DAG, task

with DAG("bad_stub", start_date=datetime(2024, 1, 1), schedule=None):
    @task.stub
    def has_a_body():
        return 1

    has_a_body()
'''


def test_standards_stub_decorator_with_apache_airflow_installed(airflow_venv, tmp_path):
    """@task.stub (Airflow 3.1, tasks run by another language's worker): Tradewind has no native one; the
    standard distribution's (pulled in with Apache Airflow by pip) builds on Tradewind's decorator base,
    its own checks included. Run here it fails as it says (no remote worker), after the upstream task."""
    home = airflow_venv.home(tmp_path / "home")
    home.add_dag("stub_dag.py", STUB_DAG)
    home.add_dag("bad_stub_dag.py", BAD_STUB_DAG)
    home.ok("db", "migrate")
    errors = import_errors(home)
    assert "stub_dag.py" not in errors, errors
    assert "must be an empty function" in errors["bad_stub_dag.py"], errors
    run = dags_test(home, "stub_tasks")
    assert run.states == {"prepare": "success", "in_go": "failed"}, run.output
    assert "@task.stub should not be executed directly" in run.output


def test_decorator_base_in_process():
    """DecoratedOperator + task_decorator_factory build tasks as a provider module does; the Airflow 2
    path is the same object; task.<unknown> names the decorator."""
    import tradewind.compat

    tradewind.compat.install()
    from airflow.decorators.base import DecoratedOperator as Airflow2Base
    from airflow.sdk import DAG, BaseOperator
    from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory

    from tradewind.definition.decorators import task

    assert Airflow2Base is DecoratedOperator

    class EchoOperator(BaseOperator):
        def __init__(self, *, word, **kwargs):
            super().__init__(**kwargs)
            self.word = word

    class _EchoDecoratedOperator(DecoratedOperator, EchoOperator):
        template_fields = (*DecoratedOperator.template_fields,)
        custom_operator_name = "@task.echo"

        def __init__(self, *, python_callable, op_args=None, op_kwargs=None, **kwargs):
            super().__init__(python_callable=python_callable, op_args=op_args, op_kwargs=op_kwargs, word="-",
                             **kwargs)

        def execute(self, context):
            return self.python_callable(*self.op_args, **self.op_kwargs) + self.word

    def echo_task(python_callable=None, **kwargs) -> TaskDecorator:
        return task_decorator_factory(python_callable=python_callable,
                                      decorated_operator_class=_EchoDecoratedOperator, **kwargs)

    with DAG("echo", start_date=datetime(2024, 1, 1)) as dag:
        @echo_task(retries=2)
        def shout(text):
            return text.upper()

        @task
        def source():
            return "hi"

        first = shout(source())
        second = shout.override(task_id="again")("x")
        mapped = shout.expand(text=["a", "b"])
    op = dag.get_task("shout")
    assert isinstance(op, _EchoDecoratedOperator) and op.retries == 2 and op.word == "-"
    assert op.upstream_task_ids == {"source"} and first.operator is op
    assert second.operator.task_id == "again" and second.operator.op_args == ["x"]
    assert second.operator.execute({}) == "X-"
    assert mapped.operator.task_id == "shout__1" and dag.get_task("shout__1") is mapped.operator
    with pytest.raises(AttributeError, match="'task' has no decorator 'nonexistent_thing'"):
        task.nonexistent_thing  # noqa: B018
    with pytest.raises(TypeError, match="decorated_operator_class"):
        task_decorator_factory(lambda: 1, decorated_operator_class=dict)
