"""Containers: :class:`DockerOperator` and ``@task.docker`` on the Docker SDK (the ``docker`` extra)."""

from tradewind.integrations.docker.operators import DockerOperator

__all__ = ["DockerOperator"]
