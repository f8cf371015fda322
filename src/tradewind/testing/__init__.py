"""Testing DAGs with pytest: the simulator behind the ``tradewind_sim`` fixture.

The plugin (:mod:`tradewind.testing.plugin`) is registered through the ``pytest11`` entry
point, so installing Tradewind is enough: any test can ask for ``tradewind_sim``. This package
sits above every layer (it drives the scheduler and the executor together) and is never
imported by them. Names load on first use, so pytest's start-up does not import the
database stack for test sessions that never use the simulator.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["DagSimulator", "RunResult", "SimClock", "SimulationError"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'tradewind.testing' has no attribute {name!r}")
    return getattr(importlib.import_module("tradewind.testing.sim"), name)


if TYPE_CHECKING:  # pragma: no cover
    from tradewind.testing.sim import DagSimulator, RunResult, SimClock, SimulationError
