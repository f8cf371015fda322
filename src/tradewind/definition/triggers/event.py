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

__all__ = ["BaseEventTrigger", "FileDeleteTrigger"]


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
