"""The UI's routers. Each area of the UI has a module with a ``router``; :func:`ui_routers` lists them."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from tradewind.observe.api.auth import Principal, authorize_page


def _home_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def home(principal: Principal = Depends(authorize_page("website", "read"))) -> RedirectResponse:
        return RedirectResponse("/dags", status_code=303)

    return router


def ui_routers() -> list[APIRouter]:
    """Every UI router, in registration order (more specific paths first)."""
    from tradewind.observe.ui import admin, browse, connections
    from tradewind.observe.ui import dag_list, dag_views, task_instance
    from tradewind.observe.ui import dag_charts

    return [_home_router(), dag_list.router, browse.router, admin.router, connections.router, task_instance.router, dag_views.router, dag_charts.router]
