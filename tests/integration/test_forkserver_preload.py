"""The fork server imports a try's DAG file once per version and forks tries from it; user
code that fails, exits or reads Variables at import time must neither kill the server nor
change what a try sees."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from runner_support import add_dag, queue, ti_row, try_row, workload, xcoms

from tradewind.execute.executors.local import LocalExecutor
from tradewind.persist.models import Variable
from tradewind.schedule.executor_interface import ExecutorEvent, Waker

COUNTING = """
with open(os.path.join(os.environ["PROBE_DIR"], "imports"), "a") as fh:
    fh.write(f"{os.getpid()}\\n")

def me():
    return os.getpid()

with DAG("counting", start_date=datetime(2024, 1, 1), schedule=None):
    for i in range(3):
        PythonOperator(task_id=f"t{i}", python_callable=me)
"""

BROKEN = """
raise RuntimeError("broken at import")
"""

EXITS = """
sys.exit(3)
"""

READS_VARIABLE = """
from tradewind.definition.variable import Variable
try:
    COLOR = Variable.get("color", default_var="none")
except Exception:
    COLOR = "swallowed"

def color():
    return COLOR

with DAG("reads_variable", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="color", python_callable=color)
"""


@pytest.fixture
def executor(config, probe):
    ex = LocalExecutor(2, Waker(), config=config)
    ex.start()
    yield ex
    ex.end(wait=False)


def run_one(ex: LocalExecutor, key, fileloc: str, timeout: float = 60.0) -> ExecutorEvent:
    ex.queue_workload(workload(key, fileloc))
    deadline = time.monotonic() + timeout
    while True:
        events = [e for e in ex.collect_events() if e.key == key]
        if events:
            return events[0]
        assert time.monotonic() < deadline, f"no event for {key}"
        ex.waker.wait(0.5)


def test_dag_file_imported_once_per_version_outside_the_tries(config, db, executor, probe) -> None:
    fileloc = add_dag(config, db, "counting", COUNTING)
    (probe / "imports").unlink()  # add_dag imported it in this process
    pids = []
    for task_id in ("t0", "t1"):
        key = queue(db, "counting", task_id)
        assert run_one(executor, key, fileloc).recorded
        pids.append(json.loads(xcoms(db, key)["return_value"]))
    importers = (probe / "imports").read_text().split()
    assert len(importers) == 1  # one import, inherited by both tries
    assert int(importers[0]) not in pids and pids[0] != pids[1]
    with open(fileloc, "a") as fh:
        fh.write("\nCHANGED = True\n")
    key = queue(db, "counting", "t2")
    assert run_one(executor, key, fileloc).recorded
    assert len((probe / "imports").read_text().split()) == 2  # the new version was imported


@pytest.mark.parametrize("body, message", [(BROKEN, "broken at import"), (EXITS, "sys.exit(3)")])
def test_failing_import_fails_the_try_and_the_server_survives(config, db, executor, probe, body, message) -> None:
    good = add_dag(config, db, "counting", COUNTING)
    bad = Path(config.dags_folder) / "bad.py"
    bad.write_text("import sys\n" + body)
    key = queue(db, "counting", "t0")
    event = run_one(executor, key, str(bad))
    assert event.recorded  # the try ran, found the file broken and recorded a failure
    assert ti_row(db, key).state == "failed"
    assert message in (try_row(db, key).error or "")
    key = queue(db, "counting", "t1")
    assert run_one(executor, key, good).recorded
    assert ti_row(db, key).state == "success"


def test_variables_read_at_import_are_read_by_each_try(config, db, executor) -> None:
    fileloc = add_dag(config, db, "reads_variable", READS_VARIABLE)
    with db.session_scope() as s:
        s.add(Variable(key="color", val="teal"))
    key = queue(db, "reads_variable", "color")
    assert run_one(executor, key, fileloc).recorded
    assert json.loads(xcoms(db, key)["return_value"]) == "teal"
    with db.session_scope() as s:
        s.get(Variable, "color").val = "plum"
    key = queue(db, "reads_variable", "color", try_number=2, max_tries=2)
    assert run_one(executor, key, fileloc).recorded
    assert json.loads(xcoms(db, key)["return_value"]) == "plum"


def test_try_process_wakes_the_scheduler_once_it_recorded(config, db, executor, probe) -> None:
    from tradewind.schedule.wakeup import WakeListener

    fileloc = add_dag(config, db, "counting", COUNTING)
    scheduler_waker = Waker()  # not the executor's: only a notification can wake this one
    listener = WakeListener(db, scheduler_waker)
    assert listener.start()
    try:
        key = queue(db, "counting", "t0")
        assert run_one(executor, key, fileloc).recorded
        assert scheduler_waker.wait(30)
    finally:
        listener.close()
