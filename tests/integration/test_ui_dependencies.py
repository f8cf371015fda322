"""UI: the DAG dependencies and asset graph pages and their data (assets, markers between DAGs)."""

from __future__ import annotations

import pytest
from api_support import Api, make_api, store_dag_file
from ui_support import browser, page_data

DAGS = """
from tradewind import Asset
from tradewind.definition.sensors.external_task import ExternalTaskMarker

orders = Asset(name="orders", uri="s3://shop/orders.csv")
with DAG("producer", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="write", outlets=[orders]) >> ExternalTaskMarker(
        task_id="mark", external_dag_id="cleaner", external_task_id="t")
with DAG("consumer", start_date=datetime(2024, 1, 1), schedule=[orders]):
    EmptyOperator(task_id="read")
with DAG("cleaner", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="t")
"""


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "deps", DAGS)
    return make_api(config, db)


def test_dag_dependencies_data_links_dags_through_assets_and_markers(api) -> None:
    assert api.get("/ui/data/dag-dependencies", as_=None).status_code == 401
    response = api.get("/ui/data/dag-dependencies", as_="viewer")
    assert response.status_code == 200, response.text
    body = response.json()
    nodes = {n["id"]: n for n in body["nodes"]}
    asset = next(n for n in body["nodes"] if n["kind"] == "asset")
    assert asset["label"] == "orders" and asset["uri"] == "s3://shop/orders.csv"
    assert {"dag:producer", "dag:consumer", "dag:cleaner"} <= set(nodes)
    edges = {(e["source"], e["target"], e["kind"]) for e in body["edges"]}
    assert edges == {("dag:producer", asset["id"], "asset"), (asset["id"], "dag:consumer", "asset"),
                     ("dag:producer", "dag:cleaner", "marker")}


def test_asset_graph_data_and_pages(api) -> None:
    body = api.get("/ui/data/assets/graph", as_="viewer").json()
    asset = next(n for n in body["nodes"] if n["kind"] == "asset")
    assert {(e["source"], e["target"], e["kind"], tuple(e["tasks"])) for e in body["edges"]} == {
        ("dag:producer", asset["id"], "produces", ("write",)), (asset["id"], "dag:consumer", "schedules", ())}
    viewer, admin = browser(api, "viewer"), browser(api, "admin")
    page = viewer.get("/assets/graph?asset=orders")
    assert page.status_code == 200 and "/static/asset_graph.js" in page.text
    assert page_data(page.text) == {"asset": "orders", "can_create_event": False}
    assert page_data(admin.get("/assets/graph").text)["can_create_event"] is True
    deps = viewer.get("/dag-dependencies")
    assert deps.status_code == 200 and "/static/dag_dependencies.js" in deps.text
    anonymous = api.client.get("/dag-dependencies", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
