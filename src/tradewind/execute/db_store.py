""":class:`DbTryStore`: the :class:`~tradewind.execute.try_store.TryStore` over the metadata database.

The local and in-process executors, ``dags test``/``tasks test`` and the fork server's tries
use it directly; the API server's execution endpoints use it on a remote worker's behalf. It
is the one implementation of what a try may read and write, so both paths share the
semantics: the atomic claim, the retry policy applied at the finish, the XCom, branching,
sensor and ``TriggerDagRunOperator`` rules.

Transactions per try are the runner's budget: ``claim`` is one read plus one short write,
``finish`` one write (a failure first reads the task's retry policy, usually from the
decoded-snapshot cache, as before), each heartbeat one write.

This is the server side of the try store: the claim's SQL (:func:`claim`, :func:`load_run`, the
decoded-snapshot cache :func:`_stored_task`) lives here, beside the store, while what the
claim answers with (:class:`~tradewind.execute.prepare.ClaimedTry`) belongs to the worker side,
which imports no database code.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from tradewind.definition.assets import AssetKey
from tradewind.definition.exceptions import DagRunAlreadyExists, TaskSkipped, TradewindException
from tradewind.execute.prepare import ClaimedTry, RunInfo
from tradewind.execute.try_store import (
    DeferRequest,
    FinishRequest,
    TriggeredRun,
    TriggerRunRequest,
    TryStoreRefused,
)
from tradewind.parse.snapshot import TaskSnapshot
from tradewind.persist.db import Database, utcnow
from tradewind.persist.models import DagModel, DagRun, DagVersion, TaskInstance
from tradewind.persist.queries.assets import record_asset_events
from tradewind.persist.queries.xcom import xcom_clear, xcom_get_many, xcom_set
from tradewind.workloads import TaskKey
from tradewind.schedule.mapping import set_rendered_map_index
from tradewind.schedule.transitions import (
    FinishedTry,
    claim_try_row,
    defer_try,
    finish_try,
    heartbeat,
    reschedule_try,
    set_rendered_fields,
)
from tradewind.schedule.transitions import skip_tasks as _skip_tasks
from tradewind.schedule.wakeup import notify_scheduler
from tradewind.states import DagRunState, DagRunType, TaskInstanceState

if TYPE_CHECKING:
    from tradewind.definition.connection import Connection

#: ``dag_run.triggered_by`` of runs created by ``TriggerDagRunOperator`` (Airflow 3's name).
TRIGGERED_BY_OPERATOR = "operator"

#: Outcomes :meth:`DbTryStore.finish` records.
_FINISH_OUTCOMES = ("success", "failed", "skipped", "up_for_reschedule")

#: Claimed tries whose DAG version this store remembers (so a failure's retry policy needs
#: no read of the instance row); bounded, as an API server's store serves many tries.
_MAX_REMEMBERED_CLAIMS = 1024


def _asset_key_of(text: str) -> AssetKey:
    try:
        name, uri = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise TryStoreRefused(f"outlet_extras key {text!r} is not an asset key ('[\"name\", \"uri\"]'): {exc}") from None
    return AssetKey(str(name), str(uri))


def write_xcoms(session: Any, key: TaskKey, values: dict[str, Any], now: datetime) -> None:
    """Store the values pushed by try ``key`` (in the transaction that records its outcome)."""
    for xkey, value in values.items():
        xcom_set(session, key.dag_id, key.run_id, key.task_id, key.map_index, xkey, value, now)


class DbTryStore:
    """Every :class:`~tradewind.execute.try_store.TryStore` call as a short transaction on ``db``.

    ``config`` supplies the Fernet key for connections (loaded on the first connection read,
    so a try that reads none pays nothing). Safe to share between threads (the API server);
    the only state kept is a bounded cache of claimed tries' DAG versions, which saves a failed
    try's finish one read and is never needed for correctness.
    """

    def __init__(self, db: Database, config: Any) -> None:
        self.db = db
        self.config = config
        self._fernet: Any = None
        #: key -> (DAG version id, snapshot hash) of tries claimed through this store.
        self._versions: OrderedDict[TaskKey, tuple[int | None, str | None]] = OrderedDict()
        self._versions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DbTryStore({self.db.engine.url.render_as_string(hide_password=True)!r})"

    # ---------------------------------------------------------------- the try itself
    def claim(self, key: TaskKey, *, hostname: str, pid: int) -> ClaimedTry | None:
        claimed = claim(self.db, key, hostname=hostname, pid=pid, now=utcnow())
        if claimed is not None:
            with self._versions_lock:
                self._versions[key] = (claimed.version_id, claimed.snapshot_hash)
                while len(self._versions) > _MAX_REMEMBERED_CLAIMS:
                    self._versions.popitem(last=False)
        return claimed

    def heartbeat(self, key: TaskKey) -> bool:
        with self.db.session_scope() as session:
            return heartbeat(session, key, utcnow())

    def finish(self, key: TaskKey, request: FinishRequest) -> TaskInstanceState:
        if request.outcome not in _FINISH_OUTCOMES:
            raise TryStoreRefused(f"finish of {key.short()}: outcome must be one of {', '.join(_FINISH_OUTCOMES)}, "
                                  f"not {request.outcome!r}")
        if request.outcome == "up_for_reschedule" and request.reschedule_date is None:
            raise TryStoreRefused(f"finish of {key.short()}: outcome 'up_for_reschedule' needs a reschedule_date")
        extras = {_asset_key_of(text): dict(extra) for text, extra in request.outlet_extras.items()}
        # Only a failure consults the task's retry policy (read before the write transaction).
        snapshot = self._retry_policy(key) if request.outcome == "failed" else None
        self._forget(key)
        refused = None
        with self.db.session_scope() as session:
            now = utcnow()
            if request.outcome == "up_for_reschedule":
                assert request.reschedule_date is not None
                state = reschedule_try(session, key, reschedule_date=request.reschedule_date, now=now,
                                       rendered_fields=request.rendered_fields or None)
            else:
                finished = finish_try(
                    session, key, request.outcome, task=snapshot, now=now, error=request.error,  # type: ignore[arg-type]
                    allow_retry=request.allow_retry, rendered_fields=request.rendered_fields or None,
                )
                state = finished.state
                refused = _refusal(key, finished)
            if refused is None:  # refused: only the try's own open row, if any, was closed
                self._record_results(session, key, request, extras, state, now)
                if state == TaskInstanceState.SUCCESS and _clear_on_success(self.config):
                    from tradewind.persist.queries.state_store import clear_task_state

                    clear_task_state(session, _ti_of(key))
        if refused is not None:
            raise TryStoreRefused(refused)
        # Committed: wake the scheduler now, not when the try's process has been reaped (the
        # executor's exit event still follows, for slots and crash detection).
        notify_scheduler(self.db)
        return state

    @staticmethod
    def _record_results(session: Any, key: TaskKey, request: FinishRequest, extras: dict[AssetKey, dict],
                        state: TaskInstanceState, now: datetime) -> None:
        """What a recorded finish commits besides the states: XComs, the map label, asset events."""
        write_xcoms(session, key, request.xcoms, now)
        if request.map_index_label is not None:
            set_rendered_map_index(session, key.dag_id, key.run_id, key.task_id, key.map_index,
                                   request.map_index_label)
        if state == TaskInstanceState.SUCCESS and (request.outlets or request.outlet_alias_events):
            # Asset events commit with the success (Airflow: only a success updates outlets).
            record_asset_events(session, request.outlets, extras=extras, alias_events=request.outlet_alias_events,
                                source=(key.dag_id, key.task_id, key.run_id, key.map_index), now=now)

    def _forget(self, key: TaskKey) -> None:
        with self._versions_lock:
            self._versions.pop(key, None)

    def _retry_policy(self, key: TaskKey) -> TaskSnapshot:
        """The task's stored snapshot (from the DAG version the instance runs), else defaults."""
        version_id, digest = self._versions.get(key, (None, None))
        with self.db.read_scope() as session:
            if version_id is None:
                version_id, digest = self._instance_version(session, key)
            stored = _stored_task(session, version_id, key.task_id, digest) if version_id is not None else None
        return stored if stored is not None else TaskSnapshot(task_id=key.task_id, operator="unknown")

    @staticmethod
    def _instance_version(session: Any, key: TaskKey) -> tuple[int | None, str | None]:
        """The DAG version of the instance (its pinned one, else its run's) and the version's hash."""
        ti, dr, dv = TaskInstance.__table__.c, DagRun.__table__.c, DagVersion.__table__.c
        row = session.execute(
            select(ti.dag_version_id, dr.dag_version_id.label("run_version"))
            .select_from(TaskInstance.__table__.join(DagRun.__table__, (dr.dag_id == ti.dag_id) & (dr.run_id == ti.run_id)))
            .where(ti.dag_id == key.dag_id, ti.run_id == key.run_id, ti.task_id == key.task_id,
                   ti.map_index == key.map_index)
        ).one_or_none()
        if row is None:
            return None, None
        version_id = row.dag_version_id if row.dag_version_id is not None else row.run_version
        if version_id is None:
            return None, None
        return version_id, session.scalar(select(dv.snapshot_hash).where(dv.id == version_id))

    def defer(self, key: TaskKey, request: DeferRequest) -> TaskInstanceState:
        self._forget(key)
        with self.db.session_scope() as session:
            now = utcnow()
            write_xcoms(session, key, request.xcoms, now)
            if request.rendered_fields:
                set_rendered_fields(session, key, request.rendered_fields)
            return defer_try(session, key, classpath=request.classpath, trigger_kwargs=request.trigger_kwargs,
                             next_method=request.next_method, next_kwargs=request.next_kwargs,
                             timeout_at=request.timeout_at, now=now)

    def skip_tasks(self, key: TaskKey, task_ids: Iterable[str]) -> list[str]:
        with self.db.session_scope() as session:
            return _skip_tasks(session, key.dag_id, key.run_id, list(task_ids), utcnow())

    def reschedule_summary(self, key: TaskKey) -> tuple[datetime | None, int]:
        from tradewind.persist.queries.reschedules import reschedule_summary

        with self.db.read_scope() as session:
            return reschedule_summary(session, key.dag_id, key.run_id, key.task_id, key.map_index, key.try_number)

    # ---------------------------------------------------------------- XCom
    def xcom_values(self, key: TaskKey, dag_id: str, run_id: str, task_ids: list[str], xcom_key: str, *,
                    include_prior_dates: bool = False) -> dict[str, dict[int, Any]]:
        found: dict[str, dict[int, Any]] = {}
        with self.db.read_scope() as session:  # reads never queue behind writers
            for (tid, mi), value in xcom_get_many(session, dag_id, run_id, task_ids, xcom_key).items():
                found.setdefault(tid, {})[mi] = value
            missing = [t for t in task_ids if t not in found]
            if include_prior_dates and missing:
                _load_prior(session, dag_id, run_id, missing, xcom_key, found, asking=key)
        return found

    # ---------------------------------------------------------------- other runs (sensors)
    def ti_count(self, dag_id: str, *, map_index: int | None = None, task_ids: Iterable[str] | None = None,
                 task_group_id: str | None = None, logical_dates: Iterable[datetime] | None = None,
                 run_ids: Iterable[str] | None = None, states: Iterable[str] | None = None) -> int:
        from tradewind.persist.queries.cross_run import ti_count

        with self.db.read_scope() as session:
            return ti_count(session, dag_id, map_index=map_index, task_ids=task_ids, task_group_id=task_group_id,
                            logical_dates=logical_dates, run_ids=run_ids, states=states)

    def task_states(self, dag_id: str, *, map_index: int | None = None, task_ids: Iterable[str] | None = None,
                    task_group_id: str | None = None, logical_dates: Iterable[datetime] | None = None,
                    run_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
        from tradewind.persist.queries.cross_run import task_states

        with self.db.read_scope() as session:
            return task_states(session, dag_id, map_index=map_index, task_ids=task_ids,
                               task_group_id=task_group_id, logical_dates=logical_dates, run_ids=run_ids)

    def dr_count(self, dag_id: str, *, logical_dates: Iterable[datetime] | None = None,
                 run_ids: Iterable[str] | None = None, states: Iterable[str] | None = None) -> int:
        from tradewind.persist.queries.cross_run import dr_count

        with self.db.read_scope() as session:
            return dr_count(session, dag_id, logical_dates=logical_dates, run_ids=run_ids, states=states)

    def dagrun_state(self, dag_id: str, run_id: str) -> str | None:
        from tradewind.persist.queries.cross_run import dagrun_state

        with self.db.read_scope() as session:
            return dagrun_state(session, dag_id, run_id)

    def dag_task_ids(self, dag_id: str) -> set[str] | None:
        from tradewind.persist.queries.cross_run import dag_task_ids

        with self.db.read_scope() as session:
            return dag_task_ids(session, dag_id)

    def asset_events(self, asset: dict[str, Any]) -> list[dict[str, Any]]:
        from tradewind.persist.queries.assets import list_events

        if isinstance(asset, dict) and isinstance(asset.get("alias"), str):  # an AssetAlias inlet
            with self.db.read_scope() as session:
                return [info.as_dict() for info in reversed(list_events(session, alias=asset["alias"]))]
        try:
            key = AssetKey(asset["name"], asset["uri"])
        except (KeyError, TypeError):
            raise TryStoreRefused(f"asset_events needs an asset as {{'name': ..., 'uri': ...}} or an alias as "
                                  f"{{'alias': ...}}, got {asset!r}") from None
        with self.db.read_scope() as session:
            return [info.as_dict() for info in reversed(list_events(session, key=key))]

    def trigger_dag_run(self, key: TaskKey, request: TriggerRunRequest) -> TriggeredRun:
        from tradewind.persist.queries.dags import latest_snapshot
        from tradewind.schedule.runs import RunCreationError, create_manual_run

        dag_id = request.trigger_dag_id
        now = utcnow()
        reset = False
        with self.db.session_scope() as session:
            found = latest_snapshot(session, dag_id)
            if found is None:
                raise TradewindException(
                    f"cannot trigger DAG {dag_id!r}: no such DAG (not parsed yet, deleted, or its file has an "
                    "import error; see `tradewind dags list` and `tradewind dags list-import-errors`)")
            version, snapshot = found
            logical = request.logical_date
            run_id = request.dag_run_id or DagRunType.MANUAL.run_id_for((logical or now).isoformat())
            existing = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one_or_none()
            if existing is not None:
                logical = _reset_or_refuse(session, request, existing, now)
                reset = True
                if request.note is not None:
                    _set_reset_run_note(session, existing, request.note, now)
            else:
                try:
                    run = create_manual_run(session, snapshot, version.id, run_id=run_id, logical_date=logical,
                                            conf=request.conf, note=request.note, now=now)
                except RunCreationError as exc:
                    raise TradewindException(f"cannot trigger DAG {dag_id!r}: {exc}") from None
                run.triggered_by = TRIGGERED_BY_OPERATOR
                logical = run.logical_date
            paused = session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id))
        notify_scheduler(self.db)  # committed: a running scheduler starts the run now
        return TriggeredRun(run_id=run_id, logical_date=logical, reset=reset, paused=bool(paused))

    # ---------------------------------------------------------------- Variables, Connections
    def variable_get(self, key: TaskKey, name: str) -> str | None:
        from tradewind.persist.queries.variables import get_variable

        with self.db.read_scope() as session:
            return get_variable(session, name)

    def variable_set(self, key: TaskKey, name: str, value: str, description: str | None) -> None:
        from tradewind.persist.queries.variables import set_variable

        with self.db.session_scope() as session:
            set_variable(session, name, value, description)

    def variable_delete(self, key: TaskKey, name: str) -> bool:
        from tradewind.persist.queries.variables import delete_variable

        with self.db.session_scope() as session:
            return delete_variable(session, name)

    def connection_get(self, key: TaskKey, conn_id: str) -> "Connection | None":
        from tradewind.persist.queries.connections import get_connection

        if self._fernet is None:
            from tradewind.persist.fernet import fernet_from_config

            self._fernet = fernet_from_config(self.config)
        with self.db.session_scope() as session:
            return get_connection(session, conn_id, self._fernet)

    # ---------------------------------------------------------------- state stores (Airflow 3.3)
    def task_state_get(self, key: TaskKey, state_key: str) -> str | None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.read_scope() as session:
            return q.get_task_state(session, _ti_of(key), state_key, utcnow())

    def task_state_set(self, key: TaskKey, state_key: str, value: str, expires_at: datetime | None) -> None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.session_scope() as session:
            q.set_task_state(session, _ti_of(key), state_key, value, expires_at, utcnow())

    def task_state_delete(self, key: TaskKey, state_key: str) -> None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.session_scope() as session:
            q.delete_task_state(session, _ti_of(key), state_key)

    def task_state_clear(self, key: TaskKey) -> None:
        from tradewind.persist.queries import state_store as q

        with self.db.session_scope() as session:
            q.clear_task_state(session, _ti_of(key))

    def asset_state_get(self, key: TaskKey, asset: dict[str, Any], state_key: str) -> str | None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.read_scope() as session:
            return q.get_asset_state(session, q.asset_id_of(session, asset), state_key)

    def asset_state_set(self, key: TaskKey, asset: dict[str, Any], state_key: str, value: str) -> None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.session_scope() as session:
            q.set_asset_state(session, q.asset_id_of(session, asset), state_key, value, utcnow())

    def asset_state_delete(self, key: TaskKey, asset: dict[str, Any], state_key: str) -> None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.session_scope() as session:
            q.delete_asset_state(session, q.asset_id_of(session, asset), state_key)

    def asset_state_clear(self, key: TaskKey, asset: dict[str, Any]) -> None:
        from tradewind.persist.queries import state_store as q

        with _state_errors(), self.db.session_scope() as session:
            q.clear_asset_state(session, q.asset_id_of(session, asset))


def _clear_on_success(config: Any) -> bool:
    """``[state_store] clear_on_success``: a successful instance's task state keys go with the
    success (Airflow 3.3; default False, keeping them for inspection)."""
    getbool = getattr(config, "getbool", None)
    return bool(getbool("state_store", "clear_on_success")) if getbool is not None else False


def _ti_of(key: TaskKey) -> tuple[str, str, str, int]:
    return (key.dag_id, key.run_id, key.task_id, key.map_index)


@contextmanager
def _state_errors() -> Iterator[None]:
    """A state store's bad input (key, asset) as the store's refusal, as the protocol says."""
    from tradewind.persist.queries.state_store import StateStoreError

    try:
        yield
    except StateStoreError as exc:
        raise TryStoreRefused(str(exc)) from None


def _refusal(key: TaskKey, finished: FinishedTry) -> str | None:
    """Why a finish recorded nothing the runner asked for, or None when it counts: the instance
    moved on to another try (cleared and queued again, retried), or someone else already ended
    this try (the scheduler failed it as a zombie). A clear that left the try number alone
    lets the try close its own row, as before; the runner is then told the instance's state."""
    if finished.instance_moved or (finished.current and finished.row_closed):
        return None
    if not finished.current:
        return f"{key.short()} is not running this try (the instance moved on to another try); nothing was recorded"
    return f"{key.short()} was already ended by someone else (it is {finished.state.value}); nothing was recorded"


def _load_prior(session: Any, dag_id: str, run_id: str, task_ids: Sequence[str], key: str,
                found: dict[str, dict[int, Any]], asking: TaskKey | None = None) -> None:
    """For ``task_ids`` without a value in the run: the value of the latest run (by logical date,
    this run's or earlier) that has one. Another DAG has no run of the asking run's id: then
    "earlier" is up to the asking run's logical date (Airflow's cross-DAG pull, which @asset
    functions use to read the upstream asset's value)."""
    from tradewind.persist.models import XCom

    current = session.scalar(select(DagRun.logical_date).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if current is None and asking is not None and asking.dag_id != dag_id:
        current = session.scalar(select(DagRun.logical_date).where(DagRun.dag_id == asking.dag_id,
                                                                   DagRun.run_id == asking.run_id))
    if current is None:
        return
    stmt = (
        select(XCom.task_id, XCom.map_index, XCom.value, DagRun.logical_date)
        .join(DagRun, (DagRun.dag_id == XCom.dag_id) & (DagRun.run_id == XCom.run_id))
        .where(
            XCom.dag_id == dag_id, XCom.task_id.in_(list(task_ids)), XCom.key == key,
            DagRun.logical_date <= current,
        )
        .order_by(DagRun.logical_date.desc())
    )
    newest: dict[str, datetime] = {}
    for tid, mi, text, when in session.execute(stmt):
        if tid in newest and newest[tid] != when:
            continue  # only the most recent run that has a value counts
        newest[tid] = when
        found.setdefault(tid, {})[mi] = json.loads(text)


def _set_reset_run_note(session: Any, run: DagRun, note: str, now: datetime) -> None:
    """The operator's note replaces the reset run's note (a note too long fails the try, named)."""
    from tradewind.persist.queries.notes import NoteTooLong, set_run_note

    try:
        set_run_note(session, run.id, note, user=None, now=now)
    except NoteTooLong as exc:
        raise TradewindException(f"cannot set the note of DAG {run.dag_id!r} run {run.run_id!r}: {exc}") from None


def _reset_or_refuse(session: Any, request: TriggerRunRequest, run: DagRun, now: datetime) -> datetime | None:
    """Clear the existing run (``reset_dag_run``), else skip or fail; returns its logical date."""
    from tradewind.schedule.transitions import clear_task_instances

    where = f"DAG {request.trigger_dag_id!r} already has a run with run_id {run.run_id!r}"
    if request.reset_dag_run:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == run.dag_id,
                                                         TaskInstance.run_id == run.run_id)).all()
        clear_task_instances(session, tis, now=now, dag_run_state="queued")
        return run.logical_date
    if request.skip_when_already_exists:
        raise TaskSkipped(f"{where} and skip_when_already_exists=True")
    raise DagRunAlreadyExists(f"{where} (set reset_dag_run=True to run it again, or "
                              "skip_when_already_exists=True to skip)")


# --------------------------------------------------------------------------- the claim
# The database side of a try's preparation (the worker side is tradewind.execute.prepare):
# the reads a claim answers with, the claim transaction, and the decoded-snapshot cache a
# failed try's retry policy is read from.

def claim(db: Database, key: TaskKey, *, hostname: str, pid: int, now: datetime) -> ClaimedTry | None:
    """Read what the try needs, then claim it (one write transaction); None if not queued for it.

    The reads (run, previous run) run first, in a read-only transaction: on SQLite every
    writer waits for the one holding the write lock, so the claim must hold it as briefly
    as possible — and the first database work of a freshly forked try process is the slow
    one (new connection, pages copied on write), better done outside. The task's stored
    snapshot is not read here: only a failed try needs it (retry policy), and decoding a
    wide DAG's snapshot costs more than the rest of a no-op try's reads.
    """
    with db.read_scope() as session:
        row, prev = _run_rows(session, key.dag_id, key.run_id)
        run = RunInfo.of(row)
        asset_events = _triggering_asset_events(session, run)
    with db.session_scope() as session:
        ti = claim_try_row(session, key, hostname=hostname, pid=pid, now=now)
        if ti is None:
            return None
        # Airflow semantics: a new try starts without the XComs of earlier tries; a try
        # resuming after a deferral keeps what it pushed before deferring.
        if ti.next_method is None:
            xcom_clear(session, key.dag_id, key.run_id, key.task_id, key.map_index)
        max_tries, start_date, operator, ti_version = ti.max_tries, ti.start_date, ti.operator, ti.dag_version_id
        next_method, next_kwargs = ti.next_method, ti.next_kwargs
    version_id, digest = run.dag_version_id, row.snapshot_hash
    if ti_version is not None and ti_version != version_id:  # the instance is pinned to another version
        version_id, digest = ti_version, None
    return ClaimedTry(
        key=key, max_tries=max_tries, start_date=start_date, operator=operator,
        run=run, prev_success=prev, version_id=version_id, snapshot_hash=digest,
        next_method=next_method, next_kwargs=next_kwargs, triggering_asset_events=asset_events,
    )


#: DAG version id -> (snapshot hash, {task_id: stored task dict}). A stored version never
#: changes, so a process running many tries (``dags test``) decodes each snapshot once; the
#: hash is still compared, as a deleted version's id may be reused by SQLite.
_VERSION_TASKS: "OrderedDict[int, tuple[str, dict[str, dict[str, Any]]]]" = OrderedDict()
_MAX_CACHED_VERSIONS = 32


def _stored_task(session: Any, version_id: int, task_id: str, digest: str | None = None) -> TaskSnapshot | None:
    """The task's snapshot in DAG version ``version_id`` (None if not stored).

    ``digest``: the version's snapshot hash when the caller has already read it.
    """
    if digest is None:
        digest = session.scalar(select(DagVersion.snapshot_hash).where(DagVersion.id == version_id))
    cached = _VERSION_TASKS.get(version_id)
    if cached is None or cached[0] != digest:
        data = session.scalar(select(DagVersion.snapshot).where(DagVersion.id == version_id))
        if not data:
            return None
        cached = (digest, {t.get("task_id"): t for t in data.get("tasks", ())})
        _VERSION_TASKS[version_id] = cached
        while len(_VERSION_TASKS) > _MAX_CACHED_VERSIONS:
            _VERSION_TASKS.popitem(last=False)
    _VERSION_TASKS.move_to_end(version_id)
    task = cached[1].get(task_id)
    return TaskSnapshot.from_dict(task) if task is not None else None



def _triggering_asset_events(session: Any, run: RunInfo) -> tuple[Any, ...]:
    """The events linked to an asset-triggered run (no query for any other run type)."""
    if run.run_type != DagRunType.ASSET_TRIGGERED.value:
        return ()
    from tradewind.persist.queries.assets import events_for_run

    return tuple(info.to_event() for info in events_for_run(session, run.dag_id, run.run_id))



#: The DAG run columns :class:`RunInfo` holds (rows, not ORM objects: a try reads, never writes, them).
#: Table columns, not ORM attributes: the statements below then skip the ORM's compile step.
_RUN_COLUMNS = tuple(getattr(DagRun.__table__.c, name) for name in (
    "dag_id", "run_id", "run_type", "logical_date", "data_interval_start", "data_interval_end", "run_after",
    "start_date", "conf", "external_trigger", "dag_version_id", "state", "end_date",
))
_RUN = DagRun.__table__


@cache
def _run_stmt() -> Any:
    """The run, with its DAG version's snapshot hash (to validate the decoded-snapshot cache).

    Built once: every try runs it, and building a statement costs more than running it.
    """
    return (
        select(*_RUN_COLUMNS, DagVersion.__table__.c.snapshot_hash)
        .select_from(_RUN.outerjoin(DagVersion.__table__, DagVersion.__table__.c.id == _RUN.c.dag_version_id))
        .where(_RUN.c.dag_id == bindparam("p_dag_id"), _RUN.c.run_id == bindparam("p_run_id"))
    )


@cache
def _prev_success_stmt() -> Any:
    return (
        select(*_RUN_COLUMNS)
        .where(
            _RUN.c.dag_id == bindparam("p_dag_id"),
            _RUN.c.state == DagRunState.SUCCESS.value,
            _RUN.c.logical_date < bindparam("p_logical_date"),
        )
        .order_by(_RUN.c.logical_date.desc())
        .limit(1)
    )


def _run_rows(session: Any, dag_id: str, run_id: str) -> tuple[Any, RunInfo | None]:
    """The run's row (with ``snapshot_hash``) and the previous successful run (by logical date)."""
    run = session.execute(_run_stmt(), {"p_dag_id": dag_id, "p_run_id": run_id}).one_or_none()
    if run is None:
        raise LookupError(f"DAG run {dag_id}/{run_id} does not exist")
    prev = None
    if run.logical_date is not None:
        prev = session.execute(_prev_success_stmt(), {"p_dag_id": dag_id, "p_logical_date": run.logical_date}).first()
    return run, (RunInfo.of(prev) if prev is not None else None)


def load_run(session: Any, dag_id: str, run_id: str) -> tuple[RunInfo, RunInfo | None]:
    """The run and the previous successful run of the DAG (by logical date)."""
    run, prev = _run_rows(session, dag_id, run_id)
    return RunInfo.of(run), prev
