"""Airflow objects Tradewind has no definition-layer counterpart of, built here for the shims.

Each one is small and keeps Airflow's meaning, so a DAG file written for Airflow gets what it
expects: ``days_ago`` (midnight UTC ``n`` days ago, as Airflow 2), ``State`` (the constants class
of ``airflow.utils.state``) and the ``airflow.utils.timezone`` helpers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from tradewind.definition import timezone as tz_helpers
from tradewind.definition.exceptions import TradewindException
from tradewind.states import DagRunState, TaskInstanceState

utc = tz_helpers.utc


def days_ago(n: int, hour: int = 0, minute: int = 0, second: int = 0, microsecond: int = 0) -> dt.datetime:
    """Midnight UTC ``n`` days ago (or that day at ``hour:minute:second``), as Airflow 2's helper.

    Reads Tradewind's overridable clock, so simulated time in tests moves it too.
    """
    today = tz_helpers.utcnow().replace(hour=hour, minute=minute, second=second, microsecond=microsecond)
    return today - dt.timedelta(days=n)


def utcnow() -> dt.datetime:
    """The current time, aware UTC (Tradewind's overridable clock)."""
    return tz_helpers.utcnow()


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """``datetime.datetime(...)`` that is UTC unless ``tzinfo`` is given (Airflow's ``timezone.datetime``)."""
    if "tzinfo" not in kwargs and len(args) < 8:
        kwargs["tzinfo"] = utc
    return dt.datetime(*args, **kwargs)


def parse(value: str, timezone: Any = None) -> dt.datetime:
    """An ISO 8601 string as an aware datetime; naive text is wall time in ``timezone`` (default UTC)."""
    return tz_helpers.coerce_datetime(value, timezone)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    """``value`` in UTC; a naive value is taken as UTC wall time (``None`` stays ``None``)."""
    return None if value is None else tz_helpers.to_utc(value)


def make_aware(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    """A naive ``value`` as wall time in ``timezone`` (default UTC); an aware one is refused, as in Airflow."""
    if value.tzinfo is not None:
        raise ValueError(f"make_aware expects a naive datetime, got {value!r}")
    return tz_helpers.coerce_datetime(value, timezone)


def make_naive(value: dt.datetime, timezone: Any = None) -> dt.datetime:
    """An aware ``value`` as naive wall time in ``timezone`` (default UTC)."""
    if value.tzinfo is None:
        raise ValueError(f"make_naive expects an aware datetime, got {value!r}")
    zone = tz_helpers.parse_timezone(timezone) if timezone is not None else utc
    return value.astimezone(zone).replace(tzinfo=None)


def is_localized(value: dt.datetime) -> bool:
    """True when ``value`` carries a time zone."""
    return value.utcoffset() is not None


def is_naive(value: dt.datetime) -> bool:
    """True when ``value`` carries no time zone."""
    return value.utcoffset() is None


class State:
    """Airflow 2's ``airflow.utils.state.State``: the state names as string constants (Tradewind's values)."""

    SUCCESS = TaskInstanceState.SUCCESS.value
    FAILED = TaskInstanceState.FAILED.value
    RUNNING = TaskInstanceState.RUNNING.value
    QUEUED = TaskInstanceState.QUEUED.value
    SCHEDULED = TaskInstanceState.SCHEDULED.value
    SKIPPED = TaskInstanceState.SKIPPED.value
    UP_FOR_RETRY = TaskInstanceState.UP_FOR_RETRY.value
    UP_FOR_RESCHEDULE = TaskInstanceState.UP_FOR_RESCHEDULE.value
    UPSTREAM_FAILED = TaskInstanceState.UPSTREAM_FAILED.value
    DEFERRED = TaskInstanceState.DEFERRED.value
    REMOVED = TaskInstanceState.REMOVED.value
    RESTARTING = TaskInstanceState.RESTARTING.value
    NONE = TaskInstanceState.NONE.value  # Tradewind stores "no status" as "none", never NULL

    task_states: tuple[str, ...] = tuple(s.value for s in TaskInstanceState)
    dag_states: tuple[str, ...] = tuple(s.value for s in DagRunState)
    finished: frozenset[str] = frozenset({SUCCESS, FAILED, SKIPPED, UPSTREAM_FAILED, REMOVED})
    unfinished: frozenset[str] = frozenset(
        {NONE, SCHEDULED, QUEUED, RUNNING, UP_FOR_RETRY, UP_FOR_RESCHEDULE, DEFERRED, RESTARTING}
    )
    failed_states: frozenset[str] = frozenset({FAILED, UPSTREAM_FAILED})
    success_states: frozenset[str] = frozenset({SUCCESS, SKIPPED})


def apply_defaults(func: Any) -> Any:
    """Airflow 2's ``airflow.utils.decorators.apply_defaults``: ``func`` itself.

    Airflow 2 already applied ``default_args`` to every operator's ``__init__`` and kept this
    decorator as a no-op for old operator classes; Tradewind's ``BaseOperator`` does the same.
    """
    return func


def is_venv_installed() -> bool:
    """Whether ``PythonVirtualenvOperator`` can make environments here (Airflow's check, for our way).

    Tradewind builds them with ``python -m venv`` (and ``ensurepip`` for requirements), not the
    ``virtualenv`` package, so those two standard modules are what must be importable.
    """
    import importlib.util

    return importlib.util.find_spec("venv") is not None and importlib.util.find_spec("ensurepip") is not None


class AirflowOptionalProviderFeatureException(TradewindException):
    """An optional feature of a provider is not available (Airflow's name; providers raise it)."""


def is_async_callable(func: Any) -> bool:
    """True when ``func`` (through ``functools.partial`` wrappers) is an ``async def`` function."""
    import functools
    import inspect

    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func)


class AirflowParsingContext(NamedTuple):
    """What ``get_parsing_context()`` returns: the DAG and task a parse is for, when known."""

    dag_id: str | None
    task_id: str | None


def get_parsing_context() -> AirflowParsingContext:
    """Airflow's ``get_parsing_context``: always ``(None, None)`` in Tradewind.

    Airflow documents ``None`` as "this parse needs every DAG of the file"; Tradewind always
    imports whole files (the parser and the task runner alike), so a file that skips generating
    DAGs other than ``dag_id`` when it is set generates all of them here, which is correct.
    """
    return AirflowParsingContext(dag_id=None, task_id=None)


# --------------------------------------------------------------------------- annotation-only ORM names
class _AnnotationOnlyMeta(type):
    """``isinstance`` answers for the runtime object; anything else of the ORM class fails by name."""

    _runtime: str  # "module:Class" of what the context really holds

    def _runtime_class(cls) -> type:
        import importlib

        module, _, name = cls._runtime.partition(":")
        return getattr(importlib.import_module(module), name)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._runtime_class())

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls._runtime_class())

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{cls.__qualname__} cannot be created in Tradewind: {cls.__doc__}")

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # probes by typing, inspect, pickle...
        raise AttributeError(f"{cls.__qualname__}.{name} is not supported by Tradewind: {cls.__doc__}")


class TaskInstance(metaclass=_AnnotationOnlyMeta):
    """Airflow 2's ORM model, provided for annotations and ``isinstance(context["ti"], TaskInstance)`` only;
    its queries and class methods (``find``, sessions) are not (read state through ``context["ti"]``)."""

    _runtime = "tradewind.execute.runtime:RuntimeTaskInstance"


class DagRun(metaclass=_AnnotationOnlyMeta):
    """Airflow 2's ORM model, provided for annotations and ``isinstance(context["dag_run"], DagRun)`` only;
    its queries and class methods (``find``, ``get_task_instances``...) are not."""

    _runtime = "tradewind.execute.prepare:RunInfo"


def _asset_or_time_schedule() -> type:
    from tradewind.definition.assets import AssetOrTimeSchedule

    return AssetOrTimeSchedule


def DatasetOrTimeSchedule(*, timetable: Any, datasets: Any) -> Any:  # noqa: N802 - Airflow's class name
    """Airflow 2.9's ``DatasetOrTimeSchedule(timetable=..., datasets=...)``: an ``AssetOrTimeSchedule``.

    Airflow 3 renamed the argument ``assets``; the object built is the same (and stored the same way).
    """
    return _asset_or_time_schedule()(timetable=timetable, assets=datasets)
