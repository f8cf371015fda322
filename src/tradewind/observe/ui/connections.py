"""The Admin > Connections page (op and admin): list, create, edit, delete and test connections.

Same frame as the other Admin pages (``templates/listing.html`` + ``static/listing.js``),
configured by ``static/connections.js``. Every change goes through ``/api/v1/connections`` with the
session's CSRF token, so the API's role checks, masking and audit entries apply; the page only
hides buttons the role may not use.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize_page
from tradewind.observe.ui.pages import render_page

router = APIRouter(include_in_schema=False)


@router.get("/connections")
def connections_page(request: Request,
                     principal: Principal = Depends(authorize_page("connection", "read"))) -> HTMLResponse:
    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    data = {"view": "connections", "testable": sorted(HOOKS_BY_CONN_TYPE),
            "can": {action: principal.can("connection", action) for action in ("create", "edit", "delete")}}
    return render_page(request, principal, "listing.html", title="Connections", active_nav="connections",
                       page_data=data, script="connections.js", second_title="",
                       intro="Passwords are stored encrypted and never shown; secret-looking extra values show as ***. "
                             "Leave a masked field as it is to keep the stored secret.")
