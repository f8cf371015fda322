"""The one door between a running try and the outside world: :class:`TryStore`.

Everything a try reads or writes beyond its own process — claiming the try, heartbeats, XCom,
Variables, Connections, the outcome, a deferral, the reads sensors make of other runs — goes
through a ``TryStore``. Two implementations exist:

* :class:`~tradewind.execute.db_store.DbTryStore` talks to the metadata database directly. The
  local and in-process executors and ``dags test`` use it; the API server's execution endpoints
  use it too, on the worker's behalf.
* :class:`~tradewind.execute.api_client.ApiTryStore` talks HTTP to those execution endpoints
  (``/execution/v1``) with a token scoped to the one try. Celery workers use it, so a worker holds
  no database credentials and can only touch its own try.

So the runner (:mod:`tradewind.execute.runner`) has one code path wherever it runs. Every value
crossing the store is plain data: the request dataclasses below have ``to_dict``/``from_dict``
(their JSON form on the wire), and results are JSON types, datetimes or the dataclasses of
:mod:`tradewind.execute.prepare` (which serialise the same way).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tradewind.workloads import TaskKey
from tradewind.states import TaskInstanceState

if TYPE_CHECKING:
    from tradewind.definition.connection import Connection
    from tradewind.execute.prepare import ClaimedTry


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def outlet_extra_key(name: str, uri: str) -> str:
    """An asset's key in :attr:`FinishRequest.outlet_extras`: ``["name", "uri"]`` as JSON text
    (a name or uri may hold any character, so no separator would be safe)."""
    return json.dumps([name, uri])


@dataclass(frozen=True)
class FinishRequest:
    """How a try ended, with everything that commits together with the outcome."""

    #: "success" | "failed" | "skipped" | "up_for_reschedule"
    outcome: str
    error: str | None = None
    #: False: a failure goes straight to failed (``AirflowFailException``), retries or not.
    allow_retry: bool = True
    rendered_fields: dict[str, Any] | None = None
    #: XCom key -> value (JSON types), written in the same transaction as the outcome.
    xcoms: dict[str, Any] = field(default_factory=dict)
    #: ``up_for_reschedule`` only: when the sensor wants to poke again.
    reschedule_date: datetime | None = None
    #: A mapped instance's ``map_index_template`` label (None: leave unset).
    map_index_label: str | None = None
    #: The task's outlet assets (``Asset.to_dict()``) and the extras set through
    #: ``context["outlet_events"]`` (:func:`outlet_extra_key` -> extra); recorded only on success.
    outlets: list[dict[str, Any]] = field(default_factory=list)
    outlet_extras: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Assets added through the task's outlet aliases (``{"alias", "asset", "extra"}`` each,
    #: ``OutletEventAccessors.alias_events()``); recorded only on success.
    outlet_alias_events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reschedule_date"] = _iso(self.reschedule_date)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FinishRequest":
        data = dict(data)
        data["reschedule_date"] = _dt(data.get("reschedule_date"))
        return cls(**data)


@dataclass(frozen=True)
class DeferRequest:
    """A try that waits for a trigger (``self.defer(...)``), in its storage form."""

    classpath: str
    trigger_kwargs: dict[str, Any]
    next_method: str
    next_kwargs: dict[str, Any] | None
    timeout_at: datetime | None
    xcoms: dict[str, Any] = field(default_factory=dict)
    rendered_fields: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timeout_at"] = _iso(self.timeout_at)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeferRequest":
        data = dict(data)
        data["timeout_at"] = _dt(data.get("timeout_at"))
        return cls(**data)


@dataclass(frozen=True)
class TriggerRunRequest:
    """``TriggerDagRunOperator``'s request to create (or reset) a run of another DAG."""

    trigger_dag_id: str
    dag_run_id: str | None = None
    logical_date: datetime | None = None
    conf: dict[str, Any] | None = None
    reset_dag_run: bool = False
    skip_when_already_exists: bool = False
    #: The run's note (a reset run's note is replaced by it); None leaves the note alone.
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["logical_date"] = _iso(self.logical_date)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TriggerRunRequest":
        data = dict(data)
        data["logical_date"] = _dt(data.get("logical_date"))
        return cls(**data)


@dataclass(frozen=True)
class TriggeredRun:
    """What :meth:`TryStore.trigger_dag_run` did: the run's id and logical date, whether it
    already existed and was reset, and whether its DAG is paused (it then waits)."""

    run_id: str
    logical_date: datetime | None
    reset: bool = False
    paused: bool = False


class TryStore(Protocol):
    """Reads and writes of one running try (see the module docstring).

    Errors: a refused request (not this try's business, a bad value) raises
    :class:`TryStoreRefused` with the reason; an unreachable store raises ``OSError`` or the
    database's own error after the implementation's retries.
    """

    # ---------------------------------------------------------------- the try itself
    def claim(self, key: TaskKey, *, hostname: str, pid: int) -> "ClaimedTry | None":
        """queued -> running for exactly this try number (one transaction), clearing the
        instance's XComs unless it resumes a deferral; None when it is not queued for this try."""

    def heartbeat(self, key: TaskKey) -> bool:
        """Mark the try alive now; False when the instance no longer runs this try."""

    def finish(self, key: TaskKey, request: FinishRequest) -> TaskInstanceState:
        """Record the outcome (applying the task's retry policy from its stored snapshot), the
        XComs, the map-index label and, on success, the outlet asset events; wake the scheduler.
        Returns the instance's new state."""

    def defer(self, key: TaskKey, request: DeferRequest) -> TaskInstanceState:
        """Store the trigger and park the instance as deferred (XComs and rendered fields too)."""

    def skip_tasks(self, key: TaskKey, task_ids: Iterable[str]) -> list[str]:
        """Skip the not-yet-started instances of ``task_ids`` in the try's run (branching)."""

    def reschedule_summary(self, key: TaskKey) -> tuple[datetime | None, int]:
        """(start of this try's first rescheduled poke or None, reschedules so far)."""

    # ---------------------------------------------------------------- XCom
    def xcom_values(self, key: TaskKey, dag_id: str, run_id: str, task_ids: list[str], xcom_key: str, *,
                    include_prior_dates: bool = False) -> dict[str, dict[int, Any]]:
        """``{task_id: {map_index: value}}`` of ``xcom_key`` in run ``run_id`` of ``dag_id``
        (``include_prior_dates``: for tasks without a value there, the latest earlier run's)."""

    # ---------------------------------------------------------------- other runs (sensors)
    def ti_count(self, dag_id: str, *, map_index: int | None = None, task_ids: Iterable[str] | None = None,
                 task_group_id: str | None = None, logical_dates: Iterable[datetime] | None = None,
                 run_ids: Iterable[str] | None = None, states: Iterable[str] | None = None) -> int: ...

    def task_states(self, dag_id: str, *, map_index: int | None = None, task_ids: Iterable[str] | None = None,
                    task_group_id: str | None = None, logical_dates: Iterable[datetime] | None = None,
                    run_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]: ...

    def dr_count(self, dag_id: str, *, logical_dates: Iterable[datetime] | None = None,
                 run_ids: Iterable[str] | None = None, states: Iterable[str] | None = None) -> int: ...

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None: ...

    def dag_task_ids(self, dag_id: str) -> set[str] | None: ...

    def asset_events(self, asset: dict[str, Any]) -> list[dict[str, Any]]:
        """Events of one asset (``Asset.to_dict()``), oldest first, as ``AssetEventInfo`` dicts
        (``context["inlet_events"]``)."""

    def trigger_dag_run(self, key: TaskKey, request: TriggerRunRequest) -> TriggeredRun:
        """Create or reset a run of another DAG (``TriggerDagRunOperator``); raises
        ``DagRunAlreadyExists``/``TaskSkipped``/``TradewindException`` as the operator documents."""

    # ---------------------------------------------------------------- Variables, Connections
    def variable_get(self, key: TaskKey, name: str) -> str | None: ...

    def variable_set(self, key: TaskKey, name: str, value: str, description: str | None) -> None: ...

    def variable_delete(self, key: TaskKey, name: str) -> bool: ...

    def connection_get(self, key: TaskKey, conn_id: str) -> "Connection | None":
        """The connection (None when there is none); a remote try may be refused one its task
        was not given (:class:`TryStoreRefused`)."""

    # ---------------------------------------------------------------- state stores (Airflow 3.3)
    # Values cross as JSON text. Task keys are those of the try's own task instance (any try
    # of it); ``expires_at`` None never expires. ``asset`` is ``{"name", "uri"}`` of an active
    # asset (a bad key or an unknown asset: :class:`TryStoreRefused`).
    def task_state_get(self, key: TaskKey, state_key: str) -> str | None: ...

    def task_state_set(self, key: TaskKey, state_key: str, value: str, expires_at: datetime | None) -> None: ...

    def task_state_delete(self, key: TaskKey, state_key: str) -> None: ...

    def task_state_clear(self, key: TaskKey) -> None: ...

    def asset_state_get(self, key: TaskKey, asset: dict[str, Any], state_key: str) -> str | None: ...

    def asset_state_set(self, key: TaskKey, asset: dict[str, Any], state_key: str, value: str) -> None: ...

    def asset_state_delete(self, key: TaskKey, asset: dict[str, Any], state_key: str) -> None: ...

    def asset_state_clear(self, key: TaskKey, asset: dict[str, Any]) -> None: ...


class TryStoreRefused(PermissionError):
    """The store refused the request: it is not this try's business (another run's XCom, a
    connection the task was not given) or the try is no longer running. The message says which."""
