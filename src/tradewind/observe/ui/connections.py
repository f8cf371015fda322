"""The Admin > Connections page (op and admin): list, create, edit, delete and test connections.

Same frame as the other Admin pages (``templates/listing.html`` + ``static/listing.js``),
configured by ``static/connections.js``. Every change goes through ``/api/v1/connections`` with the
session's CSRF token, so the API's role checks, masking and audit entries apply; the page only
hides buttons the role may not use.

``GET /ui/data/connections/types`` is the catalogue the connection dialog builds its form from
(Airflow's connection-form idea): every known conn type with its hook, which standard fields it
hides or relabels, placeholders, and its own fields kept in the connection's ``extra`` JSON.
The answer merges, later entries winning field by field:

1. the conn types Tradewind's hooks serve (:data:`tradewind.integrations.HOOKS_BY_CONN_TYPE` and
   the native hooks of :mod:`tradewind.compat.connection_hooks`) with the form below
   (:data:`NATIVE_FORMS`), written from what each hook reads from its connection;
2. the ``connection-types`` of installed provider distributions (their hook name, and the
   ``ui-field-behaviour`` / ``conn-fields`` entries newer providers declare in their info);
3. a hook class's own ``get_ui_field_behaviour()`` (hidden_fields, relabeling, placeholders) and
   ``get_connection_form_widgets()`` (extra fields, read from the form fields' class and label).

A hook that fails to import or answer only loses its declarations: the type stays listed.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from tradewind.observe.api.auth import Principal, authorize, authorize_page
from tradewind.observe.ui.pages import render_page

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

#: The standard fields of a connection a type may hide, relabel or give a placeholder.
STANDARD_FIELDS = ("description", "host", "schema", "login", "password", "port")
#: Types of an extra field: how the form draws it and how its value is written into ``extra``.
EXTRA_FIELD_TYPES = ("string", "password", "integer", "number", "boolean", "select")


def _field(name: str, label: str, kind: str = "string", **more: Any) -> dict[str, Any]:
    return {"name": name, "label": label, "type": kind, **more}


#: The form of each conn type Tradewind's own hooks serve: what the hook reads from the connection.
NATIVE_FORMS: dict[str, dict[str, Any]] = {
    "generic": {"hook_name": "Generic", "hidden_fields": [], "relabeling": {}, "placeholders": {}, "extra_fields": []},
    "sqlite": {
        "hidden_fields": ["schema", "login", "password", "port"],
        "relabeling": {"host": "Database file"},
        "placeholders": {"host": "/path/to/data.db (or :memory:)"},
        "extra_fields": [],
    },
    "postgres": {
        "hidden_fields": [],
        "relabeling": {"schema": "Database"},
        "placeholders": {"host": "db.example.com", "port": "5432", "schema": "analytics"},
        "extra_fields": [
            _field("sslmode", "SSL mode", "select",
                   options=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
            _field("sslrootcert", "SSL root certificate", placeholder="/etc/ssl/certs/root.crt"),
            _field("connect_timeout", "Connect timeout (s)", "integer", placeholder="10"),
            _field("application_name", "Application name", placeholder="tradewind"),
        ],
    },
    "mysql": {
        "hidden_fields": [],
        "relabeling": {"schema": "Database"},
        "placeholders": {"host": "db.example.com", "port": "3306"},
        "extra_fields": [
            _field("charset", "Charset", placeholder="utf8mb4"),
            _field("connect_timeout", "Connect timeout (s)", "integer", placeholder="10"),
            _field("unix_socket", "Unix socket", placeholder="/run/mysqld/mysqld.sock"),
            _field("local_infile", "Allow LOAD DATA LOCAL INFILE", "boolean"),
            _field("init_command", "Init command", placeholder="SET time_zone = '+00:00'"),
        ],
    },
    "aws": {
        "hidden_fields": ["host", "schema", "port"],
        "relabeling": {"login": "AWS Access Key ID", "password": "AWS Secret Access Key"},
        "placeholders": {"login": "empty: the environment's credentials"},
        "extra_fields": [
            _field("region_name", "Region", placeholder="eu-west-1"),
            _field("endpoint_url", "Endpoint URL", placeholder="http://localhost:9000 (S3-compatible stores)"),
            _field("aws_session_token", "Session token", "password"),
            _field("profile_name", "Profile name", placeholder="default"),
            _field("verify", "Verify TLS certificates", "boolean", default=True),
        ],
    },
    "http": {
        "hidden_fields": [],
        "relabeling": {"schema": "Scheme"},
        "placeholders": {"host": "api.example.com", "schema": "https", "port": "443"},
        "extra_fields": [],
        "extra_hint": "Extra: HTTP headers sent with every request, as a JSON object.",
    },
    "smtp": {
        "hidden_fields": ["schema"],
        "relabeling": {"host": "SMTP server"},
        "placeholders": {"host": "smtp.example.com", "port": "587 (465 with SSL, 25 without TLS)"},
        "extra_fields": [
            _field("from_email", "From address", placeholder="tradewind@example.com"),
            _field("timeout", "Timeout (s)", "number", placeholder="30"),
            _field("retry_limit", "Retry limit", "integer", placeholder="5"),
            _field("disable_ssl", "Disable SSL", "boolean"),
            _field("disable_tls", "Disable STARTTLS", "boolean"),
        ],
    },
    "docker": {
        "hidden_fields": ["schema"],
        "relabeling": {"host": "Registry", "login": "Username"},
        "placeholders": {"host": "registry.example.com"},
        "extra_fields": [
            _field("email", "Email"),
            _field("reauth", "Log in again even if logged in", "boolean", default=True),
        ],
    },
}
NATIVE_FORMS["https"] = {**NATIVE_FORMS["http"], "placeholders": {"host": "api.example.com", "port": "443"}}
_NATIVE_NAMES = {"docker": "Docker registry"}

_lock = threading.Lock()
_cache: list[dict[str, Any]] | None = None


def _native_hooks() -> dict[str, str]:
    from tradewind.compat.connection_hooks import _EXTRA_NATIVE
    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    return {**_EXTRA_NATIVE, **HOOKS_BY_CONN_TYPE}


def _provider_types() -> dict[str, dict[str, Any]]:
    """conn_type -> the provider info's connection-types entry (plus its package name)."""
    try:
        from tradewind.compat.provider_bridge import ProvidersManagerTaskRuntime

        out: dict[str, dict[str, Any]] = {}
        for package, entry in ProvidersManagerTaskRuntime().providers.items():
            for item in entry.data.get("connection-types") or []:
                if isinstance(item, dict) and item.get("connection-type"):
                    out.setdefault(item["connection-type"], {**item, "package": package})
        return out
    except Exception:  # noqa: BLE001 - a broken provider must not break the connections page
        log.warning("cannot read the providers' connection types", exc_info=True)
        return {}


def _clean_behaviour(raw: Any) -> dict[str, Any]:
    """hidden_fields / relabeling / placeholders of a hook's or provider's declaration, checked."""
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    hidden = raw.get("hidden_fields") or raw.get("hidden-fields")
    if isinstance(hidden, list | tuple):
        out["hidden_fields"] = [str(f) for f in hidden if str(f) in STANDARD_FIELDS]
    for key in ("relabeling", "placeholders"):
        value = raw.get(key)
        if isinstance(value, dict):
            out[key] = {str(k): str(v) for k, v in value.items() if v is not None}
    return out


def _schema_field(name: str, spec: Any) -> dict[str, Any] | None:
    """A provider ``conn-fields`` entry ({label, description, schema: {type, enum, ...}}) as a form field."""
    if not isinstance(spec, dict):
        return None
    schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else {}
    types = schema.get("type")
    kind = next((t for t in types if t != "null"), "string") if isinstance(types, list) else types or "string"
    field = _field(name, str(spec.get("label") or name))
    if isinstance(schema.get("enum"), list):
        field.update(type="select", options=[str(v) for v in schema["enum"] if v is not None])
    elif kind in ("integer", "number", "boolean"):
        field["type"] = kind
    elif spec.get("sensitive") or schema.get("format") == "password":
        field["type"] = "password"
    if spec.get("description"):
        field["description"] = str(spec["description"])
    if "default" in schema and schema["default"] is not None:
        field["default"] = schema["default"]
    return field


def _widget_fields(hook_class: type) -> list[dict[str, Any]]:
    """Extra fields from a hook's ``get_connection_form_widgets()`` (form field objects: class name and label)."""
    getter = getattr(hook_class, "get_connection_form_widgets", None)
    if not callable(getter):
        return []
    widgets = getter()
    out = []
    for name, widget in (widgets or {}).items():
        cls = getattr(widget, "field_class", type(widget))
        cls_name = getattr(cls, "__name__", "")
        args = getattr(widget, "args", ())
        kwargs = getattr(widget, "kwargs", {}) or {}
        label = kwargs.get("label") or (args[0] if args and isinstance(args[0], str) else None) or name
        key = str(name)
        if key.startswith("extra__") and key.count("__") >= 2:  # Airflow 2's "extra__<type>__<name>" keys
            key = key.split("__", 2)[2]
        kind = ("boolean" if "Boolean" in cls_name else "integer" if "Integer" in cls_name
                else "number" if "Decimal" in cls_name or "Float" in cls_name
                else "password" if "Password" in cls_name else "string")
        field = _field(key, str(label), kind)
        if kwargs.get("description"):
            field["description"] = str(kwargs["description"])
        out.append(field)
    return out


def _hook_class(path: str, conn_type: str) -> type | None:
    from tradewind.compat.connection_hooks import _load

    try:
        return _load(path, conn_type)
    except Exception:  # noqa: BLE001 - the type stays listed without the hook's declarations
        log.info("hook of conn type %s (%s) cannot be imported", conn_type, path, exc_info=True)
        return None


def _from_hook(hook_class: type, conn_type: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        behaviour = getattr(hook_class, "get_ui_field_behaviour", None)
        if callable(behaviour):
            out.update(_clean_behaviour(behaviour()))
        fields = _widget_fields(hook_class)
        if fields:
            out["extra_fields"] = fields
    except Exception:  # noqa: BLE001 - a hook's broken declaration only loses that declaration
        log.info("hook of conn type %s: form declarations unreadable", conn_type, exc_info=True)
    return out


def connection_types() -> list[dict[str, Any]]:
    """Every known conn type with its form (computed once per process: hooks and providers do not change)."""
    global _cache
    with _lock:
        if _cache is not None:
            return _cache
        from tradewind.observe.connections import hook_class_path

        native = _native_hooks()
        providers = _provider_types()
        result = []
        for conn_type in sorted(set(native) | set(providers) | set(NATIVE_FORMS)):
            base = NATIVE_FORMS.get(conn_type, {})
            entry: dict[str, Any] = {
                "conn_type": conn_type, "hook_name": base.get("hook_name") or _NATIVE_NAMES.get(conn_type) or "",
                "hook_class": native.get(conn_type) or "", "source": "tradewind" if conn_type in native else "",
                "testable": hook_class_path(conn_type) is not None, "hidden_fields": list(base.get("hidden_fields", [])),
                "relabeling": dict(base.get("relabeling", {})), "placeholders": dict(base.get("placeholders", {})),
                "extra_fields": list(base.get("extra_fields", [])), "extra_hint": base.get("extra_hint", ""),
            }
            provided = providers.get(conn_type)
            if provided:
                entry["hook_class"] = entry["hook_class"] or str(provided.get("hook-class-name") or "")
                entry["source"] = entry["source"] or f"provider {provided['package']}"
                entry["hook_name"] = entry["hook_name"] or str(provided.get("hook-name") or "")
                entry.update(_clean_behaviour(provided.get("ui-field-behaviour")))
                fields = provided.get("conn-fields")
                if isinstance(fields, dict) and fields:
                    entry["extra_fields"] = [f for f in (_schema_field(k, v) for k, v in fields.items()) if f]
            if entry["hook_class"] and (conn_type not in native or not base):
                hook_class = _hook_class(entry["hook_class"], conn_type)
                if hook_class is not None:
                    entry.update(_from_hook(hook_class, conn_type))
                    entry["hook_name"] = entry["hook_name"] or str(getattr(hook_class, "hook_name", "") or "")
            elif entry["hook_class"] and not entry["hook_name"]:
                hook_class = _hook_class(entry["hook_class"], conn_type)
                entry["hook_name"] = str(getattr(hook_class, "hook_name", "") or "") if hook_class else ""
            entry["hook_name"] = entry["hook_name"] or conn_type
            result.append(entry)
        _cache = result
        return result


@router.get("/ui/data/connections/types")
def connection_types_data(_user: Principal = Depends(authorize("connection", "read"))) -> dict[str, Any]:
    """The connection form of every known conn type (see the module docstring)."""
    types = connection_types()
    return {"connection_types": types, "total_entries": len(types), "standard_fields": list(STANDARD_FIELDS)}


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
