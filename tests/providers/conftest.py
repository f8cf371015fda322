"""Airflow's provider packages from PyPI next to Tradewind (docs/providers.md).

Every test here is ``slow`` and in the xdist group of its flavour, ``providers-airflow`` or
``providers-tradewind`` (one worker runs a flavour's tests, so its venv is built once and shared). Fixtures:

- ``airflow_venv`` (session): ``pip install apache-airflow-providers-X ...`` for every provider of
  ``e2e_support.TESTED_PROVIDERS`` — Apache Airflow pulled in by pip as their dependency.
- ``tradewind_venv`` (session): ``tradewind providers install X ...`` for the same providers — the
  providers and their own requirements, no Airflow core (mysqlclient builds from source: it
  needs a C compiler and the MariaDB client headers, Debian's libmariadb-dev).
- ``flavour_venv`` (session, parametrised ``airflow`` / ``tradewind``): each of the two.

When PyPI cannot be reached a test is skipped (failed under ``CI=true``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _folder in (HERE, HERE.parent / "integration"):  # venv_support / e2e_support; smtp_support
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from e2e_support import venv_or_skip  # noqa: E402

#: The providers of the ``tradewind`` flavour: the ones Tradewind implements natively, whose
#: distributions then bridge the modules Tradewind lacks.
TRADEWIND_FLAVOUR = ["http", "mysql", "postgres", "smtp", "sqlite"]


def _flavour(item: pytest.Item) -> str:
    """Which flavour's venv a test runs in: its ``airflow``/``tradewind`` parameter, else its fixtures."""
    callspec = getattr(item, "callspec", None)
    for value in (callspec.params.values() if callspec else ()):
        if value in ("airflow", "tradewind"):
            return value
    names = getattr(item, "fixturenames", ())
    return "tradewind" if "tradewind_venv" in names and "airflow_venv" not in names else "airflow"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's loadgroup reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # One xdist group per flavour: each group builds its flavour's venv once, and the two groups
    # can run on the two workers side by side.
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group(f"providers-{_flavour(item)}"))


@pytest.fixture(scope="session")
def airflow_venv():
    return venv_or_skip("airflow", ["sqlite"])


@pytest.fixture(scope="session")
def tradewind_venv():
    return venv_or_skip("tradewind", TRADEWIND_FLAVOUR)


@pytest.fixture(scope="session", params=["airflow", "tradewind"])
def flavour_venv(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_venv")
