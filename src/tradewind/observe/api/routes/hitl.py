"""Human-in-the-loop requests: list them, read one, answer one (Airflow 3.1's ``hitlDetails``).

Both path families Airflow 3.1.x has used are served, under ``/api/v2`` (what Airflow 3 clients
call) and ``/api/v1`` (the rest of our API)::

    GET   /hitlDetails/                                       list (?dag_id=&dag_run_id=&task_id=...)
    GET   /hitlDetails/{dag_id}/{dag_run_id}/{task_id}[/{map_index}]
    PATCH /hitlDetails/{dag_id}/{dag_run_id}/{task_id}[/{map_index}]   {"chosen_options", "params_input"}
    GET   /dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails     list ('~' for every DAG / run)
    GET   /dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails
    PATCH (same path)
    GET   .../hitlDetails/tries/{try_number}

Bodies are Airflow's: ``HITLDetail`` (the request, its response and the task instance),
``HITLDetailCollection`` (``hitl_details``, ``total_entries``) and, for a PATCH,
``HITLDetailResponse`` (``responded_by``, ``responded_at``, ``chosen_options``, ``params_input``).
The embedded task instance is each API's own: ``/api/v1``'s task-instance body, or under
``/api/v2`` Airflow 3's ``TaskInstanceResponse`` (one try's ``TaskInstanceHistoryResponse`` for
``.../tries/{try_number}``, Airflow's ``HITLDetailHistory``), see :mod:`..v2.hitl_bodies`.
Reading needs ``task_instance`` read; answering needs ``task_instance`` edit, and when the
request names ``assigned_users``, being one of them (else 403). The answer resumes the task at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from tradewind.observe.api import v1_models as m
from tradewind.observe.api.errors import ApiError, bad_request, conflict, not_found, unprocessable
from tradewind.observe.api.pagination import Page, page_params
from tradewind.observe.api.routes.common import (
    ALL,
    audit,
    can,
    iso,
    now,
    read,
    ti_or_404,
    user_of,
    wake_scheduler,
    write,
)
from tradewind.observe.api.v2 import hitl_bodies
from tradewind.persist.queries import hitl as hitl_queries
from tradewind.persist.queries.task_instances import get_ti

PREFIXES = ("/api/v2", "/api/v1")
TI_HITL = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails"


class UpdateHITLDetailPayload(BaseModel):
    """Airflow's body of a response: at least one option, and the form's values."""

    chosen_options: list[str] = Field(min_length=1)
    params_input: dict[str, Any] = Field(default_factory=dict)


def _user(row_id: str | None, name: str | None) -> dict[str, str] | None:
    return None if row_id is None and name is None else {"id": row_id or "", "name": name or ""}


def detail_dict(row: hitl_queries.HITLRow, ti: dict[str, Any] | None) -> dict[str, Any]:
    """Airflow's ``HITLDetail`` of one request, plus ``try_number``, ``timeout_at`` and ``pending``."""
    d = row.detail
    return {
        "task_instance": ti,
        "options": d.options, "subject": d.subject, "body": d.body, "defaults": d.defaults,
        "multiple": d.multiple, "params": d.params or {}, "assigned_users": d.assigned_users or [],
        "created_at": iso(d.created_at),
        "responded_by_user": _user(d.responded_by_user_id, d.responded_by_user_name),
        "responded_at": iso(d.responded_at), "chosen_options": d.chosen_options,
        "params_input": d.params_input or {}, "response_received": d.responded_at is not None,
        "try_number": d.try_number, "timeout_at": iso(d.timeout_at), "pending": row.pending,
    }


def _ti_dicts(session: Any, rows: list[hitl_queries.HITLRow]) -> list[dict[str, Any] | None]:
    from tradewind.observe.api.routes.task_instances import ti_dicts

    tis = [get_ti(session, r.detail.dag_id, r.detail.run_id, r.detail.task_id, r.detail.map_index) for r in rows]
    present = [ti for ti in tis if ti is not None]
    dicts = iter(ti_dicts(session, present)) if present else iter(())
    return [next(dicts) if ti is not None else None for ti in tis]


def _key(row: hitl_queries.HITLRow) -> tuple[str, str, str, int]:
    d = row.detail
    return d.dag_id, d.run_id, d.task_id, d.map_index


@dataclass(frozen=True)
class _Flavor:
    """What differs between ``/api/v1`` and ``/api/v2``: the body models and the embedded task
    instance of each request (``instances``) or of one try's request (``one_try``)."""

    detail: type
    history: type
    collection: type
    instances: Callable[[Request, Any, list[hitl_queries.HITLRow]], list[Any]]
    one_try: Callable[[Request, Any, hitl_queries.HITLRow], Any]


FLAVORS = {
    "/api/v1": _Flavor(m.HITLDetailOut, m.HITLDetailOut, m.HITLDetailCollection,
                       instances=lambda request, session, rows: _ti_dicts(session, rows),
                       one_try=lambda request, session, row: _ti_dicts(session, [row])[0]),
    "/api/v2": _Flavor(hitl_bodies.HITLDetail, hitl_bodies.HITLDetailHistory, hitl_bodies.HITLDetailCollection,
                       instances=lambda request, session, rows: hitl_bodies.task_instance_bodies(
                           request, session, [_key(r) for r in rows]),
                       one_try=lambda request, session, row: hitl_bodies.try_body(
                           request, session, _key(row), row.detail.try_number)),
}


def _one(request: Request, flavor: _Flavor, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
         try_number: int | None = None, *, history: bool = False) -> dict[str, Any]:
    """One request (of try ``try_number``, else the latest); ``history``: with that try's instance."""
    with read(request) as session:
        ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
        row = hitl_queries.latest_for_ti(session, dag_id, dag_run_id, task_id, map_index, try_number=try_number)
        if row is None:
            tried = "" if try_number is None else f" (try {try_number})"
            raise not_found(f"Human-in-the-loop detail does not exist for task '{task_id}'{tried} in DAG run "
                            f"'{dag_run_id}' of DAG '{dag_id}'", title="Human-in-the-loop detail not found")
        ti = flavor.one_try(request, session, row) if history else flavor.instances(request, session, [row])[0]
        return detail_dict(row, ti)


def _answer(request: Request, principal: Any, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
            body: UpdateHITLDetailPayload) -> dict[str, Any]:
    from tradewind.schedule import hitl as hitl_action

    name = user_of(principal) or "anonymous"
    user = {"id": name, "name": name}
    status_of = {hitl_action.HITLNotFound: 404, hitl_action.HITLConflict: 409, hitl_action.HITLForbidden: 403,
                 hitl_action.HITLInvalid: 400}
    try:
        with write(request) as session:
            ti_or_404(session, dag_id, dag_run_id, task_id, map_index)
            detail = hitl_action.respond(session, dag_id, dag_run_id, task_id, map_index,
                                         chosen_options=body.chosen_options, params_input=body.params_input,
                                         user=user, now=now())
            audit(session, principal, "hitl_response", dag_id=dag_id, task_id=task_id, run_id=dag_run_id,
                  map_index=map_index, extra={"chosen_options": detail.chosen_options})
            out = {"responded_by": user, "responded_at": iso(detail.responded_at),
                   "chosen_options": detail.chosen_options, "params_input": detail.params_input or {}}
    except hitl_action.HITLError as exc:
        status = status_of.get(type(exc), 400)
        if status == 404:
            raise not_found(str(exc), title="Human-in-the-loop detail not found") from None
        if status == 409:
            raise conflict(str(exc)) from None
        if status == 403:
            raise ApiError(403, str(exc)) from None
        raise bad_request(str(exc), field="chosen_options") from None
    wake_scheduler(request)  # the resumed task is scheduled: run it now
    return out


def _list(request: Request, flavor: _Flavor, page: Page, f: hitl_queries.HITLFilter, order_by: str | None
          ) -> dict[str, Any]:
    raw = (order_by or "created_at").strip()
    name = raw.lstrip("-")
    if name not in hitl_queries.ORDER_COLUMNS:
        raise bad_request(f"Ordering with '{name}' is disallowed or the attribute does not exist on the model; "
                          f"allowed: {', '.join(sorted(hitl_queries.ORDER_COLUMNS))}", field="order_by")
    with read(request) as session:
        rows, total = hitl_queries.list_requests(session, f, order_by=name, descending=raw.startswith("-"),
                                                 offset=page.offset, limit=page.limit)
        tis = flavor.instances(request, session, rows)
        return {"hitl_details": [detail_dict(r, t) for r, t in zip(rows, tis, strict=True)], "total_entries": total}


def _map_index(value: int) -> int:
    if value < -1:
        raise unprocessable(f"map_index must be -1 or more, got {value}", field="map_index")
    return value


def make_router(prefix: str) -> APIRouter:
    """The routes above under ``prefix`` (``/api/v2`` or ``/api/v1``)."""
    router = APIRouter(prefix=prefix, tags=["HumanInTheLoop"])
    flavor = FLAVORS[prefix]

    @router.get("/hitlDetails/", summary="List human-in-the-loop requests (Airflow 3.1.0 path)",
                response_model=flavor.collection)
    @router.get("/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails",
                summary="List human-in-the-loop requests of a run ('~' for every DAG and/or run)",
                response_model=flavor.collection)
    def list_hitl_details(
        request: Request,
        dag_id: str | None = None,
        dag_run_id: str | None = None,
        page: Page = Depends(page_params),
        order_by: str | None = Query(None, description="created_at (default), responded_at, subject, dag_id, "
                                                      "run_id, task_id, ...; '-' prefix for descending"),
        task_id: str | None = None,
        map_index: int | None = None,
        dag_id_pattern: str | None = None,
        task_id_pattern: str | None = None,
        response_received: bool | None = None,
        pending: bool | None = Query(None, description="Only requests still waiting (true) or not (false)."),
        state: list[str] | None = Query(None, description="Only requests whose task instance is in these states."),
        responded_by_user_id: list[str] | None = Query(None),
        responded_by_user_name: list[str] | None = Query(None),
        subject_search: str | None = None,
        body_search: str | None = None,
        _user: Any = can("task_instance", "read"),
    ) -> dict[str, Any]:
        f = hitl_queries.HITLFilter(
            dag_id=None if dag_id in (None, ALL) else dag_id, run_id=None if dag_run_id in (None, ALL) else dag_run_id,
            task_id=task_id, map_index=map_index, dag_id_pattern=dag_id_pattern, task_id_pattern=task_id_pattern,
            response_received=response_received, pending=pending, ti_states=tuple(state or ()),
            responded_by=[*(responded_by_user_id or []), *(responded_by_user_name or [])],
            subject_search=subject_search, body_search=body_search)
        return _list(request, flavor, page, f, order_by)

    @router.get("/hitlDetails/{dag_id}/{dag_run_id}/{task_id}", summary="Get the human-in-the-loop request of a task",
                response_model=flavor.detail)
    def get_hitl_detail(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                        _user: Any = can("task_instance", "read")) -> dict[str, Any]:
        return _one(request, flavor, dag_id, dag_run_id, task_id, -1)

    @router.get("/hitlDetails/{dag_id}/{dag_run_id}/{task_id}/{map_index}",
                summary="Get the human-in-the-loop request of a mapped task instance", response_model=flavor.detail)
    @router.get(TI_HITL, summary="Get the human-in-the-loop request of a task instance", response_model=flavor.detail)
    def get_mapped_hitl_detail(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                               _user: Any = can("task_instance", "read")) -> dict[str, Any]:
        return _one(request, flavor, dag_id, dag_run_id, task_id, _map_index(map_index))

    @router.get(TI_HITL + "/tries/{try_number}", summary="Get the human-in-the-loop request of one try",
                response_model=flavor.history)
    def get_hitl_detail_try(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                            try_number: int, _user: Any = can("task_instance", "read")) -> dict[str, Any]:
        return _one(request, flavor, dag_id, dag_run_id, task_id, _map_index(map_index),
                    None if try_number == -1 else try_number, history=True)

    @router.patch("/hitlDetails/{dag_id}/{dag_run_id}/{task_id}", summary="Answer a human-in-the-loop request",
                  response_model=m.HITLDetailResponse)
    def update_hitl_detail(request: Request, dag_id: str, dag_run_id: str, task_id: str,
                           body: UpdateHITLDetailPayload,
                           principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
        return _answer(request, principal, dag_id, dag_run_id, task_id, -1, body)

    @router.patch("/hitlDetails/{dag_id}/{dag_run_id}/{task_id}/{map_index}",
                  summary="Answer the human-in-the-loop request of a mapped task instance",
                  response_model=m.HITLDetailResponse)
    @router.patch(TI_HITL, summary="Answer the human-in-the-loop request of a task instance",
                  response_model=m.HITLDetailResponse)
    def update_mapped_hitl_detail(request: Request, dag_id: str, dag_run_id: str, task_id: str, map_index: int,
                                  body: UpdateHITLDetailPayload,
                                  principal: Any = can("task_instance", "edit")) -> dict[str, Any]:
        return _answer(request, principal, dag_id, dag_run_id, task_id, _map_index(map_index), body)

    return router


routers = [make_router(prefix) for prefix in PREFIXES]
