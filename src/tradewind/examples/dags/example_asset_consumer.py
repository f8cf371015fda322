"""Data-aware scheduling, consumer side: a DAG that runs whenever an asset is updated."""

from __future__ import annotations

from datetime import datetime

from tradewind import DAG, Asset, task

ORDERS = Asset(name="example_orders", uri="file:///tmp/tradewind-examples/orders.csv")

with DAG(
    dag_id="example_asset_consumer",
    description="Runs after each update of the example_orders asset",
    schedule=[ORDERS],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "assets"],
    default_args={"owner": "tradewind"},
    doc_md="""
### Asset consumer

`schedule=[ORDERS]`: no time schedule; a run is created (run type `asset_triggered`) each time
`example_asset_producer` updates the asset. `schedule=[a, b]` waits for both, `a | b` for either.
The run's `triggering_asset_events` holds the events that caused it, with their `extra`.
""",
) as dag:

    @task
    def summarize(triggering_asset_events=None) -> dict:
        events = [e for asset_events in (triggering_asset_events or {}).values() for e in asset_events]
        for event in events:
            print(f"{event.uri} updated at {event.timestamp} by {event.source_dag_id}.{event.source_task_id}: "
                  f"{event.extra}")
        return {"events": len(events), "rows": sum(e.extra.get("rows", 0) for e in events)}

    summarize()
