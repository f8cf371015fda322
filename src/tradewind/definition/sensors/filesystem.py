"""``FileSensor``: waits until a file, a folder or a glob pattern matches something.

A relative ``filepath`` is read relative to ``[core] data_folder`` (Airflow reads it
relative to the ``fs_default`` connection's path; Tradewind has no connections, so
``fs_conn_id`` is accepted and ignored).

With ``deferrable=True`` (Airflow's FileSensor deferrable mode) a first poke that finds
nothing hands the wait to a :class:`~tradewind.definition.triggers.FileTrigger` checking every
``poke_interval`` seconds, with the sensor's ``timeout`` as the deferral timeout.
"""

from __future__ import annotations

import glob
import os
from datetime import datetime, timedelta
from typing import Any

from tradewind.definition import timezone
from tradewind.definition.exceptions import SensorTimeout, TaskSkipped
from tradewind.definition.sensors.base import BaseSensorOperator
from tradewind.definition.triggers.file import FileTrigger

__all__ = ["FileSensor"]


class FileSensor(BaseSensorOperator):
    """Done once ``filepath`` (a path or glob pattern, templated) matches a file or a non-empty folder.

    ``recursive=True`` lets ``**`` in the pattern match any number of folders.
    """

    template_fields = ("filepath",)
    ui_color = "#91818a"

    def __init__(self, *, filepath: str, fs_conn_id: str = "fs_default", recursive: bool = False,
                 deferrable: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filepath = filepath
        #: Accepted for Airflow compatibility and ignored (no connections; see the module docstring).
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive
        self.deferrable = bool(deferrable)

    def resolved_path(self) -> str:
        """The pattern to match: ``filepath`` as is when absolute, else under ``[core] data_folder``."""
        path = os.path.expanduser(str(self.filepath))
        if os.path.isabs(path):
            return path
        from tradewind.config import Config

        return os.path.join(str(Config.load().data_folder), path)

    def poke(self, context: dict[str, Any]) -> bool:
        pattern = self.resolved_path()
        log = self.task_logger(context)
        log.info("Poking for file %s", pattern)
        for match in glob.iglob(pattern, recursive=self.recursive):
            if os.path.isfile(match):
                log.info("Found file %s", match)
                return True
            if os.path.isdir(match):
                for _root, _dirs, files in os.walk(match):
                    if files:
                        log.info("Found folder %s with files in it", match)
                        return True
        return False

    # ------------------------------------------------------------------ deferrable mode
    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        self._defer_to_trigger(context, started=timezone.utcnow(), timeout=self.defer_timeout())
        return None  # never reached: defer raises

    def _defer_to_trigger(self, context: dict[str, Any], *, started: datetime, timeout: timedelta) -> None:
        pattern = self.resolved_path()
        self.task_logger(context).info("Deferring: a trigger waits for %s (checking every %gs, timeout %gs)",
                                       pattern, self.poke_interval, timeout.total_seconds())
        self.defer(trigger=FileTrigger(pattern, recursive=self.recursive, poke_interval=max(self.poke_interval, 0.01)),
                   method_name="execute_complete", kwargs={"started": started}, timeout=timeout)

    def execute_complete(self, context: dict[str, Any], event: Any = None, started: datetime | None = None) -> None:
        """The trigger saw a match. One poke confirms it: the trigger also fires on an empty
        folder, which this sensor does not accept, so then the task defers again for the rest
        of its ``timeout`` (counted from the first deferral)."""
        if self.poke(context):
            return None
        waited = (timezone.utcnow() - started).total_seconds() if started is not None else 0.0
        left = self.timeout - waited
        if left <= 0:
            message = (f"Sensor {self.task_id!r} has timed out: {self.resolved_path()} matched only empty folders "
                       f"within its timeout of {self.timeout:g}s.")
            if self.soft_fail:
                raise TaskSkipped(f"{message} Skipping because soft_fail is set.")
            raise SensorTimeout(message)
        self._defer_to_trigger(context, started=started or timezone.utcnow(), timeout=timedelta(seconds=left))
        return None  # never reached: defer raises
