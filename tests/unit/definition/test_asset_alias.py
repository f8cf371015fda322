"""Asset aliases and Metadata (Airflow 2.10+/3): construction, conditions over what an alias
resolves to, schedules and snapshots, outlet_events[alias].add, yielded Metadata, and events
seen through aliases (triggering_asset_events, inlet_events)."""

from __future__ import annotations

import logging
import warnings
from datetime import datetime, timezone

import pytest

from tradewind import DAG, Asset, EmptyOperator
from tradewind.definition.assets import (
    AssetAlias,
    AssetAliasKey,
    AssetAll,
    AssetAny,
    AssetEvent,
    AssetOrTimeSchedule,
    DatasetAlias,
    InletEventAccessors,
    InvalidAssetError,
    Metadata,
    OutletEventAccessors,
    TriggeringAssetEvents,
    collect_metadata,
    condition_from_expression,
    outlet_aliases,
)
from tradewind.definition.exceptions import InvalidScheduleError
from tradewind.definition.timetables import CronTriggerTimetable, timetable_from_dict
from tradewind.parse.snapshot import DagSnapshot, serialize_dag

START = datetime(2024, 1, 1)
NOW = datetime(2024, 1, 2, tzinfo=timezone.utc)


def test_alias_identity_group_and_validation():
    alias = AssetAlias("outputs")
    assert (alias.name, alias.group, alias.key) == ("outputs", "asset", AssetAliasKey("outputs"))
    assert AssetAlias("outputs", group="g").group == "g"
    assert AssetAlias("outputs") == AssetAlias("outputs", group="g")  # the name is the identity
    assert len({AssetAlias("a"), AssetAlias("a"), AssetAlias("b")}) == 2
    assert AssetAlias("a") != Asset("a") and DatasetAlias is AssetAlias
    assert repr(AssetAlias("a")) == "AssetAlias('a')"
    assert AssetAlias.from_dict(AssetAlias("a", group="g").to_dict()) == AssetAlias("a")
    for bad, message in ((None, "must be a string"), ("", "cannot be empty"), ("   ", "just whitespace"),
                         ("é", "ASCII"), ("x" * 1501, "maximum is 1500")):
        with pytest.raises(InvalidAssetError, match=message):
            AssetAlias(bad)


def test_alias_is_true_when_an_asset_it_resolves_to_is_ready():
    alias, a, b = AssetAlias("x"), Asset("a"), Asset("b")
    assert not alias.evaluate({a.key})  # resolves to nothing yet
    assert not alias.evaluate({a.key}, {"x": set()})
    assert alias.evaluate({a.key}, {"x": {a.key, b.key}})
    assert not alias.evaluate({Asset("c").key}, {"x": {a.key}})
    both = alias & b
    assert isinstance(both, AssetAll)
    assert not both.evaluate({a.key}, {"x": {a.key}}) and both.evaluate({a.key, b.key}, {"x": {a.key}})
    either = b | alias
    assert isinstance(either, AssetAny) and either.evaluate({a.key}, {"x": [a.key]})
    assert list((alias & (b | AssetAlias("y")) & alias).iter_aliases()) == [alias, AssetAlias("y")]
    assert list(both.iter_assets()) == [b] and list(alias.iter_assets()) == []
    with pytest.raises(InvalidScheduleError, match="only Asset, AssetAlias, AssetAll and AssetAny"):
        alias & "b"


def test_alias_schedules_serialize_and_round_trip():
    alias = AssetAlias("x", group="g")
    expression = (alias | Asset("b")).as_expression()
    assert expression == {"any": [{"alias": {"name": "x", "group": "g"}},
                                  {"asset": {"name": "b", "uri": "b", "group": "asset", "extra": {}}}]}
    again = condition_from_expression(expression)
    assert again == alias | Asset("b") and next(again.iter_aliases()).group == "g"
    with DAG("on_alias", schedule=[AssetAlias("x")], start_date=START) as dag:
        EmptyOperator(task_id="t")
    assert dag.timetable.asset_condition == AssetAlias("x")
    snap = DagSnapshot.from_dict(serialize_dag(dag))
    assert snap.timetable_summary == "Asset"
    assert timetable_from_dict(serialize_dag(dag)["timetable"]).asset_condition == AssetAlias("x")
    timed = AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 6 * * *", "UTC"), assets=AssetAlias("x") & Asset("b"))
    assert timetable_from_dict(timed.serialize()) == timed


def test_snapshot_keeps_alias_outlets_apart_from_asset_outlets():
    with DAG("producer", schedule=None, start_date=START) as dag:
        EmptyOperator(task_id="make", outlets=[AssetAlias("out"), Asset("a"), AssetAlias("out")])
        EmptyOperator(task_id="plain", outlets=[Asset("a")])
    data = serialize_dag(dag)
    snap = DagSnapshot.from_dict(data)
    assert snap.tasks["make"].outlet_aliases == ({"alias": "out", "group": "asset"},)
    assert [o["name"] for o in snap.tasks["make"].outlets] == ["a"]
    assert "outlet_aliases" not in next(t for t in data["tasks"] if t["task_id"] == "plain")
    assert outlet_aliases([AssetAlias("o"), Asset("o"), "x", AssetAlias("o")]) == [AssetAlias("o")]


def test_outlet_events_add_through_an_alias():
    alias, asset = AssetAlias("out"), Asset("s3://bucket/file", extra={"static": 1})
    outlet_events = OutletEventAccessors([alias, Asset("plain")])
    outlet_events[alias].add(asset, extra={"k": "v"})
    outlet_events["out"].add(Asset("s3://bucket/other"))  # Airflow 2.10 looked aliases up by name
    outlet_events[alias].add("s3://bucket/by-uri")  # a uri stands for Asset(uri)
    assert outlet_events.alias_events() == [
        {"alias": {"alias": "out", "group": "asset"}, "asset": asset.to_dict(), "extra": {"k": "v"}},
        {"alias": {"alias": "out", "group": "asset"}, "asset": Asset("s3://bucket/other").to_dict(), "extra": {}},
        {"alias": {"alias": "out", "group": "asset"}, "asset": Asset("s3://bucket/by-uri").to_dict(), "extra": {}},
    ]
    assert outlet_events.extras() == {}  # an alias's accessor is not an asset's
    with pytest.raises(InvalidAssetError, match=r"add\(\) takes an Asset, got 3"):
        outlet_events[alias].add(3)
    with pytest.raises(InvalidAssetError, match="extra must be a dict"):
        outlet_events[alias].add(asset, extra=[1])


def test_add_where_airflow_ignores_it_warns():
    outlet_events = OutletEventAccessors([Asset("plain")])
    with pytest.warns(UserWarning, match="only an AssetAlias outlet's events can have assets added"):
        outlet_events[Asset("plain")].add(Asset("x"))
    with pytest.warns(UserWarning, match=r"AssetAlias\('undeclared'\) is not in the task's outlets"):
        outlet_events[AssetAlias("undeclared")].add(Asset("x"))
    assert outlet_events.alias_events() == []  # only declared aliases' events are recorded (Airflow)


def test_metadata_arguments():
    meta = Metadata(Asset("a"), {"rows": 3}, alias=AssetAlias("out"))
    assert (meta.asset, meta.extra, meta.alias, meta.uri, meta.alias_name) == (
        Asset("a"), {"rows": 3}, AssetAlias("out"), "a", "out")
    assert Metadata("s3://b/k", {}, alias="out") == Metadata(target=Asset("s3://b/k"), extra={}, alias=AssetAlias("out"))
    assert Metadata(Asset("a"), {}).alias is None
    with pytest.raises(InvalidAssetError, match="needs an Asset"):
        Metadata(3, {})
    with pytest.raises(InvalidAssetError, match="extra must be a dict"):
        Metadata(Asset("a"), None)
    with pytest.raises(InvalidAssetError, match="alias must be an AssetAlias"):
        Metadata(Asset("a"), {}, alias=3)


def test_yielded_metadata_fills_outlet_events_and_the_return_value_stays(caplog):
    a, alias = Asset("a"), AssetAlias("out")
    outlet_events = OutletEventAccessors([a, alias])

    def task():
        yield Metadata(a, {"rows": 1})
        yield Metadata(a, {"more": 2})
        yield "not metadata"
        yield Metadata(Asset("s3://x/y"), {"k": "v"}, alias=alias)
        return "value"

    log = logging.getLogger("test_alias")
    with caplog.at_level(logging.WARNING, logger="test_alias"):
        assert collect_metadata(task(), outlet_events, log) == "value"
    assert "Ignoring unknown data of <class 'str'> received from task" in caplog.text
    assert outlet_events.extras()[a.key] == {"rows": 1, "more": 2}
    assert outlet_events.alias_events() == [
        {"alias": {"alias": "out", "group": "asset"}, "asset": Asset("s3://x/y").to_dict(), "extra": {"k": "v"}}]
    assert collect_metadata(5, outlet_events) == 5  # not a generator: unchanged


def test_triggering_and_inlet_events_through_an_alias():
    alias, a, b = AssetAlias("out"), Asset("a"), Asset("b")
    events = [AssetEvent(1, a, {}, NOW, source_aliases=(alias,)), AssetEvent(2, b, {}, NOW)]
    triggering = TriggeringAssetEvents(events)
    assert [e.id for e in triggering[alias]] == [1] and [e.id for e in triggering["out"]] == [1]
    assert [e.id for e in triggering[a]] == [1]
    assert set(triggering) == {a, b, alias}  # as Airflow 3: alias keys sit beside asset keys
    loaded = []
    inlets = InletEventAccessors([alias, a], lambda key: loaded.append(key) or events[:1])
    assert inlets[alias][-1].source_aliases == (alias,) and inlets["out"] is inlets[alias]
    assert loaded == [alias]
    assert list(inlets) == [alias, a]


def test_event_dict_round_trip_keeps_source_aliases():
    event = AssetEvent(7, Asset(name="n", uri="s3://b/k"), {"x": 1}, NOW, "dag", "task", "run", -1,
                       source_aliases=(AssetAlias("out", group="g"),))
    again = AssetEvent.from_dict(event.to_dict())
    assert again == event and again.source_aliases[0].group == "g"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert AssetEvent.from_dict({**event.to_dict(), "source_aliases": []}).source_aliases == ()


def test_python_operator_and_task_collect_yielded_metadata():
    from tradewind import task
    from tradewind.definition.operators.python import PythonOperator

    a, alias = Asset("a"), AssetAlias("out")

    def produce(n):
        yield Metadata(a, {"n": n})
        yield Metadata(Asset("s3://x/z"), {"n": n}, alias=alias)
        return n * 2

    with DAG("gen", schedule=None, start_date=START):
        classic = PythonOperator(task_id="classic", python_callable=produce, op_args=[3], outlets=[a, alias])

        @task(outlets=[a, alias])
        def decorated():
            yield Metadata(a, {"from": "task"})
            return "v"

        decorated()
    outlet_events = OutletEventAccessors(classic.outlets)
    assert classic.execute({"outlet_events": outlet_events}) == 6
    # As in Airflow, the aliased asset's accessor gets the extra too (unused: it is no outlet).
    assert outlet_events.extras() == {a.key: {"n": 3}, Asset("s3://x/z").key: {"n": 3}}
    assert [e["asset"]["uri"] for e in outlet_events.alias_events()] == ["s3://x/z"]
    task_op = classic.dag.get_task("decorated")
    outlet_events = OutletEventAccessors(task_op.outlets)
    assert task_op.execute({"outlet_events": outlet_events}) == "v"
    assert outlet_events.extras() == {a.key: {"from": "task"}}


def test_for_asset_and_for_asset_alias_lookups():
    alias, a = AssetAlias("out"), Asset(name="n", uri="s3://b/k")
    events = [AssetEvent(1, a, {"x": 1}, NOW, source_aliases=(alias,))]
    for accessor in (TriggeringAssetEvents(events), InletEventAccessors([a, alias], lambda key: events)):
        assert accessor.for_asset(uri="s3://b/k") == accessor[a] == accessor.for_asset(name="n")
        assert accessor.for_asset(name="n", uri="s3://b/k") == accessor[a]
        assert accessor.for_asset_alias(name="out") == accessor[alias]
        with pytest.raises(ValueError, match="needs a name or a uri"):
            accessor.for_asset()
    outlet_events = OutletEventAccessors([a, alias])
    outlet_events.for_asset(uri="s3://b/k").extra["k"] = 1
    outlet_events.for_asset_alias(name="out").add(Asset("s3://b/other"))
    assert outlet_events.extras() == {a.key: {"k": 1}} and len(outlet_events.alias_events()) == 1
