"""Warm a fork server so that every forked try starts with hot caches.

:func:`warm_up` plays one whole fake try — claim, context, rendering, XCom, outcome —
inside a transaction that is rolled back. SQLAlchemy then has its dialect initialised and
every hot statement compiled, and Jinja its sandbox environment machinery imported; forked
children inherit all of it instead of paying for it on each try. No connection stays open
afterwards (connections are closed; pools disposed), so nothing is shared across ``fork()``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tradewind.workloads import TaskKey
from tradewind.persist.db import Database, utcnow

log = logging.getLogger(__name__)

_GHOST = "__tradewind_warm_up__"


def warm_up(db: Database) -> None:
    """Compile the runner's statements and load lazy modules; never raises."""
    try:
        _warm_templates()
    except Exception:
        log.debug("template warm-up failed (ignored)", exc_info=True)
    try:
        _warm_database(db)
    except Exception:
        log.debug("database warm-up failed (ignored)", exc_info=True)
    finally:
        db.engine.dispose()


def _warm_templates() -> None:
    from tradewind.definition.templating import make_jinja_env

    for native in (False, True):
        env = make_jinja_env(None, native=native)
        env.from_string("{{ ds }} {{ params.x | default(1) }}").render(ds="2024-01-01", params={})


def _warm_database(db: Database) -> None:
    from tradewind.execute.db_store import load_run
    from tradewind.parse.snapshot import TaskSnapshot
    from tradewind.persist.models import DagModel, DagRun, DagVersion, TaskInstance
    from tradewind.persist.queries.xcom import xcom_clear, xcom_get_many, xcom_set
    from tradewind.schedule.transitions import (
        claim_try,
        heartbeat,
        record_try_outcome,
        set_rendered_fields,
    )
    from sqlalchemy import select

    now = utcnow()
    key = TaskKey(_GHOST, _GHOST, _GHOST, -1, 1)
    session = db.sessionmaker()
    try:
        session.add(DagModel(dag_id=_GHOST, fileloc=_GHOST))
        session.flush()
        session.add(DagRun(dag_id=_GHOST, run_id=_GHOST, run_type="manual", state="running", logical_date=now,
                           data_interval_start=now, data_interval_end=now, run_after=now, conf={}))
        session.add(TaskInstance(dag_id=_GHOST, run_id=_GHOST, task_id=_GHOST, map_index=-1, state="queued",
                                 try_number=1, max_tries=2))
        session.flush()
        claim_try(session, key, hostname="warm-up", pid=0, now=now)
        load_run(session, _GHOST, _GHOST)
        session.scalar(select(DagVersion.snapshot).where(DagVersion.id == -1))
        xcom_clear(session, _GHOST, _GHOST, _GHOST, -1)
        heartbeat(session, key, now)
        xcom_get_many(session, _GHOST, _GHOST, [_GHOST], "return_value")
        xcom_set(session, _GHOST, _GHOST, _GHOST, -1, "return_value", 1, now)
        set_rendered_fields(session, key, {"x": "y"})
        task: Any = TaskSnapshot(task_id=_GHOST, operator="warm-up", retries=1, retry_delay=timedelta(1).total_seconds())
        # The runner's finish (rendered fields with the outcome), then a late outcome of a try
        # that moved on (try row only, with the error): both statement shapes get compiled.
        record_try_outcome(session, key, "success", task=task, now=now, rendered_fields={"x": "y"})
        record_try_outcome(session, key, "failed", task=task, now=now, error="warm-up")
    finally:
        session.rollback()
        session.close()
