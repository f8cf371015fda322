"""DAG and task parameters: ``Param`` (a default value plus a JSON schema) and ``ParamsDict``.

``ParamsDict`` stores ``Param`` objects and hands out their plain values, as
Airflow's does, so ``params["x"]`` in a template or task is the value, while
``params.get_param("x")`` is the ``Param`` with its description and schema.

Values are checked against the Param's JSON schema (``jsonschema``, draft 2020-12
unless the schema names another ``$schema``, with format checks such as ``date``,
``date-time`` and ``email``) at two points, as in Airflow: when the DAG is parsed
(:func:`validate_dag_params`: every default must fit its schema) and when a run is
created (:func:`resolve_run_params`: defaults overridden by the run's ``conf``).
Reading ``params["x"]`` does not re-validate, so templates stay fast.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from datetime import datetime
from typing import Any

from jsonschema import FormatChecker
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.validators import Draft202012Validator, validator_for

from tradewind.definition.exceptions import DagDefinitionError, ParamValidationError


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


# ------------------------------------------------------------------- schema checks
# A private copy of jsonschema's format checkers (registering on the shared class
# dict would change every other user of jsonschema in the process).
_FORMATS = FormatChecker(formats=list(FormatChecker.checkers))
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    # jsonschema checks date-time only when the optional rfc3339-validator is
    # installed; this keeps the check always on (RFC 3339: offset required).
    if not isinstance(value, str):
        return True  # formats apply to strings only; "type" catches the rest
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # rejects month 13, Feb 30, ...
    return True


_VALIDATORS: dict[str, Any] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    """A compiled validator for ``schema`` (cached by its JSON text; raises on a bad schema)."""
    try:
        key = json.dumps(schema, sort_keys=True, default=repr)
    except TypeError:
        # Keys that do not sort together: Airflow's UI keywords allow e.g. values_display={1: .., None: ..}
        # next to enum=[1, ..., None]. Insertion order is a fine cache key for those.
        key = json.dumps(schema, default=repr)
    found = _VALIDATORS.get(key)
    if found is None:
        cls = validator_for(schema, default=Draft202012Validator)
        try:
            cls.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            raise ParamValidationError(f"invalid schema{f' at {where}' if where else ''}: {exc.message}") from None
        found = _VALIDATORS[key] = cls(schema, format_checker=_FORMATS)
    return found


def schema_error(value: Any, schema: Mapping[str, Any]) -> str | None:
    """Why ``value`` does not fit ``schema`` (None: it fits). Raises for an invalid schema."""
    if not schema:
        return None
    error = best_match(_validator(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"{error.message} (at {where})" if where else error.message


def _allows_null(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "null" or (isinstance(kind, (list, tuple)) and "null" in kind)


class Param:
    """A parameter with a default ``value``, a ``description`` and JSON-schema keywords.

    ``Param(5, type="integer", minimum=0)`` stores ``{"type": "integer", "minimum": 0}``
    as ``schema``. A Param without a default whose ``type`` does not allow ``"null"``
    is required: a manual run must give it in ``conf``.
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

    @property
    def is_required(self) -> bool:
        """No default and ``null`` not allowed: a run must supply a value."""
        return self.value is NOTSET and not _allows_null(self.schema)

    def check_schema(self) -> None:
        """Raise :class:`ParamValidationError` when ``schema`` is not a valid JSON schema."""
        if self.schema:
            _validator(self.schema)

    def resolve(self, value: Any = NOTSET, suppress_exception: bool = False) -> Any:
        """The effective value (``value`` if given, else the default), checked against the schema.

        A Param without default whose type allows ``null`` resolves to ``None``.
        Raises :class:`ParamValidationError` when there is no value or it does not
        fit the schema (unless ``suppress_exception``, which returns ``None``).
        """
        final = self.value if value is NOTSET else value
        if final is NOTSET:
            if _allows_null(self.schema):
                return None
            if suppress_exception:
                return None
            raise ParamValidationError("No value passed and Param has no default value")
        try:
            reason = schema_error(final, self.schema)
        except ParamValidationError:
            if suppress_exception:
                return None
            raise
        if reason is not None:
            if suppress_exception:
                return None
            raise ParamValidationError(reason)
        return final

    def _plain(self) -> Any:
        """The current value without validation (``None`` when unset): for fast reads."""
        return None if self.value is NOTSET else self.value

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
        # Values were validated at parse time (defaults) and run creation (conf);
        # re-validating on every template read would cost time for nothing.
        param = self._params[key]
        if param.value is NOTSET:
            return param.resolve(suppress_exception=self.suppress_exception)
        return param.value

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
        return {k: p._plain() for k, p in self._params.items()}

    def serialize(self) -> dict[str, dict[str, Any]]:
        """``{name: Param.dump()}`` for snapshots (values, descriptions and schemas)."""
        return {k: p.dump() for k, p in self._params.items()}

    def validate(self) -> dict[str, Any]:
        """Resolve and schema-check every param; raise :class:`ParamValidationError` naming the first bad one."""
        resolved = {}
        for key, param in self._params.items():
            try:
                resolved[key] = param.resolve()
            except ParamValidationError as exc:
                raise ParamValidationError(f"Invalid input for param {key}: {exc}") from None
        return resolved

    def check_defaults(self) -> None:
        """Parse-time check: every schema is valid and every default fits its schema.

        Params without a default are not an error here (a run supplies them).
        """
        for key, param in self._params.items():
            try:
                param.check_schema()
                if param.has_value():
                    reason = schema_error(param.value, param.schema)
                    if reason is not None:
                        raise ParamValidationError(f"default {param.value!r} does not fit its schema: {reason}")
            except ParamValidationError as exc:
                raise ParamValidationError(f"param {key!r}: {exc}") from None


# ------------------------------------------------------------------- DAG and run level
class InvalidParamsError(ParamValidationError):
    """A run's params do not fit their schemas; ``errors`` maps each bad param to why."""

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.errors = errors


class DagParamsError(DagDefinitionError, ParamValidationError):
    """A DAG's (or task's) param default does not fit its schema, or its schema is invalid."""


def validate_dag_params(dag: Any) -> None:
    """Parse-time checks of a DAG's params (called from ``DAG.validate``).

    Every default must fit its schema (the DAG's params and each task's own), and
    a DAG that runs on a schedule may not have required params, since scheduled
    runs only have defaults (Airflow: "DAG Schedule must be None, if there are any
    required params without default values"). Raises :class:`DagParamsError`
    naming the param (and task); the parser prefixes the DAG id.
    """
    params = getattr(dag, "params", None)
    if isinstance(params, ParamsDict):
        try:
            params.check_defaults()
        except ParamValidationError as exc:
            raise DagParamsError(str(exc)) from None
        timetable = getattr(dag, "timetable", None)
        if getattr(timetable, "can_be_scheduled", False):
            required = [k for k in params if params.get_param(k).is_required]
            if required:
                raise DagParamsError(
                    f"params {required} have no default, so the DAG's schedule must be "
                    "None (scheduled runs only have defaults); give them defaults or set schedule=None"
                )
    for task in getattr(dag, "tasks", ()):
        task_params = getattr(task, "params", None)
        if isinstance(task_params, ParamsDict):
            try:
                task_params.check_defaults()
            except ParamValidationError as exc:
                raise DagParamsError(f"task {task.task_id!r}: {exc}") from None


def params_from_serialized(serialized: Mapping[str, Mapping[str, Any]]) -> ParamsDict:
    """Rebuild a ``ParamsDict`` from a snapshot's ``params``.

    Each entry is ``{"default", "has_default", "schema", "description"}``
    (see ``tradewind.parse.snapshot``).
    """
    params = ParamsDict()
    for name, entry in serialized.items():
        default = entry.get("default") if entry.get("has_default", True) else NOTSET
        params[name] = Param(default, entry.get("description"), **dict(entry.get("schema") or {}))
    return params


def resolve_run_params(
    serialized: Mapping[str, Mapping[str, Any]], conf: Mapping[str, Any] | None, *, dag_id: str = ""
) -> dict[str, Any]:
    """A run's params: the snapshot's defaults overridden by ``conf``, each checked against its schema.

    ``conf`` keys that are not params are allowed (Airflow allows extra conf) and
    are not returned. Raises :class:`InvalidParamsError` listing every param that
    is missing (required, no default, not in ``conf``) or does not fit its schema.
    """
    conf = conf or {}
    resolved: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, param in params_from_serialized(serialized)._params.items():
        given = name in conf
        if not given and param.is_required:
            errors[name] = "required (it has no default) but not given in conf"
            continue
        try:
            resolved[name] = param.resolve(conf[name] if given else NOTSET)
        except ParamValidationError as exc:
            errors[name] = str(exc) if given else f"its default is invalid: {exc}"
    if errors:
        where = f" for DAG {dag_id!r}" if dag_id else ""
        details = "; ".join(f"param {name!r}: {why}" for name, why in errors.items())
        raise InvalidParamsError(f"Invalid params{where}: {details}", errors)
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
