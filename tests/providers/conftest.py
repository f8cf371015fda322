"""Airflow's provider packages from PyPI next to Tradewind (docs/providers.md).

Every test here is ``slow`` and in the xdist group ``providers`` (one worker runs them all, so the
provider venvs of ``venv_support.py`` are built once and shared). Fixtures:

- ``airflow_venv`` (session): ``pip install apache-airflow-providers-sqlite`` — Apache Airflow
  pulled in by pip as the provider's dependency.
- ``tradewind_venv`` (session): ``tradewind providers install sqlite postgres mysql http smtp`` —
  the providers and their own requirements, no Airflow core (mysqlclient builds from source: it
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


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's loadgroup reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)
            item.add_marker(pytest.mark.xdist_group("providers"))


@pytest.fixture(scope="session")
def airflow_venv():
    return venv_or_skip("airflow", ["sqlite"])


@pytest.fixture(scope="session")
def tradewind_venv():
    return venv_or_skip("tradewind", TRADEWIND_FLAVOUR)


@pytest.fixture(scope="session", params=["airflow", "tradewind"])
def flavour_venv(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"{request.param}_venv")
