"""``BaseHook``: the base of every hook (a client of an external system configured by a connection).

Hooks live in ``tradewind.integrations`` (optional extras: SQL, S3, HTTP, SMTP, Docker); they
import only the definition layer, so a DAG file that uses one stays free of the database.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from tradewind.definition.connection import Connection, get_connection


class BaseHook:
    """Airflow's hook contract: ``get_connection(conn_id)`` and a ``get_conn()`` client.

    Subclasses set ``conn_name_attr`` (the constructor argument naming the connection, e.g.
    ``"postgres_conn_id"``), ``default_conn_name``, ``conn_type`` and ``hook_name``.
    """

    conn_name_attr: ClassVar[str] = "conn_id"
    default_conn_name: ClassVar[str] = "default_conn_id"
    conn_type: ClassVar[str] = ""
    hook_name: ClassVar[str] = ""

    def __init__(self, logger_name: str | None = None) -> None:
        self.log = logging.getLogger(logger_name or f"{type(self).__module__}.{type(self).__name__}")

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection ``conn_id`` (environment, then the metadata database); logs where it points,
        never its password."""
        conn = get_connection(conn_id)
        logging.getLogger(__name__).info("Using connection ID '%s' for task execution.", conn_id)
        return conn

    def get_conn(self) -> Any:
        """The client object of the external system."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_conn()")

    def test_connection(self) -> tuple[bool, str]:
        """Try the connection (``tradewind connections test``): (ok, message)."""
        try:
            self.get_conn()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return False, f"{type(exc).__name__}: {exc}"
        return True, "Connection successfully tested"
