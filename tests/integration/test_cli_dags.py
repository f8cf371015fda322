"""End-to-end DAG commands: parse, list, import errors, dags test, tasks test."""

from __future__ import annotations

import pytest
from cli_support import BROKEN_DAG, FAILING_DAG, SMALL_DAG
from sqlalchemy import select

from tradewind.persist.db import Database
from tradewind.persist.models import AuditLog

pytestmark = pytest.mark.slow

RUN_KEYS = ["dag_id", "run_id", "state", "logical_date", "start_date", "end_date"]
TI_KEYS = ["task_id", "map_index", "state", "try_number", "start_date", "end_date"]


def test_dag_file_is_listed_and_broken_file_reported(home):
    good = home.add_dag("small_dag.py", SMALL_DAG)
    broken = home.add_dag("broken_dag.py", BROKEN_DAG)
    dags = home.json("dags", "list")
    assert [(d["dag_id"], d["fileloc"]) for d in dags] == [("small", str(good))]
    assert dags[0]["is_paused"] is False
    errors = home.json("dags", "list-import-errors")
    assert len(errors) == 1
    assert errors[0]["filename"] == str(broken)
    assert errors[0]["line"] == 5
    assert "broken on purpose" in errors[0]["message"]


def test_dags_show_and_tasks_list(home):
    home.add_dag("small_dag.py", SMALL_DAG)
    shown = home.ok("dags", "show", "small", "--text").stdout
    assert "hello (BashOperator) -> shout" in shown
    assert home.ok("tasks", "list", "small").stdout.split() == ["hello", "shout"]
    tree = home.ok("tasks", "list", "small", "--tree").stdout.splitlines()
    assert tree[0].startswith("hello")
    assert tree[1].startswith("└── shout")


def test_dags_test_success_is_recorded(home):
    home.add_dag("small_dag.py", SMALL_DAG)
    result = home.run("dags", "test", "small", "2024-01-01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hello-from-bash 2024-01-01" in result.stdout
    assert "[dags test] hello: success" in result.stdout
    assert "[dags test] shout: success" in result.stdout
    runs = home.json("dags", "list-runs", "small")
    assert len(runs) == 1
    assert list(runs[0]) == RUN_KEYS
    assert runs[0]["state"] == "success"
    assert runs[0]["logical_date"] == "2024-01-01T00:00:00+00:00"
    tis = home.json("tasks", "states-for-dag-run", "small", runs[0]["run_id"])
    assert [list(t) for t in tis] == [TI_KEYS, TI_KEYS]
    assert {(t["task_id"], t["state"], t["try_number"], t["map_index"]) for t in tis} == {
        ("hello", "success", 1, -1),
        ("shout", "success", 1, -1),
    }
    # The run can also be named by its logical date.
    by_date = home.json("tasks", "states-for-dag-run", "small", "2024-01-01")
    assert {t["task_id"] for t in by_date} == {"hello", "shout"}


def test_dags_test_failure_exits_non_zero(home):
    home.add_dag("failing_dag.py", FAILING_DAG)
    result = home.run("dags", "test", "failing")
    assert result.returncode == 1
    assert "[dags test] boom: failed" in result.stdout
    assert "[dags test] after: upstream_failed" in result.stdout
    runs = home.json("dags", "list-runs", "failing", "--state", "failed")
    assert len(runs) == 1


def test_tasks_test_prints_output_and_leaves_no_run(home):
    home.add_dag("small_dag.py", SMALL_DAG)
    result = home.run("tasks", "test", "small", "shout", "2024-03-01")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shout-from-python" in result.stdout
    assert home.json("dags", "list-runs", "small") == []
    failing = home.add_dag("failing_dag.py", FAILING_DAG)
    assert failing.exists()
    bad = home.run("tasks", "test", "failing", "boom")
    assert bad.returncode == 1
    assert "about-to-fail" in bad.stdout


def test_trigger_pause_and_audit(home):
    home.add_dag("small_dag.py", SMALL_DAG)
    home.ok("dags", "pause", "small")
    assert home.json("dags", "list")[0]["is_paused"] is True
    triggered = home.ok("dags", "trigger", "small", "--conf", '{"x": 1}', "--run-id", "my_run")
    assert "my_run" in triggered.stdout
    runs = home.json("dags", "list-runs", "small")
    assert [(r["run_id"], r["state"]) for r in runs] == [("my_run", "queued")]
    duplicate = home.run("dags", "trigger", "small", "--run-id", "my_run")
    assert duplicate.returncode == 1
    assert "my_run" in duplicate.stderr
    home.ok("dags", "unpause", "small")
    assert home.json("dags", "list", "--exclude-paused")[0]["dag_id"] == "small"
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    with db.session_scope() as session:
        events = [(r.event, r.dag_id, r.run_id) for r in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    db.engine.dispose()
    assert events == [("paused", "small", None), ("trigger", "small", "my_run"), ("unpaused", "small", None)]


def test_render_failed_deps_and_clear(home):
    home.add_dag("small_dag.py", SMALL_DAG)
    rendered = home.ok("tasks", "render", "small", "hello", "2024-01-05").stdout
    assert "property: bash_command" in rendered
    assert "echo hello-from-bash 2024-01-05" in rendered
    home.add_dag("failing_dag.py", FAILING_DAG)
    tested = home.run("dags", "test", "failing", "2024-02-01")
    assert tested.returncode == 1 and "boom: failed" in tested.stdout, tested.stdout + tested.stderr
    run_id = home.json("dags", "list-runs", "failing")[0]["run_id"]
    deps = home.ok("tasks", "failed-deps", "failing", "after", run_id).stdout
    assert "trigger rule all_success" in deps
    cleared = home.ok("tasks", "clear", "failing", "--only-failed", "--yes").stdout
    assert "2 task instance(s) cleared" in cleared
    states = {t["task_id"]: t["state"] for t in home.json("tasks", "states-for-dag-run", "failing", run_id)}
    assert states == {"boom": "none", "after": "none"}
    assert home.json("dags", "list-runs", "failing")[0]["state"] == "queued"
    # Nothing failed any more: a second clear finds nothing and asks nothing.
    assert "No task instances to clear" in home.ok("tasks", "clear", "failing", "--only-failed").stdout


def test_next_execution_lists_upcoming_dates(home):
    home.add_dag("every_day.py", '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("daily_fixed", schedule="@daily", start_date=datetime(2030, 1, 1), catchup=True) as dag:
    BashOperator(task_id="t", bash_command="true")
''')
    dates = home.ok("dags", "next-execution", "daily_fixed", "-n", "3").stdout.split()
    assert dates == ["2030-01-01T00:00:00+00:00", "2030-01-02T00:00:00+00:00", "2030-01-03T00:00:00+00:00"]


def test_unpause_and_clear_wake_a_listening_scheduler(home):
    from tradewind.schedule.executor_interface import Waker
    from tradewind.schedule.wakeup import WakeListener

    home.add_dag("failing_dag.py", FAILING_DAG)
    assert home.run("dags", "test", "failing", "2024-02-01").returncode == 1
    home.ok("dags", "pause", "failing")
    db = Database.from_url(f"sqlite:///{home.path}/tradewind.db")
    waker = Waker()
    listener = WakeListener(db, waker)
    assert listener.start()
    try:
        home.ok("dags", "unpause", "failing")
        assert waker.wait(30), "dags unpause did not wake the scheduler"
        assert "2 task instance(s) cleared" in home.ok("tasks", "clear", "failing", "--only-failed", "--yes").stdout
        assert waker.wait(30), "tasks clear did not wake the scheduler"
    finally:
        listener.close()
        db.engine.dispose()


PRINTING_DAG = '''
import sys
from datetime import datetime
from tradewind import DAG, BashOperator

print("noise-on-stdout {not json")
print("noise-on-stderr", file=sys.stderr)

with DAG("{dag_id}", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    BashOperator(task_id="t", bash_command="echo hi")
'''


def _processor_jobs(home) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(home.path / "tradewind.db") as conn:
        return conn.execute("SELECT job_type, state FROM job WHERE job_type = 'dag_processor'").fetchall()


def _printing(dag_id: str) -> str:
    return PRINTING_DAG.replace("{dag_id}", dag_id)


def test_printing_dag_file_keeps_json_valid_without_and_with_a_dag_processor(home):
    import json as jsonlib
    import time

    from cli_support import wait_for

    home.add_dag("loud_dag.py", _printing("loud"))
    # No DAG processor has ever run: the command parses here, and the file's prints stay out.
    result = home.ok("dags", "list", "-o", "json")
    assert [d["dag_id"] for d in jsonlib.loads(result.stdout)] == ["loud"]
    assert "noise" not in result.stdout and "noise" not in result.stderr
    assert jsonlib.loads(home.ok("dags", "list-import-errors", "-o", "json").stdout) == []

    processor = home.popen("dag-processor")
    try:
        wait_for(lambda: _processor_jobs(home), deadline=60, what="the DAG processor's job row")
        home.add_dag("louder_dag.py", _printing("louder"))
        started = time.monotonic()
        # Read from the database the processor keeps current (no parsing in the CLI).
        listed = wait_for(lambda: {d["dag_id"] for d in home.json("dags", "list")} >= {"loud", "louder"},
                          deadline=30, what="the new DAG in dags list")
        assert listed
        print(f"\nMEASURED new file listed via the DAG processor after {time.monotonic() - started:.2f}s")
        result = home.ok("dags", "list", "-o", "json")
        assert "noise" not in result.stdout and "noise" not in result.stderr
        assert {d["dag_id"] for d in jsonlib.loads(result.stdout)} == {"loud", "louder"}
    finally:
        processor.terminate()
        output, _ = processor.communicate(timeout=30)
    # What the DAG files printed went to the processor's own log; its job ended cleanly.
    assert "noise-on-stdout" in output
    assert _processor_jobs(home) == [("dag_processor", "success")]


def test_local_parses_even_when_a_dag_processor_ran(home):
    import json as jsonlib

    home.add_dag("first_dag.py", _printing("first"))
    # A DAG processor ran once on this database (and stopped): commands read what it stored.
    processor = home.popen("dag-processor")
    try:
        from cli_support import wait_for

        wait_for(lambda: "first" in home.ok("dags", "list", "-o", "json").stdout, deadline=60, what="first DAG")
    finally:
        processor.terminate()
        processor.communicate(timeout=30)
    home.add_dag("second_dag.py", _printing("second"))
    stale = home.ok("dags", "list", "-o", "json")
    assert [d["dag_id"] for d in jsonlib.loads(stale.stdout)] == ["first"]
    assert "no DAG processor is running" in stale.stderr and "--local" in stale.stderr
    fresh = home.ok("dags", "list", "--local", "-o", "json")
    assert [d["dag_id"] for d in jsonlib.loads(fresh.stdout)] == ["first", "second"]
    assert "noise" not in fresh.stdout
    # A command naming a DAG that is not stored yet parses here too.
    home.add_dag("third_dag.py", _printing("third"))
    assert home.ok("tasks", "list", "third").stdout.split() == ["t"]


def test_tasks_render_keeps_the_files_prints_off_stdout(home):
    home.add_dag("loud_dag.py", _printing("loud"))
    result = home.ok("tasks", "render", "loud", "t", "2024-01-01")
    assert "echo hi" in result.stdout
    assert "noise" not in result.stdout
