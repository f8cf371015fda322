"""DAG and task parameters: ``Param`` (a default value plus a JSON schema) and ``ParamsDict``.

``ParamsDict`` stores ``Param`` objects and hands out their plain values, as
Airflow's does, so ``params["x"]`` in a template or task is the value, while
``params.get_param("x")`` is the ``Param`` with its description and schema.
Schema validation is not done yet; the schema is kept so it can be.
"""

from __future__ import annotations

import copy
from collections.abc import ItemsView, Iterator, MutableMapping, ValuesView
from typing import Any

from tradewind.definition.exceptions import ParamValidationError


class _NotSet:
    """Marker for "no value given" (``None`` is a legitimate param value)."""

    _instance: "_NotSet | None" = None

    def __new__(cls) -> "_NotSet":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOTSET"

    def __bool__(self) -> bool:
        return False


NOTSET: Any = _NotSet()


class Param:
    """A parameter with a default ``value``, a ``description`` and JSON-schema keywords.

    ``Param(5, type="integer", minimum=0)`` stores ``{"type": "integer", "minimum": 0}``
    as ``schema``.
    """

    __slots__ = ("value", "description", "schema")

    def __init__(self, default: Any = NOTSET, description: str | None = None, **schema: Any) -> None:
        self.value = default
        self.description = description
        self.schema = dict(schema)

    def __repr__(self) -> str:
        return f"Param({self.value!r}, description={self.description!r}, schema={self.schema!r})"

    def __copy__(self) -> "Param":
        return Param(self.value, self.description, **self.schema)

    def has_value(self) -> bool:
        return self.value is not NOTSET

    def resolve(self, value: Any = NOTSET, suppress_exception: bool = False) -> Any:
        """The effective value: ``value`` if given, else the default.

        Raises :class:`ParamValidationError` when there is neither (unless
        ``suppress_exception``, which returns ``None``).
        """
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            if suppress_exception:
                return None
            raise ParamValidationError("No value passed and Param has no default value")
        return final

    def dump(self) -> dict[str, Any]:
        """JSON-friendly description (``value`` is ``None`` when unset)."""
        return {
            "value": None if self.value is NOTSET else self.value,
            "description": self.description,
            "schema": dict(self.schema),
        }

    serialize = dump


class ParamsDict(MutableMapping[str, Any]):
    """A mapping of name -> ``Param`` whose item access returns resolved plain values."""

    def __init__(self, dict_obj: "MutableMapping[str, Any] | None" = None, suppress_exception: bool = False):
        self._params: dict[str, Param] = {}
        self.suppress_exception = suppress_exception
        if dict_obj:
            source = dict_obj._params if isinstance(dict_obj, ParamsDict) else dict_obj
            for key, value in source.items():
                self._params[key] = copy.copy(value) if isinstance(value, Param) else Param(value)

    # -- mapping protocol ----------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._params[key].resolve(suppress_exception=self.suppress_exception)

    def __setitem__(self, key: str, value: Any) -> None:
        if isinstance(value, Param):
            self._params[key] = value
        elif key in self._params:
            self._params[key].value = value
        else:
            self._params[key] = Param(value)

    def __delitem__(self, key: str) -> None:
        del self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __contains__(self, key: object) -> bool:
        return key in self._params

    def __repr__(self) -> str:
        return f"ParamsDict({self.dump()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ParamsDict):
            return self.dump() == other.dump()
        if isinstance(other, dict):
            return self.dump() == other
        return NotImplemented

    def __copy__(self) -> "ParamsDict":
        return ParamsDict(self, self.suppress_exception)

    copy = __copy__

    def items(self) -> ItemsView[str, Any]:
        return ItemsView(self)

    def values(self) -> ValuesView[Any]:
        return ValuesView(self)

    # -- Param-level access ------------------------------------------------------------------
    def get_param(self, key: str) -> Param:
        """The ``Param`` object (with description and schema) stored under ``key``."""
        return self._params[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Merge: ``Param`` values replace, plain values update the existing Param's value."""
        other = dict(*args, **kwargs) if not (args and isinstance(args[0], ParamsDict)) else args[0]._params
        for key, value in other.items():
            self[key] = copy.copy(value) if isinstance(value, Param) else value

    def dump(self) -> dict[str, Any]:
        """Plain ``{name: value}`` (``None`` for params without a value)."""
        return {k: p.resolve(suppress_exception=True) for k, p in self._params.items()}

    def serialize(self) -> dict[str, dict[str, Any]]:
        """``{name: Param.dump()}`` for snapshots (values, descriptions and schemas)."""
        return {k: p.dump() for k, p in self._params.items()}

    def validate(self) -> dict[str, Any]:
        """Resolve every param; raise :class:`ParamValidationError` naming the first without a value."""
        resolved = {}
        for key, param in self._params.items():
            try:
                resolved[key] = param.resolve()
            except ParamValidationError as exc:
                raise ParamValidationError(f"Invalid input for param {key}: {exc}") from None
        return resolved


class DagParam:
    """A reference to a DAG param, handed to a ``@dag`` function for each of its arguments.

    Passing it to a task makes the task receive the run's value of the param
    (``context["params"][name]``), which a triggered run's conf may override.
    """

    def __init__(self, dag: Any, name: str, default: Any = NOTSET) -> None:
        self._dag = dag
        self._name = name
        self._default = default

    def __repr__(self) -> str:
        return f"DagParam({self._name!r})"

    def __str__(self) -> str:
        return "{{ params[%r] }}" % self._name

    def iter_references(self) -> Iterator[Any]:
        return iter(())

    def resolve(self, context: dict[str, Any]) -> Any:
        params = context.get("params") or {}
        if self._name in params:
            return params[self._name]
        if self._default is not NOTSET:
            return self._default
        raise ParamValidationError(f"No value could be resolved for DAG parameter {self._name!r}")
