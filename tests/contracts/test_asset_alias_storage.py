"""Asset-alias storage on SQLite and PostgreSQL: alias rows from schedules and outlets, events
emitted through aliases (one per asset and extra, missing assets created, existing ones left as
they are), what aliases resolve to, queueing for alias and asset consumers, the events an
alias-scheduled run takes, and storing a new DAG version keeping the alias-queued rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from tradewind.definition.assets import Asset, AssetAlias, AssetKey
from tradewind.persist.db import Database
from tradewind.persist.models import (
    AssetAliasAsset,
    AssetAliasAssetEvent,
    AssetAliasModel,
    AssetDagRunQueue,
    AssetModel,
    DagModel,
    DagScheduleAssetAliasReference,
)
from tradewind.persist.queries import assets as q

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ALIAS = AssetAlias("outputs")
KNOWN = Asset("s3://bucket/known", extra={"owner": "sales"})


def _snap(dag_id: str, *, schedule=None, outlet_aliases=()) -> dict:
    timetable = {"__type": "null"} if schedule is None else {"__type": "asset", "condition": schedule.as_expression()}
    task = {"task_id": "t", **({"outlet_aliases": [a.to_dict() for a in outlet_aliases]} if outlet_aliases else {})}
    return {"dag_id": dag_id, "timetable": timetable, "tasks": [task]}


def _store(db: Database, snap: dict) -> None:
    with db.session_scope() as s:
        if s.get(DagModel, snap["dag_id"]) is None:
            s.add(DagModel(dag_id=snap["dag_id"], fileloc="/dags/x.py", is_paused=False, is_active=True, tags=[]))
            s.flush()
        q.sync_dag_assets(s, snap, T0)


def _count(db: Database, model) -> int:
    with db.session_scope() as s:
        return s.scalar(select(func.count()).select_from(model))


def _emit(db: Database, items: list[tuple[AssetAlias, Asset, dict]], *, at: datetime = T0) -> None:
    with db.session_scope() as s:
        q.record_asset_events(
            s, [], alias_events=[{"alias": a.to_dict(), "asset": x.to_dict(), "extra": e} for a, x, e in items],
            source=("producer", "t", "r1", -1), now=at)


def test_alias_rows_come_from_schedules_and_outlets(any_db: Database) -> None:
    _store(any_db, _snap("producer", outlet_aliases=[ALIAS, AssetAlias("other", group="g")]))
    _store(any_db, _snap("consumer", schedule=ALIAS | Asset("plain")))
    with any_db.session_scope() as s:
        infos = {i.name: i for i in q.list_aliases(s)}
        assert (infos["other"].group, infos["other"].resolves_to, infos["other"].consumers) == ("g", (), ())
        assert infos["outputs"].consumers == ("consumer",)
        assert q.schedule_aliases_of(_snap("c", schedule=ALIAS & Asset("p"))) == [ALIAS.to_dict()]
    _store(any_db, _snap("consumer", schedule=Asset("plain")))  # no longer on the alias
    assert _count(any_db, DagScheduleAssetAliasReference) == 0
    assert _count(any_db, AssetAliasModel) == 2  # aliases stay, as assets do


def test_events_through_aliases_resolve_them_and_queue_both_kinds_of_consumer(any_db: Database) -> None:
    _store(any_db, _snap("on_alias", schedule=ALIAS))
    _store(any_db, _snap("on_known", schedule=KNOWN))
    _store(any_db, _snap("on_other_alias", schedule=AssetAlias("second")))
    new = Asset("s3://bucket/new")
    _emit(any_db, [(ALIAS, KNOWN, {"k": 1}), (AssetAlias("second"), Asset("s3://bucket/known"), {"k": 1}),
                   (ALIAS, new, {}), (ALIAS, new, {"other": True})])
    # (known, {"k":1}) through two aliases is one event; new with two extras is two.
    assert _count(any_db, AssetAliasAssetEvent) == 4 and _count(any_db, AssetAliasAsset) == 3
    with any_db.session_scope() as s:
        events = q.list_events(s, alias="outputs")
        assert sorted((e.uri, str(e.extra)) for e in events) == [
            ("s3://bucket/known", "{'k': 1}"), ("s3://bucket/new", "{'other': True}"), ("s3://bucket/new", "{}")]
        known_event = next(e for e in events if e.uri == KNOWN.uri)
        assert known_event.source_aliases == (("outputs", "asset"), ("second", "asset"))
        assert known_event.to_event().source_aliases == (ALIAS, AssetAlias("second"))
        # The existing asset keeps its extra; the unknown one was created.
        extras = {uri: extra for uri, extra in s.execute(select(AssetModel.uri, AssetModel.extra))}
        assert extras == {KNOWN.uri: {"owner": "sales"}, new.uri: {}}
        assert q.alias_resolutions(s, ["outputs", "second", "unused"]) == {
            "outputs": {KNOWN.key, new.key}, "second": {KNOWN.key}}
        queued = q.queued_assets(s)
        assert queued["on_alias"].keys() == {KNOWN.key, new.key}
        assert queued["on_known"].keys() == {KNOWN.key}
        assert queued["on_other_alias"].keys() == {KNOWN.key}
        assert len(q.unconsumed_events(s, "on_alias", since=None)) == 3
        assert len(q.unconsumed_events(s, "on_known", since=None)) == 1
        assert q.list_aliases(s, alias="outputs")[0].resolves_to == (
            AssetKey(KNOWN.uri, KNOWN.uri), AssetKey(new.uri, new.uri))


def test_an_alias_consumer_takes_only_events_emitted_through_its_alias(any_db: Database) -> None:
    _store(any_db, _snap("on_alias", schedule=ALIAS))
    _emit(any_db, [(ALIAS, KNOWN, {"via": "alias"})])
    with any_db.session_scope() as s:  # the same asset updated directly, not through the alias
        q.record_asset_events(s, [KNOWN.to_dict()], now=T0 + timedelta(seconds=1))
        events = q.unconsumed_events(s, "on_alias", since=None)
        assert len(events) == 1 and events[0][1] == T0


def test_storing_a_new_version_keeps_rows_queued_through_the_alias(any_db: Database) -> None:
    _store(any_db, _snap("on_alias", schedule=ALIAS | Asset("plain")))
    _emit(any_db, [(ALIAS, KNOWN, {})])
    _store(any_db, _snap("on_alias", schedule=ALIAS | Asset("plain")))  # re-parsed, same schedule
    assert _count(any_db, AssetDagRunQueue) == 1
    _store(any_db, _snap("on_alias", schedule=Asset("plain")))  # the alias is gone: its rows too
    assert _count(any_db, AssetDagRunQueue) == 0
