"""Shared pieces of the browser tests (tests/browser): the session's DAG files, the admin's
credentials, the :class:`Server` handle with REST helpers, signing in through the login form, and
finding Debian's chromium. The fixtures that use them are in ``conftest.py``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).parent
ARTIFACTS = HERE / "artifacts"
sys.path.insert(0, str(HERE.parent / "integration"))
from cli_support import Home, wait_for  # noqa: E402

INSTALL_HINT = "install it with: sudo scripts/install-services.sh (Debian package 'chromium')"
ADMIN = "admin"
ADMIN_PASSWORD = "browser-admin-password"
#: Expect timeouts (ms): a page or a run that takes longer than this is broken, not slow.
PAGE_TIMEOUT_MS = 15_000
RUN_TIMEOUT_MS = 60_000

_DAG_HEAD = """
from datetime import datetime
from tradewind import DAG, BashOperator, task
"""


def _chain_dag(dag_id: str, description: str = "") -> str:
    """A paused two-task DAG (bash then python) whose first task logs a recognisable line."""
    return _DAG_HEAD + textwrap.dedent(f'''
        with DAG({dag_id!r}, schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
                 is_paused_upon_creation=True, tags=["browser"], description={description!r}) as dag:
            extract = BashOperator(task_id="extract", bash_command="echo log-line-from-{dag_id}")

            @task
            def load():
                print("loaded by {dag_id}")
                return 1

            extract >> load()
    ''')


#: The DAG folder of the browser session: one DAG per scenario, so tests do not share state.
DAG_FILES: dict[str, str] = {
    "ui_trigger.py": _chain_dag("ui_trigger", "Unpaused and triggered from the DAG list"),
    "ui_log.py": _chain_dag("ui_log", "Its task log is opened"),
    "ui_clear.py": _chain_dag("ui_clear", "A task is cleared and runs again"),
    "ui_mark.py": _chain_dag("ui_mark", "A run is marked failed"),
    "ui_listed.py": _chain_dag("ui_listed", "<script>window.__pwned = 1</script> only text"),
    "ui_broken.py": "from tradewind import DAG\n\nraise RuntimeError('broken on purpose for the banner')\n",
    "ui_grid.py": _DAG_HEAD + textwrap.dedent('''
        from tradewind import TaskGroup
        from tradewind.definition.operators.empty import EmptyOperator

        with DAG("ui_grid", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=True,
                 doc_md="# Grid DAG\\n\\nA **group** and a mapped task.") as dag:
            start = EmptyOperator(task_id="start")
            with TaskGroup("work") as work:
                EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")

            @task
            def double(x):
                return 2 * x

            start >> work >> double.expand(x=[1, 2, 3]) >> EmptyOperator(task_id="end")
    '''),
    "ui_params.py": _DAG_HEAD + textwrap.dedent('''
        from tradewind import Param
        from tradewind.definition.operators.empty import EmptyOperator

        with DAG("ui_params", schedule=None, start_date=datetime(2024, 1, 1), is_paused_upon_creation=True,
                 params={"rows": Param(5, type="integer", minimum=1, description="How many rows to load"),
                         "mode": Param("fast", enum=["fast", "slow"]), "dry": Param(False, type="boolean")}):
            EmptyOperator(task_id="only")
    '''),
    "ui_charts.py": _DAG_HEAD + textwrap.dedent('''
        from tradewind import Label, TaskGroup
        from tradewind.definition.operators.empty import EmptyOperator

        with DAG("ui_charts", schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False,
                 is_paused_upon_creation=True, tags=["browser"]):
            start = EmptyOperator(task_id="start")
            with TaskGroup("stage") as stage:
                BashOperator(task_id="first", bash_command="echo one") >> BashOperator(task_id="second",
                                                                                      bash_command="echo two")
            end = EmptyOperator(task_id="end")
            start >> Label("when ready") >> stage >> end
    '''),
    # Its approval is answered from the task-instance page (test_hitl_panel.py).
    "ui_hitl.py": '''
from datetime import datetime
from airflow.sdk import DAG, Param
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("ui_hitl", schedule=None, start_date=datetime(2024, 1, 1)):
    ApprovalOperator(task_id="approve", subject="Ship the <b>release</b>?", body="Check the notes.",
                     params={"note": Param("", type="string")}) >> EmptyOperator(task_id="shipped")
''',
}
DAG_IDS = sorted(name[:-3] for name in DAG_FILES if name != "ui_broken.py")


def chromium_path() -> str | None:
    """Debian's chromium (or ``TRADEWIND_TEST_CHROMIUM``), None when it is not installed."""
    explicit = os.environ.get("TRADEWIND_TEST_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for candidate in ("/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Server:
    """A running standalone for the browser session."""

    home: Home
    url: str
    token: str
    process: subprocess.Popen[str]

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the REST API as the admin (``path`` relative to /api/v1)."""
        return httpx.request(method, f"{self.url}/api/v1/{path}", timeout=30,
                             headers={"Authorization": f"Bearer {self.token}"}, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path} -> {response.status_code}: {response.text}"
        return response.json() if response.content else None

    def unpause(self, dag_id: str) -> None:
        self.ok("PATCH", f"dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})

    def trigger(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.ok("POST", f"dags/{dag_id}/dagRuns", json={"dag_run_id": run_id})

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.ok("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]

    def wait_for_run(self, dag_id: str, run_id: str, states: tuple[str, ...] = ("success", "failed")) -> str:
        return wait_for(lambda: (state := self.run_state(dag_id, run_id)) in states and state,
                        deadline=RUN_TIMEOUT_MS / 1000, interval=0.2, what=f"run {dag_id}/{run_id} in {states}")

    def run_to_success(self, dag_id: str, run_id: str) -> None:
        """Unpause ``dag_id``, trigger ``run_id`` and wait until it succeeded."""
        self.unpause(dag_id)
        self.trigger(dag_id, run_id)
        state = self.wait_for_run(dag_id, run_id)
        assert state == "success", f"{dag_id}/{run_id} ended {state}"


def login(page: Any, username: str, password: str) -> None:
    """Fill in and submit the login form; wait until the home page (``/``) or the DAG list shows."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/(dags)?(\?.*)?$"))


