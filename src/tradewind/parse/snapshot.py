"""A DAG as the scheduler and the UI see it: a versioned, JSON-serialisable snapshot.

User code runs only in the parser and in the task runner. Everything else —
scheduler, CLI listings, API — reads :class:`DagSnapshot`, built from the JSON
stored in ``dag_version.snapshot``. The snapshot carries what scheduling needs
(graph, trigger rules, retries, pools, priorities, timetable) and what people
look at (docs, tags, owners, params); never callables.

``serialize_dag(dag)`` (definition ``DAG`` -> dict) and ``snapshot_hash(dict)``
live in this module too; the dict format is :data:`FORMAT_VERSION`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from functools import cached_property
from typing import Any

from tradewind.definition.assets import outlet_aliases, outlet_assets

FORMAT_VERSION = 1


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _td(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=value)


@dataclass(frozen=True)
class TaskSnapshot:
    """One task's scheduling-relevant attributes. Durations are in seconds in the JSON."""

    task_id: str
    operator: str  # class name, e.g. "BashOperator", "_PythonDecoratedOperator" shown as "@task"
    upstream: tuple[str, ...] = ()
    downstream: tuple[str, ...] = ()
    trigger_rule: str = "all_success"
    retries: int = 0
    retry_delay: float = 300.0
    retry_exponential_backoff: bool = False
    max_retry_delay: float | None = None
    execution_timeout: float | None = None
    depends_on_past: bool = False
    wait_for_downstream: bool = False
    pool: str = "default_pool"
    pool_slots: int = 1
    priority_weight: int = 1
    weight_rule: str = "downstream"
    #: Effective priority after applying ``weight_rule`` over the graph.
    priority_weight_total: int = 1
    queue: str = "default"
    #: The executor the task names (``executor=``); None: the default one.
    executor: str | None = None
    owner: str = "airflow"
    start_date: str | None = None
    end_date: str | None = None
    template_fields: tuple[str, ...] = ()
    task_group: str | None = None
    doc_md: str | None = None
    email: tuple[str, ...] = ()
    email_on_failure: bool = True
    email_on_retry: bool = True
    is_setup: bool = False
    is_teardown: bool = False
    #: Teardowns only: their failure fails the run (else teardowns do not count for the outcome).
    on_failure_fail_dagrun: bool = False
    callbacks: tuple[str, ...] = ()  # names of callbacks set: "on_failure_callback", ...
    extra: dict[str, Any] = field(default_factory=dict)
    #: Task-level concurrency limits (Airflow names); None means no limit.
    max_active_tis_per_dag: int | None = None
    max_active_tis_per_dagrun: int | None = None
    #: Name shown in the UI (``task_display_name``); None in older snapshots means the task_id.
    task_display_name: str | None = None
    #: Assets the task produces (``outlets``): ``{"name", "uri", "group", "extra"}`` each.
    outlets: tuple[dict[str, Any], ...] = ()
    #: Asset aliases among the task's ``outlets``: ``{"alias", "group"}`` each.
    outlet_aliases: tuple[dict[str, Any], ...] = ()
    #: Connection ids the task names (``*conn_id`` attributes, id-like literals of its Python
    #: callable): the only ones a remote try may read with ``connection_access = named``.
    conn_ids: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskSnapshot":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in ("upstream", "downstream", "template_fields", "email", "callbacks", "outlets", "outlet_aliases",
                     "conn_ids"):
            if name in kwargs and kwargs[name] is not None:
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)

    @property
    def retry_delay_td(self) -> timedelta:
        return timedelta(seconds=self.retry_delay)

    @property
    def max_retry_delay_td(self) -> timedelta | None:
        return _td(self.max_retry_delay)

    @property
    def execution_timeout_td(self) -> timedelta | None:
        return _td(self.execution_timeout)

    @property
    def start_date_dt(self) -> datetime | None:
        return _dt(self.start_date)

    @property
    def end_date_dt(self) -> datetime | None:
        return _dt(self.end_date)


@dataclass(frozen=True)
class DagSnapshot:
    dag_id: str
    fileloc: str
    timetable: dict[str, Any]
    timetable_summary: str
    tasks: dict[str, TaskSnapshot]
    description: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    catchup: bool = False
    max_active_runs: int = 16
    max_active_tasks: int = 16
    dagrun_timeout: float | None = None
    is_paused_upon_creation: bool | None = None
    tags: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    timezone: str = "UTC"
    params: dict[str, Any] = field(default_factory=dict)
    doc_md: str | None = None
    callbacks: tuple[str, ...] = ()
    #: Nested task-group structure for display: {"group_id": ..., "children": [...]}.
    task_group: dict[str, Any] | None = None
    format_version: int = FORMAT_VERSION
    #: Name shown in the UI (``dag_display_name``); None in older snapshots means the dag_id.
    dag_display_name: str | None = None
    #: Information on edges (``Label``): ``{upstream_id: {downstream_id: {"label": ...}}}``.
    edge_info: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: Pause the DAG after this many failed runs in a row; 0: ``[core] max_consecutive_failed_dag_runs_per_dag``.
    max_consecutive_failed_dag_runs: int = 0
    #: Missed-run policy: "all" | "latest" | "none" | {"window": seconds}; None (older snapshots): from catchup.
    missed_runs: Any = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DagSnapshot":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["tasks"] = {t["task_id"]: TaskSnapshot.from_dict(t) for t in data["tasks"]}
        for name in ("tags", "owners", "callbacks"):
            if name in kwargs and kwargs[name] is not None:
                kwargs[name] = tuple(kwargs[name])
        return cls(**kwargs)

    # -- graph helpers -----------------------------------------------------------
    def task(self, task_id: str) -> TaskSnapshot:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise KeyError(f"DAG {self.dag_id!r} has no task {task_id!r}") from None

    @cached_property
    def topological_order(self) -> tuple[str, ...]:
        """Task ids with every task after all its upstreams (stable by insertion order)."""
        indegree = {tid: len(t.upstream) for tid, t in self.tasks.items()}
        ready = [tid for tid, n in indegree.items() if n == 0]
        order: list[str] = []
        while ready:
            tid = ready.pop(0)
            order.append(tid)
            for down in self.tasks[tid].downstream:
                indegree[down] -= 1
                if indegree[down] == 0:
                    ready.append(down)
        return tuple(order)

    @cached_property
    def mapped_task_ids(self) -> frozenset[str]:
        """Tasks expanded at run time (dynamic task mapping); empty for most DAGs, which lets the
        scheduler skip the per-map-index work."""
        return frozenset(tid for tid, t in self.tasks.items() if t.extra.get("is_mapped"))

    @property
    def roots(self) -> list[str]:
        return [tid for tid, t in self.tasks.items() if not t.upstream]

    @property
    def leaves(self) -> list[str]:
        return [tid for tid, t in self.tasks.items() if not t.downstream]

    def all_downstream(self, task_id: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.tasks[task_id].downstream)
        while stack:
            tid = stack.pop()
            if tid not in seen:
                seen.add(tid)
                stack.extend(self.tasks[tid].downstream)
        return seen

    def all_upstream(self, task_id: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.tasks[task_id].upstream)
        while stack:
            tid = stack.pop()
            if tid not in seen:
                seen.add(tid)
                stack.extend(self.tasks[tid].upstream)
        return seen

    @property
    def start_date_dt(self) -> datetime | None:
        return _dt(self.start_date)

    @property
    def end_date_dt(self) -> datetime | None:
        return _dt(self.end_date)

    @property
    def dagrun_timeout_td(self) -> timedelta | None:
        return _td(self.dagrun_timeout)


def snapshot_hash(data: dict[str, Any]) -> str:
    """Stable SHA-256 of a snapshot dict (sorted keys, no whitespace)."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------ DAG -> snapshot dict
#: DAG-level callbacks recorded by name (their code stays in the DAG file).
DAG_CALLBACKS = ("on_success_callback", "on_failure_callback", "sla_miss_callback")
#: Task-level callbacks recorded by name.
TASK_CALLBACKS = (
    "on_execute_callback",
    "on_success_callback",
    "on_failure_callback",
    "on_retry_callback",
    "on_skipped_callback",
)

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _iso(value: Any) -> str | None:
    """ISO 8601 with offset; naive datetimes are taken as UTC (as Airflow does for start_date)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def jsonable(value: Any) -> Any:
    """A JSON-safe, deterministic rendering of a user value (params, extras).

    Sets are sorted, datetimes become ISO strings, durations seconds, and any
    other object its ``repr`` with memory addresses removed — so the same DAG
    file gives the same snapshot hash in every process.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, (datetime, date)):
        return _iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    return _ADDRESS.sub("", repr(value))


def _timezone_name(tz: Any) -> str:
    if tz is None:
        return "UTC"
    key = getattr(tz, "key", None) or getattr(tz, "name", None)
    if key:
        return str(key)
    text = str(tz)
    return "UTC" if text in ("UTC", "UTC+00:00", "utc") else text


_MISSING = object()


def _serialize_param(value: Any) -> dict[str, Any]:
    """Param -> {"default", "has_default", "schema", "description"}; plain values get an empty schema."""
    if not (hasattr(value, "schema") and hasattr(value, "description")):
        return {"default": jsonable(value), "has_default": True, "schema": {}, "description": None}
    default = getattr(value, "value", _MISSING)
    has_default = default is not _MISSING and type(default).__name__ not in ("_NotSet", "ArgNotSet", "NotSetType")
    return {
        "default": jsonable(default) if has_default else None,
        "has_default": has_default,
        "schema": jsonable(value.schema or {}),
        "description": value.description,
    }


def _serialize_params(params: Any) -> dict[str, Any]:
    if not params:
        return {}
    if hasattr(params, "get_param"):  # a ParamsDict resolves values on [], so ask for the Param
        items = [(name, params.get_param(name)) for name in params]
    else:
        items = list(dict(params).items())
    return {str(name): _serialize_param(p) for name, p in items}


def _topological_tasks(dag: Any) -> list[Any]:
    """Tasks with each after all its upstreams; ties keep the DAG's insertion order."""
    tasks = list(dag.task_dict.values())
    indegree = {t.task_id: len(t.upstream_task_ids) for t in tasks}
    by_id = {t.task_id: t for t in tasks}
    order: list[Any] = []
    ready = [t.task_id for t in tasks if indegree[t.task_id] == 0]
    position = {t.task_id: i for i, t in enumerate(tasks)}
    while ready:
        tid = ready.pop(0)
        order.append(by_id[tid])
        for down in sorted(by_id[tid].downstream_task_ids, key=position.__getitem__):
            indegree[down] -= 1
            if indegree[down] == 0:
                ready.append(down)
    if len(order) != len(tasks):
        stuck = sorted(tid for tid, n in indegree.items() if n > 0)
        raise ValueError(f"DAG {dag.dag_id!r} has a cycle among tasks {stuck}")
    return order


def _closure(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(edges[start])
    while stack:
        tid = stack.pop()
        if tid not in seen:
            seen.add(tid)
            stack.extend(edges[tid])
    return seen


def priority_weight_totals(tasks: list[Any]) -> dict[str, int]:
    """Effective priority per ``weight_rule``: own weight plus all downstream (or upstream) ones."""
    weights = {t.task_id: int(t.priority_weight or 0) for t in tasks}
    down = {t.task_id: sorted(t.downstream_task_ids) for t in tasks}
    up = {t.task_id: sorted(t.upstream_task_ids) for t in tasks}
    totals: dict[str, int] = {}
    for t in tasks:
        rule = str(_enum_value(getattr(t, "weight_rule", "downstream")) or "downstream")
        if rule == "absolute":
            totals[t.task_id] = weights[t.task_id]
        else:
            others = _closure(t.task_id, up if rule == "upstream" else down)
            totals[t.task_id] = weights[t.task_id] + sum(weights[o] for o in others)
    return totals


def _group_id(group: Any) -> str | None:
    if group is None:
        return None
    return getattr(group, "group_id", None)


def _email_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [e.strip() for e in value.replace(";", ",").split(",") if e.strip()]
    return [str(e) for e in value]


def serialize_task(task: Any, priority_weight_total: int) -> dict[str, Any]:
    """One operator as a :class:`TaskSnapshot` dict (no callables, durations in seconds)."""
    cls = type(task)
    if getattr(task, "is_mapped", False) and isinstance(getattr(task, "operator_class", None), type):
        cls = task.operator_class  # a MappedOperator runs instances of this class
    extra: dict[str, Any] = {"operator_class": f"{cls.__module__}.{cls.__qualname__}"}
    if getattr(task, "is_mapped", False):
        # Dynamic task mapping: how the scheduler counts the instances (definition/mapped.py).
        extra["is_mapped"] = True
        extra["expand_input"] = jsonable(task.expand_input.spec())
        group = getattr(task, "mapped_group", None)
        if group is not None:
            extra["mapped_group"] = group.group_id
    for name in ("ui_color", "ui_fgcolor", "task_display_name", "do_xcom_push", "multiple_outputs"):
        value = getattr(task, name, None)
        if value is not None:
            extra[name] = jsonable(value)
    # Operator-specific facts other parts read from the snapshot (e.g. ExternalTaskMarker's target).
    own_extra = getattr(task, "snapshot_extra", None)
    if callable(own_extra):
        extra.update({name: jsonable(value) for name, value in own_extra().items()})
    inlets = outlet_assets(getattr(task, "inlets", None) or ())
    if inlets:  # the assets it reads (lineage), drawn by the graph views
        extra["inlets"] = [jsonable(a.to_dict()) for a in inlets]
    optional: dict[str, Any] = {}
    outlets = outlet_assets(getattr(task, "outlets", None) or ())
    if outlets:  # only producers carry the key: other tasks' snapshots (and hashes) stay as they were
        optional["outlets"] = [jsonable(a.to_dict()) for a in outlets]
    aliases = outlet_aliases(getattr(task, "outlets", None) or ())
    if aliases:  # same: only tasks with alias outlets carry the key
        optional["outlet_aliases"] = [a.to_dict() for a in aliases]
    conn_ids = task_conn_ids(task)
    if conn_ids:  # same: tasks naming no connection keep their snapshot hash
        optional["conn_ids"] = conn_ids
    if getattr(task, "executor", None):  # same: only tasks naming an executor carry the key
        optional["executor"] = task.executor
    return {
        **optional,
        "task_id": task.task_id,
        "operator": getattr(task, "custom_operator_name", None) or cls.__name__,
        "upstream": sorted(task.upstream_task_ids),
        "downstream": sorted(task.downstream_task_ids),
        "trigger_rule": str(_enum_value(task.trigger_rule)),
        "retries": int(task.retries or 0),
        "retry_delay": _seconds(task.retry_delay) if task.retry_delay is not None else 300.0,
        "retry_exponential_backoff": bool(task.retry_exponential_backoff),
        "max_retry_delay": _seconds(task.max_retry_delay),
        "execution_timeout": _seconds(task.execution_timeout),
        "depends_on_past": bool(task.depends_on_past),
        "wait_for_downstream": bool(task.wait_for_downstream),
        "pool": task.pool or "default_pool",
        "pool_slots": int(task.pool_slots or 1),
        "priority_weight": int(task.priority_weight or 0),
        "weight_rule": str(_enum_value(task.weight_rule)),
        "priority_weight_total": priority_weight_total,
        "queue": task.queue or "default",
        "owner": str(task.owner),
        "start_date": _iso(task.start_date),
        "end_date": _iso(task.end_date),
        "template_fields": list(task.template_fields or ()),
        "task_group": _group_id(getattr(task, "task_group", None)),
        "doc_md": getattr(task, "doc_md", None),
        "email": _email_list(getattr(task, "email", None)),
        "email_on_failure": bool(getattr(task, "email_on_failure", True)),
        "email_on_retry": bool(getattr(task, "email_on_retry", True)),
        "is_setup": bool(getattr(task, "is_setup", False)),
        "is_teardown": bool(getattr(task, "is_teardown", False)),
        "on_failure_fail_dagrun": bool(getattr(task, "on_failure_fail_dagrun", False)),
        "callbacks": [name for name in TASK_CALLBACKS if getattr(task, name, None)],
        "extra": extra,
        "max_active_tis_per_dag": getattr(task, "max_active_tis_per_dag", None),
        "max_active_tis_per_dagrun": getattr(task, "max_active_tis_per_dagrun", None),
        "task_display_name": str(getattr(task, "task_display_name", None) or task.task_id),
    }


#: What a connection id looks like (Airflow allows letters, digits, ``_ . -``; at most 250 chars).
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")
#: Most connection ids recorded per task (a callable full of id-like words must not bloat snapshots).
MAX_CONN_IDS = 64


def task_conn_ids(task: Any) -> list[str]:
    """The connection ids a task names, sorted: attributes named ``conn_id``/``*_conn_id`` (a
    mapped task's partial arguments too) and, from its ``python_callable``'s code objects only
    (nested functions included), string constants that are valid connection ids.

    The execution API lets a remote try read only these (``[execution_api] connection_access``);
    the literal scan is what lets ``BaseHook.get_connection("my_db")`` inside a ``@task`` work.
    """
    named: set[str] = set()
    attributes = dict(getattr(task, "__dict__", {}))
    attributes.update(getattr(task, "partial_kwargs", None) or {})
    for name, value in attributes.items():
        if (name == "conn_id" or name.endswith("_conn_id")) and isinstance(value, str) and _is_conn_id(value):
            named.add(value)
    func = getattr(task, "python_callable", None) or attributes.get("python_callable")
    code = getattr(func, "__code__", None)
    literals = _code_conn_id_literals(code) if code is not None else frozenset()
    found = sorted(named) + sorted(literals - named)
    return sorted(found[:MAX_CONN_IDS])


@functools.lru_cache(maxsize=1024)
def _code_conn_id_literals(code: Any) -> frozenset[str]:
    """The connection-id-like string constants of ``code`` and the code objects nested in it;
    cached, as thousands of tasks often share one callable (a fan-out of one function)."""
    literals: set[str] = set()
    stack = [code]
    seen = 0
    while stack and seen < 1000:  # bounded walk: code objects nest, never cycle
        seen += 1
        current = stack.pop()
        names = set(current.co_names)  # an import's fromlist is a tuple of names, not connection ids
        for const in current.co_consts:
            # a literal list/tuple of strings is one tuple constant ("for conn in ('a', 'b')")
            for item in const if isinstance(const, (tuple, frozenset)) else (const,):
                if isinstance(item, str) and item not in names and _is_conn_id(item):
                    literals.add(item)
                elif hasattr(item, "co_consts"):
                    stack.append(item)
    return frozenset(literals)


def _is_conn_id(value: str) -> bool:
    return bool(_CONN_ID.fullmatch(value)) and not value.isdigit()


def _serialize_group(group: Any) -> dict[str, Any] | None:
    """Nested {group_id, tooltip, children}: children are task ids or nested groups."""
    if group is None:
        return None
    children: list[Any] = []
    for child in getattr(group, "children", {}).values():
        if hasattr(child, "children") and not hasattr(child, "task_id"):
            children.append(_serialize_group(child))
        else:
            children.append(child.task_id)
    return {
        "group_id": getattr(group, "group_id", None),
        "tooltip": getattr(group, "tooltip", "") or "",
        "children": children,
    }


def serialize_dag(dag: Any) -> dict[str, Any]:
    """A definition ``DAG`` as the :class:`DagSnapshot` JSON dict; deterministic for one file.

    Tasks come in topological order; durations are seconds; datetimes ISO 8601
    with offset. ``DagSnapshot.from_dict(serialize_dag(dag))`` round-trips.
    """
    tasks = _topological_tasks(dag)
    totals = priority_weight_totals(tasks)
    tags = getattr(dag, "tags", None) or []
    return {
        "format_version": FORMAT_VERSION,
        "dag_id": dag.dag_id,
        "fileloc": str(dag.fileloc),
        "timetable": jsonable(dag.timetable.serialize()),
        "timetable_summary": str(dag.timetable.summary),
        "tasks": [serialize_task(t, totals[t.task_id]) for t in tasks],
        "description": dag.description,
        "start_date": _iso(dag.start_date),
        "end_date": _iso(dag.end_date),
        "catchup": bool(dag.catchup),
        "missed_runs": _serialize_missed_runs(dag),
        "max_active_runs": int(dag.max_active_runs),
        "max_active_tasks": int(dag.max_active_tasks),
        "dagrun_timeout": _seconds(dag.dagrun_timeout),
        "is_paused_upon_creation": dag.is_paused_upon_creation,
        "tags": sorted({str(t) for t in tags}),
        "owners": sorted({str(t.owner) for t in tasks if t.owner}),
        "timezone": _timezone_name(getattr(dag, "timezone", None)),
        "params": _serialize_params(getattr(dag, "params", None)),
        "doc_md": getattr(dag, "doc_md", None),
        "callbacks": [name for name in DAG_CALLBACKS if getattr(dag, name, None)],
        "task_group": _serialize_group(getattr(dag, "task_group", None)),
        "dag_display_name": str(getattr(dag, "dag_display_name", None) or dag.dag_id),
        "edge_info": _serialize_edge_info(getattr(dag, "edge_info", None)),
        "max_consecutive_failed_dag_runs": int(getattr(dag, "max_consecutive_failed_dag_runs", 0) or 0),
    }


def _serialize_missed_runs(dag: Any) -> Any:
    """The DAG's missed-run policy in snapshot form (DAG-like objects without one follow ``catchup``)."""
    policy = getattr(dag, "missed_runs", None)
    if policy is None:
        return "all" if dag.catchup else "latest"
    return policy.serialize()


def _serialize_edge_info(edge_info: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Edge information sorted by upstream then downstream id (deterministic hashes)."""
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for up in sorted(edge_info or {}):
        downs = {down: jsonable(info) for down, info in sorted(edge_info[up].items()) if info}
        if downs:
            result[up] = downs
    return result
