"""The home page (``/``). Until its dashboard lands it sends the user to the DAG list."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from tradewind.observe.api.auth import Principal, authorize_page

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(principal: Principal = Depends(authorize_page("website", "read"))) -> RedirectResponse:
    return RedirectResponse("/dags", status_code=303)
