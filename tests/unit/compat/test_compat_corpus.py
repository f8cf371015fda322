"""Our own corpus of DAG files using the newer and older Airflow paths, through the real CLI.

``tests/conformance/dags/compat_paths`` becomes the DAGs folder of a fresh TRADEWIND_HOME: the DAG
processor lists it (safe mode, ``.airflowignore``), imports it (no import error allowed) and
``tradewind dags test`` runs the DAGs in child processes, which read ``conf`` from that home.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "conformance" / "dags" / "compat_paths"
DATE = "2024-03-05"
RUN_ID = f"manual__{DATE}T00:00:00+00:00"

pytestmark = pytest.mark.slow


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "tradewind"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradewind.observe.cli.main"]


class Home:
    def __init__(self, path: Path, **env: str) -> None:
        self.path = path
        shutil.copytree(CORPUS, path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW_"))}
        self.env.update(TRADEWIND_HOME=str(path), TRADEWIND__CORE__LOAD_EXAMPLES="False",
                        AIRFLOW_CONN_COMPAT_SQLITE=f"sqlite:///{path / 'visits.db'}",
                        AIRFLOW__REPORTS__REGION="ap-northeast", TRADEWIND__CORE__PARALLELISM="6", **env)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(_cli() + list(args), env=self.env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, f"tradewind {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with sqlite3.connect(self.path / "tradewind.db") as conn:
            return conn.execute(sql, params).fetchall()

    def states(self, dag_id: str) -> dict[str, str]:
        rows = self.query("SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, RUN_ID)
        return dict(rows)

    def xcom(self, dag_id: str, task_id: str) -> Any:
        rows = self.query("SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value' "
                          "AND run_id = ?", dag_id, task_id, RUN_ID)
        assert rows, f"no XCom from {dag_id}.{task_id}"
        return json.loads(rows[0][0])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    home = Home(tmp_path_factory.mktemp("compat_corpus"))
    home.run("db", "migrate")
    return home


def test_every_file_imports_and_safe_mode_and_ignore_file_decide_what_is_listed(home: Home) -> None:
    errors = json.loads(home.run("dags", "list-import-errors", "-o", "json").stdout)
    assert errors == [], "\n\n".join(f"{e.get('filename')}:\n{e.get('message')}" for e in errors)
    listed = {d["dag_id"]: d for d in json.loads(home.run("dags", "list", "-o", "json").stdout)}
    # factory_module.py never names airflow/tradewind (safe mode skips it); scratch_* is in .airflowignore.
    assert set(listed) == {"c_book_style", "c_sdk_style", "c_every_six_hours", "c_twice_daily"}
    assert listed["c_sdk_style"]["schedule"] == "two match days"
    assert listed["c_twice_daily"]["schedule"] == "0 6 * * *, 30 18 * * *"


def test_safe_mode_off_imports_the_factory_file(tmp_path: Path) -> None:
    home = Home(tmp_path, TRADEWIND__CORE__DAG_DISCOVERY_SAFE_MODE="False")
    home.run("db", "migrate")
    listed = {d["dag_id"] for d in json.loads(home.run("dags", "list", "-o", "json").stdout)}
    assert "c_factory_made" in listed


def test_book_style_dag_runs(home: Home) -> None:
    home.run("dags", "test", "c_book_style", DATE)
    assert set(home.states("c_book_style").values()) == {"success"}
    assert home.xcom("c_book_style", "count_rows") == 2
    assert home.xcom("c_book_style", "report") == {"rows": 2, "ti_is_task_instance": True, "dags_folder": "dags",
                                                   "region": "ap-northeast", "workers": 6}
    with sqlite3.connect(home.path / "visits.db") as conn:
        assert sorted(conn.execute("SELECT day, page FROM visits")) == [(DATE, "about"), (DATE, "home")]


def test_sdk_style_dag_runs(home: Home) -> None:
    home.run("dags", "test", "c_sdk_style", DATE)
    assert home.states("c_sdk_style") == {"braces": "success", "optional": "skipped", "produce": "success",
                                          "publish": "success"}
    assert home.xcom("c_sdk_style", "publish") == f"{DATE} PARSED FOR NONE"
    assert home.xcom("c_sdk_style", "braces") == "{{ kept as is }}"
