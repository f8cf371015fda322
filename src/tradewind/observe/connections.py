"""What the CLI, the REST API and the UI share about connections: masking for display and testing.

Passwords are never shown: display forms carry ``***`` for a set password and for extra values
under secret-looking keys (:mod:`tradewind.definition.masking` rules), and the URI is built from
the masked fields. Testing builds the hook registered for the connection's type in
:data:`tradewind.integrations.HOOKS_BY_CONN_TYPE` and calls its ``test_connection()``.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
from typing import Any

from tradewind.definition.connection import ENV_PREFIX, Connection
from tradewind.definition.masking import MASK, redact


def masked_extra(conn: Connection) -> Any:
    """The extra for display: a dict with secret-looking values as ``***``, or the raw text if not JSON."""
    extra = conn.extra_dejson
    if extra:
        return redact(extra)
    return conn.extra or None


def masked_fields(conn: Connection) -> dict[str, Any]:
    """The connection for display (CLI get/list, API, UI): password ``***`` when set, extras masked."""
    return {
        "conn_id": conn.conn_id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "password": MASK if conn.password else None,
        "port": conn.port,
        "extra": masked_extra(conn),
    }


def masked_uri(conn: Connection) -> str:
    """``get_uri()`` with the password and secret extra values replaced by ``***``."""
    extra = masked_extra(conn)
    shown = Connection(
        conn_id=conn.conn_id, conn_type=conn.conn_type, host=conn.host, login=conn.login,
        password=MASK if conn.password else None, schema=conn.schema, port=conn.port,
        extra=extra if isinstance(extra, dict) else None,
    )
    return shown.get_uri()


def hook_class_path(conn_type: str | None) -> str | None:
    """"module:Class" of the hook registered for ``conn_type``, or None."""
    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    return HOOKS_BY_CONN_TYPE.get(conn_type or "")


def try_connection(conn: Connection) -> tuple[bool, str]:
    """Try ``conn`` with the hook of its type: (ok, message). Never raises for a failing system.

    The connection is handed to the hook under a fresh random id through the environment (the
    first place ``get_connection`` looks), so the values tested are exactly ``conn``'s — stored or
    not — and no other connection is shadowed.
    """
    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    path = hook_class_path(conn.conn_type)
    if path is None:
        known = ", ".join(sorted(HOOKS_BY_CONN_TYPE)) or "none installed"
        return False, f"no hook can test conn_type {conn.conn_type!r} (types with a hook: {known})"
    module_name, _, class_name = path.partition(":")
    try:
        hook_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        return False, f"the hook for conn_type {conn.conn_type!r} ({path}) cannot be loaded: {exc}"
    temporary_id = f"tw_test_{secrets.token_hex(8)}"
    variable = ENV_PREFIX + temporary_id.upper()
    data = {k: v for k, v in conn.to_dict().items() if k != "conn_id" and v is not None}
    os.environ[variable] = json.dumps(data)
    try:
        hook = hook_class(**{hook_class.conn_name_attr: temporary_id})
        ok, message = hook.test_connection()
    except Exception as exc:  # noqa: BLE001 - a hook that cannot even be built is a failed test
        ok, message = False, f"{type(exc).__name__}: {exc}"
    finally:
        os.environ.pop(variable, None)
    return bool(ok), redact(str(message).replace(temporary_id, conn.conn_id or temporary_id))
