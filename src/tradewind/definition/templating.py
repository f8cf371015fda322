"""Jinja templating of operator fields, as Airflow does it.

- :func:`make_jinja_env` builds the environment for one DAG: templates are looked up in the DAG
  file's folder then ``dag.template_searchpath``; undefined variables are errors that name the
  variable (``StrictUndefined``); ``dag.user_defined_macros`` become globals and
  ``dag.user_defined_filters`` filters, next to Airflow's ``ds``/``ts``/... filters. With
  ``dag.render_template_as_native_obj`` the environment renders native Python objects.
- :func:`render_value` renders strings (a string ending in one of ``template_ext`` is the *name
  of a template file*) and recurses into lists, tuples, named tuples, sets, dicts (values only)
  and objects that declare their own ``template_fields``.
- :func:`render_task_fields` renders each of ``task.template_fields`` in place and returns
  JSON-safe copies of the rendered values, which the runner stores per try.

Wrap a value in :func:`literal` to keep it from being rendered.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import jinja2
import jinja2.nativetypes
import jinja2.runtime
import jinja2.sandbox

from tradewind.definition.context import DEPRECATED_KEYS, note_deprecated_keys
from tradewind.definition.exceptions import TradewindException

__all__ = [
    "LiteralValue",
    "TemplateRenderError",
    "json_safe",
    "literal",
    "make_jinja_env",
    "render_task_fields",
    "render_template",
    "render_value",
]

_JINJA_MARKERS = ("{{", "{%", "{#")


class TemplateRenderError(TradewindException):
    """A templated field could not be rendered; the message names the task and the field."""


class LiteralValue:
    """A value that templating leaves untouched (Airflow: ``airflow.utils.template.literal``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"literal({self.value!r})"


def literal(value: Any) -> LiteralValue:
    """Mark ``value`` so it is passed through without rendering (``literal("{{ not_a_template }}")``)."""
    return LiteralValue(value)


# --------------------------------------------------------------------------- filters
def _ds(value: Any) -> Any:
    return value.strftime("%Y-%m-%d") if isinstance(value, (date, datetime)) else value


def _ds_nodash(value: Any) -> Any:
    return value.strftime("%Y%m%d") if isinstance(value, (date, datetime)) else value


def _ts(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def _ts_nodash(value: Any) -> Any:
    return value.strftime("%Y%m%dT%H%M%S") if isinstance(value, datetime) else value


def _ts_nodash_with_tz(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    return value.isoformat().replace("-", "").replace(":", "")


#: Filters every Tradewind Jinja environment has (Airflow names).
DEFAULT_FILTERS: dict[str, Any] = {
    "ds": _ds,
    "ds_nodash": _ds_nodash,
    "ts": _ts,
    "ts_nodash": _ts_nodash,
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}


# --------------------------------------------------------------------------- environments
class _NotingContext(jinja2.runtime.Context):
    """Notes Airflow 2's deprecated context keys in the task log when a template reads one."""

    def resolve_or_missing(self, key: str) -> Any:
        value = super().resolve_or_missing(key)
        if key in DEPRECATED_KEYS and value is not jinja2.runtime.missing:
            note_deprecated_keys((key,), self.parent.get("ti"))
        return value


class _TradewindEnvMixin:
    context_class = _NotingContext

    # Like Airflow: templates may read "_private" attributes, but never dunder internals.
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("__"):
            return False
        return True


class SandboxedEnvironment(_TradewindEnvMixin, jinja2.sandbox.SandboxedEnvironment):
    """String-rendering environment (the default)."""


class NativeEnvironment(_TradewindEnvMixin, jinja2.sandbox.SandboxedEnvironment,
                        jinja2.nativetypes.NativeEnvironment):
    """Renders native Python objects (``dag.render_template_as_native_obj=True``)."""


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, (str, os.PathLike)):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def template_searchpath(dag: Any) -> list[str]:
    """Folders searched for template files: the DAG file's folder, then ``dag.template_searchpath``."""
    paths: list[str] = []
    fileloc = getattr(dag, "fileloc", None)
    if fileloc:
        paths.append(os.path.dirname(os.path.abspath(os.fspath(fileloc))))
    for extra in _as_list(getattr(dag, "template_searchpath", None)):
        if extra not in paths:
            paths.append(extra)
    return paths


def make_jinja_env(dag: Any = None, *, native: bool | None = None) -> jinja2.Environment:
    """Build the Jinja environment for ``dag`` (``None`` gives a plain environment with no files).

    ``native=None`` follows ``dag.render_template_as_native_obj``.
    """
    if native is None:
        native = bool(getattr(dag, "render_template_as_native_obj", False))
    options: dict[str, Any] = {
        "undefined": jinja2.StrictUndefined,
        "extensions": ["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        "keep_trailing_newline": True,
        "autoescape": False,
        "loader": jinja2.FileSystemLoader(template_searchpath(dag)),
    }
    options.update(getattr(dag, "jinja_environment_kwargs", None) or {})
    env_class = NativeEnvironment if native else SandboxedEnvironment
    env = env_class(**options)
    env.filters.update(DEFAULT_FILTERS)
    env.filters.update(getattr(dag, "user_defined_filters", None) or {})
    env.globals.update(getattr(dag, "user_defined_macros", None) or {})
    return env


# --------------------------------------------------------------------------- rendering
def _is_native(env: jinja2.Environment) -> bool:
    return isinstance(env, jinja2.nativetypes.NativeEnvironment)


def render_template(text: str, context: Mapping[str, Any], env: jinja2.Environment,
                    *, template_ext: Iterable[str] = ()) -> Any:
    """Render one string: a template file when it ends in one of ``template_ext``, else inline."""
    exts = tuple(template_ext)
    if exts and text.strip().endswith(exts):
        name = text.strip()
        try:
            template = env.get_template(name)
        except jinja2.TemplateNotFound:
            searched = getattr(env.loader, "searchpath", [])
            raise jinja2.TemplateNotFound(
                f"template file {name!r} not found (searched: {', '.join(searched) or 'no folders'}); "
                "set template_searchpath on the DAG or use a path relative to the DAG file's folder"
            ) from None
        return template.render(context)
    if not _is_native(env) and not any(marker in text for marker in _JINJA_MARKERS):
        return text  # nothing to render; skip the Jinja compile
    return env.from_string(text).render(context)


def render_value(value: Any, context: Mapping[str, Any], env: jinja2.Environment,
                 *, template_ext: Iterable[str] = (), _seen: set[int] | None = None) -> Any:
    """Render ``value`` recursively (see the module docstring for what is rendered)."""
    exts = tuple(template_ext)
    if isinstance(value, LiteralValue):
        return value.value
    if isinstance(value, str):
        return render_template(value, context, env, template_ext=exts)
    if value is None or isinstance(value, (bool, int, float, date, datetime, timedelta, bytes)):
        return value
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # named tuple
        return type(value)(*(render_value(v, context, env, template_ext=exts, _seen=_seen) for v in value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(render_value(v, context, env, template_ext=exts, _seen=_seen) for v in value)
    if isinstance(value, dict):
        return {k: render_value(v, context, env, template_ext=exts, _seen=_seen) for k, v in value.items()}
    nested_fields = getattr(value, "template_fields", None)
    if nested_fields and not isinstance(value, type):
        _render_nested(value, nested_fields, context, env, _seen if _seen is not None else set())
    return value


def _render_nested(obj: Any, fields: Iterable[str], context: Mapping[str, Any],
                   env: jinja2.Environment, seen: set[int]) -> None:
    # Objects declaring template_fields are rendered in place, once even if referenced twice.
    if id(obj) in seen:
        return
    seen.add(id(obj))
    exts = tuple(getattr(obj, "template_ext", ()) or ())
    for name in fields:
        current = getattr(obj, name)
        setattr(obj, name, render_value(current, context, env, template_ext=exts, _seen=seen))


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy of a rendered value (for storing rendered fields per try)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [json_safe(v) for v in items]
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def render_task_fields(task: Any, context: Mapping[str, Any], env: jinja2.Environment) -> dict[str, Any]:
    """Render each of ``task.template_fields`` in place; return ``{field: json_safe(rendered)}``.

    Raises :class:`TemplateRenderError` naming the task and field (the Jinja error, e.g.
    ``'foo' is undefined``, is kept in the message and chained).
    """
    task_id = getattr(task, "task_id", type(task).__name__)
    exts = tuple(getattr(task, "template_ext", ()) or ())
    rendered: dict[str, Any] = {}
    seen: set[int] = {id(task)}
    for field in getattr(task, "template_fields", ()) or ():
        if not hasattr(task, field):
            raise TemplateRenderError(
                f"task {task_id!r}: template field {field!r} is listed in template_fields "
                f"but {type(task).__name__} has no attribute {field!r}"
            )
        try:
            value = render_value(getattr(task, field), context, env, template_ext=exts, _seen=seen)
        except TemplateRenderError:
            raise
        except Exception as exc:
            raise TemplateRenderError(
                f"task {task_id!r}: cannot render template field {field!r}: {type(exc).__name__}: {exc}"
            ) from exc
        setattr(task, field, value)
        rendered[field] = json_safe(value)
    return rendered
