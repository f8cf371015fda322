"""The state store methods of :class:`~tradewind.execute.try_store.TryStore` (Airflow 3.3's task and
asset state store), the same tests on every store: ``db-sqlite`` / ``db-postgres``
(:class:`~tradewind.execute.db_store.DbTryStore`) and ``api-sqlite`` / ``api-postgres``
(:class:`~tradewind.execute.api_client.ApiTryStore` over HTTP to a real ``tradewind api-server``).

The DAGs, runs and stores are those of ``test_try_store_contract.py`` (its ``world`` fixture); the
context accessors run on top of each store too, as a task's code calls them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select, update

import test_try_store_contract as _contract
from test_try_store_contract import World
from tradewind.definition.assets import Asset
from tradewind.definition.state_store import NEVER_EXPIRE, state_store_context
from tradewind.execute.try_store import FinishRequest, TryStoreRefused
from tradewind.persist.models import AssetModel, TaskStateStore
from tradewind.persist.queries.assets import asset_ids
from tradewind.persist.queries.state_store import purge_expired_task_state

NOW = datetime(2024, 3, 2, tzinfo=timezone.utc)
# The try store contract's fixtures: the four stores, their API servers and the DAGs and runs.
world = _contract.world
api_sqlite = _contract.api_sqlite
api_postgres = _contract.api_postgres


def _asset(world: World, label: str = "orders") -> dict[str, Any]:
    """A registered (active) asset of this test's own."""
    data = {"name": f"{label}_{world.dag_id}", "uri": f"s3://wh/{label}_{world.dag_id}", "group": "asset", "extra": {}}
    with world.db.session_scope() as s:
        asset_ids(s, [data], NOW)
    return {"name": data["name"], "uri": data["uri"]}


def _rows(world: World) -> list[tuple[str, int, str, datetime | None]]:
    with world.db.read_scope() as s:
        rows = s.execute(select(TaskStateStore.task_id, TaskStateStore.map_index, TaskStateStore.key,
                                TaskStateStore.expires_at).where(TaskStateStore.dag_id == world.dag_id)).all()
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


# --------------------------------------------------------------------------- task state
def test_task_state_round_trips_json_text_and_survives_a_retry(world: World) -> None:
    store, key = world.claimed()
    assert store.task_state_get(key, "job_id") is None
    store.task_state_set(key, "job_id", json.dumps("job-1"), None)
    store.task_state_set(key, "progress", json.dumps({"done": [1, 2], "rows": 300}), None)
    store.task_state_set(key, "job_id", json.dumps("job-2"), None)  # overwrite
    assert store.finish(key, FinishRequest(outcome="failed", error="boom")) == "up_for_retry"
    retry_store, retry = world.claimed(try_number=2)
    assert json.loads(retry_store.task_state_get(retry, "job_id")) == "job-2"
    assert json.loads(retry_store.task_state_get(retry, "progress")) == {"done": [1, 2], "rows": 300}


def test_task_state_is_private_to_its_task_instance_and_run(world: World) -> None:
    store, key = world.claimed()
    store.task_state_set(key, "k", json.dumps(1), None)
    other_store, other = world.claimed(task_id="other")
    assert other_store.task_state_get(other, "k") is None
    r1_store, r1 = world.claimed(run_id="r1")
    assert r1_store.task_state_get(r1, "k") is None
    other_store.task_state_set(other, "k", json.dumps(2), None)
    assert json.loads(store.task_state_get(key, "k")) == 1


def test_task_state_delete_and_clear(world: World) -> None:
    store, key = world.claimed()
    for name in ("a", "b", "c"):
        store.task_state_set(key, name, json.dumps(name), None)
    store.task_state_delete(key, "a")
    store.task_state_delete(key, "never-set")  # nothing to delete: no error
    assert store.task_state_get(key, "a") is None and json.loads(store.task_state_get(key, "b")) == "b"
    store.task_state_clear(key)
    assert store.task_state_get(key, "b") is None and store.task_state_get(key, "c") is None


def test_task_state_expired_key_reads_as_absent_and_the_next_write_removes_it(world: World) -> None:
    store, key = world.claimed()
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    future = datetime.now(timezone.utc) + timedelta(days=3)
    store.task_state_set(key, "old", json.dumps("x"), past)
    store.task_state_set(key, "fresh", json.dumps("y"), future)
    store.task_state_set(key, "forever", json.dumps("z"), None)
    assert store.task_state_get(key, "old") is None
    store.task_state_set(key, "another", json.dumps(1), None)
    keys = {(k, exp is None) for _, _, k, exp in _rows(world)}
    assert keys == {("fresh", False), ("forever", True), ("another", True)}
    (fresh_exp,) = [exp for _, _, k, exp in _rows(world) if k == "fresh"]
    stored = fresh_exp if fresh_exp.tzinfo else fresh_exp.replace(tzinfo=timezone.utc)
    assert abs(stored - future) < timedelta(seconds=1)
    with world.db.session_scope() as s:  # the purge itself leaves keys never expiring alone
        assert purge_expired_task_state(s, datetime.now(timezone.utc) + timedelta(days=10)) >= 1
    assert {k for _, _, k, _ in _rows(world)} == {"forever", "another"}


def test_task_state_refuses_a_bad_key(world: World) -> None:
    store, key = world.claimed()
    with pytest.raises(TryStoreRefused, match="512"):
        store.task_state_set(key, "k" * 513, json.dumps(1), None)


def test_task_state_goes_with_its_dag_run(world: World) -> None:
    store, key = world.claimed()
    store.task_state_set(key, "k", json.dumps(1), None)
    from tradewind.persist.models import DagRun, TaskInstance

    with world.db.session_scope() as s:
        s.execute(TaskInstance.__table__.delete().where(TaskInstance.dag_id == world.dag_id,
                                                        TaskInstance.run_id == "r2"))
        s.execute(DagRun.__table__.delete().where(DagRun.dag_id == world.dag_id, DagRun.run_id == "r2"))
    assert _rows(world) == []


# --------------------------------------------------------------------------- asset state
def test_asset_state_is_shared_by_tasks_and_runs_and_never_expires(world: World) -> None:
    asset = _asset(world)
    store, key = world.claimed()
    assert store.asset_state_get(key, asset, "watermark") is None
    store.asset_state_set(key, asset, "watermark", json.dumps("2026-01-02"))
    store.asset_state_set(key, asset, "total_runs", json.dumps(1))
    store.asset_state_set(key, asset, "total_runs", json.dumps(2))
    other_store, other = world.claimed(task_id="other", run_id="r1")
    assert json.loads(other_store.asset_state_get(other, asset, "watermark")) == "2026-01-02"
    assert json.loads(other_store.asset_state_get(other, asset, "total_runs")) == 2
    by_name = {"name": asset["name"]}  # a name alone finds it too
    assert json.loads(other_store.asset_state_get(other, by_name, "total_runs")) == 2
    other_asset = _asset(world, "customers")
    assert other_store.asset_state_get(other, other_asset, "watermark") is None
    other_store.asset_state_delete(other, asset, "watermark")
    assert store.asset_state_get(key, asset, "watermark") is None
    store.asset_state_clear(key, asset)
    assert store.asset_state_get(key, asset, "total_runs") is None


def test_asset_state_refuses_an_unknown_or_inactive_asset(world: World) -> None:
    store, key = world.claimed()
    with pytest.raises(TryStoreRefused, match="no active asset"):
        store.asset_state_get(key, {"name": f"nowhere_{world.dag_id}", "uri": "s3://x/y"}, "k")
    asset = _asset(world, "gone")
    with world.db.session_scope() as s:
        s.execute(update(AssetModel).where(AssetModel.name == asset["name"]).values(is_active=False))
    with pytest.raises(TryStoreRefused, match="no active asset"):
        store.asset_state_set(key, asset, "k", json.dumps(1))
    with pytest.raises(TryStoreRefused, match="asset"):
        store.asset_state_get(key, {"nope": 1}, "k")


# --------------------------------------------------------------------------- the context accessors
def test_accessors_on_the_store_as_a_task_uses_them(world: World) -> None:
    asset = _asset(world)
    store, key = world.claimed()
    context = state_store_context(store, key, default_retention_days=7)
    tss = context["task_state_store"]
    assert tss.get("job_id") is None and tss.get("job_id", default="none") == "none"
    tss.set("job_id", "job-1", retention=NEVER_EXPIRE)
    tss.set("submitted", {"at": "now"})
    tss.set("lock", True, retention=timedelta(hours=1))
    assert tss.get("job_id") == "job-1" and tss.get("submitted") == {"at": "now"}
    expiries = {k: exp for _, _, k, exp in _rows(world)}
    assert expiries["job_id"] is None
    utc = {k: (v if v is None or v.tzinfo else v.replace(tzinfo=timezone.utc)) for k, v in expiries.items()}
    now = datetime.now(timezone.utc)
    assert abs(utc["submitted"] - (now + timedelta(days=7))) < timedelta(minutes=1)
    assert abs(utc["lock"] - (now + timedelta(hours=1))) < timedelta(minutes=1)

    async def use_async() -> Any:
        await tss.aset("progress", {"done": [1]}, retention=NEVER_EXPIRE)
        got = await tss.aget("progress")
        await tss.adelete("lock")
        return got, await tss.aget("lock", default="gone")

    assert asyncio.run(use_async()) == ({"done": [1]}, "gone")
    tss.clear()
    assert tss.get("job_id") is None and tss.get("progress") is None

    orders = Asset(name=asset["name"], uri=asset["uri"])
    state = context["asset_state_store"][orders]
    state.set("total_runs", state.get("total_runs", default=0) + 1)
    state.set("total_runs", state.get("total_runs", default=0) + 1)
    assert context["asset_state_store"][asset["name"]].get("total_runs") == 2
    assert asyncio.run(state.aget("total_runs")) == 2


def test_accessors_refuse_bad_values_naming_the_argument(world: World) -> None:
    store, key = world.claimed()
    tss = state_store_context(store, key, default_retention_days=0)["task_state_store"]
    with pytest.raises(TypeError, match="JSON-serialisable"):
        tss.set("k", object())
    with pytest.raises(TypeError, match="retention"):
        tss.set("k", 1, retention=5)
    with pytest.raises(ValueError, match="retention"):
        tss.set("k", 1, retention=timedelta(0))
    with pytest.raises(ValueError, match="non-empty string"):
        tss.get("")
    tss.set("k", 1)  # default_retention_days = 0: never expires
    assert [exp for _, _, k, exp in _rows(world) if k == "k"] == [None]
