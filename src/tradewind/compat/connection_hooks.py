"""Which hook class serves a connection type, for :meth:`Connection.get_hook`.

Installed into the definition layer by :func:`tradewind.compat.install` (the definition layer may
not import integrations or compat). The answer, first match wins:

1. Tradewind's own hooks: :data:`tradewind.integrations.HOOKS_BY_CONN_TYPE` (what
   ``tradewind connections test`` uses), plus the native hooks that table does not list yet;
2. the ``connection-types`` of the installed provider distributions (their ``get_provider_info()``),
   imported by their ``airflow.providers...`` path, so a module Tradewind implements still answers
   with Tradewind's class (the shim rule) and any other comes from the distribution.

Conn types are compared as Airflow stores them; a URI's ``postgresql`` is already ``postgres``.
"""

from __future__ import annotations

import importlib
import threading

#: Native hooks for conn types :data:`tradewind.integrations.HOOKS_BY_CONN_TYPE` does not carry
#: (it lists only the types ``connections test`` can try); "module:Class".
_EXTRA_NATIVE: dict[str, str] = {
    "http": "tradewind.integrations.http.hooks:HttpHook",
    "https": "tradewind.integrations.http.hooks:HttpHook",
    "smtp": "tradewind.integrations.smtp.hooks:SmtpHook",
}

_lock = threading.Lock()
_provider_hooks: dict[str, str] | None = None


class HookImportError(ImportError):
    """The hook class registered for a conn type cannot be imported; names both."""


def _load(path: str, conn_type: str) -> type:
    module_name, sep, class_name = path.partition(":")
    if not sep:  # provider info writes "package.module.Class"
        module_name, _, class_name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise HookImportError(f"the hook registered for conn_type {conn_type!r} ({path}) cannot be "
                              f"imported: {type(exc).__name__}: {exc}") from exc


def provider_hook_paths() -> dict[str, str]:
    """conn_type -> hook class path from every installed provider's ``get_provider_info()`` (read once)."""
    global _provider_hooks
    with _lock:
        if _provider_hooks is None:
            from tradewind.compat.provider_bridge import ProvidersManagerTaskRuntime

            _provider_hooks = {conn_type: entry.hook_class_name
                               for conn_type, entry in ProvidersManagerTaskRuntime().hooks.items()}
        return _provider_hooks


def resolve_hook_class(conn_type: str) -> type | None:
    """The hook class for ``conn_type``, or None when neither Tradewind nor a provider serves it."""
    from tradewind.integrations import HOOKS_BY_CONN_TYPE

    native = HOOKS_BY_CONN_TYPE.get(conn_type) or _EXTRA_NATIVE.get(conn_type)
    if native is not None:
        return _load(native, conn_type)
    path = provider_hook_paths().get(conn_type)
    return _load(path, conn_type) if path else None
