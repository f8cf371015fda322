"""The ``DAG`` object and the ``@dag`` decorator.

A DAG holds its tasks (``task_dict``), its root task group, its schedule (as a
``Timetable``, built by ``timetables.timetable_from_schedule``) and the DAG-level
settings, with Airflow's argument and attribute names. It is pure Python: the
parser snapshots it, the task runner re-imports it to find the task to run.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from tradewind.definition import timezone as tz_helpers
from tradewind.definition.exceptions import (
    DagCycleError,
    DagDefinitionError,
    DuplicateTaskIdError,
    InvalidScheduleError,
    InvalidTaskArgumentError,
    TaskNotFound,
)
from tradewind.definition.helpers import DagContext, validate_key
from tradewind.definition.missed_runs import resolve_missed_runs
from tradewind.definition.params import NOTSET, DagParam, Param, ParamsDict, validate_dag_params
from tradewind.definition.setup_teardown import note_new_task, validate_setup_teardown
from tradewind.definition.taskgroup import TaskGroup

__all__ = ["DAG", "DagContext", "dag"]

_DEFINITION_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_file() -> str:
    """The first file up the stack outside the definition package (the DAG file)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_DEFINITION_DIR) and not filename.startswith("<frozen"):
            return filename
        frame = frame.f_back
    return ""


def _as_timedelta(value: Any, name: str, owner: str) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise InvalidTaskArgumentError(f"{name} of {owner} must be a timedelta or a number of seconds, got {value!r}")


class TooManyTasksError(DagDefinitionError):
    """A DAG got more tasks than :attr:`DAG.task_limit` (``[core] max_tasks_per_dag`` while parsing)."""


class DAG:
    """A directed acyclic graph of tasks with a schedule (Airflow's ``DAG``).

    Use it as a context manager (``with DAG("etl", schedule="@daily") as dag:``) so
    operators created inside join it, or pass ``dag=`` to each operator.
    """

    #: Most tasks one DAG may hold in this process (None: no limit). A parse child sets it from
    #: ``[core] max_tasks_per_dag``, so a file building far too many tasks stops at the limit.
    task_limit: int | None = None

    def __init__(
        self,
        dag_id: str,
        description: str | None = None,
        schedule: Any = NOTSET,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        template_searchpath: str | Iterable[str] | None = None,
        template_undefined: Any = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Callable[..., Any]] | None = None,
        default_args: dict[str, Any] | None = None,
        max_active_tasks: int = 16,
        max_active_runs: int = 16,
        dagrun_timeout: timedelta | float | None = None,
        catchup: bool | None = None,
        on_success_callback: Any = None,
        on_failure_callback: Any = None,
        doc_md: str | None = None,
        params: dict[str, Any] | None = None,
        is_paused_upon_creation: bool | None = None,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        render_template_as_native_obj: bool = False,
        tags: Iterable[str] | None = None,
        owner_links: dict[str, str] | None = None,
        auto_register: bool = True,
        fail_stop: bool = False,
        timezone: Any = None,
        *,
        schedule_interval: Any = NOTSET,
        timetable: Any = None,
        concurrency: int | None = None,
        access_control: Any = None,
        default_view: str | None = None,
        orientation: str | None = None,
        sla_miss_callback: Any = None,
        dag_display_name: str | None = None,
        max_consecutive_failed_dag_runs: int = 0,
        missed_runs: Any = None,
        fail_fast: bool | None = None,
        disable_bundle_versioning: bool = False,
        deadline: Any = None,
        bundle_name: str | None = None,
        bundle_version: str | None = None,
    ) -> None:
        self.dag_id = validate_key(dag_id, "dag_id")
        self.fileloc = _caller_file()
        self.description = description
        self.default_args = dict(default_args or {})
        self.doc_md = self._read_doc_md(doc_md, template_searchpath)
        self.tags = self._check_tags(tags)
        self.max_active_tasks = concurrency if concurrency is not None else max_active_tasks
        self.max_active_runs = max_active_runs
        self.dagrun_timeout = _as_timedelta(dagrun_timeout, "dagrun_timeout", f"DAG {dag_id!r}")
        #: The missed-run policy (:mod:`tradewind.definition.missed_runs`); ``catchup`` is derived from it.
        self.missed_runs = resolve_missed_runs(missed_runs, catchup, dag_id=self.dag_id)
        self.catchup = self.missed_runs.catchup
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.sla_miss_callback = sla_miss_callback
        self.is_paused_upon_creation = is_paused_upon_creation
        self.user_defined_macros = user_defined_macros
        self.user_defined_filters = user_defined_filters
        self.template_undefined = template_undefined
        self.jinja_environment_kwargs = jinja_environment_kwargs
        self.render_template_as_native_obj = render_template_as_native_obj
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath = list(template_searchpath) if template_searchpath else None
        self.owner_links = owner_links or {}
        self.auto_register = auto_register
        # Airflow 3 renamed fail_stop to fail_fast; either stops the run at the first failure.
        self.fail_stop = bool(fail_stop or fail_fast)
        self.fail_fast = self.fail_stop
        #: Airflow 3 bundle settings: each parse is stored as its own DAG version here already.
        self.disable_bundle_versioning = disable_bundle_versioning
        self.bundle_name, self.bundle_version = bundle_name, bundle_version
        self.deadline = deadline
        self.access_control = access_control
        self.default_view = default_view
        self.orientation = orientation
        self.dag_display_name = dag_display_name or dag_id
        self.max_consecutive_failed_dag_runs = self._check_max_consecutive_failed(max_consecutive_failed_dag_runs)

        self._init_dates(start_date, end_date, timezone)
        self.params = ParamsDict(self.default_args.get("params"))
        if params:
            self.params.update(params)
        #: Airflow-era arguments this DAG still uses; the runner logs them at the start of every try.
        self.deprecation_notes: list[str] = []
        if schedule_interval is not NOTSET:
            self.deprecation_notes.append("the DAG argument schedule_interval is deprecated (Airflow 2); use schedule")
        if sla_miss_callback is not None:
            self.deprecation_notes.append(
                "sla_miss_callback is accepted but never called: Tradewind records no SLA misses (Airflow 2)")
        if deadline is not None:
            # Recorded in every try's log: Airflow would raise a deadline alert, Tradewind will not.
            self.deprecation_notes.append(
                "the DAG argument deadline (Airflow 3.1 deadline alerts) is accepted but not acted on by Tradewind")
        self._init_schedule(schedule, schedule_interval, timetable)

        self.task_dict: dict[str, Any] = {}
        self.task_group_dict: dict[str, TaskGroup] = {}
        self.task_group = TaskGroup.create_root(self)
        #: Extra information on edges (``Label``): ``{upstream_id: {downstream_id: {"label": ...}}}``.
        self.edge_info: dict[str, dict[str, dict[str, Any]]] = {}

    # -- construction helpers ---------------------------------------------------------------
    def _read_doc_md(self, doc_md: Any, searchpath: Any) -> Any:
        """Airflow reads a ``doc_md`` ending in ``.md`` as a file (beside the DAG file or on the
        template search path); a name not found there stays the text itself, as in Airflow."""
        if not isinstance(doc_md, str) or not doc_md.endswith(".md") or "\n" in doc_md:
            return doc_md
        folders = [searchpath] if isinstance(searchpath, str) else list(searchpath or [])
        folders.append(os.path.dirname(self.fileloc) or os.getcwd())
        for folder in folders:
            candidate = os.path.join(folder, doc_md)
            if os.path.isfile(candidate):
                with open(candidate, encoding="utf-8") as handle:
                    return handle.read()
        return doc_md

    def _check_max_consecutive_failed(self, value: Any) -> int:
        """0 (the default) defers to ``[core] max_consecutive_failed_dag_runs_per_dag``."""
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidTaskArgumentError(
                f"max_consecutive_failed_dag_runs of DAG {self.dag_id!r} must be an integer >= 0, got {value!r}"
            )
        return value

    def _check_tags(self, tags: Iterable[str] | None) -> list[str]:
        result = list(tags or [])
        for tag in result:
            if not isinstance(tag, str) or len(tag) > 100:
                raise InvalidTaskArgumentError(
                    f"tag {tag!r} of DAG {self.dag_id!r} must be a string of at most 100 characters"
                )
        return result

    def _init_dates(self, start_date: Any, end_date: Any, timezone: Any) -> None:
        if start_date is None:
            start_date = self.default_args.get("start_date")
        if end_date is None:
            end_date = self.default_args.get("end_date")
        where = f"DAG {self.dag_id!r}"
        try:
            if timezone is not None:
                self.timezone = tz_helpers.parse_timezone(timezone)
            elif isinstance(start_date, datetime) and start_date.tzinfo is not None:
                self.timezone = tz_helpers.parse_timezone(start_date.tzinfo)
            else:
                self.timezone = tz_helpers.UTC_ZONE
            # Naive dates are wall time in the DAG's zone; everything is stored in UTC.
            self.start_date = None if start_date is None else tz_helpers.to_utc(start_date, self.timezone)
            self.end_date = None if end_date is None else tz_helpers.to_utc(end_date, self.timezone)
        except tz_helpers.TimezoneError as exc:
            raise InvalidTaskArgumentError(f"{where}: {exc}") from None
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise InvalidTaskArgumentError(
                f"{where}: end_date {self.end_date.isoformat()} is before start_date {self.start_date.isoformat()}"
            )

    def _init_schedule(self, schedule: Any, schedule_interval: Any, timetable: Any) -> None:
        given = [v for v in (schedule, schedule_interval) if v is not NOTSET] + ([timetable] if timetable else [])
        if len(given) > 1:
            raise InvalidScheduleError(
                f"DAG {self.dag_id!r}: pass only one of schedule, schedule_interval and timetable"
            )
        value = given[0] if given else None  # Airflow 3: no schedule means manual runs only.
        self.schedule = value
        try:
            from tradewind.definition.timetables import timetable_from_schedule
        except ModuleNotFoundError as exc:  # the timetables module lands separately
            if exc.name != "tradewind.definition.timetables":
                raise
            self.timetable = None
            return
        try:
            self.timetable = timetable_from_schedule(value, self.timezone)
        except InvalidScheduleError as exc:
            raise InvalidScheduleError(f"DAG {self.dag_id!r}: {exc}") from None

    # -- Airflow-compatible attributes ----------------------------------------------------------
    @property
    def schedule_interval(self) -> Any:
        return self.schedule

    @property
    def concurrency(self) -> int:
        return self.max_active_tasks

    @property
    def filepath(self) -> str:
        return self.fileloc

    @property
    def folder(self) -> str:
        return os.path.dirname(self.fileloc)

    @property
    def owner(self) -> str:
        """Comma-separated owners of the DAG's tasks (Airflow's ``dag.owner``)."""
        owners = sorted({t.owner for t in self.tasks if t.owner})
        return ", ".join(owners)

    @property
    def tasks(self) -> list[Any]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    @property
    def task_count(self) -> int:
        return len(self.task_dict)

    @property
    def roots(self) -> list[Any]:
        return [t for t in self.tasks if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[Any]:
        return [t for t in self.tasks if not t.downstream_task_ids]

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"

    def __enter__(self) -> "DAG":
        DagContext.push(self)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        DagContext.pop()

    # -- tasks -----------------------------------------------------------------------------
    def add_task(self, task: Any) -> None:
        """Attach ``task``: unique id, dates bounded by the DAG's, params merged DAG -> task."""
        existing = self.task_dict.get(task.task_id)
        if existing is task:
            return
        if existing is not None or task.task_id in self.task_group_dict:
            raise DuplicateTaskIdError(
                f"Task id {task.task_id!r} has already been added to the DAG {self.dag_id!r}"
            )
        if DAG.task_limit is not None and len(self.task_dict) >= DAG.task_limit:
            raise TooManyTasksError(
                f"DAG {self.dag_id!r} has more than {DAG.task_limit} tasks (refused at task {task.task_id!r}); "
                f"[core] max_tasks_per_dag allows {DAG.task_limit}: split the DAG or raise the setting"
            )
        if task.start_date is None:
            task.start_date = self.start_date
        elif self.start_date is not None:
            task.start_date = max(task.start_date, self.start_date)
        if task.end_date is None:
            task.end_date = self.end_date
        elif self.end_date is not None:
            task.end_date = min(task.end_date, self.end_date)
        merged = ParamsDict(self.params)
        merged.update(getattr(task, "_params_source", None) or task.params)
        task.params = merged
        self.task_dict[task.task_id] = task
        task._dag = self
        if task.task_group is None:
            task.task_group = self.task_group
        task.task_group.add(task)
        note_new_task(task)  # inside `with setup_or_teardown:` blocks, the task joins the block
        # Labels set on edges before this task joined a DAG (see definition/edges.py).
        for down_id, info in task.__dict__.pop("_pending_edge_info", {}).items():
            self.set_edge_info(task.task_id, down_id, info)

    def add_tasks(self, tasks: Iterable[Any]) -> None:
        for task in tasks:
            self.add_task(task)

    def get_task(self, task_id: str) -> Any:
        try:
            return self.task_dict[task_id]
        except KeyError:
            raise TaskNotFound(f"Task {task_id} not found in DAG {self.dag_id!r}") from None

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_edge_info(self, upstream_task_id: str, downstream_task_id: str) -> dict[str, Any]:
        """Information set on the edge ``upstream -> downstream`` (``{"label": ...}``), else ``{}``."""
        return dict(self.edge_info.get(upstream_task_id, {}).get(downstream_task_id, {}))

    def set_edge_info(self, upstream_task_id: str, downstream_task_id: str, info: dict[str, Any]) -> None:
        """Set (merge) information on the edge ``upstream -> downstream``."""
        self.edge_info.setdefault(upstream_task_id, {}).setdefault(downstream_task_id, {}).update(info)

    def param(self, name: str, default: Any = NOTSET) -> DagParam:
        """A reference to the DAG param ``name`` resolved at run time."""
        if name not in self.params:
            raise KeyError(f"DAG {self.dag_id!r} has no param {name!r}")
        return DagParam(self, name, default)

    # -- graph checks ------------------------------------------------------------------------
    def _downstream_of(self, task_id: str) -> list[str]:
        # Sorted so cycle reports and orders do not depend on set iteration order.
        return sorted(self.task_dict[task_id].downstream_task_ids)

    def check_cycle(self) -> None:
        """Raise :class:`DagCycleError` showing one cycle's path (``a -> b -> a``)."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.task_dict, white)
        for start in self.task_dict:
            if color[start] != white:
                continue
            path = [start]
            stack = [iter(self._downstream_of(start))]
            color[start] = grey
            while stack:
                nxt = next(stack[-1], None)
                if nxt is None:
                    color[path.pop()] = black
                    stack.pop()
                    continue
                if nxt not in color:
                    continue  # dangling edge; reported by validate()
                if color[nxt] == grey:
                    cycle = path[path.index(nxt):] + [nxt]
                    raise DagCycleError(f"Cycle detected in DAG {self.dag_id!r}: {' -> '.join(cycle)}")
                if color[nxt] == white:
                    color[nxt] = grey
                    path.append(nxt)
                    stack.append(iter(self._downstream_of(nxt)))

    def topological_sort(self) -> list[Any]:
        """Tasks with every task after all its upstreams (ties keep creation order)."""
        indegree = {tid: len(t.upstream_task_ids & self.task_dict.keys()) for tid, t in self.task_dict.items()}
        ready = [tid for tid, n in indegree.items() if n == 0]
        order: list[Any] = []
        position = {tid: i for i, tid in enumerate(self.task_dict)}
        while ready:
            tid = ready.pop(0)
            order.append(self.task_dict[tid])
            newly = []
            for down in self._downstream_of(tid):
                if down in indegree:
                    indegree[down] -= 1
                    if indegree[down] == 0:
                        newly.append(down)
            ready.extend(sorted(newly, key=position.__getitem__))
        if len(order) != len(self.task_dict):
            self.check_cycle()
        return order

    def validate(self) -> None:
        """Check the whole DAG after it is built (the parser calls this after import)."""
        for task in self.tasks:
            for rel in task.upstream_task_ids | task.downstream_task_ids:
                if rel not in self.task_dict:
                    raise TaskNotFound(
                        f"Task {task.task_id!r} of DAG {self.dag_id!r} depends on {rel!r}, "
                        "which is not in the DAG"
                    )
        self.check_cycle()
        validate_dag_params(self)  # defaults fit their schemas; no required params on a schedule
        validate_setup_teardown(self)

    def get_flat_relative_ids(self, task_id: str, *, upstream: bool = False) -> set[str]:
        """All task ids reachable from ``task_id`` downstream (or upstream)."""
        seen: set[str] = set()
        stack = [task_id]
        while stack:
            task = self.task_dict[stack.pop()]
            for rel in task.upstream_task_ids if upstream else task.downstream_task_ids:
                if rel not in seen and rel in self.task_dict:
                    seen.add(rel)
                    stack.append(rel)
        return seen

    # -- Airflow 2 schedule arithmetic (deprecated there, still called by older DAG files) -------
    def following_schedule(self, dttm: datetime) -> datetime | None:
        """The first schedule time after ``dttm`` (UTC), None for a schedule without one.

        Airflow 2 API, deprecated there in favour of ``next_dagrun_info``; works here with a
        deprecation note in the task log when a task calls it.
        """
        self._note_deprecated_call("following_schedule", "the run's data_interval_end, or next_dagrun_info")
        following = self._next_schedule_time(self._schedule_moment(dttm, "following_schedule"))
        return None if following is None else _as_context_datetime(following)

    def previous_schedule(self, dttm: datetime) -> datetime | None:
        """The last schedule time before ``dttm`` (UTC); None unless the schedule has data
        intervals (a cron expression, a preset or a timedelta), as in Airflow 2."""
        self._note_deprecated_call("previous_schedule", "the run's data_interval_start")
        moment = self._schedule_moment(dttm, "previous_schedule")
        if getattr(self.timetable, "type_name", None) == "cron_data_interval":
            return _as_context_datetime(self.timetable._schedule.prev_before(moment))
        delta = getattr(self.timetable, "delta", None)
        return None if delta is None else _as_context_datetime(moment - delta)

    def next_dagrun_info(self, last_automated_dagrun: Any, *, restricted: bool = True) -> Any:
        """The next automated run after ``last_automated_dagrun`` (a ``DataInterval``, or None for
        the first), as a ``DagRunInfo``; None when there is none. With ``restricted`` the DAG's
        start/end dates and catchup apply (Airflow's method)."""
        from tradewind.definition.timetables import DataInterval, TimeRestriction

        if isinstance(last_automated_dagrun, datetime):  # Airflow 2.2's deprecated form
            last_automated_dagrun = self.infer_automated_data_interval(last_automated_dagrun)
        if last_automated_dagrun is not None and not isinstance(last_automated_dagrun, DataInterval):
            raise TypeError(f"DAG {self.dag_id!r}: next_dagrun_info() takes a DataInterval or None, "
                            f"got {last_automated_dagrun!r}")
        if self.timetable is None:
            return None
        restriction = TimeRestriction(self.start_date, self.end_date, self.catchup) if restricted \
            else TimeRestriction(None, None, True)
        return self.timetable.next_dagrun_info(last_automated_data_interval=last_automated_dagrun,
                                               restriction=restriction)

    def infer_automated_data_interval(self, logical_date: datetime) -> Any:
        """The data interval of the automated run at ``logical_date`` (Airflow's method)."""
        from tradewind.definition.timetables import DataInterval

        start = self._schedule_moment(logical_date, "infer_automated_data_interval")
        following = self._next_schedule_time(start)
        return DataInterval(start, following) if following is not None and getattr(
            self.timetable, "type_name", None) != "cron_trigger" else DataInterval.exact(start)

    def _next_schedule_time(self, moment: datetime) -> datetime | None:
        """``following_schedule`` without the deprecation note (for the methods built on it)."""
        cron = getattr(self.timetable, "_schedule", None)
        if cron is not None:
            return cron.next_after(moment)
        delta = getattr(self.timetable, "delta", None)
        return None if delta is None else moment + delta

    def get_template_env(self, *, force_sandboxed: bool = False) -> Any:
        """The Jinja environment this DAG's templates render with (custom operators call it)."""
        from tradewind.definition.templating import make_jinja_env

        return make_jinja_env(self)

    #: Airflow 2 SubDAG attributes: a DAG here is never a SubDAG.
    is_subdag = False
    parent_dag = None

    def _schedule_moment(self, dttm: Any, method: str) -> datetime:
        if not isinstance(dttm, datetime):
            raise TypeError(f"DAG {self.dag_id!r}: {method}() takes a datetime, got {dttm!r}")
        return tz_helpers.to_utc(dttm, self.timezone)

    def _note_deprecated_call(self, method: str, instead: str) -> None:
        """A note in the running task's log (nothing when called outside a task, e.g. at parse)."""
        from tradewind.definition.context import _CONTEXT_STACK

        stack = _CONTEXT_STACK.get()
        logger = getattr(stack[-1].get("ti"), "log", None) if stack else None
        if logger is not None:
            logger.warning("DAG.%s() is deprecated (Airflow 2); use %s instead", method, instead)

    def test(self, execution_date: Any = None, run_conf: dict[str, Any] | None = None,
             conn_file_path: str | None = None, variable_file_path: str | None = None,
             use_executor: bool = False, mark_success_pattern: Any = None, session: Any = None, *,
             logical_date: Any = None, run_after: Any = None) -> Any:
        """Run this DAG once, as ``tradewind dags test <dag_id>``, printing each task's state.

        Airflow's arguments: the date (Airflow 2's ``execution_date``, Airflow 3's ``logical_date``
        or ``run_after``), ``run_conf``, ``conn_file_path`` / ``variable_file_path``. Returns a
        :class:`~tradewind.definition.dag_test_method.DagTestResult` (``state``, ``task_states``).
        """
        from tradewind.definition.dag_test_method import run_dag_test

        if use_executor:
            raise TypeError(f"DAG {self.dag_id!r}: test(use_executor=True) is not supported: tasks run "
                            "one at a time in the dags test process; use 'tradewind scheduler' for the executor")
        if mark_success_pattern is not None:
            raise TypeError(f"DAG {self.dag_id!r}: test(mark_success_pattern=...) is not supported")
        dates = [d for d in (execution_date, logical_date, run_after) if d is not None]
        if len(dates) > 1:
            raise TypeError(f"DAG {self.dag_id!r}: test() takes one of execution_date, logical_date, run_after")
        return run_dag_test(self, logical_date=dates[0] if dates else None, run_conf=run_conf,
                            conn_file_path=conn_file_path, variable_file_path=variable_file_path)


def _as_context_datetime(value: datetime) -> datetime:
    from tradewind.definition.context import _context_datetime

    return _context_datetime(value)  # type: ignore[return-value]


class _DagFactory:
    """What ``@dag`` returns: calling it builds and returns the DAG."""

    def __init__(self, function: Callable[..., Any], dag_id: str, dag_kwargs: dict[str, Any]) -> None:
        self.function = function
        self.dag_id = dag_id
        self.dag_kwargs = dag_kwargs
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> DAG:
        signature = inspect.signature(self.function)
        bound = signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()
        options = dict(self.dag_kwargs)
        params = ParamsDict(options.pop("params", None))
        plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                 inspect.Parameter.KEYWORD_ONLY)
        names = [n for n, p in signature.parameters.items() if p.kind in plain]
        for name in names:
            value = bound.arguments.get(name, NOTSET)
            if isinstance(value, Param) or name not in params or value is not NOTSET:
                params[name] = value if isinstance(value, Param) else Param(value)
        options.setdefault("doc_md", self.function.__doc__)
        new_dag = DAG(self.dag_id or self.function.__name__, params=params, **options)
        new_dag.fileloc = self.function.__code__.co_filename
        for name in names:
            bound.arguments[name] = new_dag.param(name)
        with new_dag:
            self.function(*bound.args, **bound.kwargs)
        return new_dag


def dag(dag_id: Any = "", **dag_kwargs: Any) -> Any:
    """``@dag`` / ``@dag(schedule=..., start_date=...)``: the function builds the DAG's tasks.

    Calling the decorated function returns the :class:`DAG`; its parameters become
    DAG params (defaults from the signature, values from the call).
    """
    if callable(dag_id):
        return _DagFactory(dag_id, "", dag_kwargs)

    def decorator(fn: Callable[..., Any]) -> _DagFactory:
        return _DagFactory(fn, dag_id, dag_kwargs)

    return decorator
