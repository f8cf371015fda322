"""Airflow 2's ``/api/v1/datasets`` family over Tradewind's assets: datasets named by URI (slashes
and all), their events (also recorded by hand) and the queued events of asset-scheduled DAGs,
with Airflow 2's body names; unknown URIs and bad ``before`` values are errors naming them."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from api_support import Api, assert_problem, make_api, store_dag_file

URI = "s3://bucket/raw data/part-1.csv"
PATH = quote(URI, safe="")  # what Airflow 2's client sends: every '/' encoded

DAGS = f"""
from tradewind import Asset

with DAG("producer", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="write", outlets=[Asset("{URI}")])

with DAG("consumer", start_date=datetime(2024, 1, 1), schedule=[Asset("{URI}")]):
    EmptyOperator(task_id="read")
"""


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "dataset_dags", DAGS)
    return make_api(config, db)


def test_dataset_by_uri_with_its_producers_and_consumers(api) -> None:
    listed = api.get("datasets", as_="viewer").json()
    assert listed["total_entries"] == 1 and listed["datasets"][0]["uri"] == URI
    assert api.get("datasets", params={"dag_ids": "consumer"}).json()["total_entries"] == 1
    assert api.get("datasets", params={"dag_ids": "nobody"}).json()["total_entries"] == 0
    assert api.get("datasets", params={"uri_pattern": "nothing-like-it"}).json()["total_entries"] == 0
    one = api.get(f"datasets/{PATH}", as_="viewer").json()
    assert one["uri"] == URI and one["id"] == listed["datasets"][0]["id"]
    assert [(t["dag_id"], t["task_id"]) for t in one["producing_tasks"]] == [("producer", "write")]
    assert [d["dag_id"] for d in one["consuming_dags"]] == ["consumer"]
    assert_problem(api.get(f"datasets/{quote('s3://bucket/other', safe='')}"), 404, contains="s3://bucket/other")


def test_manual_event_queues_the_consumer_and_queued_events_can_be_dropped(api) -> None:
    assert api.post("datasets/events", json={"dataset_uri": URI}, as_="viewer").status_code == 403
    made = api.post("datasets/events", json={"dataset_uri": URI, "extra": {"rows": 3}}, as_="user")
    assert made.status_code == 200, made.text
    event = made.json()
    assert event["dataset_uri"] == URI and event["extra"] == {"rows": 3} and event["created_dagruns"] == []
    events = api.get("datasets/events", params={"dataset_id": event["dataset_id"]}).json()
    assert events["total_entries"] == 1 and events["dataset_events"][0]["timestamp"] == event["timestamp"]

    queued = api.get("dags/consumer/datasets/queuedEvent").json()
    assert queued["total_entries"] == 1 and queued["datasets"][0]["uri"] == URI
    assert api.get(f"dags/consumer/datasets/queuedEvent/{PATH}").json()["dag_id"] == "consumer"
    assert [q["dag_id"] for q in api.get(f"datasets/queuedEvent/{PATH}").json()["datasets"]] == ["consumer"]
    # before: only events queued before that moment count.
    assert_problem(api.get(f"datasets/queuedEvent/{PATH}", params={"before": "2000-01-01"}), 404, contains=URI)
    assert_problem(api.get(f"datasets/queuedEvent/{PATH}", params={"before": "soon"}), 400, field="before")

    assert api.delete(f"dags/consumer/datasets/queuedEvent/{PATH}", as_="viewer").status_code == 403
    assert api.delete(f"dags/consumer/datasets/queuedEvent/{PATH}", as_="op").status_code == 204
    assert_problem(api.get("dags/consumer/datasets/queuedEvent"), 404, contains="consumer")
    assert_problem(api.delete(f"datasets/queuedEvent/{PATH}", as_="op"), 404, contains=URI)


def test_bad_event_bodies_name_the_field(api) -> None:
    assert_problem(api.post("datasets/events", json={"dataset_uri": "file:///missing"}), 404, contains="file:///missing")
    assert_problem(api.post("datasets/events", json={}), 422, field="dataset_uri")
    assert_problem(api.post("datasets/events", json={"dataset_uri": URI, "extra": "x"}), 422, field="extra")
    assert_problem(api.post("datasets/events", json={"dataset_uri": URI, "bogus": 1}), 422, field="bogus")


def test_upstream_dataset_events_of_a_run(api) -> None:
    made = api.post("dags/producer/dagRuns", json={"dag_run_id": "p1"}, as_="user")
    assert made.status_code == 200, made.text
    assert api.get("dags/producer/dagRuns/p1/upstreamDatasetEvents").json() == {"dataset_events": [],
                                                                               "total_entries": 0}
    assert_problem(api.get("dags/producer/dagRuns/nope/upstreamDatasetEvents"), 404, contains="nope")
