"""REST API resources under ``/api/v1``, one module per resource (Airflow's stable API v1 paths).

:func:`api_routers` lists every router for :func:`tradewind.observe.api.app.create_app`.
"""

from __future__ import annotations

from fastapi import APIRouter


def api_routers() -> list[APIRouter]:
    """The routers of every resource, in the order the OpenAPI document lists them."""
    from tradewind.observe.api.routes import (
        assets,
        backfills,
        connections,
        dag_runs,
        dag_sources,
        dags,
        event_logs,
        import_errors,
        logs,
        monitor,
        pools,
        task_instances,
        users,
        variables,
        xcom,
    )

    # logs and xcom before task_instances: their paths would otherwise match .../{task_id}/{map_index}.
    modules = (dags, dag_sources, dag_runs, logs, xcom, task_instances, variables, connections, pools, import_errors,
               event_logs, assets, backfills, users, monitor)
    from tradewind.observe.api.routes import hitl  # /api/v2 (and /api/v1) hitlDetails

    return [m.router for m in modules] + hitl.routers
