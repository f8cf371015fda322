"""``airflowctl`` (Airflow 3's remote CLI, ``apache-airflow-ctl`` from PyPI) against a real
Tradewind API server: its login (``POST /auth/token/cli`` with username and password) and a few
commands over ``/api/v2``: DAGs, DAG runs, variables (create, get, list, import), pools,
connections, jobs and the server's version.

airflowctl keeps its server URL in ``$AIRFLOW_HOME/<env>.json`` and its token in the system
keyring; ``AIRFLOW_CLI_DEBUG_MODE=true`` keeps the token in a file of ``$AIRFLOW_HOME`` instead
(no keyring on a test machine). The command tests log in with a token (``--api-token``, saved
with ``--skip-keyring``) and pass it as ``AIRFLOW_CLI_TOKEN``, so only the login test depends on
the username/password route.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from official_client_support import (
    ADMIN,
    ADMIN_PASSWORD,
    DAG_ID,
    RUN_ID,
    LiveServer,
    bearer_token,
    ctl_venv,
    start_live_server,
    stop_live_server,
)

pytestmark = [pytest.mark.xdist_group("api-client"), pytest.mark.timeout(1800)]


class Ctl:
    """The venv's ``airflowctl`` with its own AIRFLOW_HOME."""

    def __init__(self, executable: Path, home: Path, token: str | None = None) -> None:
        self.executable = executable
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TRADEWIND", "AIRFLOW")) and k != "PYTHONPATH"}
        self.env.update({"AIRFLOW_HOME": str(home), "AIRFLOW_CLI_DEBUG_MODE": "true",
                         "AIRFLOW_CLI_API_RETRIES": "1"})
        if token:
            self.env["AIRFLOW_CLI_TOKEN"] = token
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.executable), *args], capture_output=True, text=True, timeout=timeout,
                              env=self.env, stdin=subprocess.DEVNULL)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.returncode == 0, f"airflowctl {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def json(self, *args: str) -> Any:
        out = self.ok(*args, "--output", "json")
        return json.loads(out[out.index(next(c for c in out if c in "[{")):])


def _rows(data: Any, key: str) -> list[dict[str, Any]]:
    """The listed items, whether airflowctl printed them as a list or as the collection body."""
    if isinstance(data, dict):
        return data.get(key, [data])
    if len(data) == 1 and isinstance(data[0], dict) and key in data[0]:
        return data[0][key]
    return data


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> LiveServer:
    server = start_live_server(tmp_path_factory.mktemp("ctl-home"))
    try:
        yield server
    finally:
        stop_live_server(server)


@pytest.fixture(scope="module")
def ctl(live, tmp_path_factory) -> Ctl:
    """airflowctl logged in with a bearer token (see the module's docstring)."""
    venv = ctl_venv()
    token = bearer_token(live.url)
    runner = Ctl(venv.bin / "airflowctl", tmp_path_factory.mktemp("airflow-home"), token)
    out = runner.ok("auth", "login", "--api-url", live.url, "--api-token", token, "--skip-keyring")
    assert "Login successful" in out
    return runner


def test_login_with_username_and_password(live, tmp_path) -> None:
    """``airflowctl auth login --username --password`` gets its token from ``/auth/token/cli``,
    then a command runs with the token it saved (no AIRFLOW_CLI_TOKEN)."""
    runner = Ctl(ctl_venv().bin / "airflowctl", tmp_path / "airflow")
    out = runner.ok("auth", "login", "--api-url", live.url, "--username", ADMIN, "--password", ADMIN_PASSWORD)
    assert "Login successful" in out
    dags = runner.json("dags", "list")
    assert DAG_ID in {d["dag_id"] for d in dags}
    refused = runner.run("auth", "login", "--api-url", live.url, "--username", ADMIN, "--password", "wrong")
    assert refused.returncode != 0 and "Login failed" in refused.stdout + refused.stderr


def test_version_of_the_remote_server(ctl) -> None:
    from tradewind.observe.api.app import _version

    out = ctl.ok("version", "--remote")
    assert _version() in out


def test_dags_and_dag_runs(ctl) -> None:
    dags = ctl.json("dags", "list")
    assert DAG_ID in {d["dag_id"] for d in dags}
    one = ctl.json("dags", "get", DAG_ID)
    assert (one[0] if isinstance(one, list) else one)["dag_id"] == DAG_ID
    # --limit given: without it airflowctl 0.1.5 sends "limit=" (empty), which FastAPI refuses with a
    # 422 on Airflow 3 as on Tradewind (an int query parameter cannot be empty).
    runs = _rows(ctl.json("dagrun", "list", "--dag-id", DAG_ID, "--limit", "50"), "dag_runs")
    assert RUN_ID in {r.get("dag_run_id") for r in runs}, runs
    run = ctl.json("dagrun", "get", DAG_ID, RUN_ID)
    assert (run[0] if isinstance(run, list) else run)["state"] == "success"


def test_variables_create_get_list_import(ctl, tmp_path) -> None:
    ctl.ok("variables", "create", "--key", "ctl_var", "--value", "from airflowctl")
    got = ctl.json("variables", "get", "ctl_var")
    assert (got[0] if isinstance(got, list) else got)["value"] == "from airflowctl"
    exported = tmp_path / "variables.json"
    exported.write_text(json.dumps({"imported_a": "1", "imported_b": {"value": "two", "description": "d"}}))
    ctl.ok("variables", "import", str(exported))
    keys = {v["key"] for v in ctl.json("variables", "list")}
    assert {"ctl_var", "imported_a", "imported_b"} <= keys
    assert (lambda v: v[0] if isinstance(v, list) else v)(ctl.json("variables", "get", "imported_b"))["value"] == "two"


def test_pools_connections_and_jobs(ctl) -> None:
    pools = {p["name"] for p in ctl.json("pools", "list")}
    assert "default_pool" in pools
    ctl.ok("pools", "create", "--name", "ctl_pool", "--slots", "4")
    pool = ctl.json("pools", "get", "ctl_pool")
    assert str((pool[0] if isinstance(pool, list) else pool)["slots"]) == "4"  # its JSON output has text values
    ctl.ok("connections", "create", "--connection-id", "ctl_conn", "--conn-type", "http", "--host", "example.com")
    conn = ctl.json("connections", "get", "ctl_conn")
    assert (conn[0] if isinstance(conn, list) else conn)["host"] == "example.com"
    assert "ctl_conn" in {c["connection_id"] for c in ctl.json("connections", "list")}
    assert "SchedulerJob" in {j["job_type"] for j in ctl.json("jobs", "list")}
