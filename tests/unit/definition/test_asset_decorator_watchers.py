"""Asset watchers: ``AssetWatcher`` accepts only event triggers; watchers travel in the asset's dict;
``FileDeleteTrigger`` fires once per file (deleting it); the triggerer's ``watch`` loop restarts the
trigger after each event; the watcher rows follow the DAGs' snapshots in a real SQLite database
(created, replaced when changed, pruned when no active DAG declares them, spared by the trigger
table's clean-up); recorded watcher events queue the consumers; ``Asset.ref`` references get their
schedule rows when the asset exists or appears later."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from tradewind import DAG, EmptyOperator
from tradewind.definition.assets import Asset, AssetWatcher, InvalidAssetError
from tradewind.definition.triggers import FileTrigger
from tradewind.definition.triggers.event import BaseEventTrigger, DirectoryFileDeleteTrigger, FileDeleteTrigger
from tradewind.execute.asset_watching import WatcherEvent, record_watcher_events, watch
from tradewind.parse.dagbag import FileParseResult
from tradewind.parse.snapshot import serialize_dag
from tradewind.persist.models import AssetDagRunQueue, AssetEvent, DagScheduleAssetReference, Trigger
from tradewind.persist.queries import triggers as trigger_queries
from tradewind.persist.models import DagModel
from tradewind.persist.queries.asset_watchers import (
    WATCHER_CLASSPATH,
    dormant_watchers,
    prune_asset_watchers,
    watcher_rows,
)
from tradewind.persist.queries.dags import store_file_results

NOW = datetime(2024, 3, 1, tzinfo=timezone.utc)


def _watched(path: str, name: str = "w", interval: float = 0.05) -> Asset:
    return Asset("landing", watchers=[AssetWatcher(name, FileDeleteTrigger(path, poke_interval=interval))])


# ------------------------------------------------------------------ definition
def test_a_watcher_needs_an_event_trigger():
    with pytest.raises(InvalidAssetError, match="must inherit BaseEventTrigger; FileTrigger does not"):
        AssetWatcher("w", FileTrigger("/tmp/x"))
    with pytest.raises(InvalidAssetError, match="trigger must be a trigger object"):
        AssetWatcher("w", "not a trigger")
    with pytest.raises(InvalidAssetError, match="watchers item 1 is 3"):
        Asset("a", watchers=[AssetWatcher("w", FileDeleteTrigger("/tmp/x")), 3])
    with pytest.raises(InvalidAssetError, match="watcher names must be unique"):
        Asset("a", watchers=[AssetWatcher("w", FileDeleteTrigger("/tmp/x")), AssetWatcher("w", FileDeleteTrigger("/y"))])
    assert isinstance(FileDeleteTrigger("/tmp/x"), BaseEventTrigger)


def test_watchers_travel_in_the_asset_dict_only_when_there_are_some():
    watched = _watched("/data/in.csv")
    data = watched.to_dict()
    assert data["watchers"] == [{"name": "w", "trigger": {
        "classpath": "tradewind.definition.triggers.event.FileDeleteTrigger",
        "kwargs": {"filepath": "/data/in.csv", "poke_interval": 0.05}}}]
    again = Asset.from_dict(data)
    assert again == watched and again.watchers == watched.watchers
    assert "watchers" not in Asset("plain").to_dict()  # other snapshots keep their hash


def test_asset_decorator_passes_watchers_to_its_asset(tmp_path):
    namespace: dict = {}
    source = ("from tradewind.definition.asset_decorator import asset\n"
              "from tradewind.definition.assets import AssetWatcher\n"
              "from tradewind.definition.triggers.event import FileDeleteTrigger\n"
              f"@asset(schedule=None, watchers=[AssetWatcher('w', FileDeleteTrigger({str(tmp_path / 'f')!r}))])\n"
              "def produced():\n    return 1\n")
    exec(compile(source, "watched_asset.py", "exec"), namespace)
    assert [w.name for w in namespace["produced"].watchers] == ["w"]


# ------------------------------------------------------------------ running
def test_file_delete_trigger_fires_once_per_file(tmp_path):
    flag = tmp_path / "flag"

    async def first_event():
        gen = FileDeleteTrigger(str(flag), poke_interval=0.01).run()
        asyncio.get_running_loop().call_later(0.05, flag.write_text, "x")
        return await gen.__anext__()

    event = asyncio.run(first_event())
    assert event.payload is True and not flag.exists()


def test_directory_file_delete_trigger_fires_for_its_own_name_only(tmp_path):
    inbox = tmp_path / "inbox"  # missing at first: an empty listing, not an error
    us = DirectoryFileDeleteTrigger(directory=str(inbox), filename="us.flag", poke_interval=0.01)

    async def first_event():
        gen = us.run()

        def land():
            inbox.mkdir()
            (inbox / "eu.flag").write_text("x")
            (inbox / "us.flag").write_text("x")
        asyncio.get_running_loop().call_later(0.05, land)
        return await gen.__anext__()

    event = asyncio.run(first_event())
    assert event.payload == {"filepath": str(inbox / "us.flag")}
    assert sorted(p.name for p in inbox.iterdir()) == ["eu.flag"]  # the other asset's flag stays
    with pytest.raises(ValueError, match="must be a name, not a path"):
        DirectoryFileDeleteTrigger(directory="/x", filename="a/b")


def test_watch_restarts_the_trigger_after_each_event(tmp_path):
    flag = tmp_path / "flag"
    kwargs = {"asset": {"name": "landing", "uri": "landing"}, "watcher": "w",
              "classpath": "tradewind.definition.triggers.event.FileDeleteTrigger",
              "kwargs": {"filepath": str(flag), "poke_interval": 0.01}}
    seen: list[WatcherEvent] = []

    async def scenario():
        task = asyncio.ensure_future(watch(7, kwargs, seen.append, idle_restart_delay=0.01))
        for _ in range(3):
            flag.write_text("x")
            for _ in range(500):
                await asyncio.sleep(0.01)
                if not flag.exists():
                    break
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert [(e.trigger_id, e.watcher, e.payload) for e in seen] == [(7, "w", True)] * 3


def test_a_failing_trigger_is_restarted_after_the_retry_delay(tmp_path, caplog):
    kwargs = {"asset": {"name": "a", "uri": "a"}, "watcher": "broken",
              "classpath": "tradewind.definition.triggers.event.FileDeleteTrigger", "kwargs": {"filepath": ""}}

    async def scenario():
        task = asyncio.ensure_future(watch(1, kwargs, lambda e: None, retry_delay=0.01))
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert caplog.text.count("watcher 'broken' of asset 'a' failed; restarting") >= 2


# ------------------------------------------------------------------ rows in the database
@pytest.fixture(params=["sqlite", "postgresql"])
def db(request):
    """The same tests on a migrated SQLite database and on a real PostgreSQL one."""
    return request.getfixturevalue("db" if request.param == "sqlite" else "pg_db")


def _store(db, *dags, fileloc="/dags/f.py"):
    result = FileParseResult(fileloc=fileloc, dags=[serialize_dag(d) for d in dags])
    with db.session_scope() as session:
        store_file_results(session, [result], NOW)


def _consumer(dag_id: str, schedule) -> DAG:
    with DAG(dag_id, schedule=schedule, start_date=datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="t")
    return dag


def test_watcher_rows_follow_the_dags_scheduled_on_the_asset(db, tmp_path):
    path = str(tmp_path / "in.csv")
    _store(db, _consumer("c1", [_watched(path)]), _consumer("c2", [_watched(path)]))
    with db.session_scope() as session:
        rows = watcher_rows(session)
        assert len(rows) == 1  # one row per (asset, watcher), whichever DAGs declare it
        (row,) = rows.values()
        assert row.classpath == WATCHER_CLASSPATH and row.kwargs["kwargs"]["filepath"] == path
        first_id = row.id
        assert trigger_queries.delete_unused(session) == 0  # no task waits on it, yet it stays
    # A changed trigger: a new row (the triggerer running the old id cancels it).
    _store(db, _consumer("c1", [_watched(path, interval=1.0)]), _consumer("c2", [_watched(path, interval=1.0)]))
    with db.session_scope() as session:
        (row,) = watcher_rows(session).values()
        assert row.id != first_id and row.kwargs["kwargs"]["poke_interval"] == 1.0
    # Renamed in both DAGs: the old name goes.
    _store(db, _consumer("c1", [_watched(path, "v2", 1.0)]), _consumer("c2", [_watched(path, "v2", 1.0)]))
    with db.session_scope() as session:
        assert [name for (_, name) in watcher_rows(session)] == ["v2"]
    # No DAG scheduled on it any more: pruned.
    _store(db, _consumer("c1", None), _consumer("c2", None))
    with db.session_scope() as session:
        assert watcher_rows(session) == {}
        assert prune_asset_watchers(session) == 0


def test_a_watcher_is_dormant_while_every_consumer_is_paused(db, tmp_path):
    path = str(tmp_path / "in.csv")
    _store(db, _consumer("c1", [_watched(path)]), _consumer("c2", [_watched(path)]))
    with db.session_scope() as session:
        (row,) = watcher_rows(session).values()
        row.triggerer_id = 42
        assert dormant_watchers(session, 42) == set()
        session.get(DagModel, "c1").is_paused = True
        session.flush()
        assert dormant_watchers(session, 42) == set()  # c2 still wants it
        session.get(DagModel, "c2").is_paused = True
        session.flush()
        assert dormant_watchers(session, 42) == {row.id}
        assert dormant_watchers(session, 7) == set()  # another triggerer holds none


def test_recorded_watcher_events_queue_the_consumers(db, tmp_path):
    _store(db, _consumer("c1", [_watched(str(tmp_path / "in.csv"))]))
    asset_dict = {"name": "landing", "uri": "landing", "group": "asset", "extra": {}}
    assert record_watcher_events(db, [WatcherEvent(1, asset_dict, "w", {"file": "in.csv"})], NOW) == 1
    with db.session_scope() as session:
        (event,) = session.scalars(select(AssetEvent)).all()
        assert event.extra == {"from_trigger": True, "payload": {"file": "in.csv"}}
        assert event.source_dag_id is None
        assert [q.target_dag_id for q in session.scalars(select(AssetDagRunQueue))] == ["c1"]


def test_asset_refs_get_schedule_rows_now_or_when_the_asset_appears(db):
    _store(db, _consumer("by_name", Asset.ref(name="late")), _consumer("by_uri", Asset.ref(uri="s3://b/early")),
           fileloc="/dags/consumers.py")
    with db.session_scope() as session:
        assert session.scalars(select(DagScheduleAssetReference)).all() == []  # nothing to point at yet
    producer = _consumer("producer", None)
    producer.task_dict["t"].outlets = [Asset("late", uri="s3://b/late"), Asset("early", uri="s3://b/early")]
    _store(db, producer, fileloc="/dags/producer.py")
    with db.session_scope() as session:
        refs = session.execute(select(DagScheduleAssetReference.dag_id, DagScheduleAssetReference.asset_id)).all()
        assert sorted(dag_id for dag_id, _ in refs) == ["by_name", "by_uri"]


def test_an_asset_first_created_through_an_alias_queues_the_dags_on_its_reference(db):
    from tradewind.persist.queries.assets import record_asset_events

    _store(db, _consumer("on_late", Asset.ref(uri="s3://b/made-at-run-time")))
    with db.session_scope() as session:
        record_asset_events(session, [], alias_events=[{
            "alias": {"alias": "outputs", "group": "asset"},
            "asset": {"name": "made", "uri": "s3://b/made-at-run-time", "group": "asset", "extra": {}},
            "extra": {"rows": 1}}], source=("producer", "t", "run", -1), now=NOW)
    with db.session_scope() as session:
        assert [q.target_dag_id for q in session.scalars(select(AssetDagRunQueue))] == ["on_late"]
        assert [r.dag_id for r in session.scalars(select(DagScheduleAssetReference))] == ["on_late"]


def test_the_trigger_table_cleanup_still_removes_unwaited_task_triggers(db):
    with db.session_scope() as session:
        trigger_queries.add_trigger(session, "tradewind.definition.triggers.file.FileTrigger", {"filepath": "/x"}, NOW)
        session.add(Trigger(classpath=WATCHER_CLASSPATH, kwargs={"asset": {"name": "a", "uri": "a"}, "watcher": "w"},
                            created_date=NOW))
        session.flush()
        assert trigger_queries.delete_unused(session) == 1
        assert [t.classpath for t in session.scalars(select(Trigger))] == [WATCHER_CLASSPATH]
