"""``FileTransferOperator`` (Airflow's common-io provider): copy one file between object stores.

``FileTransferOperator(task_id, src, dst, source_conn_id=None, dest_conn_id=None, overwrite=False)``:
``src``/``dst`` are URL strings (templated) or :class:`~tradewind.integrations.io.path.ObjectStoragePath`
objects; the connection ids apply to string paths. On one store the server copies; between stores
(``s3 -> file``) the bytes stream through the worker. An existing destination file fails the task
unless ``overwrite=True``. Importing this module costs nothing: fsspec loads when the task runs.
"""

from __future__ import annotations

from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TradewindException

__all__ = ["FileTransferOperator"]


class FileTransferOperator(BaseOperator):
    """Copies ``src`` to ``dst`` (see the module docstring)."""

    template_fields = ("src", "dst")

    def __init__(
        self,
        *,
        src: Any,
        dst: Any,
        source_conn_id: str | None = None,
        dest_conn_id: str | None = None,
        overwrite: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("src", src), ("dst", dst)):
            if not isinstance(value, str) and type(value).__name__ != "ObjectStoragePath":
                raise TradewindException(f"FileTransferOperator {self.task_id!r}: {name} must be a URL string or "
                                         f"an ObjectStoragePath, not {type(value).__name__}")
        self.src = src
        self.dst = dst
        self.source_conn_id = source_conn_id
        self.dest_conn_id = dest_conn_id
        self.overwrite = overwrite

    def execute(self, context: Any) -> None:
        from tradewind.integrations.io.path import ObjectStoragePath

        src = self.src if isinstance(self.src, ObjectStoragePath) else \
            ObjectStoragePath(self.src, conn_id=self.source_conn_id)
        dst = self.dst if isinstance(self.dst, ObjectStoragePath) else \
            ObjectStoragePath(self.dst, conn_id=self.dest_conn_id)
        if not self.overwrite and dst.exists() and dst.is_file():
            raise TradewindException(f"FileTransferOperator {self.task_id!r}: destination {dst} already exists; "
                                     "pass overwrite=True to replace it")
        self.log.info("Copying %s to %s", src, dst)
        src.copy(dst)
