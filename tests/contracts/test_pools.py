"""Pools and their usage counted from real task_instance rows."""

from __future__ import annotations

import pytest

from tradewind.persist.db import Database
from tradewind.persist.models import TaskInstance
from tradewind.persist.queries import pools as q


def _ti(task_id: str, state: str, pool: str = "default_pool", slots: int = 1) -> TaskInstance:
    return TaskInstance(dag_id="d", run_id="r", task_id=task_id, map_index=-1, state=state, pool=pool, pool_slots=slots)


def test_default_pool_exists_and_cannot_be_deleted(any_db: Database) -> None:
    with any_db.session_scope() as s:
        assert q.ensure_default_pool(s, slots=5).slots == 128  # existing row is not changed
        with pytest.raises(q.PoolError, match="default_pool cannot be deleted"):
            q.delete_pool(s, "default_pool")
        assert q.get_pool(s, "default_pool") is not None


def test_set_update_delete(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_pool(s, "gpu", 2, "two gpus")
    with any_db.session_scope() as s:
        q.set_pool(s, "gpu", 4, "four")
    with any_db.session_scope() as s:
        pool = q.get_pool(s, "gpu")
        assert (pool.slots, pool.description) == (4, "four")
        assert [p.pool for p in q.list_pools(s)] == ["default_pool", "gpu"]
        assert q.delete_pool(s, "gpu") is True
        assert q.delete_pool(s, "gpu") is False


@pytest.mark.parametrize(
    ("name", "slots", "message"),
    [("", 1, "must not be empty"), ("p", -1, "'p': slots must be >= 0"), ("p", "3", "must be an integer"),
     ("p", True, "must be an integer")],
)
def test_bad_pool_input(any_db: Database, name: str, slots: object, message: str) -> None:
    with any_db.session_scope() as s:
        with pytest.raises(q.PoolError, match=message):
            q.set_pool(s, name, slots)  # type: ignore[arg-type]


def test_usage_counts_running_and_queued_slots(any_db: Database) -> None:
    with any_db.session_scope() as s:
        q.set_pool(s, "small", 3)
        q.set_pool(s, "idle", 1)
        s.add_all([
            _ti("a", "running"), _ti("b", "running", slots=2), _ti("c", "queued"),
            _ti("d", "scheduled"), _ti("e", "success"), _ti("f", "failed", slots=9),
            _ti("g", "running", pool="small", slots=2), _ti("h", "queued", pool="small", slots=2),
        ])
    with any_db.session_scope() as s:
        usage = {u.pool: u for u in q.list_pools_with_usage(s)}
    assert list(usage) == ["default_pool", "idle", "small"]
    default = usage["default_pool"]
    assert (default.slots, default.running, default.queued, default.open_slots) == (128, 3, 1, 124)
    small = usage["small"]
    assert (small.running, small.queued, small.open_slots) == (2, 2, -1)
    assert (usage["idle"].running, usage["idle"].queued, usage["idle"].open_slots) == (0, 0, 1)
    with any_db.session_scope() as s:
        assert q.pool_usage(s, "small") == small
        assert q.pool_usage(s, "nope") is None
