"""The DAG list page (``/dags``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize_page
from tradewind.observe.ui.pages import render_page

router = APIRouter(include_in_schema=False)


@router.get("/dags")
def dags_page(request: Request, principal: Principal = Depends(authorize_page("dag", "read"))) -> HTMLResponse:
    return render_page(request, principal, "dags.html", title="DAGs", active_nav="dags")
