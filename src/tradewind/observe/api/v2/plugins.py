"""``/api/v2/plugins`` and ``/api/v2/plugins/importErrors`` (Airflow 3's Plugin resource).

Tradewind has no plugin manager: it loads no ``airflow.plugins`` entry points and no plugins
folder, so no plugin is ever loaded and none can fail to load. Both lists are therefore empty,
which is the truth of this server, in the bodies Airflow's clients expect.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from tradewind.observe.api.pagination import Page
from tradewind.observe.api.routes.common import can
from tradewind.observe.api.v2.common import API_V2, Model, page_v2

router = APIRouter(prefix=API_V2, tags=["Plugin"])


class PluginResponse(Model):
    name: str
    macros: list[str]
    flask_blueprints: list[str]
    fastapi_apps: list[dict[str, Any]]
    fastapi_root_middlewares: list[dict[str, Any]]
    external_views: list[dict[str, Any]]
    react_apps: list[dict[str, Any]]
    appbuilder_views: list[dict[str, Any]]
    appbuilder_menu_items: list[dict[str, Any]]
    global_operator_extra_links: list[str]
    operator_extra_links: list[str]
    source: str
    listeners: list[str]
    timetables: list[str]


class PluginCollectionResponse(Model):
    plugins: list[PluginResponse]
    total_entries: int


class PluginImportErrorResponse(Model):
    source: str
    error: str


class PluginImportErrorCollectionResponse(Model):
    import_errors: list[PluginImportErrorResponse]
    total_entries: int


#: The loaded plugins: none (see the module's docstring).
LOADED_PLUGINS: tuple[PluginResponse, ...] = ()


@router.get("/plugins", response_model=PluginCollectionResponse, summary="Get Plugins")
def get_plugins(page: Page = Depends(page_v2), _user: Any = can("plugin", "read")) -> PluginCollectionResponse:
    chosen = list(LOADED_PLUGINS[page.offset:page.offset + page.limit])
    return PluginCollectionResponse(plugins=chosen, total_entries=len(LOADED_PLUGINS))


@router.get("/plugins/importErrors", response_model=PluginImportErrorCollectionResponse,
            summary="Import Errors")
def import_errors(_user: Any = can("plugin", "read")) -> PluginImportErrorCollectionResponse:
    return PluginImportErrorCollectionResponse(import_errors=[], total_entries=0)
