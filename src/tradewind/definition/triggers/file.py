"""FileTrigger: fires when a path (or glob pattern) matches an existing file."""

from __future__ import annotations

import asyncio
import glob
import os
from collections.abc import AsyncIterator
from typing import Any

from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent, classpath_of

__all__ = ["FileTrigger"]


def _matches(pattern: str, recursive: bool) -> list[str]:
    return [p for p in glob.glob(pattern, recursive=recursive) if os.path.isfile(p) or os.path.isdir(p)]


class FileTrigger(BaseTrigger):
    """Fires once ``filepath`` (a path or glob pattern; ``**`` with ``recursive=True``)
    matches something, checking every ``poke_interval`` seconds. The event's payload is
    ``True`` (Airflow).

    Each check runs in a worker thread (``asyncio.to_thread``) only when the pattern has
    wildcards; a plain path is one ``stat`` call, cheap enough for the event loop.
    """

    def __init__(self, filepath: str, recursive: bool = False, poke_interval: float = 5.0) -> None:
        super().__init__()
        if not isinstance(filepath, str) or not filepath:
            raise ValueError(f"FileTrigger needs a non-empty filepath string, got {filepath!r}")
        if float(poke_interval) <= 0:
            raise ValueError(f"FileTrigger poke_interval must be positive, got {poke_interval!r}")
        self.filepath = filepath
        self.recursive = bool(recursive)
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(FileTrigger), {
            "filepath": self.filepath, "recursive": self.recursive, "poke_interval": self.poke_interval}

    async def _found(self) -> bool:
        if glob.has_magic(self.filepath):
            return bool(await asyncio.to_thread(_matches, self.filepath, self.recursive))
        return os.path.exists(self.filepath)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while not await self._found():
            await asyncio.sleep(self.poke_interval)
        self.log.info("Found %s", self.filepath)
        yield TriggerEvent(True)
