"""``/api/v2/dags/{dag_id}/dagRuns`` writes: trigger, state and note, clear (one run or several),
delete, and the bulk update/delete. Every change is an action of :mod:`tradewind.schedule.actions`
(the same as the UI's and the CLI's); these routes only check Airflow 3's bodies and render.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import Field
from sqlalchemy.orm import Session

from tradewind.observe.api.errors import ApiError, bad_request
from tradewind.observe.api.routes.common import ALL, can, masked_fields, now
from tradewind.observe.api.v2.common import (
    API_V2,
    BulkBody,
    BulkHandler,
    BulkResponse,
    Model,
    acting,
    action_error,
    dag_or_404_v2,
    run_bulk,
    run_or_404_v2,
)
from tradewind.observe.api.v2.dag_runs import (
    RUN,
    RUNS,
    DAGRunCollectionResponse,
    DAGRunResponse,
    run_response,
    run_responses,
)
from tradewind.observe.api.v2.task_instances import TaskInstanceResponse, ti_responses
from tradewind.persist.queries.runs import get_run
from tradewind.schedule import actions

router = APIRouter(prefix=API_V2, tags=["DagRun"])


class DagRunMutableStates(str, Enum):
    """States a run may be set to by hand."""

    QUEUED = "queued"
    SUCCESS = "success"
    FAILED = "failed"


class TriggerDAGRunPostBody(Model):
    """Airflow 3's ``TriggerDAGRunPostBody``."""

    model_config = {"extra": "forbid"}

    dag_run_id: str | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    logical_date: datetime | None = None
    run_after: datetime | None = None
    conf: dict[str, Any] | None = None
    note: str | None = None
    partition_key: str | None = None


class DAGRunPatchBody(Model):
    """Airflow 3's ``DAGRunPatchBody``: a new state and/or the user's note."""

    model_config = {"extra": "forbid"}

    state: DagRunMutableStates | None = None
    note: str | None = Field(None, max_length=1000)


class DAGRunClearBody(Model):
    """Airflow 3's ``DAGRunClearBody``."""

    model_config = {"extra": "forbid"}

    dry_run: bool = True
    only_failed: bool = False
    only_new: bool = False
    run_on_latest_version: bool | None = None
    note: str | None = Field(None, max_length=1000)


class BulkDAGRunBody(Model):
    """One run of a bulk body (``dag_id`` needed when the path's is ``~``)."""

    model_config = {"extra": "forbid"}

    dag_id: str | None = None
    dag_run_id: str
    state: DagRunMutableStates | None = None
    note: str | None = Field(None, max_length=1000)


class BulkDAGRunClearBody(Model):
    """Airflow 3's ``BulkDAGRunClearBody`` (``POST /dags/{dag_id}/clearDagRuns``)."""

    model_config = {"extra": "forbid"}

    dag_runs: list[BulkDAGRunBody]
    dry_run: bool = True
    only_failed: bool = False
    only_new: bool = False
    note: str | None = Field(None, max_length=1000)
    run_on_latest_version: bool | None = None
    partition_key: str | None = None
    partition_date_start: datetime | None = None
    partition_date_end: datetime | None = None


class NewTaskResponse(Model):
    """A task of the latest version without an instance yet (Airflow 3's ``NewTaskResponse``)."""

    task_id: str
    task_display_name: str


class ClearTaskInstanceCollectionResponse(Model):
    """Airflow 3's ``ClearTaskInstanceCollectionResponse``: what a dry-run clear would clear."""

    task_instances: list[TaskInstanceResponse | NewTaskResponse]
    total_entries: int


# ------------------------------------------------------------------------------------ checks
def _refuse(field: str, value: Any, why: str) -> None:
    if value not in (None, False):
        raise bad_request(f"{field} cannot be given: {why}", field=field)


def _check_trigger(body: TriggerDAGRunPostBody) -> None:
    """A partition key cannot be honoured (Tradewind has no asset partitions): refused, not ignored."""
    _refuse("partition_key", body.partition_key, "Tradewind has no asset partitions")


def _check_clear(only_new: bool, run_on_latest_version: bool | None) -> None:
    _refuse("only_new", only_new, "Tradewind does not queue only the tasks a newer DAG version added")
    _refuse("run_on_latest_version", run_on_latest_version,
            "cleared instances run again with the version of their run")


# ------------------------------------------------------------------------------------ routes
@router.post(RUNS, response_model=DAGRunResponse, summary="Trigger Dag Run", operation_id="trigger_dag_run")
def trigger_dag_run(request: Request, dag_id: str, body: TriggerDAGRunPostBody,
                    principal: Any = can("dag_run", "create")) -> DAGRunResponse:
    _check_trigger(body)
    with acting(request, principal) as (session, actor):
        dag_or_404_v2(session, dag_id)
        run = actions.trigger_run(session, actor, dag_id, run_id=body.dag_run_id, logical_date=body.logical_date,
                                  conf=body.conf, note=body.note, data_interval_start=body.data_interval_start,
                                  data_interval_end=body.data_interval_end, run_after=body.run_after,
                                  config=request.app.state.config, now=now())
        session.flush()
        return run_response(session, run)


@router.patch(RUN, response_model=DAGRunResponse, summary="Patch Dag Run", operation_id="patch_dag_run")
def patch_dag_run(request: Request, dag_id: str, dag_run_id: str, body: DAGRunPatchBody,
                  update_mask: list[str] | None = Query(None),
                  principal: Any = can("dag_run", "edit")) -> DAGRunResponse:
    fields = masked_fields(update_mask, body.model_fields_set, ("state", "note"))
    with acting(request, principal) as (session, actor):
        run = run_or_404_v2(session, dag_id, dag_run_id)
        _update_run(session, actor, run.dag_id, run.run_id, body.state, body.note, fields)
        session.flush()
        return run_response(session, run)


def _update_run(session: Session, actor: Any, dag_id: str, run_id: str, state: DagRunMutableStates | None,
                note: str | None, fields: set[str]) -> None:
    if "state" in fields:
        if state is None:
            raise bad_request("state must be one of queued, success, failed", field="state")
        actions.set_run_state(session, actor, dag_id, run_id, state.value, now=now())
    if "note" in fields:
        actions.set_run_note(session, actor, dag_id, run_id, note, now=now())


@router.delete(RUN, status_code=204, response_class=Response, summary="Delete Dag Run", operation_id="delete_dag_run")
def delete_dag_run(request: Request, dag_id: str, dag_run_id: str,
                   principal: Any = can("dag_run", "delete")) -> Response:
    with acting(request, principal) as (session, actor):
        run_or_404_v2(session, dag_id, dag_run_id)
        actions.delete_run(session, actor, dag_id, dag_run_id, now=now())
    return Response(status_code=204)


@router.post(RUN + "/clear", response_model=ClearTaskInstanceCollectionResponse | DAGRunResponse,
             summary="Clear Dag Run", operation_id="clear_dag_run")
def clear_dag_run(request: Request, dag_id: str, dag_run_id: str, body: DAGRunClearBody,
                  principal: Any = can("dag_run", "edit")) -> ClearTaskInstanceCollectionResponse | DAGRunResponse:
    _check_clear(body.only_new, body.run_on_latest_version)
    with acting(request, principal) as (session, actor):
        run = run_or_404_v2(session, dag_id, dag_run_id)
        tis = actions.clear_run(session, actor, dag_id, dag_run_id, only_failed=body.only_failed,
                                dry_run=body.dry_run, now=now())
        if body.dry_run:
            return ClearTaskInstanceCollectionResponse(task_instances=ti_responses(request, session, tis),
                                                       total_entries=len(tis))
        if body.note is not None:
            actions.set_run_note(session, actor, dag_id, dag_run_id, body.note, now=now())
        session.flush()
        return run_response(session, run)


@router.post("/dags/{dag_id}/clearDagRuns", response_model=ClearTaskInstanceCollectionResponse | DAGRunCollectionResponse,
             summary="Clear Dag Runs", operation_id="clear_dag_runs")
def clear_dag_runs(request: Request, dag_id: str, body: BulkDAGRunClearBody,
                   principal: Any = can("dag_run", "edit")
                   ) -> ClearTaskInstanceCollectionResponse | DAGRunCollectionResponse:
    _check_clear(body.only_new, body.run_on_latest_version)
    why = "Tradewind has no asset partitions"
    for name in ("partition_key", "partition_date_start", "partition_date_end"):
        _refuse(name, getattr(body, name), why)
    with acting(request, principal) as (session, actor):
        runs = [run_or_404_v2(session, _dag_of(dag_id, item), item.dag_run_id) for item in body.dag_runs]
        tis = []
        for run in runs:
            tis += actions.clear_run(session, actor, run.dag_id, run.run_id, only_failed=body.only_failed,
                                     dry_run=body.dry_run, now=now())
            if not body.dry_run and body.note is not None:
                actions.set_run_note(session, actor, run.dag_id, run.run_id, body.note, now=now())
        if body.dry_run:
            return ClearTaskInstanceCollectionResponse(task_instances=ti_responses(request, session, tis),
                                                       total_entries=len(tis))
        session.flush()
        return DAGRunCollectionResponse(dag_runs=run_responses(session, runs), total_entries=len(runs))


def _dag_of(path_dag_id: str, item: BulkDAGRunBody) -> str:
    """The DAG of a run of a bulk body: the path's, or with ``~`` the item's own ``dag_id``."""
    if path_dag_id != ALL:
        if item.dag_id not in (None, path_dag_id):
            raise bad_request(f"run {item.dag_run_id!r} names DAG {item.dag_id!r}, not the path's {path_dag_id!r}",
                              field="dag_id")
        return path_dag_id
    if not item.dag_id:
        raise bad_request(f"run {item.dag_run_id!r} needs its dag_id when the path's dag_id is '~'", field="dag_id")
    return item.dag_id


# ------------------------------------------------------------------------------------ bulk
def _run_handler(session: Session, actor: Any, dag_id: str) -> BulkHandler:
    """Bulk update (state and/or note) and delete of runs, each through the actions."""

    def guarded(work: Any) -> Any:
        def call(*args: Any) -> None:
            try:
                work(*args)
            except actions.ActionError as exc:
                raise action_error(exc) from None
        return call

    def split(key: str) -> tuple[str, str]:
        """A key is the run id, or with the path's ``~`` "<dag_id>/<run_id>" (DAG ids hold no "/")."""
        if dag_id != ALL:
            return dag_id, key
        item_dag, _, run_id = key.partition("/")
        return item_dag, run_id

    def exists(_session: Session, key: str) -> bool:
        return get_run(session, *split(key)) is not None

    def create(_session: Session, item: BulkDAGRunBody) -> None:
        raise ApiError(405, "DAG runs cannot be created in bulk; trigger them with POST /api/v2/dags/{dag_id}/dagRuns")

    def update(_session: Session, item: BulkDAGRunBody, mask: list[str] | None) -> None:
        fields = masked_fields(mask, item.model_fields_set - {"dag_id", "dag_run_id"}, ("state", "note"),
                               ignored=("dag_id", "dag_run_id"))
        _update_run(session, actor, _dag_of(dag_id, item), item.dag_run_id, item.state, item.note,
                    fields - {"dag_id", "dag_run_id"})

    def delete(_session: Session, key: str) -> None:
        actions.delete_run(session, actor, *split(key), now=now())

    return BulkHandler(noun="dag runs", key_name="dag_run_id",
                       key_of=lambda item: item.dag_run_id if dag_id != ALL else f"{_dag_of(dag_id, item)}/{item.dag_run_id}",
                       exists=exists, create=guarded(create), update=guarded(update), delete=guarded(delete))


@router.patch(RUNS, response_model=BulkResponse, summary="Bulk Dag Runs", operation_id="bulk_dag_runs")
def bulk_dag_runs(request: Request, dag_id: str, body: BulkBody[BulkDAGRunBody],
                  principal: Any = can("dag_run", "edit")) -> BulkResponse:
    with acting(request, principal) as (session, actor):
        if dag_id != ALL:
            dag_or_404_v2(session, dag_id)
        return run_bulk(session, body, _run_handler(session, actor, dag_id))
