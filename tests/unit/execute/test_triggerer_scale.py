"""Thousands of deferred task instances cost one event loop: no process, no thread per trigger."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import psutil
from sqlalchemy import func, insert, select

from tradewind.definition.triggers import DateTimeTrigger
from tradewind.definition.triggers.base import encode_value
from tradewind.execute.triggerer import TriggererRunner
from tradewind.persist.models import DagModel, DagRun, TaskInstance, Trigger

COUNT = 2000


def _deferred_instances(db: Any, moment: datetime) -> None:
    """COUNT deferred instances, each waiting on its own DateTimeTrigger, written in bulk."""
    now = datetime.now(timezone.utc)
    classpath, kwargs = DateTimeTrigger(moment).serialize()
    stored = encode_value(kwargs)
    with db.session_scope() as s:
        s.add(DagModel(dag_id="many", fileloc="/dags/many.py"))
        s.flush()
        s.add(DagRun(dag_id="many", run_id="r", run_type="manual", state="running", run_after=now, conf={}))
        s.execute(insert(Trigger), [{"classpath": classpath, "kwargs": stored, "created_date": now}] * COUNT)
        ids = list(s.scalars(select(Trigger.id).order_by(Trigger.id)))
        s.execute(insert(TaskInstance), [
            {"dag_id": "many", "run_id": "r", "task_id": f"wait_{n}", "map_index": -1, "state": "deferred",
             "try_number": 0, "max_tries": 1, "next_method": "execute_complete", "trigger_id": trigger_id}
            for n, trigger_id in enumerate(ids)])


def _states(db: Any) -> dict[str, int]:
    with db.read_scope() as s:
        return dict(s.execute(select(TaskInstance.state, func.count()).group_by(TaskInstance.state)).all())


def test_two_thousand_deferred_instances_fire_in_one_triggerer(config: Any, db: Any) -> None:
    moment = datetime.now(timezone.utc) + timedelta(seconds=3)
    _deferred_instances(db, moment)
    me = psutil.Process()
    # Session-wide test servers (S3, MariaDB) may be children of this worker already.
    children_before = {p.pid for p in me.children(recursive=True)}
    threads_before = threading.active_count()
    runner = TriggererRunner(config, db, capacity=COUNT)
    runner.start()
    try:
        runner.run_once()
        assert len(runner.running) == COUNT
        assert _states(db) == {"deferred": COUNT}, "nothing may fire before its moment"
        # All triggers wait at once: one more thread (the event loop), no child process.
        assert threading.active_count() == threads_before + 1
        assert {p.pid for p in me.children(recursive=True)} - children_before == set()
        deadline = time.monotonic() + 60
        while _states(db) != {"scheduled": COUNT}:
            assert time.monotonic() < deadline, f"not all fired: {_states(db)}"
            runner.run_once()
            time.sleep(0.05)
        assert threading.active_count() == threads_before + 1
        assert {p.pid for p in me.children(recursive=True)} - children_before == set()
    finally:
        runner.close()
    assert datetime.now(timezone.utc) >= moment
    with db.read_scope() as s:
        assert s.scalar(select(func.count()).select_from(Trigger)) == 0
        payloads = {row["event"]["value"] for row in s.scalars(select(TaskInstance.next_kwargs))}
    assert payloads == {moment.isoformat()}
    assert threading.active_count() == threads_before, "closing the triggerer ends its event loop thread"
