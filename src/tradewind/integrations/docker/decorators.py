"""``@task.docker``: the decorated function runs with the ``python`` of a container image.

The function's source, its arguments and its result travel as JSON through a temporary folder
mounted into the container (the engine must see this machine's files: a local engine), exactly
as for ``@task.virtualenv``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tradewind.definition.decorators import _decorator_for
from tradewind.definition.operators.python_env import RUNNER_SCRIPT, callable_source, runner_input
from tradewind.integrations.docker.operators import DockerOperator

__all__ = ["docker_task"]

#: Where the exchange folder appears inside the container.
_MOUNT_POINT = "/tmp/tradewind-task"


class _DockerDecoratedOperator(DockerOperator):
    custom_operator_name = "@task.docker"
    template_fields = ("image", "environment", "container_name", "op_args", "op_kwargs")

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        python_command: str = "python3",
        **kwargs: Any,
    ) -> None:
        kwargs.pop("command", None)
        super().__init__(**kwargs)
        callable_source(python_callable, self.task_id)  # a lambda fails when the DAG is defined
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.python_command = python_command

    def execute(self, context: dict[str, Any]) -> Any:
        from docker.types import Mount

        payload = runner_input(self, {**context, **self.op_kwargs})
        with tempfile.TemporaryDirectory(prefix="tradewind-docker-") as tmp:
            folder = Path(tmp)
            (folder / "runner.py").write_text(RUNNER_SCRIPT, encoding="utf-8")
            (folder / "input.json").write_text(json.dumps(payload), encoding="utf-8")
            folder.chmod(0o777)  # the container's user may differ from ours
            command = [self.python_command, f"{_MOUNT_POINT}/runner.py", f"{_MOUNT_POINT}/input.json",
                       f"{_MOUNT_POINT}/result.json"]
            self.run_container(context, command,
                               [*self._mounts(), Mount(target=_MOUNT_POINT, source=str(folder), type="bind")])
            return json.loads((folder / "result.json").read_text(encoding="utf-8"))


#: ``task.docker`` (installed on the ``task`` collection on first use).
docker_task = _decorator_for(_DockerDecoratedOperator)
