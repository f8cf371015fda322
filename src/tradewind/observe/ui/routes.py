"""The UI's routers. Each area of the UI has a module with a ``router``; :func:`ui_routers` lists them."""

from __future__ import annotations

from fastapi import APIRouter


def ui_routers() -> list[APIRouter]:
    """Every UI router, in registration order (more specific paths first)."""
    from tradewind.observe.ui import (
        admin,
        browse,
        connections,
        dag_charts,
        dag_graph,
        dag_list,
        dag_views,
        dependencies,
        home,
        run_page,
        shell,
        task_instance,
    )

    return [home.router, shell.router, dag_list.router, browse.router, admin.router, connections.router,
            task_instance.router, run_page.router, dag_views.router, dag_graph.router, dag_charts.router,
            dependencies.router]
