"""The public authoring API: re-exports, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys

import tradewind


def test_import_does_not_load_database_or_web_stack() -> None:
    code = (
        "import sys, json, tradewind\n"
        "from tradewind import DAG, task, BashOperator, PythonOperator, TaskGroup, Variable\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'fastapi', 'alembic', 'uvicorn', 'starlette'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_all_documented_names_are_exported() -> None:
    names = [
        "DAG", "dag", "task", "task_group", "TaskGroup", "BaseOperator", "BashOperator", "PythonOperator",
        "EmptyOperator", "BranchPythonOperator", "ShortCircuitOperator", "chain", "cross_downstream",
        "Variable", "Param", "XComArg", "get_current_context", "TriggerRule", "TaskInstanceState",
        "DagRunState", "NullTimetable", "OnceTimetable", "CronDataIntervalTimetable", "CronTriggerTimetable",
        "DeltaDataIntervalTimetable", "TaskSkipped", "AirflowSkipException", "AirflowFailException",
        "AirflowTaskTimeout", "AirflowException", "DagCycleError",
    ]
    for name in names:
        assert getattr(tradewind, name) is not None, name
    assert tradewind.AirflowSkipException is tradewind.TaskSkipped
    assert set(names) <= set(dir(tradewind))


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        tradewind.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
