"""Airflow import paths that other people's DAG files use: each imported as a DAG file does, and used.

DAG files are written to the test's folder and run with the ``tradewind_sim`` fixture (the real
scheduler and task runner, in-process, on a simulated clock), so each name is checked doing the
work Airflow's would, not only for being importable.
"""

from __future__ import annotations

import importlib
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

import tradewind
from tradewind import compat
from tradewind.definition import assets, timetables
from tradewind.definition.context import Context
from tradewind.definition.hooks import BaseHook

UTC = timezone.utc
pytestmark = pytest.mark.tradewind_sim(start="2024-03-05T12:00")


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True, "a real 'airflow' is importable here; these tests need it absent"


def _from(module: str, name: str):
    return getattr(importlib.import_module(module), name)


def _dag_file(tmp_path: Path, source: str, name: str = "dag_file.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


SAME_OBJECT = [
    ("airflow.providers.common.compat.assets", "Asset", assets.Asset),
    ("airflow.providers.common.compat.assets", "AssetAll", assets.AssetAll),
    ("airflow.providers.common.compat.assets", "AssetAny", assets.AssetAny),
    ("airflow.providers.common.compat.assets", "AssetAlias", assets.AssetAlias),
    ("airflow.providers.common.compat.sdk", "BaseOperator", tradewind.BaseOperator),
    ("airflow.providers.common.compat.sdk", "BaseHook", BaseHook),
    ("airflow.providers.common.compat.sdk", "Variable", tradewind.Variable),
    ("airflow.providers.common.compat.sdk", "Context", Context),
    ("airflow.providers.common.compat.sdk", "TriggerRule", tradewind.TriggerRule),
    ("airflow.providers.common.compat.sdk", "AirflowSkipException", tradewind.AirflowSkipException),
    ("airflow.providers.common.compat.sdk", "dag", tradewind.dag),
    ("airflow.providers.common.compat.sdk", "task", tradewind.task),
    ("airflow.providers.common.compat.standard.operators", "PythonOperator", tradewind.PythonOperator),
    ("airflow.providers.common.compat.standard.triggers", "TimeDeltaTrigger",
     importlib.import_module("tradewind.definition.triggers").TimeDeltaTrigger),
    ("airflow.utils.context", "Context", Context),
    ("airflow.sdk", "Context", Context),
    ("airflow.hooks.base_hook", "BaseHook", BaseHook),
    ("airflow.sdk", "AssetAlias", assets.AssetAlias),
    ("airflow.sdk", "Metadata", assets.Metadata),
    ("airflow.sdk", "AssetOrTimeSchedule", assets.AssetOrTimeSchedule),
    ("airflow.sdk", "DeltaTriggerTimetable", timetables.DeltaTriggerTimetable),
    ("airflow.sdk", "EventsTimetable", timetables.EventsTimetable),
    ("airflow.sdk", "MultipleCronTriggerTimetable", timetables.MultipleCronTriggerTimetable),
    ("airflow.sdk", "CronTriggerTimetable", timetables.CronTriggerTimetable),
    ("airflow.timetables.events", "EventsTimetable", timetables.EventsTimetable),
    ("airflow.timetables.trigger", "DeltaTriggerTimetable", timetables.DeltaTriggerTimetable),
    ("airflow.timetables.trigger", "MultipleCronTriggerTimetable", timetables.MultipleCronTriggerTimetable),
    ("airflow.models.baseoperator", "chain_linear", tradewind.definition.helpers.chain_linear),
    ("airflow.sdk", "chain_linear", tradewind.definition.helpers.chain_linear),
]


@pytest.mark.parametrize(("module", "name", "expected"), SAME_OBJECT, ids=lambda v: v if isinstance(v, str) else "")
def test_path_gives_the_tradewind_object(module, name, expected):
    assert _from(module, name) is expected


def test_sdk_timezone_and_macros_are_the_shim_modules():
    from airflow.providers.common.compat.sdk import timezone as compat_timezone
    from airflow.sdk import macros

    assert compat_timezone is importlib.import_module("airflow.sdk.timezone")
    assert macros.ds_add("2024-03-05", 1) == "2024-03-06"


def test_contrib_is_refused_by_name():
    with pytest.raises(ModuleNotFoundError) as info:
        exec("from airflow.contrib.operators.ssh_operator import SSHOperator", {})
    assert "airflow.contrib" in str(info.value)
    assert "removed in Airflow 2.0" in str(info.value)
    assert "airflow.providers.ssh.operators.ssh" in str(info.value)


def test_names_tradewind_lacks_still_fail_loudly():
    for statement in ("from airflow.models import DagBag", "from airflow.sdk import AssetAccessControl",
                      "from airflow.providers.common.compat.sdk import SkipMixin"):
        with pytest.raises(ImportError, match="Tradewind does not support"):
            exec(statement, {})


# ----------------------------------------------------------------------------- DAG files that run
def test_common_compat_dag_file_runs(tradewind_sim, tmp_path):
    path = _dag_file(tmp_path, """
        from datetime import datetime
        from airflow.providers.common.compat.sdk import DAG, BaseOperator, Context, TriggerRule, task
        from airflow.providers.common.compat.assets import Asset
        from airflow.providers.common.compat.standard.operators import PythonOperator

        class Double(BaseOperator):
            def __init__(self, value, **kwargs):
                super().__init__(**kwargs)
                self.value = value

            def execute(self, context: Context):
                assert isinstance(context, Context)
                return self.value * 2

        with DAG("compat_sdk", schedule=None, start_date=datetime(2024, 1, 1)):
            doubled = Double(task_id="double", value=21, outlets=[Asset("s3://bucket/doubled")])

            @task(trigger_rule=TriggerRule.ALL_DONE)
            def report(value):
                return f"got {value}"

            plain = PythonOperator(task_id="plain", python_callable=lambda: "plain")
            report(doubled.output) >> plain
    """)
    result = tradewind_sim.run(path)
    assert result.states() == {"double": "success", "report": "success", "plain": "success"}
    assert result.xcom("report") == "got 42"


def test_apply_defaults_old_style_operator(tradewind_sim, tmp_path):
    path = _dag_file(tmp_path, """
        from datetime import datetime
        from airflow import DAG
        from airflow.models import BaseOperator
        from airflow.utils.decorators import apply_defaults

        class Greet(BaseOperator):
            template_fields = ("name",)

            @apply_defaults
            def __init__(self, name, greeting="hello", *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.name = name
                self.greeting = greeting

            def execute(self, context):
                return f"{self.greeting} {self.name} (retries={self.retries})"

        with DAG("old_style", schedule=None, start_date=datetime(2024, 1, 1),
                 default_args={"retries": 2}):
            Greet(task_id="greet", name="{{ ds }}")
    """)
    result = tradewind_sim.run(path, logical_date=datetime(2024, 3, 5, tzinfo=UTC))
    assert result.xcom("greet") == "hello 2024-03-05 (retries=2)"


def test_context_type_and_annotation_only_orm_names(tradewind_sim, tmp_path):
    path = _dag_file(tmp_path, """
        from datetime import datetime
        from airflow import DAG
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance
        from airflow.operators.python import PythonOperator
        from airflow.utils.context import Context

        def check(ti: TaskInstance, dag_run: DagRun, **context: Context):
            problems = []
            for name in ("find", "get_task_instances"):
                try:
                    getattr(DagRun, name)
                except AttributeError as exc:
                    problems.append(str(exc))
            return [isinstance(ti, TaskInstance), isinstance(dag_run, DagRun), isinstance(ti, DagRun), problems]

        with DAG("annotations", schedule=None, start_date=datetime(2024, 1, 1)):
            PythonOperator(task_id="check", python_callable=check)
    """)
    result = tradewind_sim.run(path)
    is_ti, is_run, ti_is_run, problems = result.xcom("check")
    assert (is_ti, is_run, ti_is_run) == (True, True, False)
    assert len(problems) == 2 and all("not supported by Tradewind" in p for p in problems)


def test_orm_names_cannot_be_instantiated():
    from airflow.models.taskinstance import TaskInstance

    with pytest.raises(TypeError, match="TaskInstance cannot be created in Tradewind"):
        TaskInstance(task=None, run_id="x")


def test_chain_linear_wires_all_to_all(tradewind_sim, tmp_path):
    path = _dag_file(tmp_path, """
        from datetime import datetime
        from airflow import DAG
        from airflow.models.baseoperator import chain_linear
        from airflow.operators.empty import EmptyOperator

        with DAG("linear", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
            a, b, c, d, e, f = (EmptyOperator(task_id=n) for n in "abcdef")
            chain_linear(a, [b, c], [d, e], f)
    """)
    from tradewind.execute.prepare import load_dag_file

    loaded = load_dag_file(str(path), [str(tmp_path)])["linear"]
    upstream = {t: sorted(loaded.task_dict[t].upstream_task_ids) for t in "abcdef"}
    assert upstream == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["b", "c"], "f": ["d", "e"]}
    assert tradewind_sim.run(path).states() == dict.fromkeys("abcdef", "success")


def test_chain_linear_refuses_what_airflow_refuses():
    from airflow.sdk import DAG, Label, chain_linear
    from airflow.operators.empty import EmptyOperator

    with DAG("refusals", schedule=None, start_date=datetime(2024, 1, 1)):
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        with pytest.raises(ValueError, match="forget to expand"):
            chain_linear([a, b])
        with pytest.raises(ValueError, match="labels"):
            chain_linear(a, Label("x"), b)
        with pytest.raises(ValueError, match="no tasks"):
            chain_linear()


def test_is_venv_installed_and_parsing_context():
    from airflow.operators.python import is_venv_installed
    from airflow.sdk import get_parsing_context

    assert is_venv_installed() is (importlib.util.find_spec("ensurepip") is not None)
    assert get_parsing_context() == (None, None)
    assert get_parsing_context().dag_id is None


def test_sdk_literal_is_not_rendered(tradewind_sim, tmp_path):
    path = _dag_file(tmp_path, """
        from datetime import datetime
        from airflow.sdk import DAG, literal
        from airflow.providers.standard.operators.bash import BashOperator

        with DAG("literal", schedule=None, start_date=datetime(2024, 1, 1)):
            BashOperator(task_id="echo", bash_command=literal("echo '{{ not rendered }}'"))
    """)
    assert tradewind_sim.run(path).xcom("echo") == "{{ not rendered }}"


# ----------------------------------------------------------------------------- the Task SDK's public names
TASK_SDK = ("apache-airflow-task-sdk", "1.3.2")
#: airflow.sdk.__all__ names Tradewind leaves out on purpose (docs/airflow-compat.md lists them): importing one
#: fails at parse time naming it, rather than giving something that would behave differently.
SDK_LEFT_OUT = {
    "__version__", "AssetAccessControl", "BaseXCom",
    "BaseOperatorLink", "BaseAsyncOperator", "BranchMixIn", "SkipMixin", "ResumableJobMixin", "result",
    "NEVER_EXPIRE", "CronPartitionTimetable", "PartitionedAssetTimetable", "PartitionedAtRuntime", "PartitionMapper",
    "AllowedKeyMapper", "ChainMapper", "FanOutMapper", "FixedKeyMapper", "IdentityMapper", "ProductMapper",
    "RollupMapper", "StartOfDayMapper", "StartOfHourMapper", "StartOfMonthMapper", "StartOfQuarterMapper",
    "StartOfWeekMapper", "StartOfYearMapper", "Window", "SegmentWindow", "HourWindow", "DayWindow", "WeekWindow",
    "MonthWindow", "QuarterWindow", "YearWindow", "MinimumCount", "WaitForAll", "DeadlineAlert", "DeadlineReference",
    "BaseDeadlineReference", "deadline_reference", "AsyncCallback", "SyncCallback", "RetryPolicy", "RetryRule",
    "RetryAction", "RetryDecision", "ExceptionRetryPolicy",
}


def _task_sdk_all() -> list[str]:
    """``airflow.sdk.__all__`` of the pinned Task SDK wheel, downloaded from PyPI once into a cache."""
    import ast
    import os
    import subprocess
    import sys
    import zipfile

    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tradewind-tests" / "wheels"
    cache.mkdir(parents=True, exist_ok=True)
    dist, version = TASK_SDK
    pattern = f"{dist.replace('-', '_')}-{version}-*.whl"
    if not list(cache.glob(pattern)):
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               "-d", str(cache), f"{dist}=={version}"], capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            if os.environ.get("CI") == "true":
                pytest.fail(f"cannot download {dist}=={version} from PyPI: {proc.stderr[-500:]}")
            pytest.skip(f"PyPI unreachable: cannot download {dist}=={version}")
    with zipfile.ZipFile(next(cache.glob(pattern))) as wheel:
        tree = ast.parse(wheel.read("airflow/sdk/__init__.py"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
            return list(ast.literal_eval(node.value))
    raise AssertionError("airflow/sdk/__init__.py of the wheel has no __all__")


def test_every_task_sdk_name_is_mapped_or_left_out_on_purpose():
    from tradewind.compat.finder import _PACKAGES, MODULES

    public = set(_task_sdk_all())
    submodules = {name for name in public if f"airflow.sdk.{name}" in MODULES or f"airflow.sdk.{name}" in _PACKAGES}
    mapped = set(MODULES["airflow.sdk"]) | submodules
    assert public - mapped == SDK_LEFT_OUT
    for name in sorted(public & mapped):
        assert _from("airflow.sdk", name) is not None
    for name in sorted(SDK_LEFT_OUT - {"__version__"}):
        with pytest.raises(ImportError, match="Tradewind does not support"):
            exec(f"from airflow.sdk import {name}", {})


# ----------------------------------------------------------------------------- Airflow 2.x dataset names
def test_airflow2_dataset_paths(tradewind_sim, tmp_path):
    path = _dag_file(tmp_path, """
        from datetime import datetime
        from airflow.decorators import dag, task
        from airflow.datasets import DatasetAlias
        from airflow.datasets.metadata import Metadata
        from airflow.models import TaskInstance
        from airflow.models.dataset import Dataset
        from airflow.timetables.datasets import DatasetOrTimeSchedule
        from airflow.timetables.trigger import CronTriggerTimetable

        RAW = Dataset("file://include/raw.csv")

        @dag(start_date=datetime(2024, 1, 1), catchup=False,
             schedule=DatasetOrTimeSchedule(timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
                                            datasets=[RAW]))
        def dataset_paths():
            @task(outlets=[RAW])
            def write(**context):
                ti: TaskInstance = context["task_instance"]
                return [isinstance(ti, TaskInstance), type(DatasetAlias("raw-files")).__name__,
                        type(Metadata(RAW, {"rows": 3})).__name__]

            write()

        dataset_paths()
    """)
    result = tradewind_sim.run(path)
    assert result.xcom("write") == [True, "AssetAlias", "Metadata"]
    from tradewind.execute.prepare import load_dag_file

    loaded = load_dag_file(str(path), [str(tmp_path)])["dataset_paths"]
    assert isinstance(loaded.timetable, assets.AssetOrTimeSchedule)
    assert loaded.timetable.summary


def test_models_task_instance_is_annotation_only():
    from airflow.models import DagRun, TaskInstance

    assert TaskInstance is _from("airflow.models.taskinstance", "TaskInstance")
    assert DagRun is _from("airflow.models.dagrun", "DagRun")
    with pytest.raises(AttributeError, match="DagRun.find is not supported by Tradewind"):
        DagRun.find(dag_id="x")


def test_execution_time_accessor_classes_for_annotations():
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import (
        InletEventsAccessors, OutletEventAccessors, TriggeringAssetEventsAccessor, get_current_context,
    )

    assert TriggeringAssetEventsAccessor is assets.TriggeringAssetEvents
    assert InletEventsAccessors is assets.InletEventAccessors
    assert OutletEventAccessors is assets.OutletEventAccessors
    assert AssetEventDagRunReferenceResult is assets.AssetEvent
    assert get_current_context is tradewind.get_current_context


def test_older_and_runtime_spellings():
    from airflow.models.xcom_arg import PlainXComArg
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    from airflow.utils import apply_defaults

    assert PlainXComArg is tradewind.XComArg
    assert RuntimeTaskInstance is _from("airflow.models.taskinstance", "TaskInstance")
    assert apply_defaults(len) is len
    with pytest.raises(AttributeError, match="TaskInstance.get_task_states is not supported by Tradewind"):
        RuntimeTaskInstance.get_task_states(dag_id="x", run_ids=["r"])


def test_amazon_provider_module_names_before_4_0_resolve_to_the_s3_integration():
    from tradewind.integrations.s3 import operators, sensors

    namespace: dict = {}
    exec(
        "from airflow.providers.amazon.aws.operators.s3_copy_object import S3CopyObjectOperator\n"
        "from airflow.providers.amazon.aws.operators.s3_bucket import S3CreateBucketOperator, S3DeleteBucketOperator\n"
        "from airflow.providers.amazon.aws.operators.s3_delete_objects import S3DeleteObjectsOperator\n"
        "from airflow.providers.amazon.aws.operators.s3_list import S3ListOperator\n"
        "from airflow.providers.amazon.aws.sensors.s3_key import S3KeySensor\n",
        namespace,
    )
    assert namespace["S3CopyObjectOperator"] is operators.S3CopyObjectOperator
    assert namespace["S3DeleteBucketOperator"] is operators.S3DeleteBucketOperator
    assert namespace["S3ListOperator"] is operators.S3ListOperator
    assert namespace["S3KeySensor"] is sensors.S3KeySensor
    with pytest.raises(ImportError, match="S3FileTransformOperator"):
        exec("from airflow.providers.amazon.aws.operators.s3_copy_object import S3FileTransformOperator", {})
