"""Airflow import shims: DAG files written for Apache Airflow import ``airflow`` and get Tradewind.

:func:`install` puts :class:`~tradewind.compat.finder.AirflowShimFinder` first on ``sys.meta_path``
in the processes that import DAG files (the parser's children, the task runner, ``dags test`` /
``tasks test``), whether or not Apache Airflow is installed too (``pip install
apache-airflow-providers-X`` pulls it in): in Tradewind's processes ``airflow`` and Airflow's core
and SDK modules are always Tradewind's. It also installs the conn_type -> hook resolver behind
``Connection.get_hook`` (:mod:`tradewind.compat.connection_hooks`). Provider modules Tradewind does not implement come from
the installed provider distributions (see :mod:`tradewind.compat.providers` and docs/providers.md).
The mappings live in :data:`tradewind.compat.table.MODULES` (what DAG files import; integrations
add their provider paths there) and :data:`tradewind.compat.provider_core.MODULES` (what provider
packages import from Airflow's core).
"""

from __future__ import annotations

import sys

from tradewind.compat.finder import ROOT, AirflowShimFinder, installed_finder
from tradewind.compat.provider_core import AIRFLOW_VERSION

__all__ = ["AIRFLOW_VERSION", "install", "is_installed"]


def is_installed() -> bool:
    """True when ``airflow`` imports resolve to Tradewind in this process."""
    return installed_finder() is not None


def install() -> bool:
    """Put the shim finder first on ``sys.meta_path`` (once per process); always True.

    First, so it answers before the path finder could find a real Apache Airflow in site-packages.
    Cheap after the first call (one look at ``sys.meta_path``). Modules of a real Airflow imported
    before this call (nothing in Tradewind does; a plugin might) are dropped from ``sys.modules``:
    keeping them would mix two ``airflow`` packages in one process.
    """
    _install_hook_resolver()
    if is_installed():
        return True
    # list() copies the keys in one C call: other threads import meanwhile (the triggerer starts
    # while the scheduler's threads run), and iterating the live dict raised "changed size".
    for name in [n for n in list(sys.modules) if n == ROOT or n.startswith(ROOT + ".")]:
        del sys.modules[name]
    sys.meta_path.insert(0, AirflowShimFinder())
    return True


def _install_hook_resolver() -> None:
    # Connection.get_hook (definition layer) must not import integrations or provider info itself:
    # the processes that run DAG code install the conn_type -> hook table here.
    from tradewind.compat.connection_hooks import resolve_hook_class
    from tradewind.definition.connection import set_hook_resolver

    set_hook_resolver(resolve_hook_class)
