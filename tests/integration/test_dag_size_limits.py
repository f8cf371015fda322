"""Sizes at the defaults, through the real DAG processor and its parse children: a 10,000-task DAG
is stored, a file building 100,000 tasks becomes an import error naming ``[core]
max_tasks_per_dag`` (stopped at the limit, so it costs seconds and little memory), and the other
files are stored as usual."""

from __future__ import annotations

import textwrap

from tradewind.persist.queries.dags import get_dag
from tradewind.persist.queries.import_errors import list_import_errors
from tradewind.schedule.dag_processor import DagProcessor

MANY = """
from datetime import datetime
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("{dag_id}", start_date=datetime(2024, 1, 1), schedule=None):
    for i in range({count}):
        EmptyOperator(task_id=f"t{{i}}")
"""


def test_defaults_store_10000_tasks_and_refuse_100000_naming_the_setting(config, db) -> None:
    for name, count in (("ten_thousand", 10_000), ("hundred_thousand", 100_000), ("two", 2)):
        (config.dags_folder / f"{name}.py").write_text(textwrap.dedent(MANY.format(dag_id=name, count=count)))
    DagProcessor(config, db).sync_once(force=True)
    with db.session_scope() as session:
        [error] = list_import_errors(session)
        assert error.filename.endswith("hundred_thousand.py")
        assert error.message == ("TooManyTasksError: DAG 'hundred_thousand' has more than 20000 tasks (refused at task "
                                 "'t20000'); [core] max_tasks_per_dag allows 20000: split the DAG or raise the setting")
        assert get_dag(session, "hundred_thousand") is None
        assert get_dag(session, "ten_thousand") is not None
        assert get_dag(session, "two") is not None
