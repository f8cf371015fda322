"""DockerOperator and @task.docker.

The tests that run containers need a Docker engine (DOCKER_HOST or the local socket) and skip
with that reason when none is reachable — the one documented exception to "no skips". The
others (errors when the engine is missing, argument checks) run everywhere.
"""

from __future__ import annotations

import os

import pytest
from dagrun_support import run_dag

from tradewind.definition.exceptions import TradewindException
from tradewind.integrations.docker import DockerOperator

docker = pytest.importorskip("docker", reason="the docker extra (Docker SDK) is part of the dev extra")


def _engine_reachable() -> bool:
    try:
        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - any failure means no engine to test against
        return False
    return True


needs_engine = pytest.mark.skipif(
    not _engine_reachable(),
    reason=f"no Docker engine reachable at {os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'} "
           "(documented exception: Docker tests run only where an engine is)")


def test_bad_arguments_fail_when_the_dag_is_defined() -> None:
    with pytest.raises(TradewindException, match="auto_remove='sometimes'"):
        DockerOperator(task_id="t", image="alpine", auto_remove="sometimes")
    assert DockerOperator(task_id="t2", image="alpine", auto_remove=True).auto_remove == "success"
    from tradewind import task

    with pytest.raises(TradewindException, match="must be a function defined with def"):
        task.docker(image="python:3.12-slim", task_id="lam")(lambda: 1)()


def test_unreachable_engine_fails_the_try_with_the_url(config, db, tmp_path) -> None:
    socket = tmp_path / "no-engine.sock"
    result = run_dag(config, db, "docker_down", f"""
        from datetime import datetime
        from tradewind import DAG, task
        from tradewind.integrations.docker import DockerOperator

        with DAG("docker_down", start_date=datetime(2024, 1, 1), schedule=None):
            DockerOperator(task_id="run", image="alpine:3", command="echo hi", docker_url="unix://{socket}")

            @task.docker(image="python:3.12-slim", docker_url="unix://{socket}")
            def in_container(x):
                return x + 1

            in_container(1)
        """)
    assert result.states == {"run": "failed", "in_container": "failed"}
    assert f"the Docker engine at unix://{socket} is not reachable" in result.logs["run"]
    assert f"the Docker engine at unix://{socket} is not reachable" in result.logs["in_container"]


@needs_engine
def test_container_output_env_mount_exit_codes_and_auto_remove(config, db, tmp_path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in.txt").write_text("from the host\n")
    result = run_dag(config, db, "docker_dag", f"""
        from datetime import datetime
        from tradewind import DAG
        from tradewind.integrations.docker import DockerOperator

        with DAG("docker_dag", start_date=datetime(2024, 1, 1), schedule=None):
            DockerOperator(task_id="ok", image="alpine:3", auto_remove="success", network_mode="none",
                           command=["sh", "-c", "cat /data/in.txt; echo $GREETING {{{{ ds }}}}"],
                           environment={{"GREETING": "hello"}},
                           mounts=[{{"source": "{shared}", "target": "/data", "type": "bind", "read_only": True}}])
            DockerOperator(task_id="fails", image="alpine:3", command=["sh", "-c", "echo bad >&2; exit 3"],
                           auto_remove="force")
            DockerOperator(task_id="skips", image="alpine:3", command=["sh", "-c", "exit 99"], skip_on_exit_code=99,
                           auto_remove="force")
        """)
    assert result.states == {"ok": "success", "fails": "failed", "skips": "skipped"}
    assert result.xcoms["ok"].startswith("hello ") and "from the host" in result.logs["ok"]
    assert "exited with code 3" in result.logs["fails"] and "bad" in result.logs["fails"]


@needs_engine
def test_task_docker_runs_the_function_in_the_image(config, db) -> None:
    result = run_dag(config, db, "docker_task_dag", """
        from datetime import datetime
        from tradewind import DAG, task

        with DAG("docker_task_dag", start_date=datetime(2024, 1, 1), schedule=None):
            @task.docker(image="python:3.12-slim", auto_remove="force")
            def square(x):
                import sys
                print("python", sys.version_info[:2])
                return {"square": x * x}

            square(7)
        """)
    assert result.states == {"square": "success"} and result.xcoms["square"] == {"square": 49}
    assert "python (3, 12)" in result.logs["square"]
