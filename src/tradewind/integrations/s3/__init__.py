"""Amazon S3 and S3-compatible object stores (MinIO, Ceph, ...): ``S3Hook``, the S3 operators,
``S3KeySensor`` and ``SqlToS3Operator`` — Airflow's amazon provider names. boto3 (the ``s3``
extra) and pandas (``SqlToS3Operator``, the ``pandas`` extra) are imported only when used."""

from tradewind.integrations.s3.hooks import S3DeleteError, S3Hook, S3HookUriParseFailure, S3KeyNotFound
from tradewind.integrations.s3.operators import (
    S3CopyObjectOperator,
    S3CreateBucketOperator,
    S3CreateObjectOperator,
    S3DeleteBucketOperator,
    S3DeleteObjectsOperator,
    S3ListOperator,
    S3ListPrefixesOperator,
)
from tradewind.integrations.s3.sensors import S3KeySensor
from tradewind.integrations.s3.transfers import SqlToS3Operator

__all__ = [
    "S3CopyObjectOperator", "S3CreateBucketOperator", "S3CreateObjectOperator", "S3DeleteBucketOperator",
    "S3DeleteError", "S3DeleteObjectsOperator", "S3Hook", "S3HookUriParseFailure", "S3KeyNotFound",
    "S3KeySensor", "S3ListOperator", "S3ListPrefixesOperator", "SqlToS3Operator",
]
