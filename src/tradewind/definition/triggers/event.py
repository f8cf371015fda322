"""Event triggers: the triggers an ``AssetWatcher`` may run (Airflow 3's ``BaseEventTrigger``).

A watcher's trigger is run by the triggerer for as long as a DAG is scheduled on the watched
asset; every :class:`~tradewind.definition.triggers.base.TriggerEvent` it yields becomes an
asset event, and when its ``run()`` ends the trigger is started again from its stored kwargs.
Airflow accepts only ``BaseEventTrigger`` subclasses there, because a trigger written for a
deferred task (one event, then done) would fire again at once for a condition that still
holds (a file that is still there): an event trigger must *consume* what it reports, as
:class:`FileDeleteTrigger` does by deleting the file it found.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent, classpath_of

__all__ = ["BaseEventTrigger", "DirectoryFileDeleteTrigger", "FileDeleteTrigger"]


class BaseEventTrigger(BaseTrigger):
    """Base class of the triggers an ``AssetWatcher`` accepts (see the module docstring)."""


class FileDeleteTrigger(BaseEventTrigger):
    """Fires when the file ``filepath`` exists (checked every ``poke_interval`` seconds), after
    deleting it, so the next run of the trigger waits for a new file. The payload is ``True``
    (Airflow's)."""

    def __init__(self, filepath: str, poke_interval: float = 5.0, **kwargs: Any) -> None:
        super().__init__()
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(f"FileDeleteTrigger needs a non-empty filepath string, got {filepath!r}")
        if float(poke_interval) <= 0:
            raise ValueError(f"FileDeleteTrigger poke_interval must be positive, got {poke_interval!r}")
        self.filepath = filepath
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(FileDeleteTrigger), {"filepath": self.filepath, "poke_interval": self.poke_interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while not os.path.isfile(self.filepath):
            await asyncio.sleep(self.poke_interval)
        modified = datetime.fromtimestamp(os.path.getmtime(self.filepath)).strftime("%Y%m%d%H%M%S")
        self.log.info("Found file %s last modified: %s", self.filepath, modified)
        os.remove(self.filepath)
        self.log.info("File %s has been deleted", self.filepath)
        yield TriggerEvent(True)


class DirectoryFileDeleteTrigger(BaseEventTrigger):
    """Fires when a file named ``filename`` is in ``directory`` (listed every ``poke_interval``
    seconds; a missing directory counts as empty), after deleting it; the payload is
    ``{"filepath": <the deleted file>}`` (Airflow 3.3's). Airflow's triggerer shares one listing
    between such triggers on the same directory and interval; here each one lists on its own,
    which gives the same events."""

    def __init__(self, *, directory: str, filename: str, poke_interval: float = 5.0) -> None:
        super().__init__()
        for what, value in (("directory", directory), ("filename", filename)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"DirectoryFileDeleteTrigger needs a non-empty {what} string, got {value!r}")
        if os.sep in filename:
            raise ValueError(f"DirectoryFileDeleteTrigger filename {filename!r} must be a name, not a path")
        if float(poke_interval) <= 0:
            raise ValueError(f"DirectoryFileDeleteTrigger poke_interval must be positive, got {poke_interval!r}")
        self.directory = directory
        self.filename = filename
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(DirectoryFileDeleteTrigger), {
            "directory": self.directory, "filename": self.filename, "poke_interval": self.poke_interval}

    def _names(self) -> set[str]:
        try:
            return set(os.listdir(self.directory))
        except FileNotFoundError:
            return set()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            if self.filename in await asyncio.to_thread(self._names):
                path = os.path.join(self.directory, self.filename)
                try:
                    os.remove(path)
                except FileNotFoundError:  # taken by someone else between the listing and now
                    await asyncio.sleep(self.poke_interval)
                    continue
                self.log.info("File %s has been deleted", path)
                yield TriggerEvent({"filepath": path})
                return
            await asyncio.sleep(self.poke_interval)
