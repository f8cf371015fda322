"""The template context of one task try: Airflow's names, Airflow's formats.

:func:`build_context` is called by the task runner (execute layer) with everything it knows about
the try; the result is the ``context`` passed to ``execute(context)``, used to render templates,
and returned by :func:`get_current_context` inside the task.

Formats (for a logical date of 2024-01-02 03:04:05 UTC):

=====================  ==============================
``ds``                 ``2024-01-02``
``ds_nodash``          ``20240102``
``ts``                 ``2024-01-02T03:04:05+00:00``
``ts_nodash``          ``20240102T030405``
``ts_nodash_with_tz``  ``20240102T030405+0000``
=====================  ==============================

Date keys are computed from the logical date in UTC, as Airflow does. When a run has no logical
date (``logical_date=None``) the ``ds``/``ts`` family falls back to ``run_after`` (what Airflow 2
used for manual runs); ``logical_date`` itself stays ``None``.

Airflow 2's deprecated keys (``execution_date``, ``next_ds``, ``prev_ds``, ``yesterday_ds``,
``tomorrow_ds``, ``next_execution_date``, ``prev_execution_date``, ...) are present and computed
like Airflow 2 did: for manually triggered runs ``next_*``/``prev_*`` equal the run's own date.
Using one logs a deprecation note in the task log, once per key and try, when it is actually read:
``context[key]`` / ``context.get(key)`` on the :class:`Context`, a template naming it (see
``templating``), or a callable's parameter of that name (``operators.python.determine_kwargs``).
Noting on use rather than when the context is built keeps the note off the log of every task that
never looks at these keys.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

from tradewind.definition import macros as macros_module
from tradewind.definition.exceptions import TradewindException
from tradewind.definition.params import NOTSET, ParamsDict
from tradewind.definition.timezone import utc

__all__ = [
    "DEPRECATED_KEYS",
    "ConnectionAccessor",
    "Context",
    "VariableAccessor",
    "build_context",
    "get_current_context",
    "note_deprecated_keys",
    "set_current_context",
]


# --------------------------------------------------------------------------- datetimes
def _context_datetime(value: datetime | None) -> datetime | None:
    """Aware UTC; a pendulum ``DateTime`` when pendulum is installed (Airflow users call its methods)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"context datetimes must be timezone-aware, got naive {value!r}")
    value = value.astimezone(utc)
    try:
        import pendulum
    except ImportError:
        return value
    return pendulum.instance(value, tz="UTC")


def _ds(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d")


def _nodash(ds: str | None) -> str | None:
    return None if ds is None else ds.replace("-", "")


def _run_type_name(run_type: Any) -> str:
    return str(getattr(run_type, "value", run_type) or "")


# --------------------------------------------------------------------------- var / conn
class _VariableView:
    """``var.value`` (raw strings) or ``var.json`` (JSON-decoded), Airflow style."""

    def __init__(self, getter: Callable[..., Any], deserialize_json: bool) -> None:
        self._getter = getter
        self._json = deserialize_json

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self._getter(key, deserialize_json=self._json)

    def __getitem__(self, key: str) -> Any:
        return self._getter(key, deserialize_json=self._json)

    def get(self, key: str, default_var: Any = NOTSET) -> Any:
        """``var.value.get("key", "fallback")``: the default when the variable does not exist."""
        return self._getter(key, default_var=default_var, deserialize_json=self._json)

    def __repr__(self) -> str:
        return f"<var.{'json' if self._json else 'value'}>"


class VariableAccessor:
    """The ``var`` context entry: ``{{ var.value.my_key }}``, ``{{ var.json.cfg.field }}``."""

    def __init__(self, getter: Callable[..., Any] | None = None) -> None:
        if getter is None:
            from tradewind.definition.variable import Variable

            getter = Variable.get
        self.value = _VariableView(getter, deserialize_json=False)
        self.json = _VariableView(getter, deserialize_json=True)


class ConnectionAccessor:
    """The ``conn`` context entry: ``{{ conn.my_db.host }}`` (looked up through ``getter``).

    The default getter is :func:`tradewind.definition.connection.get_connection`, the lookup tasks
    use (environment ``TRADEWIND_CONN_*``/``AIRFLOW_CONN_*``, then the installed backend), so a
    template sees the same connections as ``BaseHook.get_connection``.
    """

    def __init__(self, getter: Callable[[str], Any] | None = None) -> None:
        if getter is None:
            from tradewind.definition.connection import get_connection

            getter = get_connection
        self._getter = getter

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        try:
            return self[conn_id]
        except KeyError:
            return default_conn

    def __getitem__(self, conn_id: str) -> Any:
        if self._getter is None:
            raise KeyError(f"connection {conn_id!r} requested but no connection backend is installed")
        return self._getter(conn_id)

    def __getattr__(self, conn_id: str) -> Any:
        if conn_id.startswith("__"):
            raise AttributeError(conn_id)
        return self[conn_id]


# --------------------------------------------------------------------------- params
def _merged_params(dag: Any, task: Any, conf: dict[str, Any] | None) -> ParamsDict:
    params = ParamsDict(getattr(dag, "params", None) or {})
    task_params = getattr(task, "params", None)
    if task_params:
        params.update(task_params)
    # Airflow's dag_run_conf_overrides_params (default True): a run's conf overrides params.
    if conf:
        params.update(conf)
    return params


# --------------------------------------------------------------------------- deprecated keys
#: Airflow 2 context keys kept for old DAG files -> what to use instead (said in the deprecation note).
DEPRECATED_KEYS: dict[str, str] = {
    "execution_date": "logical_date",
    "next_execution_date": "data_interval_end",
    "next_ds": "{{ data_interval_end | ds }}",
    "next_ds_nodash": "{{ data_interval_end | ds_nodash }}",
    "prev_execution_date": "prev_data_interval_start_success",
    "prev_ds": "{{ prev_data_interval_start_success | ds }}",
    "prev_ds_nodash": "{{ prev_data_interval_start_success | ds_nodash }}",
    "prev_execution_date_success": "prev_data_interval_start_success",
    "yesterday_ds": "{{ macros.ds_add(ds, -1) }}",
    "yesterday_ds_nodash": "{{ macros.ds_add(ds, -1) | replace('-', '') }}",
    "tomorrow_ds": "{{ macros.ds_add(ds, 1) }}",
    "tomorrow_ds_nodash": "{{ macros.ds_add(ds, 1) | replace('-', '') }}",
}
_NOTED_ATTR = "_tradewind_deprecated_keys_noted"


def note_deprecated_keys(keys: Any, ti: Any) -> None:
    """Log a deprecation note in the try's log (``ti.log``) for each deprecated key, once per try.

    The keys already noted are remembered on ``ti`` (one object per try); without a ``ti`` (a context
    built outside the runner) nothing is logged.
    """
    logger = getattr(ti, "log", None)
    if logger is None:
        return
    noted = getattr(ti, _NOTED_ATTR, None)
    if noted is None:
        noted = set()
        try:
            setattr(ti, _NOTED_ATTR, noted)
        except AttributeError:  # a ti that takes no attributes: note every time instead
            pass
    for key in keys:
        if key in DEPRECATED_KEYS and key not in noted:
            noted.add(key)
            logger.warning("The context key %r is deprecated (Airflow 2); use %s instead",
                           key, DEPRECATED_KEYS[key])


class Context(dict):
    """The template context: a ``dict`` whose reads of Airflow 2's deprecated keys are noted in the task log.

    Copies (``dict(context)``, ``{**context}``) are plain dicts and do not note anything themselves.
    """

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if key in DEPRECATED_KEYS:
            note_deprecated_keys((key,), super().get("ti"))
        return value

    def get(self, key: str, default: Any = None) -> Any:
        if key in DEPRECATED_KEYS and key in self:
            note_deprecated_keys((key,), super().get("ti"))
        return super().get(key, default)


def _schedule_neighbours(dag: Any, run_type: str, logical: datetime | None,
                         interval_start: datetime | None, interval_end: datetime | None
                         ) -> tuple[datetime | None, datetime | None]:
    """Airflow 2's ``prev_execution_date`` / ``next_execution_date`` for this run."""
    if logical is None:
        return None, None
    if run_type in ("manual", "asset_materialization"):  # triggered by hand: no schedule neighbours
        return logical, logical
    timetable = getattr(dag, "timetable", None)
    if timetable is None:
        return None, None
    from tradewind.definition.timetables import (
        DataInterval,
        DeltaDataIntervalTimetable,
        TimeRestriction,
    )

    prev = None
    schedule = getattr(timetable, "_schedule", None)
    if schedule is not None:
        prev = schedule.prev_before(logical)
    elif isinstance(timetable, DeltaDataIntervalTimetable):
        prev = logical - timetable.delta
    nxt = None
    if interval_start is not None and interval_end is not None and getattr(timetable, "periodic", False):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=DataInterval(interval_start, interval_end),
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
        )
        nxt = None if info is None else info.logical_date
    return prev, nxt


def _deprecated_keys(dag: Any, run_type: str, logical: datetime | None, date_source: datetime | None,
                     interval_start: datetime | None, interval_end: datetime | None,
                     prev_start_success: datetime | None) -> dict[str, Any]:
    prev, nxt = _schedule_neighbours(dag, run_type, logical, interval_start, interval_end)
    prev, nxt = _context_datetime(prev), _context_datetime(nxt)
    yesterday = None if date_source is None else date_source - timedelta(days=1)
    tomorrow = None if date_source is None else date_source + timedelta(days=1)
    prev_ds, next_ds = _ds(prev), _ds(nxt)
    return {
        "execution_date": logical,
        "next_execution_date": nxt,
        "next_ds": next_ds,
        "next_ds_nodash": _nodash(next_ds),
        "prev_execution_date": prev,
        "prev_ds": prev_ds,
        "prev_ds_nodash": _nodash(prev_ds),
        "prev_execution_date_success": prev_start_success,
        "yesterday_ds": _ds(yesterday),
        "yesterday_ds_nodash": _nodash(_ds(yesterday)),
        "tomorrow_ds": _ds(tomorrow),
        "tomorrow_ds_nodash": _nodash(_ds(tomorrow)),
    }


# --------------------------------------------------------------------------- build_context
def build_context(
    *,
    dag: Any,
    task: Any,
    ti: Any,
    run_id: str,
    run_type: Any,
    logical_date: datetime | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime | None,
    conf: dict[str, Any] | None,
    dag_run: Any,
    try_number: int,
    map_index: int = -1,
    prev_data_interval_start_success: datetime | None = None,
    prev_data_interval_end_success: datetime | None = None,
    prev_start_date_success: datetime | None = None,
    prev_end_date_success: datetime | None = None,
    var_accessor: Callable[..., Any] | None = None,
    conn_accessor: Callable[[str], Any] | None = None,
    triggering_asset_events: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context of one try (see the module docstring for keys and formats).

    ``var_accessor`` has ``Variable.get``'s signature (``key, default_var=..., deserialize_json=...``)
    and defaults to ``Variable.get``; ``conn_accessor(conn_id)`` returns a connection object.
    ``extra`` entries are added last and win (e.g. ``test_mode``, ``exception``, ``conf``).
    """
    logical = _context_datetime(logical_date)
    date_source = logical if logical is not None else _context_datetime(run_after)
    ds = _ds(date_source)
    ds_nodash = _nodash(ds)
    ts = None if date_source is None else date_source.isoformat()
    interval_start = _context_datetime(data_interval_start)
    interval_end = _context_datetime(data_interval_end)
    prev_start_success = _context_datetime(prev_data_interval_start_success)
    events = triggering_asset_events or {}
    context: dict[str, Any] = Context({
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": dag_run,
        "run_id": run_id,
        "logical_date": logical,
        "data_interval_start": interval_start,
        "data_interval_end": interval_end,
        "ds": ds,
        "ds_nodash": ds_nodash,
        "ts": ts,
        "ts_nodash": None if date_source is None else date_source.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": None if ts is None else ts.replace("-", "").replace(":", ""),
        "prev_data_interval_start_success": prev_start_success,
        "prev_data_interval_end_success": _context_datetime(prev_data_interval_end_success),
        "prev_start_date_success": _context_datetime(prev_start_date_success),
        "prev_end_date_success": _context_datetime(prev_end_date_success),
        "params": _merged_params(dag, task, conf),
        "var": VariableAccessor(var_accessor),
        "conn": ConnectionAccessor(conn_accessor),
        "macros": macros_module,
        "task_instance_key_str": f"{getattr(dag, 'dag_id', '')}__{getattr(task, 'task_id', '')}__{ds_nodash}",
        "try_number": try_number,
        "map_index": map_index,
        "inlets": list(getattr(task, "inlets", None) or []),
        "outlets": list(getattr(task, "outlets", None) or []),
        "test_mode": False,
        "templates_dict": getattr(task, "templates_dict", None),
        "triggering_asset_events": events,
        "triggering_dataset_events": events,
        "expanded_ti_count": None,
        "map_index_template": getattr(task, "map_index_template", None),  # Airflow 3 offers it
    })
    context.update(_deprecated_keys(dag, _run_type_name(run_type), logical, date_source,
                                    interval_start, interval_end, prev_start_success))
    if extra:
        context.update(extra)
    return context


# --------------------------------------------------------------------------- current context
_CONTEXT_STACK: contextvars.ContextVar[tuple[dict[str, Any], ...]] = contextvars.ContextVar(
    "tradewind_current_context", default=()
)
# Contexts active anywhere in this process; used when the task's code runs in a helper thread
# (e.g. for execution_timeout) that did not inherit the context variable.
_ACTIVE: list[dict[str, Any]] = []
_ACTIVE_LOCK = threading.Lock()


@contextlib.contextmanager
def set_current_context(context: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Make ``context`` what :func:`get_current_context` returns inside the ``with`` block."""
    token = _CONTEXT_STACK.set(_CONTEXT_STACK.get() + (context,))
    with _ACTIVE_LOCK:
        _ACTIVE.append(context)
    try:
        yield context
    finally:
        _CONTEXT_STACK.reset(token)
        with _ACTIVE_LOCK:
            for i in range(len(_ACTIVE) - 1, -1, -1):
                if _ACTIVE[i] is context:
                    del _ACTIVE[i]
                    break


def get_current_context() -> dict[str, Any]:
    """The context of the task running now (for ``@task`` functions and PythonOperator callables).

    Raises :class:`TradewindException` when called outside a running task.
    """
    stack = _CONTEXT_STACK.get()
    if stack:
        return stack[-1]
    with _ACTIVE_LOCK:
        if len(_ACTIVE) == 1:  # unambiguous: exactly one task is running in this process
            return _ACTIVE[0]
    raise TradewindException(
        "get_current_context() was called, but no task is running here: it only works inside a "
        "task's execute() / @task function while the task runs (not at DAG-parse time)"
    )
