"""S3: write a day's raw file, wait for it, summarise it with the hook, publish and tidy up.

Works against Amazon S3 or any S3-compatible server (MinIO, Ceph, moto): point the ``aws_default``
connection at it, e.g.::

    export TRADEWIND_CONN_AWS_DEFAULT='{"conn_type": "aws", "login": "KEY", "password": "SECRET",
        "extra": {"endpoint_url": "http://localhost:9000", "region_name": "eu-west-1"}}'
    tradewind dags test example_s3 2024-03-05

Needs ``pip install 'tradewind[s3]'`` (boto3).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from tradewind import DAG, task
from tradewind.integrations.s3 import (
    S3CopyObjectOperator,
    S3CreateBucketOperator,
    S3CreateObjectOperator,
    S3DeleteObjectsOperator,
    S3KeySensor,
    S3ListOperator,
)

BUCKET = "tradewind-example"

with DAG(
    "example_s3",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=True,
    default_args={"owner": "tradewind", "aws_conn_id": "aws_default"},
    tags=["example", "s3"],
    doc_md=__doc__,
) as dag:
    create_bucket = S3CreateBucketOperator(task_id="create_bucket", bucket_name=BUCKET)

    write_raw = S3CreateObjectOperator(
        task_id="write_raw",
        s3_bucket=BUCKET,
        s3_key="raw/{{ ds }}/sales.csv",
        data="region,amount\neu,12\nus,30\neu,8\n",
        replace=True,  # a re-run of the day overwrites its file
    )

    wait_for_raw = S3KeySensor(
        task_id="wait_for_raw",
        bucket_key=f"s3://{BUCKET}/raw/{{{{ ds }}}}/*.csv",
        wildcard_match=True,
        check_fn=lambda files: all(f["Size"] > 0 for f in files),
        poke_interval=5,
        timeout=600,
        mode="reschedule",
    )

    @task
    def summarise(ds: str | None = None) -> dict[str, int]:
        """Sum the amounts per region and store the totals as JSON next to the raw file."""
        from tradewind.integrations.s3 import S3Hook

        hook = S3Hook(aws_conn_id="aws_default")
        totals: dict[str, int] = {}
        for row in csv.DictReader(io.StringIO(hook.read_key(f"raw/{ds}/sales.csv", BUCKET))):
            totals[row["region"]] = totals.get(row["region"], 0) + int(row["amount"])
        hook.load_string(json.dumps(totals, sort_keys=True), f"s3://{BUCKET}/staging/{ds}/totals.json", replace=True)
        return totals

    publish = S3CopyObjectOperator(
        task_id="publish",
        source_bucket_key=f"s3://{BUCKET}/staging/{{{{ ds }}}}/totals.json",
        dest_bucket_key=f"s3://{BUCKET}/published/{{{{ ds }}}}.json",
    )

    list_published = S3ListOperator(task_id="list_published", bucket=BUCKET, prefix="published/")

    clean_staging = S3DeleteObjectsOperator(task_id="clean_staging", bucket=BUCKET, prefix="staging/{{ ds }}/")

    create_bucket >> write_raw >> wait_for_raw >> summarise() >> publish >> [list_published, clean_staging]
