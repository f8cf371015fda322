"""DockerOperator and the docker provider's @task.docker as their docs show them.

There is no Docker engine in CI: the test only parses this file (and each task of a run fails on the
unreachable daemon with an error naming it, which the test reads: not a vanished DAG).
"""

import pendulum
from airflow.providers.docker.hooks.docker import DockerHook  # noqa: F401 - the hook module imports
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import dag, task
from docker.types import Mount


@dag(schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def provider_docker():
    in_container = DockerOperator(
        task_id="in_container",
        image="python:3.12-slim",
        command=["python", "-c", "print('report for {{ ds }}')"],
        docker_url="unix:///tmp/tradewind-e2e-no-such-docker.sock",
        environment={"RUN_DATE": "{{ ds }}"},
        mounts=[Mount(source="/tmp", target="/data", type="bind", read_only=True)],
        auto_remove="success",
        mount_tmp_dir=False,
        tty=True,
        network_mode="bridge",
    )

    @task.docker(image="python:3.12-slim", docker_url="unix:///tmp/tradewind-e2e-no-such-docker.sock",
                 multiple_outputs=True)
    def in_task_docker(x: int) -> dict:
        return {"double": 2 * x}

    # Independent: each task's own failure on the missing engine is checked.
    in_container
    in_task_docker(21)


provider_docker()
