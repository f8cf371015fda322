"""Hooks, operators and sensors for external systems, one sub-package per system.

Each sub-package imports only :mod:`tradewind.definition` and imports its third-party client
library (an optional extra) inside the functions that need it, so a DAG file that does not use
an integration pays nothing for it and the core install works without the extra.
"""

#: conn_type -> "module:HookClass" of the hook that serves it. ``tradewind connections test`` and
#: ``POST /api/v1/connections/test`` build that hook (``HookClass(**{conn_name_attr: conn_id})``) and
#: call its ``test_connection()``. Each integration adds its own conn_types here (plain strings, so
#: reading the table imports no client library).
HOOKS_BY_CONN_TYPE: dict[str, str] = {
    "sqlite": "tradewind.integrations.sql.sqlite:SqliteHook",
    "postgres": "tradewind.integrations.sql.postgres:PostgresHook",
    "mysql": "tradewind.integrations.sql.mysql:MySqlHook",
    "aws": "tradewind.integrations.s3.hooks:S3Hook",
}
