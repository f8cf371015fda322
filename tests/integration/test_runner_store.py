"""The runner goes through its TryStore for everything outside the try's process.

A recording store delegates every call to a real DbTryStore and notes which calls the try
made, with which try key: so a worker's store (the execution API client) sees exactly these
calls, and the database is never touched behind the store's back.

And the worker side stands alone while it runs, not only when imported: a whole try through
``python -m tradewind.execute.runner`` (the execution API, a real API server) ends with nothing
of persist, schedule or SQLAlchemy ever loaded in the try's process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from execution_api_server import RunningApiServer, start_api_server, stop_api_server
from runner_support import add_dag, queue, ti_row, workload, xcoms

from tradewind.execute.db_store import DbTryStore
from tradewind.execute.runner import run_try
from tradewind.execute.tokens import issue_workload_token
from tradewind.persist.models import TaskInstance, Variable
from tradewind.persist.queries.variables import variable_value
from tradewind.workloads import TaskKey

BODY = """
from tradewind.definition.assets import Asset
from tradewind.definition.connection import ConnectionNotFound, get_connection
from tradewind.definition.variable import Variable

SOURCE = Asset("s3://bucket/source")
TARGET = Asset("s3://bucket/target")

def give():
    return 5

def everything(ti, inlet_events, outlet_events, **context):
    pulled = ti.xcom_pull(task_ids="give")
    Variable.set("seen", str(pulled))
    color = Variable.get("color")
    try:
        get_connection("nowhere")
    except ConnectionNotFound:
        missing = True
    ti.skip_tasks(["after"])
    state = ti.get_dagrun_state("store", "run1")
    events = len(inlet_events[SOURCE])
    outlet_events[TARGET].extra["rows"] = 7
    return {"pulled": pulled, "color": color, "missing": missing, "state": state, "events": events}

with DAG("store", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="give", python_callable=give)
    PythonOperator(task_id="everything", python_callable=everything, inlets=[SOURCE], outlets=[TARGET])
    PythonOperator(task_id="after", python_callable=give)
"""


class RecordingStore:
    """A DbTryStore that notes each call's name and (when the call names one) the try key."""

    def __init__(self, inner: DbTryStore) -> None:
        self.inner = inner
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            key = args[0] if args and hasattr(args[0], "try_number") else None
            self.calls.append((name, key))
            return method(*args, **kwargs)

        return call


def test_every_read_and_write_of_a_try_goes_through_its_store(config, db) -> None:
    fileloc = add_dag(config, db, "store", BODY)
    with db.session_scope() as s:
        s.add(Variable(key="color", val="blue"))
    give = queue(db, "store", "give")
    assert run_try(workload(give, fileloc), config=config, store=DbTryStore(db, config), in_process=True).recorded
    with db.session_scope() as s:  # "after" waits for its turn (not started): skippable
        s.add(TaskInstance(dag_id="store", run_id="run1", task_id="after", map_index=-1, state="scheduled"))
    key = queue(db, "store", "everything")
    store = RecordingStore(DbTryStore(db, config))

    result = run_try(workload(key, fileloc), config=config, store=store, in_process=True)

    assert result.state == "success", result.error
    names = [name for name, _ in store.calls]
    assert names[0] == "claim" and names[-1] == "finish"
    for expected in ("xcom_values", "variable_set", "variable_get", "connection_get", "skip_tasks",
                     "dagrun_state", "asset_events"):
        assert expected in names, f"{expected} not called through the store: {names}"
    # Calls on behalf of the try name the try (the execution API checks it is the token's).
    assert {k for _, k in store.calls if k is not None} == {key}
    assert '"pulled": 5' in xcoms(db, key)["return_value"]
    assert '"color": "blue"' in xcoms(db, key)["return_value"]
    assert ti_row(db, key).state == "success"
    assert ti_row(db, TaskKey("store", "run1", "after")).state == "skipped"
    # The outlet event (with the extra set through outlet_events) committed with the success.
    assert [e["extra"] for e in store.inner.asset_events({"name": "s3://bucket/target",
                                                           "uri": "s3://bucket/target"})] == [{"rows": 7}]


# --------------------------------------------------------------------------- a worker's process
@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApiServer]:
    tmp = tmp_path_factory.mktemp("runner_store_api")
    server = start_api_server(tmp / "home", f"sqlite:///{tmp / 'tradewind.db'}")
    yield server
    stop_api_server(server)


#: The try's process: run the worker entry point, then say which server-side modules it loaded.
_WORKER = """
import sys
from tradewind.execute.runner import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.startswith(("sqlalchemy", "tradewind.persist", "tradewind.schedule")))
print("SERVER-SIDE MODULES LOADED:", loaded)
sys.exit(code if not loaded else 99)
"""

WORKER_DAG = """
from tradewind.definition.variable import Variable

def give():
    return 5

def take(ti, **context):
    Variable.set("worker_saw", str(ti.xcom_pull(task_ids="give")))
    print("pulled on the worker:", ti.xcom_pull(task_ids="give"), context["dag_run"].conf)
    return ti.xcom_pull(task_ids="give") + 1

with DAG("worker_side", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="give", python_callable=give) >> PythonOperator(task_id="take", python_callable=take)
"""


def _run_worker(api: RunningApiServer, wl: Any, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW"))}
    env.update({"TRADEWIND_HOME": str(tmp_path / "worker-home"),  # no database settings anywhere
                "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": api.execution_url,
                "TRADEWIND__CORE__LOAD_EXAMPLES": "False"})
    return subprocess.run([sys.executable, "-c", _WORKER, "--workload", json.dumps(wl.to_dict())], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_try_on_a_worker_never_loads_database_code(api: RunningApiServer, tmp_path: Path) -> None:
    fileloc = add_dag(api.config, api.db, "worker_side", WORKER_DAG, conf={"k": "v"})
    for task_id in ("give", "take"):
        key = queue(api.db, "worker_side", task_id)
        wl = replace(workload(key, fileloc), token=issue_workload_token(api.config, key))
        done = _run_worker(api, wl, tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SERVER-SIDE MODULES LOADED: []" in done.stdout
        assert ti_row(api.db, key).state == "success"
    assert xcoms(api.db, key)["return_value"] == "6"
    with api.db.session_scope() as s:
        assert variable_value(s, s.get(Variable, "worker_saw")) == "5"
    # Again: the try ran, so its workload is not queued any more; the worker runs nothing.
    done = _run_worker(api, wl, tmp_path)
    assert done.returncode == 3, done.stdout + done.stderr


def test_the_worker_entry_point_needs_a_token(api: RunningApiServer, tmp_path: Path) -> None:
    key = TaskKey("worker_side", "run1", "give")
    done = _run_worker(api, workload(key, "/nowhere.py"), tmp_path)
    assert done.returncode == 2 and "python -m tradewind.execute.local_try" in done.stderr
