"""The fast SQL paths of a try -- claim, resume, heartbeat, outcome -- as prebuilt Core
statements, and :data:`FAST_PATHS`: the from-states every conditional UPDATE that writes a state
without loading the row may list, derived from the graphs in :mod:`tradewind.states`
(:func:`~tradewind.states.from_states` raises at import if a path asks for a move the graph
forbids). :mod:`tradewind.schedule.transitions` runs them; nothing else writes state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, insert, null, select, update

from tradewind.persist.models import TaskInstance, TaskInstanceTry
from tradewind.states import TI_TRANSITIONS, TRY_TRANSITIONS, TaskInstanceState, from_states

TI = TaskInstanceState


#: Try-row states of a try that is not over: it gave its slot back and will be claimed again with the
#: same try number (the instance's ``try_number`` was stepped back by one, as Airflow does, so
#: :func:`queue_ti` queues that same number); the claim reuses the row instead of inserting one.
RESUMABLE_TRY_STATES: tuple[str, ...] = from_states([TI.RUNNING], TRY_TRANSITIONS)


@dataclass(frozen=True)
class FastPath:
    """A conditional UPDATE that writes a state without loading the row: it moves rows in
    ``from_values`` to one of ``targets`` of ``graph`` (the closure test checks every one)."""

    graph: str
    targets: frozenset[TaskInstanceState]
    from_values: tuple[str, ...]


def _fast(graph: str, targets: Iterable[TaskInstanceState], only: Iterable[TaskInstanceState] | None = None) -> FastPath:
    targets = frozenset(targets)
    return FastPath(graph, targets, from_states(targets, GRAPHS[graph], only=only))


#: The graphs by name: a task instance's and a try row's.
GRAPHS = {"task_instance": TI_TRANSITIONS, "try": TRY_TRANSITIONS}
_TRY_ENDS = (TI.SUCCESS, TI.FAILED, TI.SKIPPED)
#: Every fast path's allowed from-states, derived from the graphs (``from_states`` raises at
#: import if a path asks for a move the graph forbids).
FAST_PATHS: dict[str, FastPath] = {
    "claim": _fast("task_instance", [TI.RUNNING]),
    "claim_resume_try": _fast("try", [TI.RUNNING]),
    # The runner's outcome: only the running instance of that try (queued -> failed is the
    # scheduler's move for a try that never started, not an outcome).
    "outcome": _fast("task_instance", [TI.SUCCESS, TI.FAILED, TI.UP_FOR_RETRY, TI.SKIPPED], only=[TI.RUNNING]),
    "outcome_try": _fast("try", _TRY_ENDS),
    "unqueue": _fast("task_instance", [TI.SCHEDULED], only=[TI.QUEUED]),
    "defer": _fast("task_instance", [TI.DEFERRED]),
    "defer_try": _fast("try", [TI.DEFERRED]),
    "reschedule": _fast("task_instance", [TI.UP_FOR_RESCHEDULE]),
    "reschedule_try": _fast("try", [TI.UP_FOR_RESCHEDULE]),
    "zombie_try": _fast("try", [TI.FAILED]),
    # Branching skips instances not started yet.
    "skip": _fast("task_instance", [TI.SKIPPED],
                  only=[TI.NONE, TI.SCHEDULED, TI.UP_FOR_RETRY, TI.UP_FOR_RESCHEDULE]),
}
#: A try heartbeats while its outcome could still be recorded.
HEARTBEAT_STATES = FAST_PATHS["outcome"].from_values


# ------------------------------------------------------------ the try's statements
# A try runs the same few statements (claim, heartbeat, finish). They are built once, on
# the tables with bound parameters, and executed as Core statements: building an ORM
# statement costs ~0.2 ms and executing it through the ORM ~0.07 ms, a prebuilt Core one
# ~0.03 ms — per statement, per try, in every try process.
TI_TABLE = TaskInstance.__table__
TRY_TABLE = TaskInstanceTry.__table__
#: Bound-parameter names for a key; not column names, so they never become SET values.
KEY_PARAM_NAMES = ("k_dag_id", "k_run_id", "k_task_id", "k_map_index", "k_try_number")


def key_params(key: Any, **extra: Any) -> dict[str, Any]:
    params = dict(zip(KEY_PARAM_NAMES, (key.dag_id, key.run_id, key.task_id, key.map_index, key.try_number)))
    params.update(extra)
    return params


def key_where(table: Any, *, try_number: bool = True) -> list[Any]:
    c = table.c
    where = [c.dag_id == bindparam(KEY_PARAM_NAMES[0]), c.run_id == bindparam(KEY_PARAM_NAMES[1]), c.task_id == bindparam(KEY_PARAM_NAMES[2]),
             c.map_index == bindparam(KEY_PARAM_NAMES[3])]
    if try_number:
        where.append(c.try_number == bindparam(KEY_PARAM_NAMES[4]))
    return where


@cache
def claim_stmt() -> Any:
    return (
        update(TI_TABLE)
        .where(*key_where(TI_TABLE), state_in(TI_TABLE, "claim"))
        .values(state=TI.RUNNING.value, start_date=bindparam("p_now"), end_date=None, duration=None,
                hostname=bindparam("p_hostname"), pid=bindparam("p_pid"), last_heartbeat_at=bindparam("p_now"),
                note=None)
        .returning(TI_TABLE.c.max_tries, TI_TABLE.c.start_date, TI_TABLE.c.operator, TI_TABLE.c.dag_version_id,
                   TI_TABLE.c.next_method, TI_TABLE.c.next_kwargs)
    )


@cache
def insert_try_stmt() -> Any:
    return insert(TRY_TABLE).values(
        dag_id=bindparam(KEY_PARAM_NAMES[0]), run_id=bindparam(KEY_PARAM_NAMES[1]), task_id=bindparam(KEY_PARAM_NAMES[2]), map_index=bindparam(KEY_PARAM_NAMES[3]),
        try_number=bindparam(KEY_PARAM_NAMES[4]), state=TI.RUNNING.value, start_date=bindparam("p_now"),
        hostname=bindparam("p_hostname"), pid=bindparam("p_pid"), operator=bindparam("p_operator"),
    )


@cache
def resume_try_stmt() -> Any:
    """A try that gave its slot back (sensor reschedule, deferral) and now runs on: its row is reused."""
    return (
        update(TRY_TABLE)
        .where(*key_where(TRY_TABLE), state_in(TRY_TABLE, "claim_resume_try"))
        .values(state=TI.RUNNING.value, end_date=None, duration=None,
                hostname=bindparam("p_hostname"), pid=bindparam("p_pid"))
    )


@cache
def heartbeat_stmt() -> Any:
    return (
        update(TI_TABLE)
        .where(*key_where(TI_TABLE), TI_TABLE.c.state.in_(HEARTBEAT_STATES))
        .values(last_heartbeat_at=bindparam("p_now"))
    )


@cache
def outcome_read_stmt() -> Any:
    """The instance's state/try/max_tries/start and this try's row id and start, in one read."""
    on = [getattr(TRY_TABLE.c, col) == getattr(TI_TABLE.c, col) for col in ("dag_id", "run_id", "task_id", "map_index")]
    return (
        select(TI_TABLE.c.state, TI_TABLE.c.try_number, TI_TABLE.c.max_tries, TI_TABLE.c.start_date,
               TRY_TABLE.c.id.label("try_id"), TRY_TABLE.c.start_date.label("try_start"))
        .select_from(TI_TABLE.outerjoin(TRY_TABLE, and_(*on, TRY_TABLE.c.try_number == bindparam(KEY_PARAM_NAMES[4]))))
        .where(*key_where(TI_TABLE, try_number=False))
    )


@cache
def outcome_ti_stmt() -> Any:
    return (
        update(TI_TABLE)
        .where(*key_where(TI_TABLE), state_in(TI_TABLE, "outcome"))
        .values(state=bindparam("p_state"), end_date=bindparam("p_now"), duration=bindparam("p_duration"),
                next_retry_at=bindparam("p_retry_at"), note=bindparam("p_note"),
                # The try is over: a deferral it resumed from is done (a retry starts in execute).
                next_method=None, next_kwargs=null(), trigger_id=None, trigger_timeout=None)
    )


@cache
def finish_try_stmt(columns: tuple[str, ...]) -> Any:
    """UPDATE of one try row (by id) setting ``columns`` from the ``p_<column>`` parameters,
    while the row is not finished (a finished try row never changes again)."""
    return (update(TRY_TABLE).where(TRY_TABLE.c.id == bindparam("p_id"), state_in(TRY_TABLE, "outcome_try"))
            .values({c: bindparam(f"p_{c}") for c in columns}))


def state_in(table: Any, path: str) -> Any:
    """``table.state IN (...)``: the from-states :data:`FAST_PATHS` allows for ``path``."""
    values = FAST_PATHS[path].from_values
    return table.c.state == values[0] if len(values) == 1 else table.c.state.in_(values)
