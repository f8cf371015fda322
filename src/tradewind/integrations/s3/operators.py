"""S3 operators (Airflow's ``airflow.providers.amazon.aws.operators.s3`` names and arguments).

Every operator talks to S3 through :class:`~tradewind.integrations.s3.hooks.S3Hook` with its
``aws_conn_id`` (default ``aws_default``), ``region_name`` and ``verify``; keys may be full
``s3://bucket/key`` URLs when the bucket argument is None.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TradewindException
from tradewind.integrations.s3.hooks import S3Hook

__all__ = [
    "S3CopyObjectOperator",
    "S3CreateBucketOperator",
    "S3CreateObjectOperator",
    "S3DeleteBucketOperator",
    "S3DeleteObjectsOperator",
    "S3ListOperator",
    "S3ListPrefixesOperator",
]


class _S3Operator(BaseOperator):
    """The connection arguments every S3 operator takes."""

    ui_color = "#ffd8b1"

    def __init__(self, *, aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 verify: bool | str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify

    @property
    def hook(self) -> S3Hook:
        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify)


class S3CreateBucketOperator(_S3Operator):
    """Create ``bucket_name`` unless it exists."""

    template_fields = ("bucket_name",)

    def __init__(self, *, bucket_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_name = bucket_name

    def execute(self, context: dict[str, Any]) -> None:
        hook = self.hook
        if hook.check_for_bucket(self.bucket_name):
            self.log.warning("Bucket with name: %s already exists", self.bucket_name)
            return
        hook.create_bucket(bucket_name=self.bucket_name, region_name=self.region_name)
        self.log.info("Created bucket with name: %s", self.bucket_name)


class S3DeleteBucketOperator(_S3Operator):
    """Delete ``bucket_name`` (with ``force_delete`` its objects first); a missing bucket is only logged."""

    template_fields = ("bucket_name",)

    def __init__(self, *, bucket_name: str, force_delete: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.force_delete = force_delete

    def execute(self, context: dict[str, Any]) -> None:
        hook = self.hook
        if not hook.check_for_bucket(self.bucket_name):
            self.log.info("Bucket %s doesn't exist", self.bucket_name)
            return
        hook.delete_bucket(bucket_name=self.bucket_name, force_delete=self.force_delete)


class S3CreateObjectOperator(_S3Operator):
    """Write ``data`` (str or bytes, templated) to ``s3_key`` (``s3_bucket`` None: ``s3_key`` is a URL)."""

    template_fields = ("s3_bucket", "s3_key", "data")

    def __init__(self, *, s3_key: str, data: str | bytes, s3_bucket: str | None = None, replace: bool = False,
                 encrypt: bool = False, acl_policy: str | None = None, encoding: str | None = None,
                 compression: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.data = data
        self.replace = replace
        self.encrypt = encrypt
        self.acl_policy = acl_policy
        self.encoding = encoding
        self.compression = compression

    def execute(self, context: dict[str, Any]) -> None:
        bucket, key = S3Hook.get_s3_bucket_key(self.s3_bucket, self.s3_key, "dest_bucket", "dest_key")
        hook = self.hook
        if isinstance(self.data, str):
            hook.load_string(self.data, key, bucket, self.replace, self.encrypt, self.encoding, self.acl_policy,
                             self.compression)
        elif isinstance(self.data, (bytes, bytearray)):
            hook.load_bytes(bytes(self.data), key, bucket, self.replace, self.encrypt, self.acl_policy)
        else:
            raise TradewindException(f"S3CreateObjectOperator {self.task_id!r}: data must be str or bytes, "
                                     f"not {type(self.data).__name__}")
        self.log.info("Wrote s3://%s/%s", bucket, key)


class S3CopyObjectOperator(_S3Operator):
    """Copy one object to another key or bucket (keys may be full ``s3://`` URLs)."""

    template_fields = ("source_bucket_key", "dest_bucket_key", "source_bucket_name", "dest_bucket_name")

    def __init__(self, *, source_bucket_key: str, dest_bucket_key: str, source_bucket_name: str | None = None,
                 dest_bucket_name: str | None = None, source_version_id: str | None = None,
                 acl_policy: str | None = None, meta_data_directive: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source_bucket_key = source_bucket_key
        self.dest_bucket_key = dest_bucket_key
        self.source_bucket_name = source_bucket_name
        self.dest_bucket_name = dest_bucket_name
        self.source_version_id = source_version_id
        self.acl_policy = acl_policy
        self.meta_data_directive = meta_data_directive

    def execute(self, context: dict[str, Any]) -> None:
        self.hook.copy_object(self.source_bucket_key, self.dest_bucket_key, self.source_bucket_name,
                              self.dest_bucket_name, self.source_version_id, self.acl_policy,
                              self.meta_data_directive)


class S3DeleteObjectsOperator(_S3Operator):
    """Delete ``keys`` from ``bucket``, or every key matching ``prefix`` / modified between
    ``from_datetime`` and ``to_datetime``. Give either ``keys`` or the filters, not both."""

    template_fields = ("keys", "bucket", "prefix", "from_datetime", "to_datetime")

    def __init__(self, *, bucket: str, keys: str | list[str] | None = None, prefix: str | None = None,
                 from_datetime: datetime | str | None = None, to_datetime: datetime | str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.keys = keys
        self.prefix = prefix
        self.from_datetime = from_datetime
        self.to_datetime = to_datetime
        filters = [f for f in (prefix, from_datetime, to_datetime) if f is not None]
        if keys is None and not filters:
            raise TradewindException(f"S3DeleteObjectsOperator {self.task_id!r}: either keys or at least one of "
                                     "prefix, from_datetime, to_datetime should be set.")
        if keys is not None and filters:
            raise TradewindException(f"S3DeleteObjectsOperator {self.task_id!r}: either keys or "
                                     "prefix/from_datetime/to_datetime should be set, not both.")

    def execute(self, context: dict[str, Any]) -> None:
        if self.keys is not None and not self.keys:  # "" or []: nothing asked for
            self.log.info("No keys to delete")
            return
        hook = self.hook
        keys = self.keys
        if keys is None:
            keys = hook.list_keys(bucket_name=self.bucket, prefix=self.prefix,
                                  from_datetime=_as_datetime(self.from_datetime, "from_datetime"),
                                  to_datetime=_as_datetime(self.to_datetime, "to_datetime"))
        if keys:
            hook.delete_objects(bucket=self.bucket, keys=keys)
        else:
            self.log.info("No keys matched in bucket %s", self.bucket)


class S3ListOperator(_S3Operator):
    """Return the keys under ``prefix`` in ``bucket`` (a glob pattern with ``apply_wildcard``)."""

    template_fields = ("bucket", "prefix", "delimiter")

    def __init__(self, *, bucket: str, prefix: str = "", delimiter: str = "", apply_wildcard: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.prefix = prefix
        self.delimiter = delimiter
        self.apply_wildcard = apply_wildcard

    def execute(self, context: dict[str, Any]) -> list[str]:
        self.log.info("Getting the list of files from bucket: %s in prefix: %s (Delimiter %s)",
                      self.bucket, self.prefix, self.delimiter)
        return self.hook.list_keys(bucket_name=self.bucket, prefix=self.prefix, delimiter=self.delimiter,
                                   apply_wildcard=self.apply_wildcard)


class S3ListPrefixesOperator(_S3Operator):
    """Return the sub-"folders" of ``prefix`` in ``bucket`` up to ``delimiter``."""

    template_fields = ("bucket", "prefix", "delimiter")

    def __init__(self, *, bucket: str, prefix: str, delimiter: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.prefix = prefix
        self.delimiter = delimiter

    def execute(self, context: dict[str, Any]) -> list[str]:
        return self.hook.list_prefixes(bucket_name=self.bucket, prefix=self.prefix, delimiter=self.delimiter)


def _as_datetime(value: datetime | str | None, name: str) -> datetime | None:
    """A datetime from a datetime or a rendered ISO string (template fields render to strings)."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise TradewindException(f"{name} {value!r} is not an ISO date-time") from None
    if parsed.tzinfo is None:
        from datetime import timezone

        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed
