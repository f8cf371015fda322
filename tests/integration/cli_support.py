"""Helpers for end-to-end CLI tests: the real ``tradewind`` executable in a tmp home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from service_support import free_port  # noqa: F401 - re-exported: tests import it from here

TRADEWIND = str(Path(sys.executable).parent / "tradewind")

SMALL_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator, task

with DAG("small", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    hello = BashOperator(task_id="hello", bash_command="echo hello-from-bash {{ ds }}")

    @task
    def shout():
        print("shout-from-python")
        return 42

    hello >> shout()
'''

FAILING_DAG = '''
from datetime import datetime
from tradewind import DAG, BashOperator

with DAG("failing", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    boom = BashOperator(task_id="boom", bash_command="echo about-to-fail; exit 3")
    after = BashOperator(task_id="after", bash_command="echo never")
    boom >> after
'''

BROKEN_DAG = '''
from tradewind import DAG

x = 1
raise RuntimeError("broken on purpose")
'''

SCHEDULED_DAG = '''
from datetime import datetime, timedelta, timezone
from tradewind import DAG, BashOperator

with DAG(
    "every_day",
    schedule="@daily",
    start_date=datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3),
    catchup=False,
) as dag:
    BashOperator(task_id="work", bash_command="echo scheduled-work")
'''


class Home:
    """A TRADEWIND_HOME for one test with helpers to run the CLI in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "dags").mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v for k, v in os.environ.items() if not (k.startswith("TRADEWIND__") or k == "TRADEWIND_HOME")
        }
        self.env.update({"TRADEWIND_HOME": str(path), "TRADEWIND__CORE__LOAD_EXAMPLES": "False"})

    def add_dag(self, name: str, source: str) -> Path:
        target = self.path / "dags" / name
        target.write_text(textwrap.dedent(source))
        return target

    def run(self, *args: str, timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TRADEWIND, *args], env=self.env, capture_output=True, text=True, timeout=timeout, input=input
        )

    def ok(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, f"tradewind {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "-o", "json").stdout)

    def stored_variables(self) -> dict[str, tuple[str, str | None]]:
        """``{key: (value, description)}`` read from this home's database in clear (``variables list``
        shows keys only, as Airflow's does)."""
        from tradewind.config import Config
        from tradewind.persist.db import Database
        from tradewind.persist.fernet import fernet_from_config
        from tradewind.persist.queries.variables import list_variable_values

        config = Config.load(home=self.path, environ=self.env)
        db = Database.from_config(config)
        try:
            with db.session_scope() as session:
                rows = list_variable_values(session, fernet=fernet_from_config(config))
                return {row.key: (row.value, row.description) for row in rows}
        finally:
            db.engine.dispose()

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [TRADEWIND, *args], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )


def wait_for(
    condition: Callable[[], Any], *, deadline: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll until ``condition()`` is truthy (returned) or ``deadline`` seconds pass (AssertionError)."""
    end = time.monotonic() + deadline
    last_error: BaseException | None = None
    while time.monotonic() < end:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - keep polling; reported on timeout
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}; last error: {last_error!r}")


@contextmanager
def celery_home_on_postgres(path: Path, pg_server: Any, redis_url: str, *, executor: str,
                            label: str) -> Iterator[Home]:
    """A home on a fresh, migrated PostgreSQL database (dropped afterwards) with ``[core]
    executor`` set and a Redis broker; the execution API on a free port of this machine."""
    name = pg_server.new_database_name(label)
    pg_server.execute_autocommit(f'CREATE DATABASE "{name}"')
    home = Home(path)
    api_port = free_port()
    home.env.update({
        "TRADEWIND__DATABASE__URL": pg_server.url(name),
        "TRADEWIND__CORE__EXECUTOR": executor,
        "TRADEWIND__CELERY__BROKER_URL": redis_url,
        "TRADEWIND__CELERY__OPERATION_TIMEOUT": "2",
        "TRADEWIND__CELERY__WORKER_HEARTBEAT_INTERVAL": "1",
        "TRADEWIND__API__PORT": str(api_port),
        "TRADEWIND__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
    })
    home.ok("db", "migrate")
    try:
        yield home
    finally:
        pg_server.execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
