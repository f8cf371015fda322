"""``@asset`` / ``@asset.multi`` and ``Asset.ref``: the DAGs they build, what the function receives
(Airflow 3's rules: default, self, context, assets by parameter name), schedules on references and
multi-assets, and the errors that name the bad argument."""

from __future__ import annotations

import logging
import textwrap
from typing import Any

import pytest

from tradewind.definition.asset_decorator import AssetDefinition, MultiAssetDefinition, asset
from tradewind.definition.assets import (
    Asset,
    AssetAll,
    AssetKey,
    AssetNameRef,
    AssetUriRef,
    InvalidAssetError,
    OutletEventAccessors,
    asset_condition,
    condition_from_expression,
)
from tradewind.definition.helpers import DagContext
from tradewind.parse.snapshot import DagSnapshot, serialize_dag


def _define(source: str) -> dict[str, Any]:
    """Run DAG-file source as a module (module-level functions, as @asset requires)."""
    namespace: dict[str, Any] = {"__name__": "asset_dag_file"}
    DagContext.clear_autoregistered()
    exec(compile(textwrap.dedent(source), "asset_dag_file.py", "exec"), namespace)
    namespace["__registered__"] = {d.dag_id: d for d in DagContext.clear_autoregistered()}
    return namespace


def _run(task: Any, **context: Any) -> Any:
    context.setdefault("outlet_events", OutletEventAccessors(task.outlets))
    return task.execute(context)


def test_an_asset_function_is_an_asset_and_a_one_task_dag():
    ns = _define("""
        from tradewind.definition.asset_decorator import asset

        @asset(schedule="@daily", tags=["lake"], description="raw data")
        def raw_orders(self, context):
            return [self.name, self.uri, context["marker"]]

        @asset(schedule=None, name="clean", uri="s3://lake/clean", group="tables", extra={"tier": 1}, dag_id="make_clean")
        def cleaner():
            return "cleaned"
    """)
    raw, clean = ns["raw_orders"], ns["cleaner"]
    assert isinstance(raw, AssetDefinition) and isinstance(raw, Asset)
    assert (raw.name, raw.uri) == ("raw_orders", "raw_orders")  # the uri defaults to the name
    assert (clean.name, clean.uri, clean.group, clean.extra) == ("clean", "s3://lake/clean", "tables", {"tier": 1})
    dags = ns["__registered__"]
    assert set(dags) == {"raw_orders", "make_clean"}  # registered like a `with DAG(...)` block
    dag = dags["raw_orders"]
    assert list(dag.task_dict) == ["raw_orders"] and dag.catchup is False
    assert dag.tags == ["lake"] or list(dag.tags) == ["lake"]
    assert dag.description == "raw data"
    task = dag.task_dict["raw_orders"]
    assert task.outlets == [Asset("raw_orders")] and task.inlets == []
    # self is the plain asset (no definition attached), context the task's context
    value = _run(task, marker="ctx")
    assert value == ["raw_orders", "raw_orders", "ctx"]
    assert list(dags["make_clean"].task_dict) == ["cleaner"]
    assert dags["make_clean"].task_dict["cleaner"].outlets == [Asset("clean", uri="s3://lake/clean")]


def test_parameters_named_after_assets_are_inlets_and_receive_those_assets(caplog):
    ns = _define("""
        from tradewind.definition.asset_decorator import asset
        from tradewind.definition.assets import Asset

        @asset(schedule=None, uri="s3://lake/upstream")
        def upstream():
            return 1

        @asset(schedule=[upstream, Asset("side", uri="s3://lake/side")])
        def downstream(self, upstream, side, elsewhere, limit=10, context=None):
            return [upstream.uri, side.uri, elsewhere.uri, limit, type(self).__name__]
    """)
    task = ns["__registered__"]["downstream"].task_dict["downstream"]
    # Known when parsed: concrete assets; unknown yet: Asset.ref(name=...), as Airflow's inlets are.
    assert task.inlets == [Asset("upstream", uri="s3://lake/upstream"), Asset("side", uri="s3://lake/side"),
                           AssetNameRef("elsewhere")]
    with caplog.at_level(logging.WARNING):
        value = _run(task)
    # A parameter with a default keeps it (context=None stays None: Airflow's rule too).
    assert value == ["s3://lake/upstream", "s3://lake/side", "elsewhere", 10, "Asset"]
    assert "Asset 'elsewhere'" in caplog.text and "not defined in this DAG's file" in caplog.text


def test_yielded_metadata_and_outlet_events_fill_the_event():
    ns = _define("""
        from tradewind.definition.asset_decorator import asset
        from tradewind.definition.assets import Metadata

        @asset(schedule=None)
        def counted(self, outlet_events):
            outlet_events[self].extra["a"] = 1
            yield Metadata(self, {"b": 2})
            return "done"
    """)
    task = ns["__registered__"]["counted"].task_dict["counted"]
    events = OutletEventAccessors(task.outlets)
    assert _run(task, outlet_events=events) == "done"
    assert events.extras() == {AssetKey("counted", "counted"): {"a": 1, "b": 2}}


def test_asset_multi_makes_one_task_with_several_outlets_and_stands_for_all_of_them():
    ns = _define("""
        from tradewind.definition.asset_decorator import asset
        from tradewind.definition.assets import Asset

        @asset.multi(schedule=None, outlets=[Asset("a"), Asset("b", uri="s3://lake/b")])
        def make_both(context):
            return sorted(str(o) for o in context["outlet_events"]._assets)

        @asset(schedule=make_both)
        def after_both():
            return "ok"
    """)
    multi = ns["make_both"]
    assert isinstance(multi, MultiAssetDefinition)
    dags = ns["__registered__"]
    assert set(dags) == {"make_both", "after_both"}  # the DAG id defaults to the function's name
    task = dags["make_both"].task_dict["make_both"]
    assert task.outlets == [Asset("a"), Asset("b", uri="s3://lake/b")]
    condition = asset_condition(multi)
    assert condition.evaluate({AssetKey("a", "a"), AssetKey("b", "s3://lake/b")})
    assert not condition.evaluate({AssetKey("a", "a")})
    stored = serialize_dag(dags["after_both"])
    assert condition_from_expression(stored["timetable"]["condition"]) == AssetAll(Asset("a"), Asset("b", uri="s3://lake/b"))


@pytest.mark.parametrize(("source", "error", "match"), [
    ("@asset\ndef bare():\n    pass", TypeError, "@asset needs arguments"),
    ("@asset(schedule=None, max_active_runs=2)\ndef f():\n    pass", TypeError, "unexpected argument.*'max_active_runs'"),
    ("@asset(schedule=None)\ndef f(*rows):\n    pass", TypeError, "wildcard '\\*rows'"),
    ("@asset(schedule=None)\ndef f(**kw):\n    pass", TypeError, "wildcard '\\*\\*kw'"),
    ("@asset(schedule=None)\ndef f(a, /):\n    pass", TypeError, "positional-only argument 'a'"),
    ("def outer():\n    @asset(schedule=None)\n    def inner():\n        pass\nouter()", ValueError,
     "nested function 'outer.<locals>.inner'"),
    ("@asset.multi(schedule=None, outlets=[])\ndef f():\n    pass", ValueError, "no outlets provided"),
    ("@asset.multi(schedule=None, outlets=['s3://x'])\ndef f():\n    pass", InvalidAssetError,
     "outlets item 0 is 's3://x'"),
    ("@asset(schedule=None)\ndef self():\n    pass", InvalidAssetError, "'self' is reserved"),
    ("@asset(schedule=['not an asset'])\ndef f():\n    pass", Exception, "schedule list item 0"),
])
def test_bad_asset_definitions_fail_naming_the_argument(source, error, match):
    with pytest.raises(error, match=match):
        _define("from tradewind.definition.asset_decorator import asset\n" + source)


def test_asset_over_a_non_function_is_refused():
    with pytest.raises(InvalidAssetError, match="plain function"):
        asset(schedule=None)(print)


# ------------------------------------------------------------------ Asset.ref
def test_asset_ref_by_name_or_uri():
    by_name, by_uri = Asset.ref(name="orders"), Asset.ref(uri="S3://bucket/orders/")
    assert isinstance(by_name, AssetNameRef) and by_name.name == "orders"
    assert isinstance(by_uri, AssetUriRef) and by_uri.uri == "s3://bucket/orders"  # normalised like an Asset's
    assert by_name.evaluate({AssetKey("orders", "s3://anything")})
    assert not by_name.evaluate({AssetKey("other", "orders")})
    assert by_uri.evaluate({AssetKey("x", "s3://bucket/orders")})
    for ref in (by_name, by_uri, by_name | Asset("b"), AssetAll(by_uri, Asset("c"))):
        assert condition_from_expression(ref.as_expression()) == ref
    assert list((by_name & Asset("b") & by_name).iter_refs()) == [by_name]
    assert by_name.as_expression() == {"asset_ref": {"name": "orders"}}  # Airflow 3's form
    with pytest.raises(InvalidAssetError, match="not both"):
        Asset.ref(name="a", uri="b")
    with pytest.raises(InvalidAssetError, match="needs name"):
        Asset.ref()


def test_a_dag_scheduled_on_a_reference_round_trips_through_its_snapshot():
    from datetime import datetime

    from tradewind import DAG, EmptyOperator

    with DAG("on_ref", schedule=[Asset.ref(name="orders"), Asset("b")], start_date=datetime(2024, 1, 1)) as dag:
        EmptyOperator(task_id="t")
    snapshot = DagSnapshot.from_dict(serialize_dag(dag))
    condition = condition_from_expression(snapshot.timetable["condition"])
    assert list(condition.iter_refs()) == [AssetNameRef("orders")]
    assert condition.evaluate({AssetKey("orders", "s3://o"), AssetKey("b", "b")})
