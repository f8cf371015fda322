"""Audit log: who did what, when (manual actions from the CLI, API and UI).

Event names follow Airflow's style: ``trigger``, ``clear``, ``set_state``,
``paused``/``unpaused``, ``variable.set``, ``pool.delete``, ...
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tradewind.persist.models import AuditLog

EVENT_MAX_LEN = 60


def record(
    session: Session,
    event: str,
    owner: str | None = None,
    *,
    dag_id: str | None = None,
    task_id: str | None = None,
    run_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    extra: str | dict[str, Any] | None = None,
    now: datetime,
) -> AuditLog:
    """Add one audit entry. ``extra`` may be text or a JSON-serialisable dict."""
    if not event or len(event) > EVENT_MAX_LEN:
        raise ValueError(f"audit event must be 1-{EVENT_MAX_LEN} characters, got {event!r}")
    if extra is not None and not isinstance(extra, str):
        extra = json.dumps(extra, default=str, sort_keys=True)
    row = AuditLog(
        dttm=now,
        event=event,
        owner=owner,
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        map_index=map_index,
        try_number=try_number,
        extra=extra,
    )
    session.add(row)
    session.flush()
    return row


def list_audit(
    session: Session,
    *,
    dag_id: str | None = None,
    event: str | None = None,
    owner: str | None = None,
    run_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditLog]:
    """Entries matching the filters, newest first."""
    query = select(AuditLog)
    for column, wanted in ((AuditLog.dag_id, dag_id), (AuditLog.event, event), (AuditLog.owner, owner),
                           (AuditLog.run_id, run_id)):
        if wanted is not None:
            query = query.where(column == wanted)
    query = query.order_by(AuditLog.dttm.desc(), AuditLog.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))
