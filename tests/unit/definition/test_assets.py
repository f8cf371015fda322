"""Asset definitions: Airflow 3's construction and URI rules, conditions, schedules, snapshots."""

from __future__ import annotations

import warnings
from datetime import datetime, timezone

import pytest

from tradewind import DAG, Asset, AssetAll, AssetAny, AssetOrTimeSchedule, Dataset, EmptyOperator
from tradewind.definition.assets import (
    AssetEvent,
    AssetTriggeredTimetable,
    InletEventAccessors,
    InvalidAssetError,
    OutletEventAccessors,
    TriggeringAssetEvents,
    condition_from_expression,
)
from tradewind.definition.exceptions import InvalidScheduleError
from tradewind.definition.timetables import CronTriggerTimetable, timetable_from_dict
from tradewind.parse.snapshot import DagSnapshot, serialize_dag

START = datetime(2024, 1, 1)


def test_name_and_uri_default_to_each_other_and_identify_the_asset():
    assert (Asset("orders").name, Asset("orders").uri) == ("orders", "orders")
    by_uri = Asset(uri="s3://bucket/orders")
    assert by_uri.name == by_uri.uri == "s3://bucket/orders"
    assert by_uri.group == "asset" and by_uri.extra == {}
    assert Asset("x", extra={"a": 1}) == Asset("x")
    assert Asset("x") != Asset("x", uri="y")
    assert len({Asset("x"), Asset("x", group="g"), Asset("y")}) == 2
    assert Dataset is Asset
    assert Asset("s3://b/k").__fspath__() == "s3://b/k"


def test_uri_is_normalized_like_airflow():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asset = Asset(uri="S3://user:pw@bucket/dir/?b=2&a=1#frag")
    assert asset.uri == "s3://bucket/dir?a=1&b=2"
    assert any("user info" in str(w.message) for w in caught)
    assert Asset(uri="x-custom://Keep/As/Is/").uri == "x-custom://Keep/As/Is/"
    assert Asset("plain name/").uri == "plain name/"


@pytest.mark.parametrize("kwargs, message", [
    ({"uri": "airflow://dag/x"}, "'airflow' scheme is reserved"),
    ({"name": ""}, "name cannot be empty"),
    ({"name": "   "}, "cannot be just whitespace"),
    ({"name": "café"}, "ASCII"),
    ({"name": "x" * 1501}, "maximum is 1500"),
    ({"name": "self"}, "reserved"),
    ({"name": 3}, "must be a string"),
    ({}, "needs a name or a uri"),
    ({"name": "x", "extra": [1]}, "extra must be a dict"),
])
def test_invalid_assets_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(InvalidAssetError, match=message):
        Asset(**kwargs)


def test_invalid_asset_inside_a_dag_names_the_dag():
    with pytest.raises(InvalidAssetError, match="in DAG 'producer'"):
        with DAG("producer", schedule=None, start_date=START):
            EmptyOperator(task_id="t", outlets=[Asset("airflow://x")])


def test_conditions_evaluate_over_ready_assets():
    a, b, c = Asset("a"), Asset("b"), Asset("c")
    cond = a & (b | c)
    assert isinstance(cond, AssetAll)
    assert not cond.evaluate({a.key})
    assert cond.evaluate({a.key, c.key})
    assert (a | b).evaluate({b.key})
    assert not (a | b).evaluate(set())
    assert list(((a & b) & c).objects) == [a, b, c]  # kept flat
    assert list(((a | b) | c).objects) == [a, b, c]
    assert [x.name for x in (a & (a | b)).iter_assets()] == ["a", "b"]
    assert condition_from_expression(cond.as_expression()) == cond


def test_combining_with_a_non_asset_is_a_clear_error():
    with pytest.raises(InvalidScheduleError, match=r"cannot combine Asset\('a'\) with 3 \(int\) using '&'"):
        Asset("a") & 3
    with pytest.raises(InvalidScheduleError, match="with 'b' \\(str\\) using '\\|'"):
        Asset("a") | "b"
    with pytest.raises(InvalidScheduleError, match="AssetAny item 1 is 2"):
        AssetAny(Asset("a"), 2)


def test_schedule_list_means_all_and_bad_items_name_the_dag_and_value():
    a, b = Asset("a"), Asset("b")
    dag = DAG("consumer", schedule=[a, b], start_date=START)
    assert isinstance(dag.timetable, AssetTriggeredTimetable)
    assert dag.timetable.asset_condition == AssetAll(a, b)
    assert dag.timetable.summary == "Asset"
    assert DAG("one", schedule=[a]).timetable.asset_condition == a
    with pytest.raises(InvalidScheduleError, match=r"DAG 'bad': schedule list item 1 is 'b' \(str\)"):
        DAG("bad", schedule=[a, "b"])
    with pytest.raises(InvalidScheduleError, match="DAG 'empty': schedule is an empty list"):
        DAG("empty", schedule=[])


def test_asset_timetables_round_trip_and_asset_or_time_delegates():
    a = Asset("a")
    tt = AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 * * * *", "UTC"), assets=[a, Asset("b")])
    again = timetable_from_dict(tt.serialize())
    assert again == tt and isinstance(again, AssetOrTimeSchedule)
    assert again.summary == "Asset or 0 * * * *"
    assert tt.periodic
    with pytest.raises(InvalidScheduleError, match="timetable must be a Timetable"):
        AssetOrTimeSchedule(timetable="@daily", assets=[a])
    plain = timetable_from_dict(AssetTriggeredTimetable(a | Asset("c")).serialize())
    assert plain.next_dagrun_info(last_automated_data_interval=None, restriction=None) is None


def test_snapshot_carries_condition_and_outlets_only_for_producers():
    out = Asset(name="orders", uri="s3://b/orders", extra={"owner": "sales"})
    with DAG("snap", schedule=[Asset("raw")], start_date=START) as dag:
        EmptyOperator(task_id="make", outlets=[out, "not an asset"])
        EmptyOperator(task_id="other")
    data = serialize_dag(dag)
    snap = DagSnapshot.from_dict(data)
    assert data["timetable"]["__type"] == "asset"
    assert snap.timetable_summary == "Asset"
    assert snap.tasks["make"].outlets == ({"name": "orders", "uri": "s3://b/orders", "group": "asset",
                                          "extra": {"owner": "sales"}},)
    assert "outlets" not in next(t for t in data["tasks"] if t["task_id"] == "other")


def test_event_accessors():
    a, b = Asset("a"), Asset(name="b", uri="s3://b")
    outlet_events = OutletEventAccessors([a, b])
    outlet_events[a].extra["rows"] = 1
    outlet_events["s3://b"].extra = {"k": "v"}
    assert outlet_events.extras() == {a.key: {"rows": 1}, b.key: {"k": "v"}}
    assert b.uri == "s3://b/"  # an empty path becomes "/" (Airflow), and "s3://b" still finds it
    now = datetime(2024, 1, 1, tzinfo=timezone.utc)
    events = [AssetEvent(1, a, {}, now), AssetEvent(2, a, {"n": 2}, now), AssetEvent(3, b, {}, now)]
    triggering = TriggeringAssetEvents(events)
    assert [e.id for e in triggering[a]] == [1, 2]
    assert [e.id for e in triggering["s3://b"]] == [3] and triggering["s3://b"][0].uri == "s3://b/"
    assert set(triggering) == {a, b}
    with pytest.raises(KeyError):
        triggering["c"]
    asked = []
    inlets = InletEventAccessors([a, "x"], lambda asset: asked.append(asset) or events[:2])
    assert inlets[a][-1].extra == {"n": 2} and inlets["a"] is inlets[a]
    assert asked == [a]
    with pytest.raises(KeyError, match="not one of the task's inlets"):
        inlets[b]
