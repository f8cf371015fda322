"""Listings ETL: PostgreSQL -> CSV in object storage -> pandas -> reporting table, one data interval
per run, idempotent so a re-run or a backfill gives the same report.

The seeds' "moving data between systems" chapter (Airbnb listings in Postgres, exported to S3,
crunched with pandas) on local services: a PostgreSQL database reached through the connection
``listings_db`` and an S3-compatible bucket through ``aws``. The operators come from
``tradewind.integrations`` (their drivers, psycopg and boto3, load only when a task runs); pandas is
imported inside the tasks.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

from tradewind import DAG, task
from tradewind.integrations.s3 import S3CreateBucketOperator, SqlToS3Operator
from tradewind.integrations.sql import SQLExecuteQueryOperator

POSTGRES_CONN_ID = "listings_db"
AWS_CONN_ID = "aws"
BUCKET = "tradewind-listings"
#: Keys of one interval's files: the interval start as a date-time (hourly intervals stay distinct).
INTERVAL_KEY = "{{ data_interval_start.strftime('%Y-%m-%dT%H-%M-%S') }}"

with DAG(
    dag_id="example_etl_listings",
    description="Listings: PostgreSQL -> S3 CSV -> pandas -> reporting table, per data interval",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    tags=["example", "etl", "postgres", "s3"],
    template_searchpath=[str(Path(__file__).parent / "templates")],
    default_args={"owner": "tradewind", "retries": 1, "retry_delay": timedelta(seconds=5)},
    doc_md="""
### Listings ETL

One run per day, each working only on **its data interval**:

1. `seed_listings` — `templates/etl_listings_seed.sql`: creates `listings` and `listings_report`
   and inserts the interval's (deterministic) listing updates; stands in for the application
   writing the source table. `create_bucket` creates the bucket on first use.
2. `extract_listings` — `SqlToS3Operator` runs `templates/etl_listings_extract.sql`
   (`{{ data_interval_start }}` ≤ `updated_at` < `{{ data_interval_end }}`) and writes
   `s3://tradewind-listings/raw/<interval start>.csv`.
3. `transform` — pandas: listings, average/min/max price per neighbourhood and room type →
   `summary/<interval start>.csv`.
4. `load_report` — replaces the interval's rows of `listings_report` in one transaction, so a
   re-run or a backfill never duplicates anything.

Connections: `listings_db` (PostgreSQL, e.g.
`TRADEWIND_CONN_LISTINGS_DB=postgresql://etl:secret@localhost:5432/listings`) and `aws`
(`{"conn_type": "aws", "extra": {"endpoint_url": "http://localhost:9000"}, ...}`).
Backfill a past week with
`tradewind backfill create example_etl_listings --from-date 2024-02-01 --to-date 2024-02-07 --wait`.
Needs `pip install 'tradewind[postgres,s3,pandas]'`.
""",
) as dag:
    # Both create shared things when missing (tables, bucket); one instance at a time across runs, so
    # a backfill's parallel runs never race on "create if missing".
    seed = SQLExecuteQueryOperator(
        task_id="seed_listings", conn_id=POSTGRES_CONN_ID, sql="etl_listings_seed.sql", max_active_tis_per_dag=1)

    create_bucket = S3CreateBucketOperator(
        task_id="create_bucket", bucket_name=BUCKET, aws_conn_id=AWS_CONN_ID, max_active_tis_per_dag=1)

    extract = SqlToS3Operator(
        task_id="extract_listings",
        sql_conn_id=POSTGRES_CONN_ID,
        query="etl_listings_extract.sql",
        aws_conn_id=AWS_CONN_ID,
        s3_bucket=BUCKET,
        s3_key=f"raw/{INTERVAL_KEY}.csv",
        replace=True,
        file_format="csv",
        pd_kwargs={"index": False},
    )

    @task
    def transform(data_interval_start=None) -> dict:
        """Aggregate the interval's CSV with pandas; write ``summary/<interval>.csv``."""
        import pandas as pd

        from tradewind.integrations.s3 import S3Hook

        hook = S3Hook(aws_conn_id=AWS_CONN_ID)
        stamp = data_interval_start.strftime("%Y-%m-%dT%H-%M-%S")
        raw = pd.read_csv(io.StringIO(hook.read_key(f"raw/{stamp}.csv", bucket_name=BUCKET)))
        summary = (
            raw.groupby(["neighbourhood", "room_type"], as_index=False)
            .agg(listings=("listing_id", "count"), avg_price=("price", "mean"),
                 min_price=("price", "min"), max_price=("price", "max"))
            .round({"avg_price": 2})
            .sort_values(["neighbourhood", "room_type"])
        )
        key = f"summary/{stamp}.csv"
        hook.load_string(summary.to_csv(index=False), key=key, bucket_name=BUCKET, replace=True)
        print(f"{len(raw)} listings -> {len(summary)} report rows in s3://{BUCKET}/{key}")
        return {"key": key, "listings": int(len(raw)), "report_rows": int(len(summary))}

    @task
    def load_report(summary: dict, data_interval_start=None, data_interval_end=None) -> int:
        """Replace the interval's rows of ``listings_report`` (delete + insert in one transaction)."""
        import pandas as pd

        from tradewind.integrations.s3 import S3Hook
        from tradewind.integrations.sql import PostgresHook

        text = S3Hook(aws_conn_id=AWS_CONN_ID).read_key(summary["key"], bucket_name=BUCKET)
        frame = pd.read_csv(io.StringIO(text))
        rows = [(data_interval_start, data_interval_end, r.neighbourhood, r.room_type, int(r.listings),
                 float(r.avg_price), float(r.min_price), float(r.max_price)) for r in frame.itertuples()]
        conn = PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn()
        try:
            with conn.cursor() as cur:
                cur.execute("DELETE FROM listings_report WHERE interval_start = %s", (data_interval_start,))
                cur.executemany(
                    "INSERT INTO listings_report (interval_start, interval_end, neighbourhood, room_type, listings,"
                    " avg_price, min_price, max_price) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", rows)
            conn.commit()
        finally:
            conn.close()
        print(f"listings_report: {len(rows)} rows for {data_interval_start} .. {data_interval_end}")
        return len(rows)

    summarized = transform()
    [seed, create_bucket] >> extract >> summarized
    load_report(summarized)
