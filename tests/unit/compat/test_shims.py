"""``airflow`` import shims: each path gives the right Tradewind object, the rest fails by name.

The finder is installed in this test process (no Apache Airflow here); the "real Airflow wins"
case runs in a subprocess with a fake ``airflow`` package on its path.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest

import tradewind
from tradewind import compat
from tradewind.compat.finder import _PACKAGES, resolve_target
from tradewind.compat.finder import MODULES  # table.py and provider_core.py merged
from tradewind.definition import timezone as tz_helpers
from tradewind.parse.dagbag import parse_file

UTC = timezone.utc


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True, "a real 'airflow' is importable here; these tests need it absent"
    yield


def _from(module: str, name: str):
    return getattr(importlib.import_module(module), name)


# (airflow module, name, the Tradewind object it must be)
EXPECTED = [
    ("airflow", "DAG", tradewind.DAG),
    ("airflow.models", "DAG", tradewind.DAG),
    ("airflow.models", "BaseOperator", tradewind.BaseOperator),
    ("airflow.models", "Variable", tradewind.Variable),
    ("airflow.models", "Param", tradewind.Param),
    ("airflow.models.dag", "DAG", tradewind.DAG),
    ("airflow.models.baseoperator", "BaseOperator", tradewind.BaseOperator),
    ("airflow.models.baseoperator", "chain", tradewind.chain),
    ("airflow.models.param", "Param", tradewind.Param),
    ("airflow.models.variable", "Variable", tradewind.Variable),
    ("airflow.operators.bash_operator", "BashOperator", tradewind.BashOperator),
    ("airflow.operators.bash", "BashOperator", tradewind.BashOperator),
    ("airflow.operators.python_operator", "PythonOperator", tradewind.PythonOperator),
    ("airflow.operators.python", "PythonOperator", tradewind.PythonOperator),
    ("airflow.operators.python", "BranchPythonOperator", tradewind.BranchPythonOperator),
    ("airflow.operators.python", "ShortCircuitOperator", tradewind.ShortCircuitOperator),
    ("airflow.operators.python", "get_current_context", tradewind.get_current_context),
    ("airflow.operators.dummy_operator", "DummyOperator", tradewind.EmptyOperator),
    ("airflow.operators.dummy", "DummyOperator", tradewind.EmptyOperator),
    ("airflow.operators.empty", "EmptyOperator", tradewind.EmptyOperator),
    ("airflow.operators.latest_only", "LatestOnlyOperator", tradewind.LatestOnlyOperator),
    ("airflow.operators.trigger_dagrun", "TriggerDagRunOperator", tradewind.TriggerDagRunOperator),
    ("airflow.operators.datetime", "BranchDateTimeOperator", tradewind.BranchDateTimeOperator),
    ("airflow.operators.weekday", "BranchDayOfWeekOperator", tradewind.BranchDayOfWeekOperator),
    ("airflow.decorators", "dag", tradewind.dag),
    ("airflow.decorators", "task", tradewind.task),
    ("airflow.decorators", "task_group", tradewind.task_group),
    ("airflow.decorators", "setup", tradewind.setup),
    ("airflow.decorators", "teardown", tradewind.teardown),
    ("airflow.utils.trigger_rule", "TriggerRule", tradewind.TriggerRule),
    ("airflow.utils.task_group", "TaskGroup", tradewind.TaskGroup),
    ("airflow.utils.edgemodifier", "Label", tradewind.Label),
    ("airflow.utils.helpers", "chain", tradewind.chain),
    ("airflow.utils.helpers", "cross_downstream", tradewind.cross_downstream),
    ("airflow.utils.state", "TaskInstanceState", tradewind.TaskInstanceState),
    ("airflow.utils.state", "DagRunState", tradewind.DagRunState),
    ("airflow.exceptions", "AirflowException", tradewind.AirflowException),
    ("airflow.exceptions", "AirflowSkipException", tradewind.AirflowSkipException),
    ("airflow.exceptions", "AirflowFailException", tradewind.AirflowFailException),
    ("airflow.sensors.base", "BaseSensorOperator", tradewind.BaseSensorOperator),
    ("airflow.sensors.base", "PokeReturnValue", tradewind.PokeReturnValue),
    ("airflow.sensors.bash", "BashSensor", tradewind.BashSensor),
    ("airflow.sensors.python", "PythonSensor", tradewind.PythonSensor),
    ("airflow.sensors.filesystem", "FileSensor", tradewind.FileSensor),
    ("airflow.sensors.time_delta", "TimeDeltaSensor", tradewind.TimeDeltaSensor),
    ("airflow.sensors.date_time", "DateTimeSensor", tradewind.DateTimeSensor),
    ("airflow.sensors.time_sensor", "TimeSensor", tradewind.TimeSensor),
    ("airflow.sensors.external_task", "ExternalTaskSensor", tradewind.ExternalTaskSensor),
    ("airflow.sensors.external_task", "ExternalTaskMarker", tradewind.ExternalTaskMarker),
    ("airflow.datasets", "Dataset", tradewind.Dataset),
    ("airflow.timetables.interval", "CronDataIntervalTimetable", tradewind.CronDataIntervalTimetable),
    ("airflow.timetables.trigger", "CronTriggerTimetable", tradewind.CronTriggerTimetable),
    ("airflow.sdk", "DAG", tradewind.DAG),
    ("airflow.sdk", "dag", tradewind.dag),
    ("airflow.sdk", "task", tradewind.task),
    ("airflow.sdk", "task_group", tradewind.task_group),
    ("airflow.sdk", "BaseOperator", tradewind.BaseOperator),
    ("airflow.sdk", "Asset", tradewind.Asset),
    ("airflow.sdk", "Variable", tradewind.Variable),
    ("airflow.sdk", "Param", tradewind.Param),
    ("airflow.sdk", "Label", tradewind.Label),
    ("airflow.sdk", "chain", tradewind.chain),
    ("airflow.sdk", "get_current_context", tradewind.get_current_context),
    ("airflow.sdk", "setup", tradewind.setup),
    ("airflow.sdk", "teardown", tradewind.teardown),
    ("airflow.sdk", "BaseSensorOperator", tradewind.BaseSensorOperator),
    ("airflow.sdk", "TriggerRule", tradewind.TriggerRule),
    ("airflow.sdk.definitions.asset", "Asset", tradewind.Asset),
    ("airflow.providers.standard.operators.bash", "BashOperator", tradewind.BashOperator),
    ("airflow.providers.standard.operators.python", "PythonOperator", tradewind.PythonOperator),
    ("airflow.providers.standard.operators.empty", "EmptyOperator", tradewind.EmptyOperator),
    ("airflow.providers.standard.sensors.filesystem", "FileSensor", tradewind.FileSensor),
    ("airflow.providers.standard.sensors.external_task", "ExternalTaskSensor", tradewind.ExternalTaskSensor),
    ("airflow.providers.standard.triggers.temporal", "DateTimeTrigger", tradewind.DateTimeTrigger),
]


@pytest.mark.parametrize(("module", "name", "expected"), EXPECTED, ids=[f"{m}.{n}" for m, n, _ in EXPECTED])
def test_airflow_path_gives_the_tradewind_object(module, name, expected):
    assert _from(module, name) is expected


def test_connection_and_hook_come_from_the_definition_layer():
    from tradewind.definition.connection import Connection, ConnectionNotFound
    from tradewind.definition.hooks import BaseHook

    assert _from("airflow.models", "Connection") is Connection
    assert _from("airflow.sdk", "Connection") is Connection
    assert _from("airflow.hooks.base", "BaseHook") is BaseHook
    assert _from("airflow.exceptions", "AirflowNotFoundException") is ConnectionNotFound


def test_no_name_is_shadowed_by_a_submodule_of_the_same_name():
    clashes = [f"{m}.{n}" for m, names in MODULES.items() for n in names if f"{m}.{n}" in MODULES or
               f"{m}.{n}" in _PACKAGES]
    assert clashes == []


def test_every_table_entry_resolves_to_an_object_of_its_name():
    for module, names in MODULES.items():
        shim = importlib.import_module(module)
        assert sorted(shim.__all__) == sorted(names)
        for name, target in names.items():
            value = getattr(shim, name)
            assert value is resolve_target(target, name), f"{module}.{name}"


def test_packages_are_importable_and_expose_their_submodules():
    import airflow

    assert "airflow.providers.standard" in _PACKAGES
    assert airflow.operators.bash.BashOperator is tradewind.BashOperator
    from airflow.sdk import timezone as sdk_timezone

    assert sdk_timezone.utcnow().tzinfo is not None


def test_star_import_gives_the_listed_names():
    namespace: dict = {}
    exec("from airflow.operators.python import *", namespace)
    assert namespace["PythonOperator"] is tradewind.PythonOperator
    assert "ShortCircuitOperator" in namespace


@pytest.mark.parametrize("module", ["airflow.executors", "airflow.providers.google", "airflow.operators.subdag"])
def test_unknown_module_fails_naming_it(module):
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module(module + ".x" if module == "airflow.providers.google" else module)
    assert info.value.name == module
    assert f"{module!r}" in str(info.value) and "Tradewind does not support" in str(info.value)


def test_unknown_name_of_a_known_module_fails_naming_both():
    with pytest.raises(ImportError) as info:
        exec("from airflow.models import DagBag", {})
    message = str(info.value)
    assert "'DagBag'" in message and "'airflow.models'" in message
    assert "Tradewind does not support airflow.models.DagBag" in message


def test_dunder_probes_stay_attribute_errors():
    import airflow

    assert not hasattr(airflow, "__wrapped__")
    # providers compare it (docs/providers.md); it is the one dunder the shims answer
    assert airflow.__version__ == compat.AIRFLOW_VERSION


def test_days_ago_is_midnight_utc_n_days_ago():
    from airflow.utils.dates import days_ago

    previous = tz_helpers.set_clock(lambda: datetime(2024, 3, 5, 15, 30, 12, tzinfo=UTC))
    try:
        assert days_ago(0) == datetime(2024, 3, 5, tzinfo=UTC)
        assert days_ago(2) == datetime(2024, 3, 3, tzinfo=UTC)
        assert days_ago(1, hour=6) == datetime(2024, 3, 4, 6, tzinfo=UTC)
    finally:
        tz_helpers.set_clock(previous)


def test_timezone_helpers_and_state_constants():
    from airflow.utils import timezone as af_tz
    from airflow.utils.state import State

    assert af_tz.datetime(2024, 1, 2) == datetime(2024, 1, 2, tzinfo=UTC)
    assert af_tz.parse("2024-01-02T03:00:00+01:00") == datetime(2024, 1, 2, 2, tzinfo=UTC)
    assert af_tz.make_naive(datetime(2024, 1, 2, 3, tzinfo=UTC), "Europe/Paris") == datetime(2024, 1, 2, 4)
    assert af_tz.make_aware(datetime(2024, 1, 2)) == datetime(2024, 1, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        af_tz.make_aware(datetime(2024, 1, 2, tzinfo=UTC))
    assert af_tz.is_naive(datetime(2024, 1, 2)) and af_tz.is_localized(datetime(2024, 1, 2, tzinfo=UTC))
    assert State.SUCCESS == "success" and State.UPSTREAM_FAILED in State.failed_states


def test_shims_win_over_a_real_airflow_that_is_importable(tmp_path):
    # pip install apache-airflow-providers-X pulls Apache Airflow in: Tradewind's processes still get
    # Tradewind (docs/providers.md).
    fake = tmp_path / "site" / "airflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("REAL = True\n")
    code = textwrap.dedent(
        """
        from tradewind import compat
        installed = compat.install()
        import airflow
        print(installed, compat.is_installed(), hasattr(airflow, "DAG"))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "True"]


def test_shims_install_when_no_airflow_is_importable():
    code = "from tradewind import compat; print(compat.install(), compat.install()); import airflow.sdk"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


# ------------------------------------------------------------------ DAG files through the parser
AIRFLOW2_DAG = """
from datetime import timedelta
from airflow import DAG
from airflow.models import Variable
from airflow.operators.bash_operator import BashOperator
from airflow.operators.python_operator import PythonOperator
from airflow.operators.dummy_operator import DummyOperator
from airflow.sensors.filesystem import FileSensor
from airflow.utils.dates import days_ago
from airflow.utils.trigger_rule import TriggerRule
from airflow.utils.task_group import TaskGroup

def greet(ds, **kwargs):
    print("hello", ds)

default_args = {"owner": "data", "retries": 1, "retry_delay": timedelta(minutes=5)}
with DAG("af2_style", default_args=default_args, schedule_interval="@daily", start_date=days_ago(2),
         catchup=False) as dag:
    start = DummyOperator(task_id="start")
    with TaskGroup("work") as work:
        hello = PythonOperator(task_id="hello", python_callable=greet, provide_context=True)
        bash = BashOperator(task_id="bash", bash_command="echo {{ ds }}")
        hello >> bash
    done = DummyOperator(task_id="done", trigger_rule="dummy")
    wait = FileSensor(task_id="wait", filepath="/tmp/x", poke_interval=5, timeout=10)
    start >> work >> done
    start >> wait
"""

AIRFLOW3_DAG = """
import pendulum
from airflow.sdk import DAG, Asset, Label, chain, dag, task, task_group
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.time_delta import TimeDeltaSensor

@dag(schedule="@hourly", start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["af3"])
def af3_style():
    @task
    def extract() -> dict:
        return {"a": 1}

    @task(outlets=[Asset("s3://bucket/out.csv")])
    def load(data: dict) -> None:
        print(data)

    @task_group
    def group():
        BashOperator(task_id="inner", bash_command="true")

    begin = EmptyOperator(task_id="begin")
    chain(begin, group(), Label("then") , load(extract()))

af3_style()
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path.resolve()


def test_airflow2_style_dag_parses(tmp_path):
    result = parse_file(_write(tmp_path / "af2_dag.py", AIRFLOW2_DAG), timeout=60)
    assert result.errors == []
    (snapshot,) = result.dags
    assert snapshot["dag_id"] == "af2_style"
    tasks = {t["task_id"]: t for t in snapshot["tasks"]}
    assert set(tasks) == {"start", "work.hello", "work.bash", "done", "wait"}
    assert tasks["done"]["trigger_rule"] == "always"


def test_airflow3_style_dag_parses(tmp_path):
    result = parse_file(_write(tmp_path / "af3_dag.py", AIRFLOW3_DAG), timeout=60)
    assert result.errors == []
    (snapshot,) = result.dags
    assert snapshot["dag_id"] == "af3_style"
    assert {t["task_id"] for t in snapshot["tasks"]} == {"begin", "group.inner", "extract", "load"}


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("from airflow.operators.subdag import SubDagOperator\n", "'airflow.operators.subdag'"),
        ("from airflow.models import DagBag\n", "airflow.models.DagBag"),
        ("from airflow.providers.google.cloud.operators.bigquery import BigQueryInsertJobOperator\n",
         "'airflow.providers.google'"),
        ("from airflow import DAG\nfrom airflow.operators.bash import BashOperator\n"
         "with DAG('d', schedule=None):\n    BashOperator(task_id='t', bash_command='true', sla_miss=1)\n",
         "sla_miss"),
    ],
    ids=["module", "name", "provider", "argument"],
)
def test_unsupported_parts_fail_the_parse_naming_them(tmp_path, source, named):
    result = parse_file(_write(tmp_path / "unsupported_dag.py", source), timeout=60)
    assert result.dags == []
    (error,) = result.errors
    assert named in error.message


# ------------------------------------------------------------------ deprecation notes
def _records(caplog, name="tw.test.task"):
    return [r.getMessage() for r in caplog.records if r.name == name and "deprecated" in r.getMessage()]


def _context(dag=None):
    from tradewind.definition.context import build_context

    ti = SimpleNamespace(task_id="t", log=logging.getLogger("tw.test.task"))
    return build_context(
        dag=dag or SimpleNamespace(dag_id="d", params={}, timetable=None), task=SimpleNamespace(task_id="t"),
        ti=ti, run_id="manual__x", run_type="manual", logical_date=datetime(2024, 1, 2, tzinfo=UTC),
        data_interval_start=datetime(2024, 1, 2, tzinfo=UTC), data_interval_end=datetime(2024, 1, 2, tzinfo=UTC),
        run_after=datetime(2024, 1, 2, tzinfo=UTC), conf=None, dag_run=None, try_number=1,
    )


def test_reading_a_deprecated_context_key_is_noted_once_per_try(caplog):
    caplog.set_level(logging.WARNING, logger="tw.test.task")
    context = _context()
    assert _records(caplog) == []  # building the context notes nothing
    assert context["yesterday_ds"] == "2024-01-01"
    assert context.get("execution_date") == datetime(2024, 1, 2, tzinfo=UTC)
    assert context["yesterday_ds"] == "2024-01-01"
    assert context["ds"] == "2024-01-02"
    notes = _records(caplog)
    assert len(notes) == 2
    assert "'yesterday_ds' is deprecated" in notes[0] and "macros.ds_add(ds, -1)" in notes[0]
    assert "'execution_date' is deprecated" in notes[1] and "logical_date" in notes[1]
    dict(context)  # copies read every key but are no use of one
    assert len(_records(caplog)) == 2


def test_templates_and_callables_naming_deprecated_keys_are_noted(caplog):
    from tradewind.definition.operators.python import determine_kwargs
    from tradewind.definition.templating import make_jinja_env, render_value

    caplog.set_level(logging.WARNING, logger="tw.test.task")
    context = _context()
    env = make_jinja_env(None)
    assert render_value("{{ ds }} {{ tomorrow_ds }}", context, env) == "2024-01-02 2024-01-03"
    assert render_value("{{ tomorrow_ds }}", context, env) == "2024-01-03"
    assert [n.split(" is ")[0] for n in _records(caplog)] == ["The context key 'tomorrow_ds'"]

    def callable_(next_ds, ds):
        return next_ds, ds

    kwargs = determine_kwargs(callable_, [], dict(context))
    assert kwargs["next_ds"] == "2024-01-02"
    assert "The context key 'next_ds' is deprecated" in _records(caplog)[-1]


def test_old_arguments_become_deprecation_notes_on_dag_and_task():
    from airflow import DAG
    from airflow.operators.python_operator import PythonOperator

    with DAG("old_args", schedule_interval=None, start_date=datetime(2024, 1, 1)) as dag:
        old = PythonOperator(task_id="old", python_callable=print, provide_context=True, trigger_rule="dummy")
        new = PythonOperator(task_id="new", python_callable=print)
    assert dag.schedule is None
    assert [n.split(" is ")[0] for n in dag.deprecation_notes] == ["the DAG argument schedule_interval"]
    assert [n.split(" is ")[0] for n in old.deprecation_notes] == ["trigger_rule 'dummy'", "provide_context"]
    assert new.deprecation_notes == []


def test_provider_paths_of_the_integrations():
    from tradewind.definition.operators.python_env import PythonVirtualenvOperator
    from tradewind.integrations.docker.operators import DockerOperator
    from tradewind.integrations.http.hooks import HttpHook
    from tradewind.integrations.smtp.operators import EmailOperator
    from tradewind.integrations.sql.operators import SQLExecuteQueryOperator
    from tradewind.integrations.sql.postgres import PostgresHook

    assert _from("airflow.providers.http.hooks.http", "HttpHook") is HttpHook
    assert _from("airflow.providers.postgres.hooks.postgres", "PostgresHook") is PostgresHook
    assert _from("airflow.providers.common.sql.operators.sql", "SQLExecuteQueryOperator") is SQLExecuteQueryOperator
    assert _from("airflow.operators.email", "EmailOperator") is EmailOperator
    assert _from("airflow.providers.smtp.operators.smtp", "EmailOperator") is EmailOperator
    assert _from("airflow.providers.docker.operators.docker", "DockerOperator") is DockerOperator
    assert _from("airflow.operators.python", "PythonVirtualenvOperator") is PythonVirtualenvOperator
