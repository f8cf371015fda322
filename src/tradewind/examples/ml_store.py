"""Where the ML training example keeps its artifacts in object storage, shared by the DAG and the
prediction endpoint so both agree on one layout.

Layout in the bucket (``tradewind-ml`` by default)::

    digits/runs/<interval start>/sample.npz       the interval's data sample (x, y, held-out part)
    digits/runs/<interval start>/split.npz        scaled train/test arrays + raw test/batch arrays
    digits/runs/<interval start>/scaler.joblib    the scaler fitted on the training part
    digits/runs/<interval start>/model.joblib     the candidate (scaler + classifier pipeline)
    digits/runs/<interval start>/metrics.json     the candidate's metrics
    digits/runs/<interval start>/predictions.csv  batch predictions of the published model
    digits/published/model.joblib                 the model in service
    digits/published/metrics.json                 its metrics (and the run that produced it)

Every key of a run is derived from its data interval, so re-running an interval overwrites the
same objects instead of adding new ones. Heavy libraries (numpy, joblib, the S3 client) are
imported inside the functions: the DAG file imports this module at parse time.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

#: Connection id of the S3-compatible storage (its extra may carry ``endpoint_url``).
AWS_CONN_ID = "aws"
#: Bucket the example writes to unless the DAG's ``bucket`` param says otherwise.
DEFAULT_BUCKET = "tradewind-ml"
PREFIX = "digits"
PUBLISHED_MODEL_KEY = f"{PREFIX}/published/model.joblib"
PUBLISHED_METRICS_KEY = f"{PREFIX}/published/metrics.json"


def run_prefix(data_interval_start: datetime) -> str:
    """The key prefix of one data interval's artifacts (``digits/runs/2024-03-04T00-00-00/``)."""
    return f"{PREFIX}/runs/{data_interval_start.strftime('%Y-%m-%dT%H-%M-%S')}/"


def s3_hook(conn_id: str = AWS_CONN_ID) -> Any:
    """An ``S3Hook`` on the example's connection (imported here: boto3 is an optional extra)."""
    from tradewind.integrations.s3 import S3Hook

    return S3Hook(aws_conn_id=conn_id)


def ensure_bucket(hook: Any, bucket: str) -> None:
    """Create the bucket on first use (a fresh local S3 server starts empty)."""
    if not hook.check_for_bucket(bucket):
        hook.create_bucket(bucket_name=bucket)


def put_bytes(hook: Any, data: bytes, key: str, bucket: str) -> str:
    """Upload ``data`` to ``s3://bucket/key``, replacing what is there; returns the URL."""
    hook.load_file_obj(io.BytesIO(data), key=key, bucket_name=bucket, replace=True)
    return f"s3://{bucket}/{key}"


def get_bytes(hook: Any, key: str, bucket: str) -> bytes:
    """The bytes of ``s3://bucket/key``."""
    return hook.get_key(key, bucket_name=bucket).get()["Body"].read()


def put_arrays(hook: Any, key: str, bucket: str, **arrays: Any) -> str:
    """Store named numpy arrays as one compressed ``.npz`` object."""
    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return put_bytes(hook, buffer.getvalue(), key, bucket)


def get_arrays(hook: Any, key: str, bucket: str) -> dict[str, Any]:
    """The arrays of an ``.npz`` object, by name."""
    import numpy as np

    with np.load(io.BytesIO(get_bytes(hook, key, bucket))) as data:
        return {name: data[name] for name in data.files}


def put_object(hook: Any, obj: Any, key: str, bucket: str) -> str:
    """Store a Python object (a fitted model) with joblib."""
    import joblib

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return put_bytes(hook, buffer.getvalue(), key, bucket)


def get_object(hook: Any, key: str, bucket: str) -> Any:
    """Load a joblib object written by :func:`put_object` (only ever from our own bucket)."""
    import joblib

    return joblib.load(io.BytesIO(get_bytes(hook, key, bucket)))


def put_json(hook: Any, value: Any, key: str, bucket: str) -> str:
    """Store a JSON document."""
    hook.load_string(json.dumps(value, indent=2, sort_keys=True), key=key, bucket_name=bucket, replace=True)
    return f"s3://{bucket}/{key}"


def published_metrics(hook: Any, bucket: str) -> dict[str, Any] | None:
    """Metrics of the model in service, or None when nothing has been published yet."""
    if not hook.check_for_bucket(bucket) or not hook.check_for_key(PUBLISHED_METRICS_KEY, bucket_name=bucket):
        return None
    return json.loads(hook.read_key(PUBLISHED_METRICS_KEY, bucket_name=bucket))
