"""The Admin pages: variables (op and admin), pools (everyone reads, op and admin edit), users (admin).

Same frame as the Browse pages (``templates/listing.html`` + ``static/listing.js``) configured by
``static/admin.js``; every change goes through the REST API (``/api/v1/variables``, ``/pools``,
``/users``) with the session's CSRF token, so the API's checks and audit entries apply. The page
tells its script what the role may change (``page_data``) only to hide buttons; the API decides.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize_page
from tradewind.observe.ui.pages import render_page
from tradewind.persist.queries.users import VALID_ROLES

router = APIRouter(include_in_schema=False)


def _admin_page(request: Request, principal: Principal, view: str, title: str, resource: str,
                intro: str) -> HTMLResponse:
    data = {"view": view, "me": principal.username, "roles": VALID_ROLES,
            "can": {action: principal.can(resource, action) for action in ("create", "edit", "delete")}}
    return render_page(request, principal, "listing.html", title=title, active_nav=view, page_data=data,
                       script="admin.js", intro=intro, second_title="")


@router.get("/variables")
def variables_page(request: Request, principal: Principal = Depends(authorize_page("variable", "read"))) -> HTMLResponse:
    return _admin_page(request, principal, "variables", "Variables", "variable",
                       "Values under secret-looking keys (password, secret, token, api_key, ...) are shown as ***.")


@router.get("/pools")
def pools_page(request: Request, principal: Principal = Depends(authorize_page("pool", "read"))) -> HTMLResponse:
    return _admin_page(request, principal, "pools", "Pools", "pool",
                       "Slots limit how many task instances of a pool run at once; default_pool cannot be deleted.")


@router.get("/users")
def users_page(request: Request, principal: Principal = Depends(authorize_page("user", "read"))) -> HTMLResponse:
    return _admin_page(request, principal, "users", "Users", "user",
                       "Roles: viewer < user (trigger, clear, mark, pause) < op (variables, pools) < admin (users).")
