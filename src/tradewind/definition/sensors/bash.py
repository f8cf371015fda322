"""``BashSensor``: pokes by running a bash command; exit code 0 ends the wait."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from typing import Any

from tradewind.definition.exceptions import TaskFailNoRetry, TradewindException
from tradewind.definition.operators.bash import context_env_vars
from tradewind.definition.sensors.base import BaseSensorOperator

__all__ = ["BashSensor"]


class BashSensor(BaseSensorOperator):
    """Runs ``bash_command`` (templated) with ``bash -c`` in a temporary folder each poke.

    Exit code 0: done. Any other code: poke again — unless ``retry_exit_code`` is set, in
    which case only that code means "poke again" and any other non-zero code fails the
    task at once (Airflow's rule). Output lines go to the task log.
    """

    template_fields = ("bash_command", "env")
    template_ext = (".sh", ".bash")

    def __init__(
        self,
        *,
        bash_command: str,
        env: dict[str, str] | None = None,
        output_encoding: str = "utf-8",
        retry_exit_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code
        self._process: subprocess.Popen[bytes] | None = None

    def poke(self, context: dict[str, Any]) -> bool:
        if not isinstance(self.bash_command, str) or not self.bash_command.strip():
            raise TradewindException(
                f"bash_command of sensor {self.task_id!r} must be a non-empty string, got {self.bash_command!r}"
            )
        log = self.task_logger(context)
        env = dict(os.environ) if self.env is None else dict(self.env)
        env.update(context_env_vars(context))
        with tempfile.TemporaryDirectory(prefix="tradewind_bash_sensor_") as cwd:
            log.info("Running command: %s", self.bash_command)
            self._process = subprocess.Popen(
                ["bash", "-c", self.bash_command], cwd=cwd, env={str(k): str(v) for k, v in env.items()},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                assert self._process.stdout is not None
                for raw in self._process.stdout:
                    log.info("%s", raw.decode(self.output_encoding, errors="replace").rstrip("\n"))
                code = self._process.wait()
            finally:
                self._process = None
        log.info("Command exited with return code %d", code)
        if code == 0:
            return True
        if self.retry_exit_code is None or code == self.retry_exit_code:
            return False
        raise TaskFailNoRetry(
            f"BashSensor {self.task_id!r}: command exited with return code {code}, which is neither 0 nor "
            f"retry_exit_code {self.retry_exit_code}"
        )

    def on_kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
