"""``/execution/v1``: the execution API — what a remote try (a Celery worker) calls instead of
opening the metadata database.

A worker holds no database credentials. It holds a token scoped to one try
(:mod:`tradewind.execute.tokens`): the **workload** token that came with the queued try
(claim, report lost) and, after the claim, a short-lived **try** token (every other call,
refreshed by each heartbeat answer in the ``Refreshed-API-Token`` header). Each route:

* accepts only ``Authorization: Bearer <execution token>`` of the scope it needs (a user's
  token or session never works here, and a try token never works on ``/api/v1``);
* checks that the try the request addresses (``key`` in the body) is the token's try (403);
* for writes about the try itself, checks that the instance is still running that try number
  (409: it was cleared, marked or failed as a zombie meanwhile);
* limits the data: XCom only of the token's own run (``include_prior_dates`` within the same
  DAG), Connections only those the task names (``[execution_api] connection_access``);
  Variables are readable and writable (Airflow's semantics); the reads sensors make of other
  runs (counts, states) are read-only and allowed.

The semantics live in one place: every route calls :class:`~tradewind.execute.db_store.DbTryStore`,
the same store the local executor's tries use. The wire format is JSON; the request and
result dataclasses have ``to_dict``/``from_dict``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from tradewind.execute.tokens import TRY_SCOPE, WORKLOAD_SCOPE, InvalidToken, issue_try_token, verify_token
from tradewind.observe.api.errors import ApiError
from tradewind.workloads import TaskKey

log = logging.getLogger(__name__)

PREFIX = "/execution/v1"
#: Header of each answer that carries a fresh try token (the client swaps its token for it).
REFRESHED_TOKEN_HEADER = "Refreshed-API-Token"
#: Errors of :meth:`TryStore.trigger_dag_run` the operator handles by class; sent by name.
TRIGGER_ERRORS = ("DagRunAlreadyExists", "TaskSkipped", "TradewindException")

router = APIRouter(prefix=PREFIX, tags=["Execution"], include_in_schema=False)


# --------------------------------------------------------------------------- authentication
def execution_token(*scopes: str) -> Any:
    """A dependency: the :class:`TaskKey` of a valid execution token of one of ``scopes``.

    It carries the ``__tradewind_permission__`` marker that ``create_app``'s guard check
    (:func:`tradewind.observe.api.auth.check_routes_protected`) looks for, so these routes count
    as guarded — by a try token instead of a user role.
    """

    def dependency(request: Request) -> TaskKey:
        header = request.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "the execution API needs 'Authorization: Bearer <execution token>' "
                                "(the token that came with the workload)", headers={"WWW-Authenticate": "Bearer"})
        app = request.app
        try:
            key = verify_token(app.state.config, token.strip(), scopes, secret=app.state.auth.secret_key)
        except InvalidToken as exc:
            raise ApiError(exc.status, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        request.state.try_key = key
        return key

    dependency.__tradewind_permission__ = ("execution", "+".join(scopes))  # type: ignore[attr-defined]
    dependency.__name__ = f"execution_token_{'_'.join(scopes)}"
    return Depends(dependency)


TRY_TOKEN = execution_token(TRY_SCOPE)


class KeyBody(BaseModel):
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    try_number: int = 1

    def task_key(self) -> TaskKey:
        return TaskKey(self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number)


def _addressed(token_key: TaskKey, body_key: KeyBody) -> TaskKey:
    """The try the request is about; 403 when it is not the token's try."""
    key = body_key.task_key()
    if key != token_key:
        raise ApiError(403, f"this token is for try {token_key.short()}, not {key.short()}")
    return key


# --------------------------------------------------------------------------- helpers
def _store(request: Request) -> Any:
    """The app's :class:`DbTryStore` (one per app; it holds no per-try state)."""
    store = getattr(request.app.state, "try_store", None)
    if store is None:
        from tradewind.execute.db_store import DbTryStore

        store = DbTryStore(request.app.state.db, request.app.state.config)
        request.app.state.try_store = store
    return store


def _refused(exc: Exception) -> ApiError:
    return ApiError(403, str(exc))


def _require_running(request: Request, key: TaskKey) -> None:
    """409 unless the instance is running exactly try ``key.try_number``."""
    from tradewind.schedule import transitions

    with request.app.state.db.read_scope() as session:
        ti = transitions.get_ti(session, key)
        state, try_number = (ti.state, ti.try_number) if ti is not None else (None, None)
    if state != "running" or try_number != key.try_number:
        now = "no such task instance" if state is None else f"it is {state} in try {try_number}"
        raise ApiError(409, f"{key.short()} is not running this try ({now}); nothing was recorded")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class _TaskConnIds:
    """Connection ids each stored task names (from its snapshot), by DAG version; a version
    never changes, so each is decoded once per API process."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._versions: OrderedDict[int, dict[str, tuple[str, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, db: Any, key: TaskKey) -> tuple[str, ...]:
        from sqlalchemy import select

        from tradewind.persist.models import DagRun, DagVersion
        from tradewind.schedule import transitions

        with db.read_scope() as session:
            ti = transitions.get_ti(session, key)
            if ti is None:
                return ()
            version_id = ti.dag_version_id  # the instance's pinned version, else its run's
            if version_id is None:
                version_id = session.scalar(select(DagRun.dag_version_id).where(
                    DagRun.dag_id == key.dag_id, DagRun.run_id == key.run_id))
            if version_id is None:
                return ()
            with self._lock:
                cached = self._versions.get(version_id)
            if cached is None:
                data = session.scalar(select(DagVersion.snapshot).where(DagVersion.id == version_id)) or {}
                cached = {t.get("task_id"): tuple(t.get("conn_ids") or ()) for t in data.get("tasks", ())}
                with self._lock:
                    self._versions[version_id] = cached
                    while len(self._versions) > self._size:
                        self._versions.popitem(last=False)
        return cached.get(key.task_id, ())


_CONN_IDS = _TaskConnIds()


# --------------------------------------------------------------------------- the try itself
class ClaimBody(BaseModel):
    key: KeyBody
    hostname: str = Field(max_length=1000)
    pid: int


@router.post("/try/claim")
def claim(request: Request, body: ClaimBody, token_key: TaskKey = execution_token(WORKLOAD_SCOPE)) -> dict[str, Any]:
    """queued -> running for exactly this try (the workload token's); the answer carries the try token."""
    key = _addressed(token_key, body.key)
    claimed = _store(request).claim(key, hostname=body.hostname, pid=body.pid)
    if claimed is None:
        return {"claimed": None, "token": None}
    app = request.app
    token = issue_try_token(app.state.config, key, secret=app.state.auth.secret_key)
    return {"claimed": claimed.to_dict(), "token": token}


class KeyOnly(BaseModel):
    key: KeyBody


@router.post("/try/heartbeat", status_code=204)
def heartbeat(request: Request, body: KeyOnly, token_key: TaskKey = TRY_TOKEN) -> Response:
    """Mark the try alive; 409 when the instance no longer runs it (the worker then stops it)."""
    key = _addressed(token_key, body.key)
    if not _store(request).heartbeat(key):
        raise ApiError(409, f"{key.short()} is no longer running this try (cleared, marked or failed meanwhile)")
    app = request.app
    fresh = issue_try_token(app.state.config, key, secret=app.state.auth.secret_key)
    return Response(status_code=204, headers={REFRESHED_TOKEN_HEADER: fresh})


class FinishBody(BaseModel):
    key: KeyBody
    request: dict[str, Any]


@router.post("/try/finish")
def finish(request: Request, body: FinishBody, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """Record the try's outcome (the retry policy applies on the server); returns the new state."""
    from tradewind.execute.try_store import FinishRequest

    return _record(request, body, token_key, FinishRequest, "finish")


@router.post("/try/defer")
def defer(request: Request, body: FinishBody, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """Park the try as deferred with its trigger."""
    from tradewind.execute.try_store import DeferRequest

    return _record(request, body, token_key, DeferRequest, "defer")


def _record(request: Request, body: FinishBody, token_key: TaskKey, cls: Any, method: str) -> dict[str, Any]:
    """The try's end (``finish``) or its deferral (``defer``), while it still runs that try."""
    from tradewind.execute.try_store import TryStoreRefused

    key = _addressed(token_key, body.key)
    parsed = _parse(cls, body.request)
    _require_running(request, key)
    try:
        state = getattr(_store(request), method)(key, parsed)
    except TryStoreRefused as exc:
        raise _refused(exc) from None
    return {"state": str(getattr(state, "value", state))}


def _parse(cls: Any, data: dict[str, Any]) -> Any:
    try:
        return cls.from_dict(data)
    except (TypeError, ValueError, KeyError) as exc:
        raise ApiError(422, f"'request' is not a valid {cls.__name__}: {exc}", field="request") from None


class SkipBody(BaseModel):
    key: KeyBody
    task_ids: list[str]


@router.post("/try/skip")
def skip_tasks(request: Request, body: SkipBody, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """Skip not-yet-started instances of ``task_ids`` in the try's own run (branching)."""
    key = _addressed(token_key, body.key)
    _require_running(request, key)
    return {"skipped": list(_store(request).skip_tasks(key, body.task_ids))}


@router.post("/try/reschedule-summary")
def reschedule_summary(request: Request, body: KeyOnly, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    key = _addressed(token_key, body.key)
    first, count = _store(request).reschedule_summary(key)
    return {"first_start": _iso(first), "count": count}


class LostBody(BaseModel):
    key: KeyBody
    reason: str = Field(max_length=4000)


@router.post("/try/lost")
def lost(request: Request, body: LostBody,
         token_key: TaskKey = execution_token(WORKLOAD_SCOPE, TRY_SCOPE)) -> dict[str, Any]:
    """The worker's supervisor saw the try's process die without recording an outcome: fail the
    try through the retry policy, as the scheduler fails a zombie — only while the instance is
    still queued or running that try number (a recorded outcome wins)."""
    from sqlalchemy import select

    from tradewind.parse.snapshot import TaskSnapshot
    from tradewind.persist.db import utcnow
    from tradewind.persist.models import DagRun, DagVersion
    from tradewind.schedule import transitions
    from tradewind.schedule.wakeup import notify_scheduler

    key = _addressed(token_key, body.key)
    db = request.app.state.db
    with db.session_scope() as session:
        ti = transitions.get_ti(session, key)
        if ti is None or ti.try_number != key.try_number or ti.state not in ("queued", "running"):
            return {"state": ti.state if ti is not None else None, "failed": False}
        task = None
        version_id = ti.dag_version_id
        if version_id is None:
            version_id = session.scalar(select(DagRun.dag_version_id).where(
                DagRun.dag_id == key.dag_id, DagRun.run_id == key.run_id))
        if version_id is not None:
            data = session.scalar(select(DagVersion.snapshot).where(DagVersion.id == version_id)) or {}
            stored = next((t for t in data.get("tasks", ()) if t.get("task_id") == key.task_id), None)
            task = TaskSnapshot.from_dict(stored) if stored is not None else None
        reason = f"the worker lost the try: {body.reason}"
        state = transitions.fail_zombie(session, ti, task=task, now=utcnow(), reason=reason)
    notify_scheduler(db)
    log.warning("%s reported lost by its worker: %s", key.short(), body.reason)
    return {"state": str(getattr(state, "value", state)), "failed": True}


class LogBody(BaseModel):
    key: KeyBody
    #: Byte offset in the worker's log file where ``data`` starts.
    offset: int = Field(ge=0)
    data: str


@router.post("/try/logs")
def ship_logs(request: Request, body: LogBody, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """Append a piece of the worker's log file to the try's log file on this server's disk.

    Idempotent by offset: a piece already (partly) stored is appended only past what is there;
    a piece starting beyond the end answers 409 with ``size`` so the worker resends from there.
    Allowed after the try finished (the last shipment follows the outcome).
    """
    from tradewind.execute.logs import log_path

    key = _addressed(token_key, body.key)
    path = log_path(request.app.state.config.logs_folder, key)
    data = body.data.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _log_lock(str(path)):
        with open(path, "ab") as handle:
            size = handle.tell()
            if body.offset > size:
                raise ApiError(409, f"log piece starts at byte {body.offset} but {size} bytes are stored; "
                                    f"resend from {size}", title="Log gap")
            fresh = data[size - body.offset:]
            if fresh:
                handle.write(fresh)
            size += len(fresh)
    return {"size": size}


_LOG_LOCKS: dict[str, threading.Lock] = {}
_LOG_LOCKS_GUARD = threading.Lock()


def _log_lock(path: str) -> threading.Lock:
    with _LOG_LOCKS_GUARD:
        if len(_LOG_LOCKS) > 10_000:
            _LOG_LOCKS.clear()
        return _LOG_LOCKS.setdefault(path, threading.Lock())


# --------------------------------------------------------------------------- XCom
class XComBody(BaseModel):
    key: KeyBody
    dag_id: str
    run_id: str
    task_ids: list[str]
    xcom_key: str
    include_prior_dates: bool = False


@router.post("/xcom/values")
def xcom_values(request: Request, body: XComBody, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """XCom values of any run of any DAG, for the try the token is for (Airflow 3's execution API
    lets a running task read every DAG's XComs: ``xcom_pull(dag_id=..., include_prior_dates=True)``
    is how @asset functions read their upstream asset's value). Read only: a try writes XComs
    only through its own finish. The answer is the database store's, so ``include_prior_dates``
    means the same as under the local executor. Map indexes are strings in JSON."""
    key = _addressed(token_key, body.key)
    values = _store(request).xcom_values(key, body.dag_id, body.run_id, body.task_ids, body.xcom_key,
                                         include_prior_dates=body.include_prior_dates)
    return {"values": {task_id: {str(mi): v for mi, v in by_index.items()} for task_id, by_index in values.items()}}


# --------------------------------------------------------------------------- other runs (read-only)
class RunsQuery(BaseModel):
    """The filters of the sensors' reads of other runs (``ExternalTaskSensor`` and friends)."""

    dag_id: str
    map_index: int | None = None
    task_ids: list[str] | None = None
    task_group_id: str | None = None
    logical_dates: list[datetime] | None = None
    run_ids: list[str] | None = None
    states: list[str] | None = None


@router.post("/runs/ti-count")
def ti_count(request: Request, body: RunsQuery, _key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    count = _store(request).ti_count(body.dag_id, map_index=body.map_index, task_ids=body.task_ids,
                                     task_group_id=body.task_group_id, logical_dates=body.logical_dates,
                                     run_ids=body.run_ids, states=body.states)
    return {"count": count}


@router.post("/runs/task-states")
def task_states(request: Request, body: RunsQuery, _key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    states = _store(request).task_states(body.dag_id, map_index=body.map_index, task_ids=body.task_ids,
                                         task_group_id=body.task_group_id, logical_dates=body.logical_dates,
                                         run_ids=body.run_ids)
    return {"states": states}


@router.post("/runs/dr-count")
def dr_count(request: Request, body: RunsQuery, _key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    count = _store(request).dr_count(body.dag_id, logical_dates=body.logical_dates, run_ids=body.run_ids,
                                     states=body.states)
    return {"count": count}


class RunStateQuery(BaseModel):
    dag_id: str
    run_id: str


@router.post("/runs/state")
def dagrun_state(request: Request, body: RunStateQuery, _key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    return {"state": _store(request).dagrun_state(body.dag_id, body.run_id)}


class DagQuery(BaseModel):
    dag_id: str


@router.post("/dags/task-ids")
def dag_task_ids(request: Request, body: DagQuery, _key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    found = _store(request).dag_task_ids(body.dag_id)
    return {"task_ids": sorted(found) if found is not None else None}


class AssetQuery(BaseModel):
    asset: dict[str, Any]


@router.post("/assets/events")
def asset_events(request: Request, body: AssetQuery, _key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    events = _store(request).asset_events(body.asset)
    return {"events": [_jsonable_event(e) for e in events]}


def _jsonable_event(event: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in event.items()}


class TriggerBody(BaseModel):
    key: KeyBody
    request: dict[str, Any]


@router.post("/runs/trigger")
def trigger_dag_run(request: Request, body: TriggerBody, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """Create or reset a run of another DAG (``TriggerDagRunOperator``). The operator's own
    errors come back as 422 with ``title`` naming the class the client raises again."""
    from tradewind.definition.exceptions import TradewindException
    from tradewind.execute.try_store import TriggerRunRequest

    key = _addressed(token_key, body.key)
    trigger_request = _parse(TriggerRunRequest, body.request)
    _require_running(request, key)
    try:
        triggered = _store(request).trigger_dag_run(key, trigger_request)
    except TradewindException as exc:
        name = type(exc).__name__ if type(exc).__name__ in TRIGGER_ERRORS else "TradewindException"
        raise ApiError(422, str(exc), title=name, field="request") from None
    data = asdict(triggered)
    data["logical_date"] = _iso(triggered.logical_date)
    return {"triggered": data}


# --------------------------------------------------------------------------- Variables, Connections
@router.get("/variables/{name}")
def variable_get(request: Request, name: str, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """A Variable's value (``value`` is null when there is none: the client applies the default)."""
    return {"key": name, "value": _store(request).variable_get(token_key, name)}


class VariableBody(BaseModel):
    key: KeyBody
    value: str
    description: str | None = None


@router.put("/variables/{name}", status_code=204)
def variable_set(request: Request, name: str, body: VariableBody, token_key: TaskKey = TRY_TOKEN) -> Response:
    key = _addressed(token_key, body.key)
    _require_running(request, key)
    _store(request).variable_set(key, name, body.value, body.description)
    return Response(status_code=204)


@router.delete("/variables/{name}")
def variable_delete(request: Request, name: str, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    _require_running(request, token_key)
    return {"deleted": bool(_store(request).variable_delete(token_key, name))}


@router.get("/connections/{conn_id}")
def connection_get(request: Request, conn_id: str, token_key: TaskKey = TRY_TOKEN) -> dict[str, Any]:
    """A Connection the task was given (``connection`` is null when there is none).

    ``[execution_api] connection_access = named`` (default): only the ids the task names
    (its snapshot's ``conn_ids``); ``all``: any. Refused before looking it up, so a refusal
    does not tell whether the connection exists.
    """
    from tradewind.execute.try_store import TryStoreRefused

    config = request.app.state.config
    access = config.get("execution_api", "connection_access").strip().lower()
    if access not in ("named", "all"):
        raise ApiError(500, f"[execution_api] connection_access must be 'named' or 'all', not {access!r}")
    if access == "named":
        granted = _CONN_IDS.of(request.app.state.db, token_key)
        if conn_id not in granted:
            names = ", ".join(granted) or "none"
            raise ApiError(403, f"task {token_key.task_id!r} of DAG {token_key.dag_id!r} was not given connection "
                                f"{conn_id!r} (it names: {names}); name it in the task (a *conn_id argument or "
                                f"a literal in its callable) or set [execution_api] connection_access = all")
    try:
        connection = _store(request).connection_get(token_key, conn_id)
    except TryStoreRefused as exc:
        raise _refused(exc) from None
    return {"connection": connection.to_dict() if connection is not None else None}
