"""The pytest plugin: the ``tradewind_sim`` fixture (registered via the ``pytest11`` entry point).

``tradewind_sim`` is a :class:`~tradewind.testing.sim.DagSimulator` in the test's temporary
directory. Its simulated clock starts at the current hour, or where the
``@pytest.mark.tradewind_sim(start="2024-01-01T00:00")`` marker says (the marker may also
give ``overrides={"core": {...}}`` for the configuration). Imports stay lazy so that loading
the plugin costs nothing in test sessions that do not use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from tradewind.testing.sim import DagSimulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tradewind_sim(start=None, overrides=None): where the tradewind_sim fixture's simulated clock starts "
        "(a datetime or ISO string, UTC when naive) and configuration overrides ({section: {key: value}})",
    )


@pytest.fixture
def tradewind_sim(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> "DagSimulator":
    """A Tradewind installation on a simulated clock: ``run``, ``run_schedule``, ``advance``; see docs/testing.md."""
    from tradewind.definition.timezone import to_utc
    from tradewind.testing.sim import DagSimulator

    marker = request.node.get_closest_marker("tradewind_sim")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    start = options.pop("start", None)
    overrides = options.pop("overrides", None)
    if options:
        raise pytest.UsageError(f"@pytest.mark.tradewind_sim got unknown arguments {sorted(options)}; use start=, overrides=")
    sim = DagSimulator(tmp_path_factory.mktemp("tradewind_home"), start=None if start is None else to_utc(start),
                       overrides=overrides)
    try:
        yield sim
    finally:
        sim.close()
