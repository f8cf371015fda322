"""What is DbTryStore's own, on real databases (SQLite and PostgreSQL).

The semantics every TryStore shares (claim, heartbeat, finish and the retry policy, XCom,
Variables, Connections, ...) are pinned once for both stores in
``tests/contracts/test_try_store_contract.py``. Here: what only the database store has — the
claims it remembers (so a failed try's finish needs no read of the instance row), and reading
the retry policy without them (another API server process claimed the try).
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schedule"))
from schedhelp import make_snapshot, store_dag, task_dict  # noqa: E402

from tradewind.execute.db_store import DbTryStore  # noqa: E402
from tradewind.execute.try_store import (  # noqa: E402
    FinishRequest,
)
from tradewind.persist.models import (  # noqa: E402
    DagRun,
    TaskInstance,
)
from tradewind.workloads import TaskKey  # noqa: E402

DAY1 = datetime(2024, 3, 1, tzinfo=timezone.utc)
DAY2 = datetime(2024, 3, 2, tzinfo=timezone.utc)
TASKS = [
    task_dict("work", retries=2, retry_delay=120.0),
    task_dict("other", ("work",)),
    task_dict("later", ("work",)),
]


def _run(session, dag_id: str, run_id: str, logical: datetime, version_id: int) -> None:
    session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type="scheduled", state="running", logical_date=logical,
                       data_interval_start=logical, data_interval_end=logical, run_after=logical, start_date=logical,
                       conf={"x": 1}, dag_version_id=version_id))


@pytest.fixture
def world(any_db):
    """DAG "d" (work -> other, later) with runs r1 (day 1) and r2 (day 2); DAG "target" to trigger."""
    with any_db.session_scope() as s:
        version = store_dag(s, make_snapshot("d", TASKS))
        store_dag(s, make_snapshot("target", [task_dict("t")]))
        _run(s, "d", "r1", DAY1, version)
        _run(s, "d", "r2", DAY2, version)
        s.flush()
        for run_id in ("r1", "r2"):
            for task_id in ("work", "other", "later"):
                s.add(TaskInstance(dag_id="d", run_id=run_id, task_id=task_id, map_index=-1, state="none",
                                   try_number=0, max_tries=3 if task_id == "work" else 1))
    return any_db


@pytest.fixture
def store(world, config) -> DbTryStore:
    return DbTryStore(world, config)


def queued(db, task_id: str = "work", run_id: str = "r2", try_number: int = 1) -> TaskKey:
    with db.session_scope() as s:
        s.execute(update(TaskInstance).where(TaskInstance.dag_id == "d", TaskInstance.run_id == run_id,
                                             TaskInstance.task_id == task_id)
                  .values(state="queued", try_number=try_number))
    return TaskKey("d", run_id, task_id, -1, try_number)


def ti(db, key: TaskKey) -> TaskInstance:
    with db.session_scope() as s:
        row = s.scalars(select(TaskInstance).where(TaskInstance.dag_id == key.dag_id, TaskInstance.run_id == key.run_id,
                                                   TaskInstance.task_id == key.task_id)).one()
        s.expunge(row)
        return row


def test_a_store_that_did_not_claim_the_try_reads_the_retry_policy_from_the_instance(store, world) -> None:
    key = queued(world)
    store.claim(key, hostname="h", pid=1)
    assert store._versions[key][0] is not None  # remembered at the claim
    other = DbTryStore(world, None)  # another API server process: it never saw the claim
    before = datetime.now(timezone.utc)
    assert other.finish(key, FinishRequest(outcome="failed", error="boom")) == "up_for_retry"
    row = ti(world, key)
    # retry_delay=120 s from the stored snapshot, found through the instance's run (the default would be 300 s)
    assert before + timedelta(seconds=119) <= row.next_retry_at.replace(tzinfo=timezone.utc) <= \
        datetime.now(timezone.utc) + timedelta(seconds=121)
    third = queued(world, try_number=2)
    store.claim(third, hostname="h", pid=1)
    assert store.finish(third, FinishRequest(outcome="failed", error="again")) == "up_for_retry"
    assert third not in store._versions  # forgotten at its finish


def test_without_a_stored_version_a_failure_gets_the_default_retry_delay(store, world) -> None:
    with world.session_scope() as s:
        s.execute(update(DagRun).where(DagRun.run_id == "r2").values(dag_version_id=None))
    key = queued(world)
    DbTryStore(world, None).claim(key, hostname="h", pid=1)
    before = datetime.now(timezone.utc)
    # no snapshot to read the task's retry_delay (120 s) from: max_tries still allows a retry, 300 s later
    assert DbTryStore(world, None).finish(key, FinishRequest(outcome="failed", error="x")) == "up_for_retry"
    row = ti(world, key)
    assert before + timedelta(seconds=299) <= row.next_retry_at.replace(tzinfo=timezone.utc) <= \
        datetime.now(timezone.utc) + timedelta(seconds=301)
