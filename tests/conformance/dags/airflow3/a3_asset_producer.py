"""Airflow 3 assets, producer side: Asset outlets on a @task and on a classic operator."""
from datetime import datetime

from airflow.sdk import Asset, dag, task
from airflow.providers.standard.operators.bash import BashOperator

orders = Asset("s3://conformance/orders.csv")
customers = Asset(name="customers", uri="file:///tmp/tw_conformance_customers.csv")


@dag(schedule="@daily", start_date=datetime(2024, 1, 1), catchup=False)
def a3_asset_producer():
    @task(outlets=[orders])
    def export_orders() -> int:
        return 7

    export = export_orders()
    export >> BashOperator(task_id="export_customers", bash_command="echo customers", outlets=[customers])


a3_asset_producer()
