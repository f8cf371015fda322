"""Airflow 3's bodies of human-in-the-loop requests under ``/api/v2`` (``HITLDetail``,
``HITLDetailHistory``, ``HITLDetailCollection``).

The routes themselves are :mod:`tradewind.observe.api.routes.hitl` (served under ``/api/v1``
and ``/api/v2``); what differs under ``/api/v2`` is the embedded task instance: Airflow 3's
``TaskInstanceResponse`` (``id``, ``run_after``, ``dag_display_name``, ``executor_config``...)
built by :func:`tradewind.observe.api.v2.task_instances.ti_responses`, and for one try's
request (``.../hitlDetails/tries/{try_number}``) that try's ``TaskInstanceHistoryResponse``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.observe.api.v1_models import HITLUser  # {"id", "name"}: the same in both APIs
from tradewind.observe.api.v2.common import Model
from tradewind.observe.api.v2.task_instance_tries import TaskInstanceHistoryResponse, try_responses
from tradewind.observe.api.v2.task_instances import TaskInstanceResponse, ti_responses
from tradewind.persist.models import TaskInstance, TaskInstanceTry
from tradewind.persist.queries.task_instances import get_ti


class _HITLFields(Model):
    """What every human-in-the-loop body carries besides its task instance (Airflow's fields, then
    Tradewind's ``try_number``, ``timeout_at`` and ``pending``)."""

    options: list[str] = Field(min_length=1)
    subject: str
    body: str | None = None
    defaults: list[str] | None = None
    multiple: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    assigned_users: list[HITLUser] = Field(default_factory=list)
    created_at: datetime
    responded_by_user: HITLUser | None = None
    responded_at: datetime | None = None
    chosen_options: list[str] | None = None
    params_input: dict[str, Any] = Field(default_factory=dict)
    response_received: bool = False
    try_number: int | None = None
    timeout_at: datetime | None = None
    pending: bool


class HITLDetail(_HITLFields):
    """Airflow 3's ``HITLDetail``: a request, its answer and its task instance."""

    task_instance: TaskInstanceResponse


class HITLDetailHistory(_HITLFields):
    """Airflow 3's ``HITLDetailHistory``: the request of one try, with that try."""

    task_instance: TaskInstanceHistoryResponse


class HITLDetailCollection(Model):
    """Airflow 3's ``HITLDetailCollection``."""

    hitl_details: list[HITLDetail]
    total_entries: int


def _instances(session: Session, keys: Sequence[tuple[str, str, str, int]]) -> list[TaskInstance | None]:
    return [get_ti(session, dag_id, run_id, task_id, map_index) for dag_id, run_id, task_id, map_index in keys]


def task_instance_bodies(request: Request, session: Session, keys: Sequence[tuple[str, str, str, int]]
                         ) -> list[TaskInstanceResponse | None]:
    """The v2 task-instance body of each ``(dag_id, run_id, task_id, map_index)``, in order
    (``None`` where the instance is gone); built in bulk by :func:`ti_responses`."""
    tis = _instances(session, keys)
    present = [ti for ti in tis if ti is not None]
    bodies = iter(ti_responses(request, session, present)) if present else iter(())
    return [next(bodies) if ti is not None else None for ti in tis]


def try_body(request: Request, session: Session, key: tuple[str, str, str, int], try_number: int | None
             ) -> TaskInstanceHistoryResponse | None:
    """The ``TaskInstanceHistoryResponse`` of try ``try_number`` of the instance ``key``: its try
    row when one was written, else (a try whose row is not written yet) the instance as it is now."""
    ti = _instances(session, [key])[0]
    if ti is None:
        return None
    number = ti.try_number if try_number is None else try_number
    T = TaskInstanceTry
    row = session.scalars(select(T).where(T.dag_id == ti.dag_id, T.run_id == ti.run_id, T.task_id == ti.task_id,
                                          T.map_index == ti.map_index, T.try_number == number)).one_or_none()
    if row is not None:
        return try_responses(request, session, ti, [row])[0]
    now_body = ti_responses(request, session, [ti])[0]
    return TaskInstanceHistoryResponse(**now_body.model_dump(include=set(TaskInstanceHistoryResponse.model_fields)))
