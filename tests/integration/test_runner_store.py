"""The runner goes through its TryStore for everything outside the try's process.

A recording store delegates every call to a real DbTryStore and notes which calls the try
made, with which try key: so a worker's store (the execution API client) sees exactly these
calls, and the database is never touched behind the store's back.
"""

from __future__ import annotations

from typing import Any

from runner_support import add_dag, queue, ti_row, workload, xcoms

from tradewind.execute.db_store import DbTryStore
from tradewind.execute.runner import run_try
from tradewind.persist.models import TaskInstance, Variable
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
