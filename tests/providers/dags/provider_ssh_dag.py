"""The ssh and sftp providers as their docs show them, against the sshd of tests/sshd.py.

Connection ``ssh_e2e`` (AIRFLOW_CONN_SSH_E2E, set by the test): host, port, login and the extras
``key_file``, ``host_key`` (pinned), ``look_for_keys``. ``SSH_E2E_DIR`` is a directory that the sshd
side and the test both see (the server is this machine).
"""

import base64
import os

import pendulum
from airflow.providers.sftp.operators.sftp import SFTPOperator
from airflow.providers.ssh.hooks.ssh import SSHHook
from airflow.providers.ssh.operators.ssh import SSHOperator
from airflow.sdk import dag, task

WORK = os.environ.get("SSH_E2E_DIR", "/tmp/ssh-e2e-unset")


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_ssh():
    remote_write = SSHOperator(
        task_id="remote_write",
        ssh_conn_id="ssh_e2e",
        command=f"echo 'run {{{{ ds }}}} on' $(hostname) > {WORK}/remote.txt && cat {WORK}/remote.txt",
    )

    @task
    def decode_output(encoded: str) -> str:
        # SSHOperator pushes stdout base64-encoded (Airflow's core.enable_xcom_pickling is off).
        text = base64.b64decode(encoded).decode()
        with open(f"{WORK}/decoded.txt", "w") as handle:
            handle.write(text)
        return text

    @task
    def hook_exec() -> int:
        hook = SSHHook(ssh_conn_id="ssh_e2e")
        with hook.get_conn() as client:
            status, out, err = hook.exec_ssh_client_command(
                client, f"printf '%s' \"$E2E_GREETING\" > {WORK}/env.txt", get_pty=False,
                environment={"E2E_GREETING": "hello-env"}, timeout=30)
        return status

    skipped = SSHOperator(task_id="exit_42_skips", ssh_conn_id="ssh_e2e", command="exit 42",
                          skip_on_exit_code=42)

    put = SFTPOperator(
        task_id="sftp_put",
        ssh_conn_id="ssh_e2e",
        local_filepath=f"{WORK}/decoded.txt",
        remote_filepath=f"{WORK}/uploaded/copy.txt",
        operation="put",
        create_intermediate_dirs=True,
    )

    decoded = decode_output(remote_write.output)
    decoded >> put
    remote_write >> [hook_exec(), skipped]


provider_ssh()


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_ssh_fails():
    SSHOperator(task_id="exit_3_fails", ssh_conn_id="ssh_e2e", command="echo to-stderr >&2; exit 3")
    SSHOperator(task_id="times_out", ssh_conn_id="ssh_e2e", command="sleep 30", cmd_timeout=1)


provider_ssh_fails()
