"""``S3Hook``: objects in Amazon S3 or any S3-compatible store (MinIO, Ceph, moto), on boto3.

The ``aws`` connection (``aws_conn_id``, default ``aws_default``) gives, with Airflow's names:

* ``login`` / ``password``: the access key id and secret key (or extra ``aws_access_key_id`` /
  ``aws_secret_access_key``); extra ``aws_session_token`` for temporary credentials;
* extra ``endpoint_url`` (or ``service_config: {"s3": {"endpoint_url": ...}}``): the server to talk to,
  e.g. ``http://localhost:9000`` for MinIO; extra ``region_name``, ``verify``, ``profile_name``
  and ``config_kwargs`` (botocore ``Config`` arguments, e.g. ``{"s3": {"addressing_style": "path"}}``);
* ``service_config: {"s3": {"bucket_name": ...}}``: the bucket used when a call names none.

When the connection does not exist (or ``aws_conn_id=None``) boto3's own credential chain is used
(``AWS_*`` variables, ``~/.aws``), as Airflow does. A key may be given as a full ``s3://bucket/key``
URL with ``bucket_name=None`` wherever Airflow accepts that.

boto3 is the ``s3`` extra; it is imported only when a hook first talks to S3.
"""

from __future__ import annotations

import fnmatch
import functools
import gzip
import io
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, ClassVar
from urllib.parse import urlsplit

from tradewind.definition.connection import ConnectionNotFound
from tradewind.definition.exceptions import TradewindException
from tradewind.definition.hooks import BaseHook

__all__ = ["S3Hook", "S3HookUriParseFailure", "S3KeyNotFound", "S3DeleteError"]

#: URL schemes :meth:`S3Hook.parse_s3_url` reads as ``scheme://bucket/key``.
_S3_SCHEMES = ("s3", "s3a", "s3n")
#: Characters that start a glob pattern in a key (the part before is the listing prefix).
_WILDCARD = re.compile(r"[\[*?]")
#: S3 deletes at most this many keys per request.
_DELETE_BATCH = 1000
#: Connection-extra keys this hook reads; anything else in the extra is refused only when it asks for a
#: feature the hook does not have (see ``_UNSUPPORTED_EXTRA``).
_UNSUPPORTED_EXTRA = {
    "role_arn": "assuming an IAM role",
    "assume_role_method": "assuming an IAM role",
    "external_id": "assuming an IAM role",
}


class S3HookUriParseFailure(TradewindException, ValueError):
    """A string given as an S3 URL is not one (``s3://bucket/key``)."""


class S3KeyNotFound(TradewindException, FileNotFoundError):
    """The object does not exist (Airflow raises ``AirflowNotFoundException`` here)."""


class S3DeleteError(TradewindException):
    """S3 refused to delete some of the keys; ``.errors`` holds S3's per-key errors."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


def _require_boto3() -> Any:
    try:
        import boto3
    except ImportError as exc:
        raise TradewindException(
            "S3Hook needs boto3, which is not installed: pip install 'tradewind[s3]'") from exc
    return boto3


@functools.cache
def _located_client_error() -> type:
    """A ``botocore`` ``ClientError`` subclass whose message starts with the bucket and key concerned.

    It stays a ``ClientError`` (code in ``.response["Error"]["Code"]``), so ``except ClientError`` in
    user code keeps working, while a failed task's log says which object S3 refused."""
    from botocore.exceptions import ClientError

    class S3ClientError(ClientError):
        def __init__(self, original: ClientError, where: str) -> None:
            super().__init__(original.response, original.operation_name)
            self.args = (f"{where}: {self.args[0]}",)

    S3ClientError.__qualname__ = "S3ClientError"
    return S3ClientError


def _botocore_session() -> Any:
    """A fresh botocore session sharing one process-wide service-model loader: building a client then
    skips re-reading S3's model files (about 0.15 s per hook, which a poking sensor pays each time)."""
    import botocore.session

    session = botocore.session.Session()
    session.register_component("data_loader", _shared_loader(os.environ.get("AWS_DATA_PATH")))
    return session


@functools.cache
def _shared_loader(data_path: str | None) -> Any:
    from botocore.loaders import create_loader

    return create_loader(data_path)


def _is_url(key: str) -> bool:
    """Whether a key is a full URL (``scheme://...``) rather than a path inside a bucket."""
    return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", key) is not None


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or _error_code(exc) in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


class S3Hook(BaseHook):
    """Reads and writes S3 objects through connection ``aws_conn_id`` (Airflow's ``S3Hook``).

    ``transfer_config_args`` are boto3 ``TransferConfig`` arguments for uploads and downloads;
    ``extra_args`` are S3 arguments added to every upload/download (e.g. ``{"ContentType": ...}``).
    """

    conn_name_attr: ClassVar[str] = "aws_conn_id"
    default_conn_name: ClassVar[str] = "aws_default"
    conn_type: ClassVar[str] = "aws"
    hook_name: ClassVar[str] = "Amazon Web Services"

    def __init__(
        self,
        aws_conn_id: str | None = "aws_default",
        *,
        region_name: str | None = None,
        verify: bool | str | None = None,
        config: Any = None,
        transfer_config_args: dict[str, Any] | None = None,
        extra_args: dict[str, Any] | None = None,
        client_type: str | None = None,
        resource_type: str | None = None,
    ) -> None:
        super().__init__()
        if client_type not in (None, "s3") or resource_type not in (None, "s3"):
            raise TradewindException(f"S3Hook talks to S3 only (client_type={client_type!r}, "
                                     f"resource_type={resource_type!r})")
        if transfer_config_args is not None and not isinstance(transfer_config_args, dict):
            raise TradewindException(f"transfer_config_args must be a dict, not {type(transfer_config_args).__name__}")
        if extra_args is not None and not isinstance(extra_args, dict):
            raise TradewindException(f"extra_args must be a dict, not {type(extra_args).__name__}")
        self.aws_conn_id = aws_conn_id
        self._region_name = region_name
        self._verify = verify
        self._config = config
        self.transfer_config_args = dict(transfer_config_args or {})
        self.extra_args = dict(extra_args or {})
        self._settings: dict[str, Any] | None = None
        self._session: Any = None
        self._client: Any = None
        self._resource: Any = None

    # ------------------------------------------------------------------ connection and clients
    def _connection_settings(self) -> dict[str, Any]:
        """Credentials, endpoint, region and client options from the connection (read once)."""
        if self._settings is not None:
            return self._settings
        login = password = None
        extra: dict[str, Any] = {}
        if self.aws_conn_id:
            try:
                conn = self.get_connection(self.aws_conn_id)
            except ConnectionNotFound:
                self.log.warning("Unable to find AWS Connection ID '%s', switching to boto3's default "
                                 "credentials (AWS_* variables, ~/.aws).", self.aws_conn_id)
            else:
                login, password, extra = conn.login, conn.password, conn.extra_dejson
        for key, feature in _UNSUPPORTED_EXTRA.items():
            if extra.get(key):
                raise TradewindException(
                    f"connection {self.aws_conn_id!r}: extra {key!r} asks for {feature}, which Tradewind's "
                    "S3Hook does not support; give the role's credentials (login/password/aws_session_token)")
        service = extra.get("service_config", {})
        s3_service = service.get("s3", {}) if isinstance(service, dict) else {}
        if not isinstance(s3_service, dict):
            raise TradewindException(f"connection {self.aws_conn_id!r}: extra service_config.s3 must be an object")
        config_kwargs = extra.get("config_kwargs") or {}
        if not isinstance(config_kwargs, dict):
            raise TradewindException(f"connection {self.aws_conn_id!r}: extra config_kwargs must be an object")
        self._settings = {
            "aws_access_key_id": login or extra.get("aws_access_key_id"),
            "aws_secret_access_key": password or extra.get("aws_secret_access_key"),
            "aws_session_token": extra.get("aws_session_token"),
            "profile_name": extra.get("profile_name"),
            "region_name": self._region_name or extra.get("region_name"),
            "endpoint_url": s3_service.get("endpoint_url") or extra.get("endpoint_url"),
            "verify": self._verify if self._verify is not None else extra.get("verify"),
            "config_kwargs": config_kwargs,
            "bucket_name": s3_service.get("bucket_name"),
        }
        return self._settings

    @property
    def region_name(self) -> str | None:
        """The hook's, else the connection's, else boto3's own (``AWS_DEFAULT_REGION``, ~/.aws) region."""
        return self._connection_settings()["region_name"] or self.get_session().region_name

    @property
    def endpoint_url(self) -> str | None:
        return self._connection_settings()["endpoint_url"]

    def get_session(self) -> Any:
        """The ``boto3.session.Session`` holding the connection's credentials and region."""
        if self._session is None:
            boto3 = _require_boto3()
            settings = self._connection_settings()
            self._session = boto3.session.Session(
                botocore_session=_botocore_session(),
                **{name: settings[name] for name in ("aws_access_key_id", "aws_secret_access_key",
                                                     "aws_session_token", "region_name", "profile_name")
                   if settings[name]})
        return self._session

    def _client_options(self) -> dict[str, Any]:
        from botocore.config import Config

        settings = self._connection_settings()
        config = Config(**settings["config_kwargs"]) if settings["config_kwargs"] else None
        if self._config is not None:
            config = config.merge(self._config) if config is not None else self._config
        options: dict[str, Any] = {}
        if settings["endpoint_url"]:
            options["endpoint_url"] = settings["endpoint_url"]
        if config is not None:
            options["config"] = config
        if settings["verify"] is not None:
            options["verify"] = settings["verify"]
        return options

    def get_conn(self) -> Any:
        """The boto3 S3 client (created once per hook)."""
        if self._client is None:
            self._client = self.get_session().client("s3", **self._client_options())
        return self._client

    @property
    def conn(self) -> Any:
        """The boto3 S3 client (Airflow's attribute)."""
        return self.get_conn()

    def get_client_type(self, region_name: str | None = None) -> Any:
        """A boto3 S3 client, for another region when ``region_name`` is given."""
        if region_name is None or region_name == self.region_name:
            return self.get_conn()
        return self.get_session().client("s3", region_name=region_name, **self._client_options())

    def get_resource_type(self) -> Any:
        """The boto3 S3 resource (``Bucket``/``Object`` objects)."""
        if self._resource is None:
            self._resource = self.get_session().resource("s3", **self._client_options())
        return self._resource

    @property
    def resource(self) -> Any:
        return self.get_resource_type()

    def test_connection(self) -> tuple[bool, str]:
        """Lists the buckets: (ok, message) for ``tradewind connections test``."""
        try:
            self.get_conn().list_buckets()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return False, f"{type(exc).__name__}: {exc}"
        return True, "Connection successfully tested"

    # ------------------------------------------------------------------ URLs and names
    @staticmethod
    def parse_s3_url(s3url: str) -> tuple[str, str]:
        """``(bucket, key)`` of ``s3://bucket/key`` (also ``s3a://``, ``s3n://`` and the https
        ``bucket.s3.<region>.amazonaws.com/key`` and ``s3.<region>.amazonaws.com/bucket/key`` forms)."""
        if not isinstance(s3url, str):
            raise S3HookUriParseFailure(f"an S3 URL must be a string, not {type(s3url).__name__}")
        scheme, sep, rest = s3url.partition("://")
        if sep and scheme.lower() in _S3_SCHEMES:
            # Split by hand: a key may hold "?" or "#", which a URL parser would take away.
            bucket, _, key = rest.partition("/")
            if not bucket:
                raise S3HookUriParseFailure(
                    f"Please provide a bucket name using a valid format of s3://bucket/key: {s3url!r}")
            return bucket, key
        parts = urlsplit(s3url)
        scheme = parts.scheme.lower()
        if scheme in ("http", "https") and parts.hostname and ".amazonaws.com" in parts.hostname:
            host = parts.hostname
            if host.startswith(("s3.", "s3-")):  # path style: host/bucket/key
                bucket, _, key = parts.path.lstrip("/").partition("/")
                if bucket:
                    return bucket, key
            else:  # virtual-host style: bucket.s3.region.amazonaws.com/key
                bucket = re.split(r"\.s3[.-]", host, maxsplit=1)[0]
                if bucket and bucket != host:
                    return bucket, parts.path.lstrip("/")
        raise S3HookUriParseFailure(
            f"Please provide a bucket name using a valid format of s3://bucket/key: {s3url!r}")

    @staticmethod
    def get_s3_bucket_key(bucket: str | None, key: str, bucket_param_name: str,
                          key_param_name: str) -> tuple[str, str]:
        """``(bucket, key)`` from a bucket and a relative key, or from a full URL key and no bucket."""
        if bucket is None:
            return S3Hook.parse_s3_url(key)
        if _is_url(key):
            raise TypeError(f"If `{bucket_param_name}` is provided, {key_param_name} should be a relative path "
                            f"from root level, rather than a full s3:// url (got {key!r})")
        return bucket, key

    def _bucket(self, bucket_name: str | None) -> str:
        """The bucket to use: the one given, else the connection's ``service_config.s3.bucket_name``."""
        if bucket_name:
            return bucket_name
        default = self._connection_settings()["bucket_name"]
        if default:
            return default
        raise TradewindException(f"no bucket_name given and connection {self.aws_conn_id!r} has no default "
                                 "bucket (extra service_config.s3.bucket_name)")

    def _bucket_and_key(self, bucket_name: str | None, key: str) -> tuple[str, str]:
        """A key may be a full ``s3://`` URL when ``bucket_name`` is None (Airflow's rule)."""
        if not isinstance(key, str) or not key:
            raise TradewindException(f"an S3 key must be a non-empty string, not {key!r}")
        if bucket_name is None and _is_url(key):
            return self.parse_s3_url(key)
        return self._bucket(bucket_name), key

    @contextmanager
    def _located(self, bucket: str, key: str | None = None) -> Iterator[None]:
        """Re-raise S3's errors with the bucket (and key) in the message."""
        from botocore.exceptions import ClientError

        try:
            yield
        except ClientError as exc:
            if isinstance(exc, _located_client_error()):
                raise
            where = f"s3://{bucket}/{key}" if key is not None else f"bucket {bucket!r}"
            raise _located_client_error()(exc, where) from exc

    # ------------------------------------------------------------------ buckets
    def check_for_bucket(self, bucket_name: str | None = None) -> bool:
        """Whether the bucket exists (and we may see it)."""
        from botocore.exceptions import ClientError

        bucket = self._bucket(bucket_name)
        try:
            self.get_conn().head_bucket(Bucket=bucket)
        except ClientError as exc:
            self.log.info("Bucket %r is not available: %s", bucket, exc)
            return False
        return True

    def get_bucket(self, bucket_name: str | None = None) -> Any:
        """The boto3 ``Bucket`` resource."""
        return self.get_resource_type().Bucket(self._bucket(bucket_name))

    def create_bucket(self, bucket_name: str | None = None, region_name: str | None = None) -> None:
        """Create the bucket, in ``region_name`` (default: the connection's region; us-east-1 takes no
        location constraint)."""
        bucket = self._bucket(bucket_name)
        region = region_name or self.region_name or "us-east-1"
        with self._located(bucket):
            client = self.get_client_type(region)  # S3 wants the request sent to the bucket's region
            if region == "us-east-1":
                client.create_bucket(Bucket=bucket)
            else:
                client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})

    def delete_bucket(self, bucket_name: str, force_delete: bool = False, max_retries: int = 5) -> None:
        """Delete the bucket; with ``force_delete`` first every object in it (listing again up to
        ``max_retries`` times while objects remain)."""
        if force_delete:
            for _ in range(max(1, max_retries)):
                keys = self.list_keys(bucket_name)
                if not keys:
                    break
                self.delete_objects(bucket_name, keys)
        with self._located(bucket_name):
            self.get_conn().delete_bucket(Bucket=bucket_name)

    # ------------------------------------------------------------------ listing
    def _paginate(self, bucket: str, prefix: str, delimiter: str, page_size: int | None,
                  max_items: int | None, start_after_key: str | None = None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix or "", "Delimiter": delimiter or "",
                                  "PaginationConfig": {"PageSize": page_size, "MaxItems": max_items}}
        if start_after_key:
            params["StartAfter"] = start_after_key
        with self._located(bucket):
            yield from self.get_conn().get_paginator("list_objects_v2").paginate(**params)

    def list_prefixes(self, bucket_name: str | None = None, prefix: str | None = None,
                      delimiter: str | None = None, page_size: int | None = None,
                      max_items: int | None = None) -> list[str]:
        """The "folders" under ``prefix``: the common prefixes up to the next ``delimiter``."""
        bucket = self._bucket(bucket_name)
        prefixes: list[str] = []
        for page in self._paginate(bucket, prefix or "", delimiter or "", page_size, max_items):
            prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        return prefixes

    def check_for_prefix(self, prefix: str, delimiter: str, bucket_name: str | None = None) -> bool:
        """Whether ``prefix`` (a "folder" ending in ``delimiter``) exists in the bucket."""
        wanted = prefix if prefix.endswith(delimiter) else prefix + delimiter
        head = wanted[: -len(delimiter)] if delimiter else wanted
        cut = head.rfind(delimiter) if delimiter else -1
        parent = head[: cut + len(delimiter)] if cut >= 0 else ""
        return wanted in self.list_prefixes(bucket_name, parent, delimiter)

    @staticmethod
    def _list_key_object_filter(keys: list[dict[str, Any]], from_datetime: datetime | None = None,
                                to_datetime: datetime | None = None) -> list[str]:
        """Keys last modified after ``from_datetime`` and up to ``to_datetime`` (Airflow's default filter)."""
        def in_period(modified: datetime) -> bool:
            if from_datetime is not None and modified <= from_datetime:
                return False
            return not (to_datetime is not None and modified > to_datetime)

        return [k["Key"] for k in keys if in_period(k["LastModified"])]

    def list_keys(
        self,
        bucket_name: str | None = None,
        prefix: str | None = None,
        delimiter: str | None = None,
        page_size: int | None = None,
        max_items: int | None = None,
        start_after_key: str | None = None,
        from_datetime: datetime | None = None,
        to_datetime: datetime | None = None,
        object_filter: Callable[..., list[str]] | None = None,
        apply_wildcard: bool = False,
    ) -> list[str]:
        """The keys under ``prefix`` (not descending past ``delimiter`` when given), in key order.

        ``apply_wildcard=True`` reads ``prefix`` as a glob pattern (``*``); ``from_datetime`` /
        ``to_datetime`` keep keys modified in that period; ``object_filter(objects, from_datetime,
        to_datetime) -> keys`` replaces that period filter."""
        bucket = self._bucket(bucket_name)
        pattern = prefix or ""
        listing_prefix = pattern.split("*", 1)[0] if apply_wildcard else pattern
        keep = object_filter or self._list_key_object_filter
        keys: list[str] = []
        for page in self._paginate(bucket, listing_prefix, delimiter or "", page_size, max_items, start_after_key):
            contents = page.get("Contents", [])
            if apply_wildcard:
                contents = [c for c in contents if fnmatch.fnmatchcase(c["Key"], pattern)]
            keys.extend(keep(contents, from_datetime, to_datetime))
        return keys

    def get_file_metadata(self, prefix: str, bucket_name: str | None = None, page_size: int | None = None,
                          max_items: int | None = None) -> list[dict[str, Any]]:
        """S3's listing entries (``Key``, ``Size``, ``LastModified``, ``ETag``, ...) under ``prefix``."""
        bucket = self._bucket(bucket_name)
        files: list[dict[str, Any]] = []
        for page in self._paginate(bucket, prefix, "", page_size, max_items):
            files.extend(page.get("Contents", []))
        return files

    # ------------------------------------------------------------------ reading objects
    def head_object(self, key: str, bucket_name: str | None = None) -> dict[str, Any] | None:
        """The object's metadata (``ContentLength``, ``ETag``, ``Metadata``, ...), None when it does not exist."""
        from botocore.exceptions import ClientError

        bucket, key = self._bucket_and_key(bucket_name, key)
        try:
            return self.get_conn().head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise _located_client_error()(exc, f"s3://{bucket}/{key}") from exc

    def check_for_key(self, key: str, bucket_name: str | None = None) -> bool:
        """Whether the object exists."""
        return self.head_object(key, bucket_name) is not None

    def get_key(self, key: str, bucket_name: str | None = None) -> Any:
        """The boto3 ``Object`` resource, loaded; :class:`S3KeyNotFound` when there is no such object."""
        from botocore.exceptions import ClientError

        bucket, key = self._bucket_and_key(bucket_name, key)
        obj = self.get_resource_type().Object(bucket, key)
        try:
            obj.load()
        except ClientError as exc:
            if _is_not_found(exc):
                raise S3KeyNotFound(f"The source file in Bucket {bucket} with path {key} does not exist "
                                    f"(s3://{bucket}/{key})") from exc
            raise _located_client_error()(exc, f"s3://{bucket}/{key}") from exc
        return obj

    def read_key(self, key: str, bucket_name: str | None = None) -> str:
        """The object's content as UTF-8 text."""
        obj = self.get_key(key, bucket_name)
        with self._located(obj.bucket_name, obj.key):
            return obj.get()["Body"].read().decode("utf-8")

    def get_wildcard_key(self, wildcard_key: str, bucket_name: str | None = None,
                         delimiter: str = "") -> Any:
        """The first object whose key matches the glob ``wildcard_key``, or None."""
        bucket, pattern = self._bucket_and_key(bucket_name, wildcard_key)
        prefix = _WILDCARD.split(pattern, maxsplit=1)[0]
        matches = [k for k in self.list_keys(bucket, prefix=prefix, delimiter=delimiter)
                   if fnmatch.fnmatchcase(k, pattern)]
        return self.get_key(matches[0], bucket) if matches else None

    def check_for_wildcard_key(self, wildcard_key: str, bucket_name: str | None = None,
                               delimiter: str = "") -> bool:
        """Whether some object's key matches the glob ``wildcard_key``."""
        return self.get_wildcard_key(wildcard_key, bucket_name, delimiter) is not None

    def download_file(self, key: str, bucket_name: str | None = None, local_path: str | None = None,
                      preserve_file_name: bool = False, use_autogenerated_subdir: bool = True) -> str:
        """Download the object into ``local_path`` (default: the temp folder); returns the file's path.

        The file gets a fresh temporary name, or with ``preserve_file_name`` the key's last part
        (inside a fresh sub-folder unless ``use_autogenerated_subdir=False``; an existing file is
        never overwritten)."""
        obj = self.get_key(key, bucket_name)
        folder = Path(local_path) if local_path else Path(tempfile.gettempdir())
        if preserve_file_name:
            name = Path(urlsplit(obj.key).path).name
            if not name:
                raise TradewindException(f"s3://{obj.bucket_name}/{obj.key} has no file name to preserve")
            if use_autogenerated_subdir:
                folder = folder / f"tradewind_tmp_dir_{uuid.uuid4().hex[:8]}"
            target = folder / name
            if target.exists():
                raise FileExistsError(f"{target} already exists; not overwriting it with "
                                      f"s3://{obj.bucket_name}/{obj.key}")
            folder.mkdir(parents=True, exist_ok=True)
            handle: IO[bytes] = open(target, "wb")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            handle = tempfile.NamedTemporaryFile(dir=folder, prefix="tradewind_tmp_", delete=False)
        with handle, self._located(obj.bucket_name, obj.key):
            obj.download_fileobj(handle, ExtraArgs=self.extra_args or None, Config=self._transfer_config())
        return handle.name

    def generate_presigned_url(self, client_method: str, params: dict[str, Any] | None = None,
                               expires_in: int = 3600, http_method: str | None = None) -> str:
        """A URL that grants ``client_method`` (e.g. ``"get_object"``) on ``params`` for ``expires_in`` s."""
        return self.get_conn().generate_presigned_url(ClientMethod=client_method, Params=params or {},
                                                      ExpiresIn=expires_in, HttpMethod=http_method)

    # ------------------------------------------------------------------ writing objects
    def _transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(**self.transfer_config_args)

    def _upload_args(self, encrypt: bool, acl_policy: str | None) -> dict[str, Any]:
        args = dict(self.extra_args)
        if encrypt:
            args["ServerSideEncryption"] = "AES256"
        if acl_policy:
            args["ACL"] = acl_policy
        return args

    def _refuse_existing(self, bucket: str, key: str, replace: bool) -> None:
        if not replace and self.check_for_key(key, bucket):
            raise ValueError(f"The key {key} already exists (s3://{bucket}/{key}); pass replace=True to overwrite it")

    def load_file_obj(self, file_obj: IO[bytes], key: str, bucket_name: str | None = None, replace: bool = False,
                      encrypt: bool = False, acl_policy: str | None = None) -> None:
        """Upload a binary file object's content to the key (``replace=False`` refuses an existing key)."""
        bucket, key = self._bucket_and_key(bucket_name, key)
        self._refuse_existing(bucket, key, replace)
        with self._located(bucket, key):
            self.get_conn().upload_fileobj(file_obj, bucket, key, ExtraArgs=self._upload_args(encrypt, acl_policy),
                                           Config=self._transfer_config())

    def load_bytes(self, bytes_data: bytes, key: str, bucket_name: str | None = None, replace: bool = False,
                   encrypt: bool = False, acl_policy: str | None = None) -> None:
        """Upload ``bytes_data`` to the key."""
        if not isinstance(bytes_data, (bytes, bytearray, memoryview)):
            raise TypeError(f"load_bytes needs bytes, not {type(bytes_data).__name__} (use load_string for text)")
        self.load_file_obj(io.BytesIO(bytes(bytes_data)), key, bucket_name, replace, encrypt, acl_policy)

    def load_string(self, string_data: str, key: str, bucket_name: str | None = None, replace: bool = False,
                    encrypt: bool = False, encoding: str | None = None, acl_policy: str | None = None,
                    compression: str | None = None) -> None:
        """Upload text, encoded with ``encoding`` (UTF-8), gzip-compressed with ``compression="gzip"``."""
        if not isinstance(string_data, str):
            raise TypeError(f"load_string needs str, not {type(string_data).__name__} (use load_bytes for bytes)")
        data = string_data.encode(encoding or "utf-8")
        if compression == "gzip":
            data = gzip.compress(data)
        elif compression is not None:
            raise ValueError(f"compression {compression!r} is not supported; use None or 'gzip'")
        self.load_file_obj(io.BytesIO(data), key, bucket_name, replace, encrypt, acl_policy)

    def load_file(self, filename: str | os.PathLike[str], key: str, bucket_name: str | None = None,
                  replace: bool = False, encrypt: bool = False, gzip: bool = False,
                  acl_policy: str | None = None) -> None:
        """Upload a local file (gzip-compressed on the way with ``gzip=True``)."""
        path = Path(filename)
        if not path.is_file():
            raise FileNotFoundError(f"load_file: {path} is not a file")
        bucket, key = self._bucket_and_key(bucket_name, key)
        self._refuse_existing(bucket, key, replace)
        extra = self._upload_args(encrypt, acl_policy)
        with tempfile.TemporaryDirectory(prefix="tradewind-s3-") as scratch:
            source = path
            if gzip:
                source = Path(scratch) / (path.name + ".gz")
                with open(path, "rb") as raw, _gzip_open(source) as packed:
                    shutil.copyfileobj(raw, packed)
            with self._located(bucket, key):
                self.get_conn().upload_file(str(source), bucket, key, ExtraArgs=extra,
                                            Config=self._transfer_config())

    def copy_object(self, source_bucket_key: str, dest_bucket_key: str, source_bucket_name: str | None = None,
                    dest_bucket_name: str | None = None, source_version_id: str | None = None,
                    acl_policy: str | None = None, meta_data_directive: str | None = None,
                    **kwargs: Any) -> dict[str, Any]:
        """Copy an object within S3 (keys may be full ``s3://`` URLs when their bucket is None);
        returns S3's response. The copy gets ``acl_policy`` (default ``private``)."""
        source_bucket, source_key = self.get_s3_bucket_key(source_bucket_name, source_bucket_key,
                                                           "source_bucket_name", "source_bucket_key")
        dest_bucket, dest_key = self.get_s3_bucket_key(dest_bucket_name, dest_bucket_key,
                                                       "dest_bucket_name", "dest_bucket_key")
        copy_source: dict[str, str] = {"Bucket": source_bucket, "Key": source_key}
        if source_version_id:
            copy_source["VersionId"] = source_version_id
        if meta_data_directive:
            kwargs["MetadataDirective"] = meta_data_directive
        with self._located(dest_bucket, f"{dest_key} (copy of s3://{source_bucket}/{source_key})"):
            return self.get_conn().copy_object(Bucket=dest_bucket, Key=dest_key, CopySource=copy_source,
                                               ACL=acl_policy or "private", **kwargs)

    def delete_objects(self, bucket: str, keys: str | list[str]) -> None:
        """Delete the keys (one or a list) from ``bucket``; :class:`S3DeleteError` names the ones S3 refused."""
        key_list = [keys] if isinstance(keys, str) else list(keys)
        refused: list[dict[str, Any]] = []
        for start in range(0, len(key_list), _DELETE_BATCH):
            chunk = key_list[start:start + _DELETE_BATCH]
            with self._located(bucket):
                response = self.get_conn().delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": False})
            deleted = [d["Key"] for d in response.get("Deleted", [])]
            self.log.info("Deleted from bucket %s: %s", bucket, deleted)
            refused.extend(response.get("Errors", []))
        if refused:
            detail = ", ".join(f"{e.get('Key')} ({e.get('Code')}: {e.get('Message')})" for e in refused)
            raise S3DeleteError(f"Errors when deleting from bucket {bucket}: {detail}", refused)


def _gzip_open(path: Path) -> IO[bytes]:
    """A gzip writer (the ``gzip`` module name is shadowed by ``load_file``'s Airflow argument)."""
    return gzip.open(path, "wb")
