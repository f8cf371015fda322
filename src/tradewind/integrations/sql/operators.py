"""SQL operators on any SQL connection (Airflow's ``common.sql`` operators).

The hook is chosen by the connection's type (``sqlite``, ``postgres``, ``mysql``), so one
operator serves every database. ``sql`` is templated and may name a ``.sql`` file (looked up
next to the DAG file, then in ``template_searchpath``).

- :class:`SQLExecuteQueryOperator` runs statements; the rows of the last one (or of each) are
  the task's return value, as JSON lists.
- :class:`SQLCheckOperator` / :class:`SQLValueCheckOperator` check a query's first row.
- :class:`SQLColumnCheckOperator` / :class:`SQLTableCheckOperator` check a table with
  Airflow's check dictionaries. A failed check fails the task with a message naming each
  failed check, its column, the expectation and the value found.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.integrations.sql.hooks import DbApiHook, fetch_all_handler, get_db_hook


class SqlCheckFailed(TradewindException):
    """A data-quality check did not pass (the task fails and may retry, as in Airflow)."""


def to_jsonable(value: Any) -> Any:
    """A query result as JSON types: rows become lists, decimals numbers, dates ISO strings."""
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


class BaseSQLOperator(BaseOperator):
    """Holds the connection id, the database override and the hook parameters; builds the hook."""

    def __init__(self, *, conn_id: str | None = None, database: str | None = None,
                 hook_params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not conn_id:
            raise InvalidTaskArgumentError(f"SQL task {self.task_id!r} needs conn_id (the connection to run on)")
        self.conn_id = conn_id
        self.database = database
        self.hook_params = dict(hook_params or {})

    def get_db_hook(self) -> DbApiHook:
        """The hook of the connection's type, with ``database`` as its schema when given."""
        params = dict(self.hook_params)
        if self.database is not None:
            params.setdefault("schema", self.database)
        return get_db_hook(self.conn_id, params)


class SQLExecuteQueryOperator(BaseSQLOperator):
    """Runs ``sql`` (a string, a list of statements or a ``.sql`` file) with ``parameters``.

    The return value (XCom ``return_value`` when ``do_xcom_push``) is ``handler(cursor)`` made
    JSON-able: by default the rows of the last statement as a list of lists, or one such list
    per statement when ``sql`` is a list or ``split_statements=True, return_last=False``.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("conn_id", "sql", "parameters", "hook_params")
    template_ext: ClassVar[tuple[str, ...]] = (".sql", ".json")
    template_fields_renderers = {"sql": "sql", "parameters": "json"}
    ui_color = "#cdaaed"

    def __init__(
        self,
        *,
        sql: str | list[str],
        autocommit: bool = False,
        parameters: Mapping[str, Any] | Iterable[Any] | None = None,
        handler: Callable[[Any], Any] = fetch_all_handler,
        split_statements: bool | None = None,
        return_last: bool = True,
        show_return_value_in_logs: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(sql, str | list | tuple) or not sql:
            raise InvalidTaskArgumentError(
                f"sql of task {self.task_id!r} must be a non-empty string or list of strings, got {sql!r}")
        if not callable(handler):
            raise InvalidTaskArgumentError(f"handler of task {self.task_id!r} must be callable, got {handler!r}")
        self.sql = sql if isinstance(sql, str) else list(sql)
        self.autocommit = autocommit
        self.parameters = parameters
        self.handler = handler
        self.split_statements = split_statements
        self.return_last = return_last
        self.show_return_value_in_logs = show_return_value_in_logs

    def execute(self, context: dict[str, Any]) -> Any:
        log = self.task_logger(context)
        log.info("Executing: %s", self.sql)
        hook = self.get_db_hook()
        output = hook.run(
            sql=self.sql,
            autocommit=self.autocommit,
            parameters=self.parameters,
            handler=self.handler if self.do_xcom_push else None,
            split_statements=bool(self.split_statements),
            return_last=self.return_last,
        )
        if output is None or not self.do_xcom_push:
            return None
        result = to_jsonable(output)
        if self.show_return_value_in_logs:
            log.info("Operator output is: %s", result)
        return result


# ------------------------------------------------------------------ row checks
class SQLCheckOperator(BaseSQLOperator):
    """Fails unless every value of the first row of ``sql`` is truthy (Airflow's ``SQLCheckOperator``)."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "parameters")
    template_ext: ClassVar[tuple[str, ...]] = (".sql",)
    ui_color = "#fff7e6"

    def __init__(self, *, sql: str, parameters: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.parameters = parameters

    def execute(self, context: dict[str, Any]) -> None:
        self.task_logger(context).info("Executing SQL check: %s", self.sql)
        row = self.get_db_hook().get_first(self.sql, self.parameters)
        if not row:
            raise SqlCheckFailed(f"The following query returned zero rows: {self.sql}")
        if not all(row):
            raise SqlCheckFailed(f"Test failed.\nQuery:\n{self.sql}\nResults:\n{list(row)!r}")
        self.task_logger(context).info("Success.")


class SQLValueCheckOperator(BaseSQLOperator):
    """Fails unless each value of the first row equals ``pass_value`` (within ``tolerance``, a
    fraction such as 0.1 for ±10%, when ``pass_value`` is a number)."""

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "pass_value", "parameters")
    template_ext: ClassVar[tuple[str, ...]] = (".sql",)
    ui_color = "#fff7e6"

    def __init__(self, *, sql: str, pass_value: Any, tolerance: float | None = None, parameters: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.pass_value = pass_value
        self.tolerance = None if tolerance is None else float(tolerance)
        self.parameters = parameters

    def execute(self, context: dict[str, Any]) -> None:
        self.task_logger(context).info("Executing SQL check: %s", self.sql)
        row = self.get_db_hook().get_first(self.sql, self.parameters)
        if not row:
            raise SqlCheckFailed(f"The following query returned zero rows: {self.sql}")
        try:
            expected: Any = float(self.pass_value)
            numeric = True
        except (TypeError, ValueError):
            expected, numeric = str(self.pass_value), False
        if numeric:
            tol = self.tolerance or 0.0
            ok = all(value is not None and expected * (1 - tol) <= float(value) <= expected * (1 + tol)
                     for value in row)
        else:
            ok = all(str(value) == expected for value in row)
        if not ok:
            tolerance = f"{self.tolerance * 100:g}%" if self.tolerance is not None else "none"
            raise SqlCheckFailed(f"Test failed.\nPass value: {self.pass_value}\nTolerance: {tolerance}\n"
                                 f"Query:\n{self.sql}\nResults:\n{to_jsonable(row)!r}")
        self.task_logger(context).info("Success.")


# ------------------------------------------------------------------ column and table checks
#: The SQL of each column check (Airflow's names); ``{column}`` is the checked column.
COLUMN_CHECKS = {
    "null_check": "SUM(CASE WHEN {column} IS NULL THEN 1 ELSE 0 END)",
    "distinct_check": "COUNT(DISTINCT({column}))",
    "unique_check": "COUNT({column}) - COUNT(DISTINCT({column}))",
    "min": "MIN({column})",
    "max": "MAX({column})",
}
#: The comparisons a check may require; all given ones must hold.
COMPARISONS = ("greater_than", "geq_to", "less_than", "leq_to", "equal_to")
_CHECK_OPTIONS = {*COMPARISONS, "tolerance", "partition_clause"}


def _matches(expect: Mapping[str, Any], value: Any) -> bool:
    """Whether ``value`` meets every comparison of ``expect``, widened by its ``tolerance``."""
    if value is None:
        return False
    tol = float(expect.get("tolerance") or 0)
    if isinstance(value, Decimal):
        value = float(value)
    for name in COMPARISONS:
        if name not in expect:
            continue
        target = expect[name]
        low = target * (1 - tol) if tol else target
        high = target * (1 + tol) if tol else target
        ok = {"greater_than": value > low, "geq_to": value >= low, "less_than": value < high,
              "leq_to": value <= high, "equal_to": low <= value <= high}[name]
        if not ok:
            return False
    return True


def _where(*clauses: str | None) -> str:
    parts = [f"({c})" for c in clauses if c]
    return f" WHERE {' AND '.join(parts)}" if parts else ""


class SQLColumnCheckOperator(BaseSQLOperator):
    """Checks columns of ``table`` with Airflow's ``column_mapping``::

        column_mapping={
            "id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
            "price": {"min": {"geq_to": 0}, "max": {"less_than": 1000, "tolerance": 0.1}},
        }

    Checks: ``null_check``, ``distinct_check``, ``unique_check``, ``min``, ``max``; each needs at
    least one of ``equal_to``, ``greater_than``, ``geq_to``, ``less_than``, ``leq_to`` and may add
    ``tolerance`` and its own ``partition_clause`` (ANDed with the operator's). With
    ``accept_none`` a NULL result (e.g. the MIN of no rows) counts as 0. The results are written
    back into ``column_mapping`` (``result``, ``success``) as Airflow does.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("partition_clause", "table")
    ui_color = "#fff7e6"

    def __init__(self, *, table: str, column_mapping: dict[str, dict[str, dict[str, Any]]],
                 partition_clause: str | None = None, accept_none: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        where = f"column check task {self.task_id!r}"
        if not isinstance(column_mapping, dict) or not column_mapping:
            raise InvalidTaskArgumentError(f"{where}: column_mapping must be a non-empty dict of column -> checks")
        for column, checks in column_mapping.items():
            if not isinstance(checks, dict) or not checks:
                raise InvalidTaskArgumentError(f"{where}: checks of column {column!r} must be a non-empty dict")
            for check, expect in checks.items():
                _validate_check(where, f"column {column!r} check {check!r}", check, expect,
                                known=COLUMN_CHECKS)
        self.table = table
        self.column_mapping = column_mapping
        self.partition_clause = partition_clause
        self.accept_none = accept_none

    def execute(self, context: dict[str, Any]) -> None:
        log = self.task_logger(context)
        hook = self.get_db_hook()
        failed: list[str] = []
        for column, checks in self.column_mapping.items():
            # One query per column and partition: checks of different result types never share a UNION.
            groups: dict[str | None, list[str]] = {}
            for check, expect in checks.items():
                groups.setdefault(expect.get("partition_clause"), []).append(check)
            for partition, names in groups.items():
                select = ", ".join(f"{COLUMN_CHECKS[name].format(column=column)}" for name in names)
                sql = f"SELECT {select} FROM {self.table}{_where(self.partition_clause, partition)}"
                log.info("Running column checks: %s", sql)
                row = hook.get_first(sql) or (None,) * len(names)
                for name, value in zip(names, row, strict=True):
                    if value is None and self.accept_none:
                        value = 0
                    expect = checks[name]
                    expect["result"] = to_jsonable(value)
                    expect["success"] = _matches(expect, value)
                    if not expect["success"]:
                        wanted = {k: v for k, v in expect.items() if k in _CHECK_OPTIONS}
                        failed.append(f"Column: {column}, Check: {name}, Check Values: {wanted}, "
                                      f"Result: {expect['result']!r}")
        if failed:
            raise SqlCheckFailed(f"Test failed on table {self.table}.\nThe following tests have failed:\n  "
                                 + "\n  ".join(failed))
        log.info("All column checks on %s passed.", self.table)


class SQLTableCheckOperator(BaseSQLOperator):
    """Checks ``table`` with Airflow's ``checks`` dict of named SQL conditions::

        checks={
            "row_count_check": {"check_statement": "COUNT(*) >= 3"},
            "price_positive": {"check_statement": "price > 0", "partition_clause": "region = 'EU'"},
        }

    A check passes when its condition holds for every row it covers (conditions on aggregates
    such as ``COUNT(*)`` are evaluated once). A check that covers no rows fails (nothing was
    checked). The results are written back into ``checks`` (``success``).
    """

    template_fields: ClassVar[tuple[str, ...]] = ("partition_clause", "table")
    ui_color = "#fff7e6"

    def __init__(self, *, table: str, checks: dict[str, dict[str, Any]], partition_clause: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        where = f"table check task {self.task_id!r}"
        if not isinstance(checks, dict) or not checks:
            raise InvalidTaskArgumentError(f"{where}: checks must be a non-empty dict of check name -> "
                                           "{'check_statement': ...}")
        for name, spec in checks.items():
            if not isinstance(name, str) or not name.replace("_", "a").isalnum():
                raise InvalidTaskArgumentError(f"{where}: check name {name!r} must be letters, digits and _")
            if not isinstance(spec, dict) or not isinstance(spec.get("check_statement"), str):
                raise InvalidTaskArgumentError(f"{where}: check {name!r} needs a 'check_statement' string")
            unknown = sorted(set(spec) - {"check_statement", "partition_clause", "success"})
            if unknown:
                raise InvalidTaskArgumentError(f"{where}: check {name!r} has unknown key(s) {', '.join(unknown)}")
        self.table = table
        self.checks = checks
        self.partition_clause = partition_clause

    def execute(self, context: dict[str, Any]) -> None:
        log = self.task_logger(context)
        parts = [
            f"SELECT '{name}' AS check_name, MIN(check_ok) AS check_result FROM "
            f"(SELECT CASE WHEN {spec['check_statement']} THEN 1 ELSE 0 END AS check_ok FROM {self.table}"
            f"{_where(self.partition_clause, spec.get('partition_clause'))}) AS check_{name}"
            for name, spec in self.checks.items()
        ]
        sql = "\nUNION ALL\n".join(parts)
        log.info("Running table checks: %s", sql)
        results = {name: value for name, value in self.get_db_hook().get_records(sql)}
        failed = []
        for name, spec in self.checks.items():
            value = results.get(name)
            spec["success"] = value is not None and int(value) == 1
            if not spec["success"]:
                why = "no rows to check" if value is None else "condition false"
                failed.append(f"Check: {name}, Statement: {spec['check_statement']} ({why})")
        if failed:
            raise SqlCheckFailed(f"Test failed on table {self.table}.\nThe following tests have failed:\n  "
                                 + "\n  ".join(failed))
        log.info("All table checks on %s passed.", self.table)


def _validate_check(where: str, what: str, check: str, expect: Any, *, known: Mapping[str, str]) -> None:
    """Reject an unknown check, a non-dict expectation or one without a comparison, at parse time."""
    if check not in known:
        raise InvalidTaskArgumentError(f"{where}: {what} is unknown; checks: {', '.join(known)}")
    if not isinstance(expect, dict):
        raise InvalidTaskArgumentError(f"{where}: {what} must be a dict such as {{'equal_to': 0}}")
    unknown = sorted(set(expect) - _CHECK_OPTIONS - {"result", "success"})
    if unknown:
        raise InvalidTaskArgumentError(f"{where}: {what} has unknown key(s) {', '.join(unknown)}; "
                                       f"use {', '.join(COMPARISONS)}, tolerance, partition_clause")
    if not any(name in expect for name in COMPARISONS):
        raise InvalidTaskArgumentError(f"{where}: {what} needs one of {', '.join(COMPARISONS)}")
