"""Heartbeats: one thread per process beats for every running try; a lost try stops beating."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone

from sqlalchemy import select, update

from tradewind.execute import heartbeat as hb
from tradewind.execute.db_store import DbTryStore
from tradewind.persist.models import DagModel, DagRun, TaskInstance
from tradewind.workloads import TaskKey

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _running(db, task_id: str) -> TaskKey:
    with db.session_scope() as s:
        if s.get(DagModel, "d") is None:
            s.add(DagModel(dag_id="d", fileloc="/d.py", tags=[]))
            s.flush()
            s.add(DagRun(dag_id="d", run_id="r", run_type="manual", state="running", run_after=T0, conf={}))
        s.add(TaskInstance(dag_id="d", run_id="r", task_id=task_id, map_index=-1, state="running", try_number=1,
                           last_heartbeat_at=T0))
    return TaskKey("d", "r", task_id, -1, 1)


def _last_beat(db, key: TaskKey):
    with db.session_scope() as s:
        return s.scalar(select(TaskInstance.last_heartbeat_at).where(TaskInstance.task_id == key.task_id))


def _wait_until(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _beat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tradewind-heartbeat"]


def test_tries_one_after_another_share_one_thread_and_each_beats(config, db) -> None:
    for task_id in ("a", "b", "c"):
        key = _running(db, task_id)
        beat = hb.Heartbeat(DbTryStore(db, config), key, 0.05, terminate=False)
        beat.start()
        try:
            _wait_until(lambda: _last_beat(db, key) != T0, f"{task_id} never beat")
        finally:
            beat.stop()
        assert not hb.beating(key)
        assert len(_beat_threads()) == 1


def test_a_cleared_try_is_reported_lost_and_no_longer_beats(config, db, caplog) -> None:
    key = _running(db, "cleared")
    beat = hb.Heartbeat(DbTryStore(db, config), key, 0.05, terminate=False)
    with caplog.at_level(logging.WARNING, logger="tradewind.task"):
        beat.start()
        with db.session_scope() as s:
            s.execute(update(TaskInstance).where(TaskInstance.task_id == "cleared").values(state="none"))
        _wait_until(lambda: not hb.beating(key), "the lost try kept beating")
    beat.stop()
    assert "no longer running this try" in caplog.text


def test_stop_waits_for_nothing_when_no_beat_is_due(config, db) -> None:
    key = _running(db, "quick")
    beat = hb.Heartbeat(DbTryStore(db, config), key, 3600, terminate=False)
    beat.start()
    assert hb.beating(key)
    beat.stop()
    assert not hb.beating(key) and _last_beat(db, key) == T0
