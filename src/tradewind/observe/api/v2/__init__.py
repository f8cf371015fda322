"""Airflow 3's public REST API under ``/api/v2``, one module per resource.

Paths, parameters and bodies follow Airflow 3's API (the ``v2`` OpenAPI document shipped with
``apache-airflow-client`` 3.x), so its official client and ``airflowctl`` work unchanged. Every
route declares a pydantic response model; reads and writes go through the same query functions
and the same action layer (:mod:`tradewind.schedule.actions`) as ``/api/v1``, the UI and the CLI.

:func:`routers` lists the routers for :func:`tradewind.observe.api.app.create_app`.
"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

#: The resource modules of this package, in the order the OpenAPI document lists them. A path
#: that could match a shorter one's parameters goes first (``.../{task_id}/tries`` before
#: ``.../{task_id}/{map_index}``): each module orders its own routes that way.
MODULES = (
    "dags", "dag_versions", "dag_sources", "tasks", "dag_stats", "dag_warnings", "dag_runs", "dag_run_actions",
    "task_instances", "task_instance_tries", "task_instance_actions", "logs", "xcom", "assets", "backfills",
    "variables", "pools", "connections",
    "state_stores", "import_errors", "event_logs", "jobs", "config", "providers", "plugins", "monitor",
)


def routers() -> list[APIRouter]:
    """Every resource module's ``router``."""
    out: list[APIRouter] = []
    for name in MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # being written this session; removed before it lands
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        out.append(module.router)
    return out
