"""The API's OpenAPI documents and its documentation pages, served offline.

Routes (Airflow 3's paths, plus the ``/api/v1`` one clients already use):

- ``GET /openapi.json``: the whole document (``/api/v1``, ``/api/v2`` and the rest of the app),
- ``GET /api/v1/openapi.json`` and ``GET /api/v2/openapi.json``: the same document cut down to
  the operations of that version (and the components they reference),
- ``GET /docs``: Swagger UI on ``/openapi.json``; ``GET /redoc``: ReDoc on it.

The pages load Swagger UI and ReDoc from the copies vendored under
``/static/vendor/`` (see ``observe/ui/static/vendor/VENDORED.md``): nothing comes from another
host, so the pages work on a machine without internet access. Each page carries its own
Content-Security-Policy (the app's middleware keeps a header a route set): the page policy of
the UI plus exactly what these two libraries need — the page's one inline script, allowed by its
SHA-256 hash; inline styles (both libraries style their components at run time); ``data:``
images and fonts (icons inlined in their CSS); ReDoc's search index in a ``blob:`` worker.

Everything needs a login (``website`` read): the pages show nothing without the schema, and the
schema lists every route of this server. An anonymous browser opening ``/docs`` or ``/redoc`` is
sent to ``/login`` and back.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import authorize, authorize_page

VENDOR = "/static/vendor"
SWAGGER_JS = f"{VENDOR}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui/swagger-ui.css"
REDOC_JS = f"{VENDOR}/redoc/redoc.standalone.js"
FAVICON = "/static/favicon.svg"

#: Path prefix -> the document that lists only that API version's operations.
VERSIONED = {"/api/v1": "/api/v1/openapi.json", "/api/v2": "/api/v2/openapi.json"}
FULL_DOCUMENT = "/openapi.json"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_INLINE_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def page_csp(html: str) -> str:
    """The Content-Security-Policy of one documentation page: same-origin everything, the page's
    own inline scripts by hash, run-time styles, ``data:`` images/fonts and ``blob:`` workers."""
    scripts = " ".join(_hash_source(s) for s in _INLINE_SCRIPT.findall(html))
    return ("default-src 'self'; "
            f"script-src 'self' {scripts}".rstrip() + "; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
            "connect-src 'self'; worker-src 'self' blob:; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    html = bytes(page.body).decode()
    page.headers["Content-Security-Policy"] = page_csp(html)
    page.headers["Cache-Control"] = "no-store"
    return page


def swagger_page(title: str) -> HTMLResponse:
    """Swagger UI on the whole document, from the vendored bundle."""
    return _with_policy(get_swagger_ui_html(
        openapi_url=FULL_DOCUMENT, title=f"{title} - Swagger UI", swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS, swagger_favicon_url=FAVICON,
        # validatorUrl None: Swagger UI would otherwise send the schema to an online validator.
        swagger_ui_parameters={"validatorUrl": None, "deepLinking": True, "persistAuthorization": False}))


def redoc_page(title: str) -> HTMLResponse:
    """ReDoc on the whole document, from the vendored standalone bundle (no web fonts)."""
    return _with_policy(get_redoc_html(openapi_url=FULL_DOCUMENT, title=f"{title} - ReDoc", redoc_js_url=REDOC_JS,
                                       redoc_favicon_url=FAVICON, with_google_fonts=False))


def _refs(node: Any) -> Iterable[str]:
    """Every ``#/components/schemas/<name>`` named anywhere below ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                yield value.rsplit("/", 1)[1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def version_document(document: dict[str, Any], prefix: str) -> dict[str, Any]:
    """``document`` with only the paths under ``prefix`` and the schemas they reach."""
    paths = {p: item for p, item in document.get("paths", {}).items() if p == prefix or p.startswith(prefix + "/")}
    schemas = document.get("components", {}).get("schemas", {})
    wanted: set[str] = set()
    pending = list(_refs(paths))
    while pending:
        name = pending.pop()
        if name in wanted or name not in schemas:
            continue
        wanted.add(name)
        pending.extend(_refs(schemas[name]))
    out = {key: value for key, value in document.items() if key not in ("paths", "components")}
    out["paths"] = paths
    components = {key: value for key, value in document.get("components", {}).items() if key != "schemas"}
    if wanted:
        components["schemas"] = {name: schemas[name] for name in sorted(wanted)}
    if components:
        out["components"] = components
    return out


def make_router(app: FastAPI) -> APIRouter:
    """The document and page routes of ``app`` (none of them in the document itself)."""
    router = APIRouter(include_in_schema=False)
    reader = [Depends(authorize("website", "read"))]
    page_reader = [Depends(authorize_page("website", "read"))]

    @router.get(FULL_DOCUMENT, dependencies=reader)
    def full_openapi() -> dict[str, Any]:
        return app.openapi()

    for prefix, url in VERSIONED.items():
        router.add_api_route(url, _version_route(app, prefix), methods=["GET"], dependencies=reader,
                             name=f"openapi_{prefix.rsplit('/', 1)[1]}")

    @router.get("/docs", dependencies=page_reader, response_class=HTMLResponse)
    def swagger_ui() -> HTMLResponse:
        return swagger_page(app.title)

    @router.get("/redoc", dependencies=page_reader, response_class=HTMLResponse)
    def redoc() -> HTMLResponse:
        return redoc_page(app.title)

    return router


def _version_route(app: FastAPI, prefix: str) -> Any:
    def versioned_openapi() -> dict[str, Any]:
        return version_document(app.openapi(), prefix)

    versioned_openapi.__doc__ = f"The OpenAPI document of {prefix}."
    return versioned_openapi


def document_v1_errors(app: FastAPI) -> None:
    """Say in the document what every ``/api/v1`` error answer is: a ``Problem`` as
    ``application/problem+json`` (:mod:`tradewind.observe.api.errors` builds them for every route
    alike, so they are declared here once, as the ``4XX`` range of each operation, in place of
    FastAPI's default 422 body, which v1 never sends). Call before the document is first built."""
    from fastapi.routing import APIRoute

    from tradewind.observe.api.auth import _flat_routes
    from tradewind.observe.api.v1_models import Problem

    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components = {**schema.pop("$defs", {}), "Problem": schema}
    problem = {"description": "An error (Airflow's problem document)",
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for context in _flat_routes(app.routes):
        route = getattr(context, "original_route", context)
        if isinstance(route, APIRoute) and getattr(context, "path", "").startswith("/api/v1/"):
            route.responses = {**route.responses, "4XX": problem, 422: problem}
            if context is not route:  # FastAPI >= 0.16x documents the included copy of the route
                context.responses = {**context.responses, "4XX": problem, 422: problem}
    build = app.openapi

    def openapi_with_problem() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return app.openapi_schema

    app.openapi = openapi_with_problem  # type: ignore[method-assign]
