"""``SqlToS3Operator``: the result of a SQL query, as a CSV, JSON or Parquet file in S3.

The query runs through the SQL hook of ``sql_conn_id`` (chosen by its connection type: SQLite,
PostgreSQL, MySQL/MariaDB; see :mod:`tradewind.integrations.sql`) into a pandas ``DataFrame``
(``pandas`` extra; Parquet also needs ``pyarrow``), which is written with ``DataFrame.to_csv`` /
``to_json`` / ``to_parquet`` and ``pd_kwargs``, then uploaded with
:meth:`~tradewind.integrations.s3.hooks.S3Hook.load_file`. As in Airflow, CSV keeps pandas'
defaults (the index is written unless ``pd_kwargs={"index": False}``), and integer columns with
NULLs stay integers (``1``, not ``1.0``). ``max_rows_per_file`` or ``groupby_kwargs`` split the
result into several objects named ``<s3_key>_<part>``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TradewindException
from tradewind.integrations.s3.hooks import S3Hook

__all__ = ["SqlToS3Operator"]

#: file_format -> the DataFrame method writing it.
_WRITERS = {"csv": "to_csv", "json": "to_json", "parquet": "to_parquet"}


class SqlToS3Operator(BaseOperator):
    """Run ``query`` on ``sql_conn_id`` and store the rows at ``s3://s3_bucket/s3_key``."""

    template_fields = ("s3_bucket", "s3_key", "query", "sql_conn_id")
    template_ext = (".sql",)
    template_fields_renderers = {"query": "sql", "pd_kwargs": "json"}
    ui_color = "#ffd8b1"

    def __init__(
        self,
        *,
        query: str,
        s3_bucket: str | None,
        s3_key: str,
        sql_conn_id: str,
        sql_hook_params: dict[str, Any] | None = None,
        parameters: Any = None,
        replace: bool = False,
        aws_conn_id: str | None = "aws_default",
        verify: bool | str | None = None,
        region_name: str | None = None,
        file_format: str = "csv",
        max_rows_per_file: int = 0,
        pd_kwargs: dict[str, Any] | None = None,
        groupby_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        fmt = str(file_format).lower()
        if fmt not in _WRITERS:
            raise TradewindException(f"SqlToS3Operator {self.task_id!r}: file_format {file_format!r} is not "
                                     f"supported; use one of {', '.join(_WRITERS)}")
        self.pd_kwargs = dict(pd_kwargs or {})
        if "path_or_buf" in self.pd_kwargs or "path" in self.pd_kwargs:
            raise TradewindException(f"SqlToS3Operator {self.task_id!r}: pd_kwargs may not name the output file "
                                     "(path_or_buf/path); the operator writes to s3_key")
        if max_rows_per_file and groupby_kwargs:
            raise TradewindException(f"SqlToS3Operator {self.task_id!r}: max_rows_per_file and groupby_kwargs "
                                     "cannot be used together")
        if not isinstance(max_rows_per_file, int) or max_rows_per_file < 0:
            raise TradewindException(f"SqlToS3Operator {self.task_id!r}: max_rows_per_file must be a "
                                     f"non-negative int, not {max_rows_per_file!r}")
        self.query = query
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.sql_conn_id = sql_conn_id
        self.sql_hook_params = sql_hook_params
        self.parameters = parameters
        self.replace = replace
        self.aws_conn_id = aws_conn_id
        self.verify = verify
        self.region_name = region_name
        self.file_format = fmt
        self.max_rows_per_file = max_rows_per_file
        self.groupby_kwargs = groupby_kwargs

    def execute(self, context: dict[str, Any]) -> None:
        from tradewind.integrations.sql.hooks import get_db_hook

        log = self.task_logger(context)
        bucket, key = S3Hook.get_s3_bucket_key(self.s3_bucket, self.s3_key, "s3_bucket", "s3_key")
        frame = get_db_hook(self.sql_conn_id, self.sql_hook_params).get_pandas_df(sql=self.query,
                                                                                  parameters=self.parameters)
        _keep_integers_with_nulls(frame)
        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify)
        writer = _WRITERS[self.file_format]
        with tempfile.TemporaryDirectory(prefix="tradewind-sql-to-s3-") as scratch:
            for part, chunk in self._parts(frame):
                target_key = f"{key}_{part}" if part else key
                path = Path(scratch) / f"part-{part or 'all'}.{self.file_format}"
                getattr(chunk, writer)(path, **self.pd_kwargs)
                s3.load_file(path, target_key, bucket, replace=self.replace)
                log.info("Wrote %d row(s) of %s to s3://%s/%s", len(chunk), self.file_format, bucket, target_key)

    def _parts(self, frame: Any) -> Iterator[tuple[str, Any]]:
        """("", whole frame), or one (name, piece) per ``max_rows_per_file`` rows / ``groupby`` group."""
        if self.groupby_kwargs:
            for name, group in frame.groupby(**self.groupby_kwargs):
                label = name[0] if isinstance(name, tuple) and len(name) == 1 else name
                yield str(label), group.reset_index(drop=True)
        elif self.max_rows_per_file:
            for number, start in enumerate(range(0, max(len(frame), 1), self.max_rows_per_file)):
                yield str(number), frame.iloc[start:start + self.max_rows_per_file]
        else:
            yield "", frame


def _keep_integers_with_nulls(frame: Any) -> None:
    """Float columns that pandas made from integers plus NULLs become nullable integers, so a file
    says ``3`` rather than ``3.0`` (Airflow does the same)."""
    import pandas

    for column in frame.columns:
        series = frame[column]
        if series.dtype.kind != "f" or not series.hasnans:
            continue
        present = series.dropna()
        if (present == present.round()).all():
            frame[column] = series.astype(pandas.Int64Dtype())
