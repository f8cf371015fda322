"""Rendering UI pages: one Jinja2 environment, the security headers, the context every page needs.

A route renders with :func:`render_page`::

    @router.get("/dags")
    def dags_page(request: Request, principal: Principal = Depends(authorize_page("dag", "read"))):
        return render_page(request, principal, "dags.html", title="DAGs")

The base template gets ``principal`` (who is signed in, shown in the header, with a sign-out
form), ``csrf_token`` (also in a ``<meta>`` tag that ``core.js`` sends as ``X-CSRF-Token``) and
``active_nav`` (which header entry to highlight). Page data for scripts goes in ``page_data``:
it is rendered as JSON inside a ``<script type="application/json">`` element (escaped by
Jinja's ``tojson``, so a ``</script>`` in a DAG description stays text) and read by the page's
script with ``tw.pageData()``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import CSRF_HEADER, Principal, csrf_token
from tradewind.observe.api.login import PAGE_HEADERS

UI_DIR = Path(__file__).parent
TEMPLATES_DIR = UI_DIR / "templates"
STATIC_DIR = UI_DIR / "static"

#: Header navigation: (label, path, key, resource, action, group) — ``active_nav`` names the key of
#: the current section; an entry is shown only to roles that may do ``action`` on ``resource``
#: (:data:`tradewind.observe.api.auth.PERMISSIONS`), the same permission its page requires.
#: ``group`` "" is a top-level link; "Browse" and "Admin" are the header's two menus, as in Airflow 3.
NAV: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("Home", "/", "home", "website", "read", ""),
    ("DAGs", "/dags", "dags", "dag", "read", ""),
    ("Assets", "/assets", "assets", "asset", "read", ""),
    ("Runs", "/runs", "runs", "dag_run", "read", "Browse"),
    ("Task instances", "/task-instances", "task_instances", "task_instance", "read", "Browse"),
    ("Audit log", "/audit-log", "audit_log", "audit_log", "read", "Browse"),
    ("Import errors", "/import-errors", "import_errors", "import_error", "read", "Browse"),
    ("DAG dependencies", "/dag-dependencies", "dag_dependencies", "dag", "read", "Browse"),
    ("Variables", "/variables", "variables", "variable", "read", "Admin"),
    ("Pools", "/pools", "pools", "pool", "read", "Admin"),
    ("Connections", "/connections", "connections", "connection", "read", "Admin"),
    ("Users", "/users", "users", "user", "read", "Admin"),
)


def nav_for(principal: Principal) -> list[dict[str, Any]]:
    """The header entries ``principal`` may open, for ``base.html``: links ``{"label", "path", "key"}``
    (``items`` empty) and menus ``{"label", "key", "items": [links]}`` (a menu with nothing the role may open is left out)."""
    out: list[dict[str, Any]] = []
    menus: dict[str, dict[str, Any]] = {}
    for label, path, key, resource, action, group in NAV:
        if not principal.can(resource, action):
            continue
        link: dict[str, Any] = {"label": label, "path": path, "key": key, "items": []}
        if not group:
            out.append(link)
            continue
        if group not in menus:
            menus[group] = {"label": group, "key": group.lower(), "items": []}
            out.append(menus[group])
        menus[group]["items"].append(link)
    return out


@lru_cache(maxsize=1)
def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["csrf_header"] = CSRF_HEADER
    return env


def render_page(request: Request, principal: Principal, template: str, *, title: str, active_nav: str = "",
                page_data: Any = None, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``templates/<template>`` for a signed-in user, with the UI's security headers."""
    html = environment().get_template(template).render(
        request=request, principal=principal, csrf_token=csrf_token(request), title=title,
        active_nav=active_nav, page_data=page_data, nav=nav_for(principal), **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)
