"""``S3KeySensor``: waits until one or more S3 objects exist (Airflow's amazon provider sensor).

``bucket_key`` is a key or a list of keys, relative to ``bucket_name`` or full ``s3://`` URLs
when ``bucket_name`` is None. With ``wildcard_match`` each key is a glob pattern (``*``, ``?``,
``[...]``), with ``use_regex`` a regular expression; each must match at least one object. With
``check_fn`` the sensor is done when ``check_fn(files)`` is true, where ``files`` holds one dict
of metadata (``Size`` by default, the keys named in ``metadata_keys``; ``"*"`` for all of
``head_object``) per matched object. Poke and reschedule modes work as for every sensor.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.sensors.base import BaseSensorOperator
from tradewind.integrations.s3.hooks import S3Hook

__all__ = ["S3KeySensor"]

_WILDCARD = re.compile(r"[\[*?]")


class S3KeySensor(BaseSensorOperator):
    """Done once every key in ``bucket_key`` exists (and ``check_fn`` accepts the matched files)."""

    template_fields = ("bucket_key", "bucket_name")
    ui_color = "#ffd8b1"

    def __init__(
        self,
        *,
        bucket_key: str | list[str],
        bucket_name: str | None = None,
        wildcard_match: bool = False,
        check_fn: Callable[..., bool] | None = None,
        aws_conn_id: str | None = "aws_default",
        verify: bool | str | None = None,
        region_name: str | None = None,
        use_regex: bool = False,
        metadata_keys: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if wildcard_match and use_regex:
            raise TradewindException(f"S3KeySensor {self.task_id!r}: give wildcard_match or use_regex, not both")
        if check_fn is not None and not callable(check_fn):
            raise TradewindException(f"S3KeySensor {self.task_id!r}: check_fn must be callable")
        self.bucket_key = bucket_key
        self.bucket_name = bucket_name
        self.wildcard_match = wildcard_match
        self.check_fn = check_fn
        self.aws_conn_id = aws_conn_id
        self.verify = verify
        self.region_name = region_name
        self.use_regex = use_regex
        self.metadata_keys = list(metadata_keys) if metadata_keys else ["Size"]
        self._hook: S3Hook | None = None

    @property
    def hook(self) -> S3Hook:
        """One hook (and boto3 client) for every poke of a try."""
        if self._hook is None:
            self._hook = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify)
        return self._hook

    def _keys(self) -> Sequence[str]:
        keys = [self.bucket_key] if isinstance(self.bucket_key, str) else list(self.bucket_key)
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise TradewindException(f"S3KeySensor {self.task_id!r}: bucket_key must be a key or a list of keys, "
                                     f"got {self.bucket_key!r}")
        return keys

    def _files_for(self, hook: S3Hook, key: str, log: Any) -> list[dict[str, Any]] | None:
        """Metadata of the objects ``key`` stands for, or None when there is none yet."""
        bucket, key = S3Hook.get_s3_bucket_key(self.bucket_name, key, "bucket_name", "bucket_key")
        log.info("Poking for key : s3://%s/%s", bucket, key)
        if self.wildcard_match or self.use_regex:
            prefix = "" if self.use_regex else _WILDCARD.split(key, maxsplit=1)[0]
            pattern = re.compile(key) if self.use_regex else None
            listed = hook.get_file_metadata(prefix, bucket)
            matched = [f for f in listed
                       if (pattern.match(f["Key"]) if pattern else fnmatch.fnmatchcase(f["Key"], key))]
            if not matched:
                return None
            return [self._metadata(hook, bucket, f) for f in matched]
        head = hook.head_object(key, bucket)
        if head is None:
            return None
        return [self._pick(head, {"Key": key, "Size": head.get("ContentLength")})]

    def _metadata(self, hook: S3Hook, bucket: str, listed: dict[str, Any]) -> dict[str, Any]:
        if "*" in self.metadata_keys or any(k not in listed for k in self.metadata_keys):
            head = hook.head_object(listed["Key"], bucket) or {}
            return self._pick(head, listed)
        return {k: listed[k] for k in self.metadata_keys}

    def _pick(self, head: dict[str, Any], listed: dict[str, Any]) -> dict[str, Any]:
        if "*" in self.metadata_keys:
            return {**head, **{k: v for k, v in listed.items() if k not in head}}
        merged = {**head, **listed}
        return {k: merged.get(k) for k in self.metadata_keys}

    def poke(self, context: dict[str, Any]) -> bool:
        log = self.task_logger(context)
        hook = self.hook
        files: list[dict[str, Any]] = []
        for key in self._keys():
            found = self._files_for(hook, key, log)
            if found is None:
                return False
            files.extend(found)
        if self.check_fn is None:
            return True
        return bool(self._call_check_fn(files, context))

    def _call_check_fn(self, files: list[dict[str, Any]], context: dict[str, Any]) -> Any:
        """``check_fn(files)``, or ``check_fn(files, **context)`` when it takes keyword arguments."""
        try:
            params = inspect.signature(self.check_fn).parameters.values()
        except (TypeError, ValueError):
            return self.check_fn(files)
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return self.check_fn(files, **context)
        return self.check_fn(files)
