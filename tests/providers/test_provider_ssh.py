"""apache-airflow-providers-ssh and -sftp from PyPI, unchanged, against a real local sshd.

Each test runs in both venvs, ``pip install apache-airflow-providers-ssh apache-airflow-providers-sftp``
(pip pulls Apache Airflow in) and ``tradewind providers install ssh sftp`` (no Airflow core). Either
way Tradewind's shims answer the ``airflow`` core imports and the providers load from their installed
distributions ("bridged"). Our DAG file ``dags/provider_ssh_dag.py`` uses
SSHOperator, SSHHook and SFTPOperator as the providers' docs show; the connection comes from
``AIRFLOW_CONN_SSH_E2E`` with a pinned host key, as a migrated Airflow deployment would set it.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from e2e_support import dags_test, home_with_dag, task_log, venv_or_skip
from servers import sshd_server  # noqa: F401 - fixture
from sshd import SshServer

pytestmark = pytest.mark.timeout(1800)  # a first run builds the venv (Apache Airflow from PyPI)

DAG_FILE = "provider_ssh_dag.py"


@pytest.fixture(scope="module", params=["airflow", "tradewind"])
def venv(request: pytest.FixtureRequest):
    """pip install apache-airflow-providers-... (Airflow pulled in), or tradewind providers install (no core)."""
    return venv_or_skip(request.param, ["ssh", "sftp"])


@pytest.fixture
def home(venv, tmp_path: Path, sshd_server: SshServer):  # noqa: F811
    work = tmp_path / "remote"
    work.mkdir()
    home = home_with_dag(venv, tmp_path / "home", DAG_FILE)
    home.env["SSH_E2E_DIR"] = str(work)
    home.env["AIRFLOW_CONN_SSH_E2E"] = sshd_server.connection_json(
        host_key=sshd_server.host_public_key(), look_for_keys="false")
    return home


def test_ssh_operator_hook_and_sftp_put(home):
    work = Path(home.env["SSH_E2E_DIR"])
    run = dags_test(home, "provider_ssh")
    assert run.states == {"remote_write": "success", "decode_output": "success", "hook_exec": "success",
                          "exit_42_skips": "skipped", "sftp_put": "success"}, run.output
    assert run.run_state == "success", run.output

    # The command ran on the sshd side, with the template rendered before it left.
    written = (work / "remote.txt").read_text()
    assert written.startswith("run 2024-03-02 on "), written
    # SSHOperator's XCom is its stdout base64-encoded; the downstream task decoded it.
    assert (work / "decoded.txt").read_text() == written
    # SSHHook.exec_ssh_client_command passed an environment variable (sshd AcceptEnv E2E_*).
    assert (work / "env.txt").read_text() == "hello-env"
    # SFTPOperator created the intermediate directory and put the file over SFTP.
    assert (work / "uploaded" / "copy.txt").read_text() == written
    assert "SSH command returned exit code 42. Skipping." in task_log(home, "provider_ssh", "exit_42_skips")


def test_ssh_operator_failure_and_cmd_timeout_fail_the_task(home):
    run = dags_test(home, "provider_ssh_fails")
    assert run.states == {"exit_3_fails": "failed", "times_out": "failed"}, run.output
    assert run.run_state == "failed"
    log = task_log(home, "provider_ssh_fails", "exit_3_fails")
    assert "SSH operator error: exit status = 3" in log
    assert "to-stderr" in log  # the remote stderr reaches the task log
    assert "SSH command timed out" in task_log(home, "provider_ssh_fails", "times_out")


def test_wrong_host_key_is_refused(home, sshd_server: SshServer):  # noqa: F811
    """A pinned host key that is not the server's fails the connection (no silent trust)."""
    other = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + b"\x01" * 32).decode()
    home.env["AIRFLOW_CONN_SSH_E2E"] = sshd_server.connection_json(
        host_key=f"ssh-ed25519 {other}", look_for_keys="false")
    run = dags_test(home, "provider_ssh_fails")
    assert run.states == {"exit_3_fails": "failed", "times_out": "failed"}, run.output
    log = task_log(home, "provider_ssh_fails", "exit_3_fails")
    assert "SSH operator error: exit status" not in log
    assert "host key" in log.lower() or "BadHostKeyException" in log, log[-3000:]



def test_providers_get_reports_ssh_as_bridged(venv, tmp_path):
    home = home_with_dag(venv, tmp_path / "home")
    info = home.json("providers", "get", "ssh")
    assert (info["mode"], info["installed_version"]) == ("bridged", info["version"]), info
    assert info["installed_version"]
