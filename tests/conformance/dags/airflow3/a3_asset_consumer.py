"""Airflow 3 assets, consumer side: a DAG scheduled on two assets (both must update) that reads the
triggering events from the context (empty for a manual run)."""
from datetime import datetime

from airflow.sdk import Asset, dag, task

orders = Asset("s3://conformance/orders.csv")
customers = Asset(name="customers", uri="file:///tmp/tw_conformance_customers.csv")


@dag(schedule=(orders & customers), start_date=datetime(2024, 1, 1))
def a3_asset_consumer():
    @task
    def summarize(triggering_asset_events=None) -> int:
        return len(triggering_asset_events or {})

    summarize()


a3_asset_consumer()
