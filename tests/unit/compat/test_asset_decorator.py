"""``from airflow.sdk import asset``: ``@asset`` functions become an asset and the DAG that produces it."""

from __future__ import annotations

import textwrap

import pytest

from tradewind import compat
from tradewind.definition.assets import Asset, InvalidAssetError

pytestmark = pytest.mark.tradewind_sim(start="2024-03-05T12:00")

DAG_FILE = """
from datetime import datetime
from airflow.sdk import Asset, asset, dag, task

@asset(uri="s3://lake/raw_orders", schedule=None, tags=["lake"])
def raw_orders(self, context):
    return f"{self.name} at {self.uri} on {context['ds']}"

@asset(schedule=raw_orders, extra={"tier": "silver"})
def clean_orders(self, raw_orders, outlet_events, limit=10):
    outlet_events[self].extra["rows"] = 3
    return [raw_orders.name, raw_orders.uri, self.extra, limit]

@dag(schedule=Asset(name="clean_orders", uri="clean_orders"), start_date=datetime(2024, 1, 1), catchup=False)
def report_orders():
    @task
    def count(**context):
        return [[e.asset.name, e.extra] for events in context["triggering_asset_events"].values() for e in events]

    count()

report_orders()
"""


@pytest.fixture(scope="module", autouse=True)
def shims():
    assert compat.install() is True


def _write(tmp_path, text=DAG_FILE):
    path = tmp_path / "orders.py"
    path.write_text(textwrap.dedent(text))
    return path


def test_asset_functions_build_dags_and_the_chain_runs(tradewind_sim, tmp_path):
    from tradewind.execute.prepare import load_dag_file

    path = _write(tmp_path)
    dags = load_dag_file(str(path), [str(tmp_path)])
    assert set(dags) == {"raw_orders", "clean_orders", "report_orders"}
    raw = dags["raw_orders"].task_dict["raw_orders"]
    assert raw.outlets == [Asset(name="raw_orders", uri="s3://lake/raw_orders")]
    assert list(dags["raw_orders"].tags) == ["lake"]
    clean = dags["clean_orders"].task_dict["clean_orders"]
    assert clean.inlets == [Asset(name="raw_orders", uri="s3://lake/raw_orders")]

    for dag_id in ("clean_orders", "report_orders"):
        tradewind_sim.add(dags[dag_id])
        tradewind_sim.set_paused(dag_id, False)
    first = tradewind_sim.run(dags["raw_orders"], logical_date="2024-03-05")
    assert first.xcom("raw_orders") == "raw_orders at s3://lake/raw_orders on 2024-03-05"
    tradewind_sim.advance(minutes=5)
    clean_runs = tradewind_sim.runs("clean_orders")
    assert len(clean_runs) == 1 and clean_runs[0].states() == {"clean_orders": "success"}
    assert clean_runs[0].xcom("clean_orders") == ["raw_orders", "s3://lake/raw_orders", {"tier": "silver"}, 10]
    tradewind_sim.advance(minutes=5)
    report_runs = tradewind_sim.runs("report_orders")
    assert len(report_runs) == 1 and report_runs[0].xcom("count") == [["clean_orders", {"rows": 3}]]


def test_an_inlet_parameter_naming_no_known_asset_is_a_reference(tmp_path):
    """Airflow resolves such a name when the task runs (the asset may be another file's): the
    file parses, the inlet is Asset.ref(name=...)."""
    from tradewind.definition.assets import AssetNameRef
    from tradewind.execute.prepare import load_dag_file

    path = _write(tmp_path, """
        from airflow.sdk import asset

        @asset(schedule=None)
        def summary(self, upstream_table):
            return 1
    """)
    dags = load_dag_file(str(path), [str(tmp_path)])
    assert dags["summary"].task_dict["summary"].inlets == [AssetNameRef("upstream_table")]


def test_what_tradewind_refuses_about_asset():
    from airflow.sdk import asset

    with pytest.raises(InvalidAssetError, match="watchers item 0 is 'a trigger'"):
        asset(schedule=None, watchers=["a trigger"])(_module_level)
    with pytest.raises(TypeError, match="unexpected argument.*max_active_runs"):
        asset(schedule=None, max_active_runs=3)


def _module_level():
    return None
