"""Running our provider DAG files (``tests/providers/dags/``) with ``tradewind dags test`` in a provider venv.

A test builds the venv (``venv_support.provider_venv``), makes a home in it with :func:`home_with_dag`,
sets the connections and paths the DAG file reads in ``home.env``, and calls :func:`dags_test`,
which returns the command's result and each task's final state as ``dags test`` printed it
(``[dags test] <task>: <state>``). :func:`task_log` reads a task's log file for the assertions
that need it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from service_support import in_ci
from venv_support import ProviderVenv, VenvBuildError, VenvHome, provider_venv

DAGS = Path(__file__).parent / "dags"
_STATE_LINE = re.compile(r"^\[dags test\] (?P<task>[^\s:]+): (?P<state>[a-z_]+)", re.M)


#: Every provider the tests use. Each flavour has ONE venv holding all of them (built once per
#: test session, then cached), not one venv per provider: a build pulls Apache Airflow (or resolves
#: the providers' requirements) and takes tens of seconds, and the tests need nothing but their own
#: provider from it. A test naming a provider missing here fails, so the list stays complete.
TESTED_PROVIDERS = ("amazon", "docker", "http", "mysql", "postgres", "redis", "sftp", "slack", "smtp",
                    "sqlite", "ssh")


def venv_or_skip(flavour: str, providers: list[str], extra: list[str] | None = None) -> ProviderVenv:
    """The flavour's venv, which holds ``providers`` (and every other provider of
    :data:`TESTED_PROVIDERS`); when PyPI cannot be reached the test is skipped (failed under CI=true)."""
    missing = sorted(set(providers) - set(TESTED_PROVIDERS))
    assert not missing, f"add {missing} to e2e_support.TESTED_PROVIDERS"
    if os.environ.get("TRADEWIND_SKIP_PROVIDER_VENVS") and not in_ci():
        pytest.skip("TRADEWIND_SKIP_PROVIDER_VENVS is set")
    try:
        return provider_venv(flavour, list(TESTED_PROVIDERS), extra or [])
    except VenvBuildError as exc:
        if in_ci():
            raise
        pytest.skip(f"provider venv {flavour}/{providers} could not be built: {str(exc)[-800:]}")


def home_with_dag(venv: ProviderVenv, path: Path, *dag_files: str) -> VenvHome:
    """A migrated TRADEWIND_HOME in ``path`` with our DAG files copied into its ``dags/``."""
    home = venv.home(path)
    for name in dag_files:
        shutil.copyfile(DAGS / name, home.path / "dags" / name)
    home.ok("db", "migrate")
    return home


@dataclass
class DagTest:
    result: subprocess.CompletedProcess[str]
    states: dict[str, str]

    @property
    def output(self) -> str:
        return f"{self.result.stdout}\n{self.result.stderr}"

    @property
    def run_state(self) -> str | None:
        found = re.search(r"\[dags test\] run \S+ of DAG \S+: (\w+)", self.output)
        return found.group(1) if found else None


def dags_test(home: VenvHome, dag_id: str, date: str = "2024-03-02", timeout: float = 300) -> DagTest:
    result = home.run("dags", "test", dag_id, date, timeout=timeout)
    states = {m["task"]: m["state"] for m in _STATE_LINE.finditer(result.stdout)}
    return DagTest(result, states)


def import_errors(home: VenvHome) -> dict[str, str]:
    """``{file name: message}`` of the home's DAG files that failed to import."""
    home.ok("dags", "reserialize")
    rows = home.json("dags", "list-import-errors")
    return {Path(row["filename"]).name: row.get("message") or row.get("stack_trace") or "" for row in rows}


def task_log(home: VenvHome, dag_id: str, task_id: str, attempt: int = 1) -> str:
    (path,) = (home.path / "logs" / f"dag_id={dag_id}").glob(f"run_id=*/task_id={task_id}/attempt={attempt}.log")
    return path.read_text()
