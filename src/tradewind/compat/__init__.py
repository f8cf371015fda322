"""Airflow import shims: DAG files written for Apache Airflow import ``airflow`` and get Tradewind.

:func:`install` puts :class:`~tradewind.compat.finder.AirflowShimFinder` on ``sys.meta_path`` in the
processes that import DAG files (the parser's children, the task runner, ``dags test`` /
``tasks test``), only when no real Apache Airflow is importable: with Airflow installed, its own
modules win and Tradewind stays out of the way. The mapping lives in
:data:`tradewind.compat.table.MODULES` (data; integrations add their provider paths there).
"""

from __future__ import annotations

import importlib.util
import sys

from tradewind.compat.finder import ROOT, AirflowShimFinder, installed_finder

__all__ = ["install", "is_installed"]

_checked_real_airflow = False


def is_installed() -> bool:
    """True when ``airflow`` imports resolve to Tradewind in this process."""
    return installed_finder() is not None


def install() -> bool:
    """Install the shims unless a real Apache Airflow is importable; True when they are active.

    Cheap after the first call (one look at ``sys.meta_path``). The search for a real Airflow runs
    once per process, before the finder exists (afterwards the finder would answer it).
    """
    global _checked_real_airflow
    if is_installed():
        return True
    if _checked_real_airflow:
        return False
    _checked_real_airflow = True
    if ROOT in sys.modules or importlib.util.find_spec(ROOT) is not None:
        return False  # the real thing (or something the user put there) is importable: leave it alone
    sys.meta_path.append(AirflowShimFinder())
    return True
