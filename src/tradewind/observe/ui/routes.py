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


def page_route_paths() -> list[str]:
    """Path templates of the UI's HTML pages: GET routes that are not data (``/ui/data``), API,
    static files, downloads, files (the favicon) or redirects. The UI walk and ``bench/ui.py``
    visit these."""
    import inspect

    paths: list[str] = []
    for router in ui_routers():
        for route in router.routes:
            path = getattr(route, "path", "")
            if "GET" not in (getattr(route, "methods", None) or ()) or path in paths:
                continue
            if path.startswith(("/ui/data/", "/static", "/api/")) or path.endswith("/download"):
                continue
            if "." in path.rsplit("/", 1)[-1]:
                continue
            returns = inspect.signature(route.endpoint).return_annotation
            if "Redirect" in str(getattr(returns, "__name__", returns)):
                continue
            paths.append(path)
    return paths
