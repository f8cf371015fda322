"""Runner semantics that Airflow users rely on: XCom values are data (never templates), a
timeout cannot be swallowed by ``except Exception``, and a cached DAG file gives every try
fresh operators."""

from __future__ import annotations

import json
import os

import pytest
from runner_support import add_dag, queue, ti_row, try_row, workload, xcoms

from tradewind.execute.prepare import load_task
from tradewind.execute.db_store import DbTryStore
from tradewind.execute.runner import run_try

SEMANTICS = """
from tradewind.definition.exceptions import TaskTimeout

def give():
    return "{{ ds }} is not a template here"

def echo(value, when):
    return {"value": value, "when": when}

def stubborn():
    try:
        time.sleep(10)
    except Exception:
        pass
    return "swallowed the timeout"

def polite():
    try:
        time.sleep(10)
    except TaskTimeout:
        raise
    return "never"

with DAG("semantics", start_date=datetime(2024, 1, 1), schedule=None):
    give_task = PythonOperator(task_id="give", python_callable=give)
    PythonOperator(task_id="echo", python_callable=echo,
                   op_kwargs={"value": give_task.output, "when": "{{ ds }}"})
    PythonOperator(task_id="stubborn", python_callable=stubborn, execution_timeout=timedelta(seconds=0.3))
    PythonOperator(task_id="polite", python_callable=polite, execution_timeout=timedelta(seconds=0.3))
"""


@pytest.fixture
def semantics(config, db) -> str:
    return add_dag(config, db, "semantics", SEMANTICS)


def _run(config, db, fileloc, task_id):
    key = queue(db, "semantics", task_id)
    return key, run_try(workload(key, fileloc), config=config, store=DbTryStore(db, config), in_process=True)


def test_pulled_xcom_value_is_not_rendered(config, db, semantics) -> None:
    _, given = _run(config, db, semantics, "give")
    assert given.state == "success", given.error
    key, result = _run(config, db, semantics, "echo")
    assert result.state == "success", result.error
    value = json.loads(xcoms(db, key)["return_value"])
    # The literal template text in the pulled value survives; the DAG author's template renders.
    assert value == {"value": "{{ ds }} is not a template here", "when": "2024-01-02"}
    rendered = try_row(db, key).rendered_fields["op_kwargs"]
    assert rendered == {"value": "{{ ds }} is not a template here", "when": "2024-01-02"}


def test_timeout_is_not_swallowed_by_except_exception(config, db, semantics) -> None:
    key, result = _run(config, db, semantics, "stubborn")
    assert result.state == "failed"
    assert "TaskTimeout" in (result.error or "")
    assert ti_row(db, key).state == "failed"
    assert "return_value" not in xcoms(db, key)


def test_timeout_can_still_be_caught_by_name(config, db, semantics) -> None:
    _, result = _run(config, db, semantics, "polite")
    assert result.state == "failed" and "TaskTimeout" in (result.error or "")


def test_airflow_timeout_name_is_importable_and_not_an_exception() -> None:
    from tradewind import AirflowTaskTimeout, TaskTimeout

    assert AirflowTaskTimeout is TaskTimeout
    assert issubclass(TaskTimeout, BaseException) and not issubclass(TaskTimeout, Exception)


def test_cached_dag_file_gives_each_try_a_fresh_operator(config, db, semantics) -> None:
    _run(config, db, semantics, "give")
    key = queue(db, "semantics", "echo")
    dag1, task1 = load_task(workload(key, semantics), config)
    dag2, task2 = load_task(workload(key, semantics), config)
    assert dag1 is dag2  # the file was imported once
    assert task1 is not task2 and task1.task_id == task2.task_id == "echo"
    task1.op_kwargs = {"changed": True}  # what rendering does to the try's operator
    assert task2.op_kwargs != {"changed": True}
    assert dag1.task_dict["echo"].op_kwargs != {"changed": True}


def test_changed_dag_file_is_imported_again(config, db, semantics) -> None:
    key = queue(db, "semantics", "give")
    dag1, _ = load_task(workload(key, semantics), config)
    with open(semantics, "a") as fh:
        fh.write("\nEXTRA = 1\n")
    stat = os.stat(semantics)
    os.utime(semantics, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    dag2, _ = load_task(workload(key, semantics), config)
    assert dag1 is not dag2


def test_stored_task_snapshot_is_cached_per_version_and_hash(config, db, semantics) -> None:
    from sqlalchemy import select

    from tradewind.execute.db_store import _stored_task
    from tradewind.persist.models import DagVersion

    with db.session_scope() as s:
        version = s.scalars(select(DagVersion).where(DagVersion.dag_id == "semantics")).one()
        assert _stored_task(s, version.id, "give").retries == 0
        assert _stored_task(s, version.id, "no_such_task") is None
        # The same id with other content (SQLite may reuse a deleted version's id): not stale.
        data = dict(version.snapshot)
        data["tasks"] = [dict(t, retries=3) if t["task_id"] == "give" else t for t in data["tasks"]]
        version.snapshot, version.snapshot_hash = data, "another-hash"
        s.flush()
        assert _stored_task(s, version.id, "give").retries == 3


def test_failed_try_retries_with_the_stored_versions_policy(config, db, semantics) -> None:
    # The retry delay comes from the run's stored DAG version, not from the file on disk
    # (which may have changed since the run started).
    from datetime import timedelta

    from sqlalchemy import select

    from tradewind.persist.models import DagVersion

    with db.session_scope() as s:
        version = s.scalars(select(DagVersion).where(DagVersion.dag_id == "semantics")).one()
        data = dict(version.snapshot)
        data["tasks"] = [dict(t, retries=2, retry_delay=1234.0) if t["task_id"] == "polite" else t
                         for t in data["tasks"]]
        version.snapshot, version.snapshot_hash = data, "edited-for-the-test"
    key = queue(db, "semantics", "polite", max_tries=3)
    result = run_try(workload(key, semantics), config=config, store=DbTryStore(db, config), in_process=True)
    assert result.state == "up_for_retry", result.error
    ti = ti_row(db, key)
    assert ti.next_retry_at == ti.end_date + timedelta(seconds=1234)
