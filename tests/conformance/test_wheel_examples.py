"""The example DAGs shipped inside Apache Airflow's wheels parse and run under Tradewind.

The wheels are downloaded from PyPI at test time (``pip download --no-deps``, pinned versions,
cached in ~/.cache/tradewind-tests/wheels) and their example DAG files extracted into a temporary
directory: nothing of Airflow's is committed here. Each wheel's examples become the DAGs folder of
a fresh TRADEWIND_HOME, parsed by the real CLI; the offline-runnable DAGs (the rule of
``wheel_corpus.OFFLINE_BLOCKERS``) run with ``tradewind dags test``.

Every file that uses only Airflow core, the standard provider and providers we support must parse,
except the ``KNOWN_PARSE_FAILURES`` below, each with its reason. The list is what fails today and
is being worked on: a file on it that parses again fails the test, so the list can only shrink.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from wheel_corpus import (
    CorpusHome, FileInfo, classify_file, defines_no_dag_at_import, download_wheel, extract_prefix, first_error_line, is_dag_file,
    offline_blockers,
)

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Wheel:
    dist: str
    version: str
    prefix: str
    style: str


#: Pinned so results are reproducible. Only these of the provider wheels we support ship example
#: DAGs (sqlite, postgres, mysql, http, ssh, amazon, slack, redis, smtp and docker keep theirs as
#: system tests in Airflow's source tree, outside the wheels).
WHEELS = {
    "core-3.3.2": Wheel("apache-airflow-core", "3.3.2", "airflow/example_dags/", "3"),
    "airflow-2.10.5": Wheel("apache-airflow", "2.10.5", "airflow/example_dags/", "2"),
    "standard-1.21.0": Wheel("apache-airflow-providers-standard", "1.21.0",
                             "airflow/providers/standard/example_dags/", "3"),
    "common-sql-2.4.0": Wheel("apache-airflow-providers-common-sql", "2.4.0",
                              "airflow/providers/common/sql/example_dags/", "3"),
}

#: (wheel, file) -> why it does not parse yet. Shrink it as fixes land; never grow it silently.
_EXAMPLE_PKG = "imports airflow.example_dags.* (Airflow's own example package: helper/plugin modules)"
KNOWN_PARSE_FAILURES: dict[tuple[str, str], str] = {
    # Airflow 3.3 core examples
    ("core-3.3.2", "example_asset_allow_teams.py"): "airflow.sdk.AssetAccessControl missing",
    ("core-3.3.2", "example_asset_partition.py"): "airflow.sdk.AllowedKeyMapper (asset partitions) missing",
    ("core-3.3.2", "example_custom_weight.py"): _EXAMPLE_PKG,
    ("core-3.3.2", "example_kubernetes_executor.py"): _EXAMPLE_PKG,
    ("core-3.3.2", "example_local_kubernetes_executor.py"): _EXAMPLE_PKG,
    ("core-3.3.2", "example_retry_policy.py"): "airflow.sdk.ExceptionRetryPolicy missing",
    ("core-3.3.2", "example_workday_timetable.py"): _EXAMPLE_PKG,
    # Airflow 2.10 examples
    ("airflow-2.10.5", "example_kubernetes_executor.py"): _EXAMPLE_PKG,
    ("airflow-2.10.5", "example_local_kubernetes_executor.py"): _EXAMPLE_PKG,
    ("airflow-2.10.5", "example_subdag_operator.py"): _EXAMPLE_PKG,
    ("airflow-2.10.5", "example_workday_timetable.py"): _EXAMPLE_PKG,
    # standard provider 1.21 examples
    # common.sql provider 2.4 examples
    ("common-sql-2.4.0", "example_analytics.py"): "airflow.providers.common.sql.config missing",
}

#: (wheel, dag_id) -> why its offline run does not succeed yet.
KNOWN_RUN_FAILURES: dict[tuple[str, str], str] = {
}

#: (wheel, dag_id) -> why Apache Airflow's own run of it fails too: not run.
AIRFLOW_FAILS_TOO: dict[tuple[str, str], str] = {
    ("core-3.3.2", "example_failed_dag"): "fails on purpose",
    ("core-3.3.2", "read_asset_event_from_classic"): "no event of s3://output/1.txt offline: "
                                                     "{{ inlet_events.for_asset(...)[-1].extra }} is undefined",
    ("core-3.3.2", "example_passing_params_via_test_command"): "{{ params.foo }} needs `tasks test -t` params",
    ("core-3.3.2", "example_params_ui_tutorial"): "param 'required_field' has no default: a run needs it in conf",
    ("airflow-2.10.5", "read_dataset_event_from_classic"): "{{ inlet_events[Dataset(...)] }}: Airflow 2.10's template "
                                                           "context and globals have no Dataset (StrictUndefined)",
    ("airflow-2.10.5", "example_passing_params_via_test_command"): "{{ params.foo }} needs `tasks test -t` params",
    ("airflow-2.10.5", "tutorial_taskflow_templates"): "reads sql/test.sql, which the wheel lacks",
}

#: Task states Apache Airflow gives these DAGs (worked out from each DAG's trigger rules):
#: checked exactly, not just "the run succeeded".
EXPECTED_STATES: dict[tuple[str, str], dict[str, str]] = {
    ("core-3.3.2", "example_skip_dag"): {
        "skip_operator_1": "skipped", "always_true_1": "success", "all_success": "skipped", "final_1": "skipped",
        "skip_operator_2": "skipped", "always_true_2": "success", "one_success": "success", "final_2": "success",
    },
    ("standard-1.21.0", "example_short_circuit_operator"): {
        "condition_is_True": "success", "true_1": "success", "true_2": "success",
        "condition_is_False": "success", "false_1": "skipped", "false_2": "skipped",
        # ignore_downstream_trigger_rules=False: only short_circuit's direct downstream (task_4) is
        # skipped; task_6 (all_success after it) skips too and task_7 (all_done) still runs.
        "task_1": "success", "task_2": "success", "short_circuit": "success", "task_3": "success",
        "task_4": "skipped", "task_5": "success", "task_6": "skipped", "task_7": "success",
    },
    ("standard-1.21.0", "example_bash_operator"): {
        "runme_0": "success", "runme_1": "success", "runme_2": "success", "run_after_loop": "success",
        "also_run_this": "success", "describe_dag_folder": "success", "show_dag_folder_stats": "success",
        "this_will_skip": "skipped", "run_this_last": "skipped",  # exit 99 skips; all_success then skips
    },
}

#: At most this many offline runs per wheel (the DAGs of EXPECTED_STATES and KNOWN_RUN_FAILURES, then
#: evenly spaced picks in dag-id order: deterministic), to keep the module around 3 minutes.
MAX_RUNS_PER_WHEEL = 10


@dataclass
class WheelHome:
    name: str
    home: CorpusHome
    files: dict[str, tuple[str, FileInfo]]  # DAG file (relative) -> (text, classification)
    errors: dict[str, str]
    dags_by_file: dict[str, list[str]]


@pytest.fixture(scope="module", params=sorted(WHEELS))
def wheel_home(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> WheelHome:
    name = request.param
    wheel = WHEELS[name]
    path = download_wheel(wheel.dist, wheel.version)
    src = tmp_path_factory.mktemp(f"wheel_{name}")
    extract_prefix(path, wheel.prefix, src)
    files = {}
    for py in sorted(src.rglob("*.py")):
        text = py.read_text()
        if is_dag_file(text):
            files[str(py.relative_to(src))] = (text, classify_file(text, wheel.style))
    assert files, f"{wheel.dist} {wheel.version} holds no example DAG under {wheel.prefix}"
    home = CorpusHome(tmp_path_factory.mktemp(f"home_{name}") / "home", src)
    errors, dags_by_file = home.parse()
    return WheelHome(name, home, files, errors, dags_by_file)


@pytest.mark.timeout(600)
def test_supported_example_dags_parse(wheel_home: WheelHome) -> None:
    problems = []
    for rel, (text, info) in wheel_home.files.items():
        if not info.supported:
            continue
        known = KNOWN_PARSE_FAILURES.get((wheel_home.name, rel))
        # a file whose import builds no DAG (a DAG-factory helper) parses when it imports cleanly
        parsed = rel not in wheel_home.errors and (bool(wheel_home.dags_by_file.get(rel))
                                                   or defines_no_dag_at_import(text))
        if parsed and known:
            problems.append(f"{rel} parses now: remove it from KNOWN_PARSE_FAILURES ({known})")
        elif not parsed and not known:
            error = wheel_home.errors.get(rel)
            problems.append(f"{rel}: " + (first_error_line(error) if error else "no import error and no DAG"))
    assert not problems, f"{wheel_home.name}:\n" + "\n".join(problems)


def _runnable(wheel_home: WheelHome) -> list[str]:
    dag_ids = []
    in_folder = {d for ids in wheel_home.dags_by_file.values() for d in ids}
    for rel, (text, info) in wheel_home.files.items():
        if rel in wheel_home.errors or offline_blockers(text, info, in_folder):
            continue
        dag_ids += wheel_home.dags_by_file.get(rel, [])
    dag_ids = sorted(d for d in dag_ids if (wheel_home.name, d) not in AIRFLOW_FAILS_TOO)
    # always: the exact-state DAGs and the known failures (to notice fixes); then evenly spaced picks
    first = [d for d in dag_ids
             if (wheel_home.name, d) in EXPECTED_STATES or (wheel_home.name, d) in KNOWN_RUN_FAILURES]
    rest = [d for d in dag_ids if d not in first]
    room = max(MAX_RUNS_PER_WHEEL - len(first), 0)
    step = max(len(rest) / room, 1) if room else 1
    return first + [rest[int(i * step)] for i in range(min(room, len(rest)))]


@pytest.mark.timeout(900)
def test_offline_example_dags_succeed(wheel_home: WheelHome) -> None:
    problems = []
    for dag_id in _runnable(wheel_home):
        result = wheel_home.home.dags_test(dag_id, timeout=90)
        known = KNOWN_RUN_FAILURES.get((wheel_home.name, dag_id))
        expected = EXPECTED_STATES.get((wheel_home.name, dag_id))
        bad_states = {t: s for t, s in result.tasks.items() if s not in ("success", "skipped")}
        ok = result.state == "success" and not bad_states and (expected is None or result.tasks == expected)
        if ok and known:
            problems.append(f"{dag_id} succeeds now: remove it from KNOWN_RUN_FAILURES ({known})")
        elif not ok and not known:
            detail = f"expected {expected}, got {result.tasks}" if expected and result.state == "success" else \
                f"run {result.state}, tasks {bad_states or result.tasks}: {result.error}"
            problems.append(f"{dag_id}: {detail}")
    assert not problems, f"{wheel_home.name}:\n" + "\n".join(problems)


def test_known_failures_name_real_files() -> None:
    """The exception lists point at wheels we test (a typo would hide nothing but mislead)."""
    for wheel, _ in (*KNOWN_PARSE_FAILURES, *KNOWN_RUN_FAILURES, *AIRFLOW_FAILS_TOO, *EXPECTED_STATES):
        assert wheel in WHEELS, wheel
    assert Path(__file__).with_name("wheel_corpus.py").exists()
