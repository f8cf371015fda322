"""The task runner against a real SQLite database: one try from claim to recorded outcome.

Tries run in this process (``in_process=True``); process isolation is covered by
test_executor_local.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_support import add_dag, queue, ti_row, try_row, workload, xcoms

from tradewind.execute.logs import log_path
from tradewind.execute.db_store import DbTryStore
from tradewind.execute.runner import run_try
from tradewind.persist.models import Variable

BASIC = """
def give(**context):
    print("giving", context["ds"])
    return {"a": 1, "items": [1, 2]}

def take(ti, **context):
    single = ti.xcom_pull(task_ids="give")
    listed = ti.xcom_pull(task_ids=["give", "nothing"])
    missing = ti.xcom_pull(task_ids="nothing", default="dflt")
    own = ti.xcom_pull(key="custom")
    ti.xcom_push("custom", [3])
    own_after = ti.xcom_pull(key="custom")
    return {"single": single, "listed": listed, "missing": missing, "own": own, "own_after": own_after}

class Opaque:
    pass

def opaque():
    return Opaque()

def skip_me():
    raise TaskSkipped("nothing to do")

def boom():
    raise ValueError("kaboom")

def no_retry():
    raise TaskFailNoRetry("give up")

def slow():
    time.sleep(30)

def outputs():
    return {"x": 1, "y": "two"}

def read_var():
    from tradewind.definition.variable import Variable
    return Variable.get("color")

def skipper(ti):
    ti.skip_tasks(["give"])

with DAG("basic", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="give", python_callable=give)
    PythonOperator(task_id="take", python_callable=take)
    PythonOperator(task_id="opaque", python_callable=opaque)
    PythonOperator(task_id="skip_me", python_callable=skip_me)
    PythonOperator(task_id="boom", python_callable=boom, retries=2, retry_delay=timedelta(seconds=60))
    PythonOperator(task_id="no_retry", python_callable=no_retry, retries=3)
    PythonOperator(task_id="slow", python_callable=slow, execution_timeout=timedelta(seconds=0.5))
    PythonOperator(task_id="outputs", python_callable=outputs, multiple_outputs=True)
    PythonOperator(task_id="read_var", python_callable=read_var)
    PythonOperator(task_id="skipper", python_callable=skipper)
    BashOperator(task_id="templated", bash_command="echo run={{ run_id }} ds={{ ds }}")
"""


@pytest.fixture
def basic(config, db) -> str:
    return add_dag(config, db, "basic", BASIC)


def run(config, db, fileloc, task_id, **queue_kwargs):
    key = queue(db, "basic", task_id, **queue_kwargs)
    return key, run_try(workload(key, fileloc), config=config, store=DbTryStore(db, config), in_process=True)


def test_success_pushes_return_value_and_logs(config, db, basic) -> None:
    key, result = run(config, db, basic, "give")
    assert result.claimed and result.recorded and result.state == "success"
    assert ti_row(db, key).state == "success"
    assert try_row(db, key).state == "success"
    assert json.loads(xcoms(db, key)["return_value"]) == {"a": 1, "items": [1, 2]}
    text = log_path(config.logs_folder, key).read_text()
    assert "{stdout} INFO - giving 2024-01-02" in text
    assert "Marking task as SUCCESS" in text


def test_xcom_pull_semantics(config, db, basic) -> None:
    run(config, db, basic, "give")
    key, result = run(config, db, basic, "take")
    assert result.state == "success", result.error
    value = json.loads(xcoms(db, key)["return_value"])
    assert value == {
        "single": {"a": 1, "items": [1, 2]},
        "listed": [{"a": 1, "items": [1, 2]}, None],
        "missing": "dflt",
        "own": None,
        "own_after": [3],
    }
    assert json.loads(xcoms(db, key)["custom"]) == [3]


def test_non_json_return_value_fails_with_clear_message(config, db, basic) -> None:
    key, result = run(config, db, basic, "opaque")
    assert result.state == "failed"
    assert "basic.opaque" in result.error and "Opaque" in result.error and "JSON" in result.error
    assert "Opaque" in (try_row(db, key).error or "")
    assert "return_value" not in xcoms(db, key)


def test_task_skipped(config, db, basic) -> None:
    key, result = run(config, db, basic, "skip_me")
    assert result.state == "skipped"
    assert ti_row(db, key).state == "skipped"


def test_failure_with_retries_left_goes_up_for_retry_with_traceback(config, db, basic) -> None:
    key, result = run(config, db, basic, "boom", max_tries=3)
    assert result.state == "up_for_retry"
    row = ti_row(db, key)
    assert row.state == "up_for_retry" and row.next_retry_at is not None
    assert "ValueError: kaboom" in try_row(db, key).error
    text = log_path(config.logs_folder, key).read_text()
    assert "Traceback" in text and "ValueError: kaboom" in text


def test_last_try_failure_is_failed(config, db, basic) -> None:
    key, result = run(config, db, basic, "boom", try_number=3, max_tries=3)
    assert result.state == "failed"


def test_fail_no_retry_ignores_retries(config, db, basic) -> None:
    key, result = run(config, db, basic, "no_retry", max_tries=4)
    assert result.state == "failed"


def test_execution_timeout_fails_the_try(config, db, basic) -> None:
    key, result = run(config, db, basic, "slow")
    assert result.state == "failed"
    assert "TaskTimeout" in result.error and "timed out" in result.error


def test_multiple_outputs_pushes_each_key(config, db, basic) -> None:
    key, result = run(config, db, basic, "outputs")
    values = {k: json.loads(v) for k, v in xcoms(db, key).items()}
    assert values == {"x": 1, "y": "two", "return_value": {"x": 1, "y": "two"}}


def test_variables_come_from_the_database(config, db, basic) -> None:
    with db.session_scope() as s:
        s.add(Variable(key="color", val="teal"))
    key, result = run(config, db, basic, "read_var")
    assert json.loads(xcoms(db, key)["return_value"]) == "teal"


def test_skip_tasks_marks_other_instances_skipped(config, db, basic) -> None:
    other = queue(db, "basic", "give")
    with db.session_scope() as s:  # not started yet: "none" state
        from tradewind.persist.models import TaskInstance
        s.query(TaskInstance).filter_by(task_id="give").update({"state": "none", "try_number": 0})
    key, result = run(config, db, basic, "skipper")
    assert result.state == "success"
    assert ti_row(db, other).state == "skipped"


def test_templates_rendered_and_stored(config, db, basic) -> None:
    key, result = run(config, db, basic, "templated")
    assert result.state == "success", result.error
    assert try_row(db, key).rendered_fields["bash_command"] == "echo run=run1 ds=2024-01-02"
    assert "run=run1 ds=2024-01-02" in log_path(config.logs_folder, key).read_text()


def test_claim_once(config, db, basic) -> None:
    key, first = run(config, db, basic, "give")
    second = run_try(workload(key, basic), config=config, store=DbTryStore(db, config), in_process=True)
    assert first.claimed and not second.claimed and not second.recorded
    assert second.exit_code == 3
    assert ti_row(db, key).state == "success"
    assert "not queued for try 1" in log_path(config.logs_folder, key).read_text()


def test_missing_task_fails_with_message(config, db, basic) -> None:
    key, result = run(config, db, basic, "no_such_task")
    assert result.state == "failed"
    assert "no task 'no_such_task'" in result.error


CALLBACKS = """
OUT = os.environ["CB_OUT"]

def record(name):
    def callback(context):
        with open(OUT, "a") as fh:
            exc = context.get("exception")
            fh.write(json.dumps([name, context["ti"].task_id, context["ds"], context["ti"].try_number,
                                 type(exc).__name__ if exc else None]) + "\\n")
    return callback

def broken_callback(context):
    raise RuntimeError("callback broke")

def ok():
    return 1

def bad():
    raise KeyError("x")

with DAG("cbs", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="ok", python_callable=ok, on_execute_callback=record("execute"),
                   on_success_callback=[record("success"), broken_callback])
    PythonOperator(task_id="bad", python_callable=bad, retries=1, on_retry_callback=record("retry"),
                   on_failure_callback=record("failure"))
    PythonOperator(task_id="skip", python_callable=lambda: (_ for _ in ()).throw(TaskSkipped()),
                   on_skipped_callback=record("skipped"), on_success_callback=broken_callback)
"""


def test_task_callbacks_get_the_context(config, db, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "callbacks.jsonl"
    monkeypatch.setenv("CB_OUT", str(out))
    fileloc = add_dag(config, db, "cbs", CALLBACKS)

    def go(task_id, **kw):
        key = queue(db, "cbs", task_id, **kw)
        return run_try(workload(key, fileloc), config=config, store=DbTryStore(db, config), in_process=True)

    assert go("ok").state == "success"  # the broken success callback does not change it
    assert go("bad", max_tries=2).state == "up_for_retry"
    assert go("bad", try_number=2, max_tries=2).state == "failed"
    assert go("skip").state == "skipped"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines == [
        ["execute", "ok", "2024-01-02", 1, None],
        ["success", "ok", "2024-01-02", 1, None],
        ["retry", "bad", "2024-01-02", 1, "KeyError"],
        ["failure", "bad", "2024-01-02", 2, "KeyError"],
        ["skipped", "skip", "2024-01-02", 1, "TaskSkipped"],
    ]


def test_heartbeat_updates_while_running(tw_home, db, basic) -> None:
    from tradewind.config import Config

    fast = Config.load(home=tw_home, environ={},
                       overrides={"core": {"load_examples": "False"}, "scheduler": {"task_heartbeat_interval": "0.05"}})
    key = queue(db, "basic", "slow")  # sleeps until its 0.5 s execution_timeout
    result = run_try(workload(key, basic), config=fast, store=DbTryStore(db, fast), in_process=True)
    assert result.state == "failed"
    row = ti_row(db, key)
    assert row.last_heartbeat_at is not None and row.last_heartbeat_at > row.start_date
