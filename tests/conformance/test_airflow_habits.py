"""The Airflow habits Tradewind keeps: AIRFLOW_VAR_* / AIRFLOW_CONN_* environment variables and the
Airflow 2 CLI verbs (``tasks test DAG TASK DATE``, ``dags list``, ``dags backfill -s -e``,
``dags trigger -e``, ``db init``), each run through the real ``tradewind`` command in a child process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tradewind.definition.connection import get_connection
from tradewind.definition.variable import Variable

DAG_FILE = '''
from datetime import datetime

from airflow import DAG
from airflow.operators.bash_operator import BashOperator

with DAG("habits", start_date=datetime(2024, 1, 1), schedule_interval="@daily", catchup=False) as dag:
    BashOperator(task_id="stamp", bash_command="echo stamp-{{ ds }}")
'''


def _cli() -> list[str]:
    script = Path(sys.executable).parent / "tradewind"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tradewind.observe.cli.main"]


class Home:
    """A fresh TRADEWIND_HOME holding the one Airflow-style DAG file above."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "dags").mkdir(parents=True)
        (path / "dags" / "habits.py").write_text(textwrap.dedent(DAG_FILE))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWIND", "AIRFLOW_"))}
        self.env.update(TRADEWIND_HOME=str(path), TRADEWIND__CORE__LOAD_EXAMPLES="False")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_cli() + list(args), env=self.env, capture_output=True, text=True, timeout=240)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = self.run(*args)
        assert proc.returncode == 0, f"tradewind {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        return proc

    def rows(self, sql: str, *params: object) -> list[tuple]:
        conn = sqlite3.connect(self.path / "tradewind.db")
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


# ----------------------------------------------------------------------------- environment variables
def test_airflow_var_env_is_read_and_tradewind_var_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_HABIT_REGION", "eu-west")
    monkeypatch.setenv("AIRFLOW_VAR_HABIT_JSON", '{"rows": 3}')
    assert Variable.get("habit_region") == "eu-west"
    assert Variable.get("habit_json", deserialize_json=True) == {"rows": 3}
    monkeypatch.setenv("TRADEWIND_VAR_HABIT_REGION", "us-east")
    assert Variable.get("habit_region") == "us-east"


def test_variable_get_takes_airflow3_default_keyword(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_VAR_HABIT_ABSENT", raising=False)
    monkeypatch.delenv("TRADEWIND_VAR_HABIT_ABSENT", raising=False)
    assert Variable.get("habit_absent", default="sdk-default") == "sdk-default"
    assert Variable.get("habit_absent", default_var="v2-default") == "v2-default"
    assert Variable.get("habit_absent", "positional") == "positional"
    with pytest.raises(TypeError, match="not both"):
        Variable.get("habit_absent", default_var=1, default=2)


def test_airflow_conn_env_uri_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_HABIT_DB", "mysql://loader:pw@db.internal:3307/features?charset=utf8mb4")
    monkeypatch.setenv("AIRFLOW_CONN_HABIT_API", json.dumps({"conn_type": "http", "host": "api.internal"}))
    db = get_connection("habit_db")
    assert (db.conn_type, db.host, db.port, db.schema, db.login) == ("mysql", "db.internal", 3307, "features", "loader")
    assert db.extra_dejson == {"charset": "utf8mb4"}
    assert get_connection("habit_api").host == "api.internal"
    monkeypatch.setenv("TRADEWIND_CONN_HABIT_API", "http://tradewind.internal")
    assert get_connection("habit_api").host == "tradewind.internal"


# ----------------------------------------------------------------------------- CLI verbs
@pytest.mark.slow
def test_db_init_and_upgrade_are_migrate(home: Home) -> None:
    init = home.ok("db", "init")
    assert "Airflow 2's name" in init.stderr
    home.ok("db", "check")
    assert "already up to date" in home.ok("db", "upgrade").stdout


@pytest.mark.slow
def test_dags_list_and_tasks_test_with_positional_date(home: Home) -> None:
    home.ok("db", "init")
    listed = json.loads(home.ok("dags", "list", "-o", "json").stdout)
    assert [d["dag_id"] for d in listed] == ["habits"]
    proc = home.ok("tasks", "test", "habits", "stamp", "2024-02-03")
    assert "stamp-2024-02-03" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_dags_trigger_exec_date(home: Home) -> None:
    home.ok("db", "init")
    home.ok("dags", "trigger", "habits", "-e", "2024-02-03")
    home.ok("dags", "trigger", "habits", "--exec-date", "2024-02-04T06:00:00+00:00")
    runs = {run_id for (run_id,) in home.rows("SELECT run_id FROM dag_run WHERE dag_id = 'habits'")}
    assert runs == {"manual__2024-02-03T00:00:00+00:00", "manual__2024-02-04T06:00:00+00:00"}


@pytest.mark.slow
def test_dags_backfill_is_backfill_create(home: Home) -> None:
    home.ok("db", "init")
    dry = home.ok("dags", "backfill", "habits", "-s", "2024-01-01", "-e", "2024-01-03", "--dry-run")
    assert "3 logical date(s); nothing was written" in dry.stdout
    assert home.rows("SELECT COUNT(*) FROM backfill") == [(0,)]

    home.ok("dags", "backfill", "habits", "-s", "2024-01-01", "-e", "2024-01-03", "-B", "--rerun-failed-tasks",
            "-c", '{"source": "habit"}')
    home.ok("backfill", "cancel", "1")  # one active backfill per DAG
    home.ok("dags", "backfill", "habits", "-e", "2024-01-05", "--reset-dagruns", "-y")
    backfills = json.loads(home.ok("backfill", "list", "-o", "json").stdout)
    got = sorted((b["from_date"][:10], b["to_date"][:10], b["reprocess_behavior"], b["run_backwards"], b["runs"])
                 for b in backfills)
    assert got == [("2024-01-01", "2024-01-03", "failed", True, 3), ("2024-01-05", "2024-01-05", "completed", False, 1)]
    confs = [json.loads(conf) for (conf,) in home.rows("SELECT dag_run_conf FROM backfill ORDER BY id")]
    assert confs == [{"source": "habit"}, {}]


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "named"), [
    (["-t", "stamp"], "--task-regex"),
    (["--mark-success"], "--mark-success"),
    (["--pool", "big"], "--pool"),
    (["--ignore-first-depends-on-past"], "--ignore-first-depends-on-past"),
])
def test_dags_backfill_refuses_airflow2_flags_by_name(home: Home, flags: list[str], named: str) -> None:
    home.ok("db", "init")
    proc = home.run("dags", "backfill", "habits", "-s", "2024-01-01", *flags)
    assert proc.returncode == 2
    assert f"`dags backfill {named}` (Airflow 2) is not supported by Tradewind" in proc.stderr
    assert home.rows("SELECT COUNT(*) FROM backfill") == [(0,)]


@pytest.mark.slow
def test_dags_backfill_needs_a_date(home: Home) -> None:
    home.ok("db", "init")
    proc = home.run("dags", "backfill", "habits")
    assert proc.returncode == 1
    assert "needs -s/--start-date and/or -e/--end-date" in proc.stderr
