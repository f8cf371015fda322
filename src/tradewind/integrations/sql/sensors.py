"""``SqlSensor``: waits until a query's first row says so (Airflow's ``SqlSensor``)."""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any, ClassVar

from tradewind.definition.exceptions import InvalidTaskArgumentError, TradewindException
from tradewind.definition.sensors.base import BaseSensorOperator
from tradewind.integrations.sql.hooks import get_db_hook


class SqlSensorFailed(TradewindException):
    """The sensor's ``failure`` criterion held, or the query returned no rows with ``fail_on_empty``."""


class SqlSensor(BaseSensorOperator):
    """Pokes ``sql`` until its first row's selected value (``selector``, the first cell by
    default) passes ``success`` — or, without ``success``, is truthy.

    ``failure(value)`` returning true fails the task at once; no rows is "not yet", or a failure
    with ``fail_on_empty=True``.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("sql", "hook_params", "parameters")
    template_ext: ClassVar[tuple[str, ...]] = (".hql", ".sql")
    ui_color = "#7c7287"

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str,
        parameters: Any = None,
        success: Callable[[Any], Any] | None = None,
        failure: Callable[[Any], Any] | None = None,
        selector: Callable[[tuple], Any] = itemgetter(0),
        fail_on_empty: bool = False,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        for name, value in (("success", success), ("failure", failure), ("selector", selector)):
            if value is not None and not callable(value):
                raise InvalidTaskArgumentError(
                    f"{name} of sensor {kwargs.get('task_id')!r} must be callable, got {value!r}")
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.sql = sql
        self.parameters = parameters
        self.success = success
        self.failure = failure
        self.selector = selector
        self.fail_on_empty = fail_on_empty
        self.hook_params = dict(hook_params or {})

    def poke(self, context: dict[str, Any]) -> bool:
        log = self.task_logger(context)
        log.info("Poking: %s (with parameters %s)", self.sql, self.parameters)
        records = get_db_hook(self.conn_id, self.hook_params).get_records(self.sql, self.parameters)
        if not records:
            if self.fail_on_empty:
                raise SqlSensorFailed("No rows returned, raising as per fail_on_empty flag")
            return False
        value = self.selector(records[0])
        if self.failure is not None and self.failure(value):
            raise SqlSensorFailed(f"Failure criteria met. failure({value!r}) returned True")
        if self.success is not None:
            return bool(self.success(value))
        return bool(value)
