"""Asset storage on SQLite and PostgreSQL: references synced per DAG version, events queued for
consumers (duplicates ignored, also across transactions), runs consuming the queue, listings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from tradewind.definition.assets import Asset, AssetKey
from tradewind.persist.db import Database
from tradewind.persist.models import (
    AssetDagRunQueue,
    AssetModel,
    DagModel,
    DagRun,
    DagScheduleAssetReference,
    TaskOutletAssetReference,
)
from tradewind.persist.queries import assets as q
from tradewind.persist.queries.dags import delete_dag

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ORDERS = Asset(name="orders", uri="s3://bucket/orders", extra={"owner": "sales"})
RAW = Asset("raw")


def _snap(dag_id: str, *, schedule=None, outlets=None) -> dict:
    timetable = {"__type": "null"} if schedule is None else {"__type": "asset", "condition": schedule.as_expression()}
    tasks = [{"task_id": "t", **({"outlets": [a.to_dict() for a in outlets]} if outlets else {})}]
    return {"dag_id": dag_id, "timetable": timetable, "tasks": tasks}


def _store(db: Database, snap: dict, *, paused: bool = False, now: datetime = T0) -> None:
    with db.session_scope() as s:
        if s.get(DagModel, snap["dag_id"]) is None:
            s.add(DagModel(dag_id=snap["dag_id"], fileloc="/dags/x.py", is_paused=paused, is_active=True, tags=[]))
            s.flush()
        q.sync_dag_assets(s, snap, now)


def _count(db: Database, model, **where) -> int:
    with db.session_scope() as s:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return s.scalar(stmt)


def test_sync_creates_assets_and_replaces_references(any_db: Database) -> None:
    _store(any_db, _snap("producer", outlets=[ORDERS, RAW]))
    _store(any_db, _snap("consumer", schedule=ORDERS & RAW))
    assert _count(any_db, AssetModel) == 2
    assert _count(any_db, TaskOutletAssetReference, dag_id="producer") == 2
    assert _count(any_db, DagScheduleAssetReference, dag_id="consumer") == 2
    with any_db.session_scope() as s:
        (info,) = q.list_assets(s, asset="s3://bucket/orders")
    assert (info.name, info.extra, info.producers, info.consumers) == (
        "orders", {"owner": "sales"}, ("producer.t",), ("consumer",))
    # A new version scheduled on one asset only: the other reference goes.
    _store(any_db, _snap("consumer", schedule=RAW))
    assert _count(any_db, DagScheduleAssetReference, dag_id="consumer") == 1


def test_events_queue_each_consumer_once_and_runs_consume_them(any_db: Database) -> None:
    _store(any_db, _snap("producer", outlets=[ORDERS]))
    _store(any_db, _snap("consumer", schedule=ORDERS))
    _store(any_db, _snap("paused_consumer", schedule=ORDERS), paused=True)
    for i in range(2):  # separate transactions: the second insert meets existing queue rows
        with any_db.session_scope() as s:
            q.record_asset_events(s, [ORDERS.to_dict()], extras={ORDERS.key: {"i": i}},
                                  source=("producer", "t", "r1", -1), now=T0 + timedelta(seconds=i))
    assert _count(any_db, AssetDagRunQueue) == 2
    with any_db.session_scope() as s:
        assert q.queue_signature(s)[0] == 1  # the paused DAG's row does not count
        assert q.queued_assets(s, lock=True) == {"consumer": {ORDERS.key: T0}}
        events = q.unconsumed_events(s, "consumer", since=None)
        assert len(events) == 2
        assert q.unconsumed_events(s, "consumer", since=T0) == events[1:]
        run = DagRun(dag_id="consumer", run_id="asset_triggered__x", run_type="asset_triggered", state="queued",
                     run_after=T0, conf={})
        s.add(run)
        s.flush()
        q.consume_queue(s, "consumer", run, [e for e, _ in events])
    assert _count(any_db, AssetDagRunQueue, target_dag_id="consumer") == 0
    assert _count(any_db, AssetDagRunQueue, target_dag_id="paused_consumer") == 1
    with any_db.session_scope() as s:
        linked = q.events_for_run(s, "consumer", "asset_triggered__x")
        assert [e.extra for e in linked] == [{"i": 0}, {"i": 1}]
        assert linked[0].to_event().asset == ORDERS
        newest = q.list_events(s, asset="orders", limit=1)
        assert newest[0].extra == {"i": 1} and newest[0].source_run_id == "r1"
        assert q.list_events(s, key=AssetKey("orders", "other")) == []
        assert q.list_events(s, dag_id="nobody") == []


def test_event_for_an_unreferenced_asset_creates_it_and_delete_dag_cascades(any_db: Database) -> None:
    fresh = Asset("fresh")
    _store(any_db, _snap("consumer", schedule=fresh))
    with any_db.session_scope() as s:
        q.record_asset_events(s, [Asset("brand_new").to_dict(), fresh.to_dict()], now=T0)
        assert {a.name for a in q.list_assets(s)} == {"fresh", "brand_new"}
    with any_db.session_scope() as s:
        delete_dag(s, "consumer")
    assert _count(any_db, AssetDagRunQueue) == 0
    assert _count(any_db, DagScheduleAssetReference) == 0
