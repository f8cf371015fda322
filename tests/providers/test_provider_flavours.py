"""Provider packages next to Tradewind, in both ways of installing them (tests/providers/conftest.py):

- ``airflow``: ``pip install apache-airflow-providers-sqlite`` pulled Apache Airflow in;
- ``tradewind``: ``tradewind providers install ...`` installed the providers without Airflow's core.

In both, Tradewind's processes resolve ``airflow`` to Tradewind (never to the real Airflow in
site-packages), DAG files parse and run under the venv's real ``tradewind dags test``, modules
Tradewind does not implement come from the installed distributions, and what Tradewind does not
support still fails loudly.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cli_support import wait_for
from e2e_support import dags_test, home_with_dag, import_errors
from service_support import stop_process

from tradewind.compat.provider_core import AIRFLOW_VERSION

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venvs (Apache Airflow from PyPI)

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "tests" / "conformance" / "dags" / "seeds"
TODAY = datetime.now(timezone.utc).strftime("%Y-%m-%d")

_INSTALLED = """
import importlib.metadata as m, json
print(json.dumps({(d.metadata["Name"] or "").lower().replace("_", "-"): d.version for d in m.distributions()}))
"""


def _distributions(venv) -> dict[str, str]:
    return json.loads(venv.python("-c", _INSTALLED).stdout)


def test_the_flavours_differ_only_in_airflow_core(airflow_venv, tradewind_venv):
    assert airflow_venv.has_distribution("apache-airflow-core")
    assert airflow_venv.has_distribution("apache-airflow-task-sdk")
    for core in ("apache-airflow", "apache-airflow-core", "apache-airflow-task-sdk"):
        assert not tradewind_venv.has_distribution(core), core
    installed = _distributions(tradewind_venv)
    # the providers asked for, and the providers they need, came in
    for dist in ("sqlite", "postgres", "mysql", "http", "smtp", "common-sql", "common-compat"):
        assert f"apache-airflow-providers-{dist}" in installed, dist


def test_seed_tutorials_parse_and_run(flavour_venv, tmp_path):
    home = flavour_venv.home(tmp_path / "home")
    shutil.copytree(SEEDS, home.path / "dags", dirs_exist_ok=True)
    home.ok("db", "migrate")
    assert import_errors(home) == {}
    assert {row["dag_id"] for row in home.json("dags", "list")} == {
        "hello-airflow", "my_python_dag", "my_first_airflow_dag", "data_extract_pipeline"}

    run = dags_test(home, "hello-airflow", "2024-01-01")
    assert run.states == {"print_date": "success", "python_operator": "success"}, run.output
    run = dags_test(home, "my_python_dag", TODAY)  # start_date=days_ago(n=1)
    assert run.run_state == "success" and set(run.states.values()) == {"success"}, run.output


def test_sqlite_dag_on_the_provider_paths(flavour_venv, tmp_path):
    home = home_with_dag(flavour_venv, tmp_path / "home", "provider_sqlite_dag.py")
    database = tmp_path / "fruit.db"
    seen_file = tmp_path / "seen.json"
    home.env["AIRFLOW_CONN_SQLITE_E2E"] = f"sqlite:///{database}"
    home.env["PROVIDER_E2E_OUT"] = str(seen_file)

    run = dags_test(home, "provider_sqlite")
    assert run.states == {"create": "success", "select": "success", "count": "success",
                          "where_is_airflow": "success"}, run.output
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT n FROM fruit_log").fetchall() == [(2,)]

    seen = json.loads(seen_file.read_text())
    # Inside a task `airflow` is Tradewind's shim, even with Apache Airflow in site-packages ...
    assert seen["airflow_file"] == str(REPO / "src" / "tradewind" / "compat" / "finder.py")
    assert seen["airflow_version"] == AIRFLOW_VERSION
    assert seen["hook_module"] == "tradewind.integrations.sql.sqlite"  # native
    # ... and a module Tradewind does not implement is the installed distribution's own file.
    assert seen["handlers_file"].startswith(str(flavour_venv.root)), seen
    assert seen["handlers_file"].endswith("airflow/providers/common/sql/hooks/handlers.py")
    assert seen["sqlite_provider_version"] == _distributions(flavour_venv)["apache-airflow-providers-sqlite"]


def test_unknown_core_module_fails_loudly_even_with_airflow_installed(flavour_venv, tmp_path):
    home = home_with_dag(flavour_venv, tmp_path / "home", "provider_unknown_core.py")
    errors = import_errors(home)
    assert list(errors) == ["provider_unknown_core.py"]
    message = errors["provider_unknown_core.py"]
    assert "airflow.executors" in message and "Tradewind does not support" in message, message


def test_providers_list_shows_native_and_bridged(flavour_venv, tmp_path):
    home = flavour_venv.home(tmp_path / "home")
    rows = {row["name"]: row for row in home.json("providers", "list")}
    installed = {name[len("apache-airflow-providers-"):].replace("-", "."): version
                 for name, version in _distributions(flavour_venv).items()
                 if name.startswith("apache-airflow-providers-")}
    assert installed, "no provider distribution in the venv"
    for provider_id, version in installed.items():
        row = rows[provider_id]
        assert row["installed_version"] == version and row["version"] == version, row
        assert row["mode"].endswith("bridged"), row
        assert row["package"] == "apache-airflow-providers-" + provider_id.replace(".", "-")
    assert rows["sqlite"]["mode"] == "native+bridged"
    assert rows["common.sql"]["mode"] == "native+bridged"
    # A native provider is "native" alone exactly when its distribution is not installed (pip pulls
    # common-io in with Apache Airflow; `tradewind providers install` of these providers does not).
    assert rows["common.io"]["mode"] == ("native+bridged" if "common.io" in installed else "native")
    assert rows["common.io"]["native_modules"] and rows["common.io"]["known_limitations"]
    for row in rows.values():
        assert (row["installed_version"] is None) == (row["mode"] == "native"), row
    assert rows["amazon"]["mode"] == "native+bridged" and rows["amazon"]["native_modules"]
    assert all(row["mode"] in ("native", "bridged", "native+bridged") for row in rows.values())

    one = home.json("providers", "get", "sqlite")
    assert one["name"] == "sqlite" and "airflow.providers.sqlite.hooks.sqlite" in one["native_modules"]
    wrong = home.run("providers", "get", "sqlit3")
    assert wrong.returncode == 1 and "did you mean sqlite" in wrong.stderr, wrong.stderr


def test_tradewind_keeps_its_requirements_next_to_apache_airflow(airflow_venv):
    """pip's resolution for Apache Airflow leaves every requirement of Tradewind satisfied, and
    Tradewind's own tests of its shims, CLI and API pass with the versions Airflow pulled in."""
    airflow_venv.python("-m", "pip", "check")
    result = airflow_venv.python(
        "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", "-p", "no:xdist",
        str(REPO / "tests" / "unit" / "compat" / "test_shims.py"),
        str(REPO / "tests" / "unit" / "observe" / "test_health.py"),
        str(REPO / "tests" / "unit" / "observe" / "test_cli_main.py"),
        timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_scheduler_runs_provider_dags_next_to_apache_airflow(airflow_venv, tmp_path):
    """The scheduler, its DAG processor and the local executor's task processes in the venv where pip
    pulled Apache Airflow in: a triggered run of the SQLite DAG succeeds."""
    home = home_with_dag(airflow_venv, tmp_path / "home", "provider_sqlite_dag.py")
    database = tmp_path / "fruit.db"
    home.env["AIRFLOW_CONN_SQLITE_E2E"] = f"sqlite:///{database}"
    home.env["PROVIDER_E2E_OUT"] = str(tmp_path / "seen.json")
    scheduler = subprocess.Popen([str(airflow_venv.bin / "tradewind"), "scheduler"], env=home.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        home.ok("dags", "unpause", "provider_sqlite")
        home.ok("dags", "trigger", "provider_sqlite")

        def finished():
            runs = home.json("dags", "list-runs", "provider_sqlite")
            return runs and runs[0]["state"] in ("success", "failed") and runs[0]["state"]

        assert wait_for(finished, deadline=240, interval=1, what="the triggered run") == "success"
    finally:
        stop_process(scheduler)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT n FROM fruit_log").fetchall() == [(2,)]
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["airflow_file"] == str(REPO / "src" / "tradewind" / "compat" / "finder.py")
