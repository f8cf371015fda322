"""Data-aware scheduling, producer side: a task whose success updates an asset.

``example_asset_consumer`` is scheduled on the same asset and runs after each update.
"""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, Asset, task

#: The same Asset (name + uri) in the consumer's file links the two DAGs.
ORDERS = Asset(name="example_orders", uri="file:///tmp/tradewind-examples/orders.csv")

with DAG(
    dag_id="example_asset_producer",
    description="Updates the example_orders asset (which triggers example_asset_consumer)",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "assets"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Asset producer

`export_orders` lists the asset `example_orders` in its `outlets`. When it succeeds, Tradewind
records an asset event (with the `extra` the task set through `outlet_events`), and every DAG
scheduled on the asset gets a run: here `example_asset_consumer`.

Try it: `tradewind dags unpause example_asset_consumer`, `tradewind dags test example_asset_producer`,
then `tradewind assets events`.
""",
) as dag:

    @task(outlets=[ORDERS])
    def export_orders(outlet_events=None) -> int:
        rows = [("o-1", 20.0), ("o-2", 35.5), ("o-3", 12.25)]
        # What consumers will see as the event's extra (context["outlet_events"]).
        outlet_events[ORDERS].extra = {"rows": len(rows), "total": sum(amount for _, amount in rows)}
        return len(rows)

    export_orders()
