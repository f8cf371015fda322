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

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

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
    callbacks: tuple[str, ...] = ()  # names of callbacks set: "on_failure_callback", ...
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TaskSnapshot":
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        for name in ("upstream", "downstream", "template_fields", "email", "callbacks"):
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
