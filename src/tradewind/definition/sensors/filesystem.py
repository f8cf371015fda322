"""``FileSensor``: waits until a file, a folder or a glob pattern matches something.

A relative ``filepath`` is read relative to ``[core] data_folder`` (Airflow reads it
relative to the ``fs_default`` connection's path; Tradewind has no connections, so
``fs_conn_id`` is accepted and ignored).
"""

from __future__ import annotations

import glob
import os
from typing import Any

from tradewind.definition.sensors.base import BaseSensorOperator

__all__ = ["FileSensor"]


class FileSensor(BaseSensorOperator):
    """Done once ``filepath`` (a path or glob pattern, templated) matches a file or a non-empty folder.

    ``recursive=True`` lets ``**`` in the pattern match any number of folders.
    """

    template_fields = ("filepath",)
    ui_color = "#91818a"

    def __init__(self, *, filepath: str, fs_conn_id: str = "fs_default", recursive: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filepath = filepath
        #: Accepted for Airflow compatibility and ignored (no connections; see the module docstring).
        self.fs_conn_id = fs_conn_id
        self.recursive = recursive

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
