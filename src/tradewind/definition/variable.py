"""``Variable``: key/value settings a DAG file or task reads, with a pluggable store.

Lookup order for :meth:`Variable.get`: the environment variable
``TRADEWIND_VAR_<KEY>`` (key upper-cased; ``AIRFLOW_VAR_<KEY>`` is honoured too so
existing deployments keep working), then the installed backend, then the
default, else ``KeyError`` naming the key.

The definition layer has no database; the persist layer provides
``DbVariableBackend`` and the process that owns the DB installs it with
:func:`set_variable_backend`.
"""

from __future__ import annotations

import json
import os
from typing import Any, Protocol, runtime_checkable

from tradewind.definition.masking import is_sensitive_key, mask_secret
from tradewind.definition.params import NOTSET

ENV_PREFIX = "TRADEWIND_VAR_"
AIRFLOW_ENV_PREFIX = "AIRFLOW_VAR_"


@runtime_checkable
class VariableBackend(Protocol):
    """Where variables are stored (the database in a deployment, a dict in tests)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, description: str | None) -> None: ...

    def delete(self, key: str) -> bool: ...


_backend: VariableBackend | None = None


def set_variable_backend(backend: VariableBackend | None) -> VariableBackend | None:
    """Install ``backend`` for every ``Variable`` call in this process; returns the previous one."""
    global _backend
    previous, _backend = _backend, backend
    return previous


def get_variable_backend() -> VariableBackend | None:
    return _backend


class Variable:
    """Airflow's ``Variable`` facade (class methods only)."""

    @staticmethod
    def _from_env(key: str) -> str | None:
        name = key.upper()
        value = os.environ.get(ENV_PREFIX + name)
        if value is None:
            value = os.environ.get(AIRFLOW_ENV_PREFIX + name)
        return value

    @classmethod
    def get(cls, key: str, default_var: Any = NOTSET, deserialize_json: bool = False, *,
            default: Any = NOTSET) -> Any:
        """The value of ``key`` (JSON-decoded when ``deserialize_json``).

        The default is returned as given, never decoded. Raises ``KeyError`` when
        the variable does not exist and no default was given. ``default`` is Airflow 3's
        (Task SDK) name for Airflow 2's ``default_var``; either may be given, not both.
        """
        if default is not NOTSET:
            if default_var is not NOTSET:
                raise TypeError(f"Variable.get({key!r}): give default or default_var, not both")
            default_var = default
        raw = cls._from_env(key)
        if raw is None and _backend is not None:
            raw = _backend.get(key)
        if raw is None:
            if default_var is not NOTSET:
                return default_var
            raise KeyError(f"Variable {key} does not exist")
        if is_sensitive_key(key):  # as Airflow: a secret read by a task never shows in its log
            mask_secret(raw, key)
        if deserialize_json:
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise ValueError(f"Variable {key} is not valid JSON: {exc}") from None
        return raw

    @classmethod
    def set(cls, key: str, value: Any, serialize_json: bool = False, description: str | None = None) -> None:
        """Store ``value`` (JSON-encoded when ``serialize_json``, else ``str(value)``)."""
        text = json.dumps(value, indent=2) if serialize_json else str(value)
        cls._require_backend("set").set(key, text, description)

    @classmethod
    def delete(cls, key: str) -> bool:
        """Remove ``key`` from the backend; True when something was deleted."""
        return bool(cls._require_backend("delete").delete(key))

    @classmethod
    def setdefault(cls, key: str, default: Any, description: str | None = None,
                   deserialize_json: bool = False) -> Any:
        """Return the value of ``key``; when missing, store ``default`` and return it."""
        value = cls.get(key, default_var=None, deserialize_json=deserialize_json)
        if value is None:
            if default is None:
                raise ValueError("Default Value must be set")
            cls.set(key, default, serialize_json=deserialize_json, description=description)
            return default
        return value

    @staticmethod
    def _require_backend(action: str) -> VariableBackend:
        if _backend is None:
            raise RuntimeError(
                f"cannot {action} a Variable: no variable backend is installed in this process "
                "(environment variables TRADEWIND_VAR_<KEY> are read-only)"
            )
        return _backend
