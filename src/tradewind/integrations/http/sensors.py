"""``HttpSensor``: pokes an HTTP endpoint until it answers (and ``response_check`` agrees)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.operators.python import determine_kwargs
from tradewind.definition.sensors.base import BaseSensorOperator
from tradewind.integrations.http.hooks import HttpHook, HttpResponseError

__all__ = ["HttpSensor"]


class HttpSensor(BaseSensorOperator):
    """Succeeds when ``endpoint`` answers below 400 and ``response_check`` (if given) returns truthy.

    A status in ``response_error_codes_allowlist`` (default ``["404"]``, as Airflow) means "not
    yet": the sensor pokes again. Any other 4xx/5xx fails the try.

    With ``deferrable=True`` and no ``response_check`` (the provider's rule) one poke runs in the task;
    if it is not done, the wait moves to the triggerer (:class:`HttpSensorTrigger`, asking every
    ``poke_interval`` seconds, up to the sensor's ``timeout``).
    """

    template_fields = ("endpoint", "request_params", "headers")

    def __init__(
        self,
        *,
        endpoint: str,
        http_conn_id: str = "http_default",
        method: str = "GET",
        request_params: Mapping[str, Any] | None = None,
        request_kwargs: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        response_error_codes_allowlist: Sequence[str] | None = None,
        response_check: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        deferrable: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = bool(deferrable)
        if response_check is not None and not callable(response_check):
            raise TradewindException(f"response_check of sensor {self.task_id!r} must be callable, "
                                     f"got {response_check!r}")
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        self.method = method
        self.request_params = dict(request_params or {})
        self.request_kwargs = dict(request_kwargs or {})
        self.headers = dict(headers or {})
        self.response_error_codes_allowlist = [str(c) for c in (response_error_codes_allowlist or ["404"])]
        self.response_check = response_check
        self.extra_options = dict(extra_options or {})
        self.tcp_keep_alive = tcp_keep_alive

    def execute(self, context: dict[str, Any]) -> Any:
        if not self.deferrable or self.response_check is not None:
            return super().execute(context)
        if self.poke(context):
            return None
        from tradewind.integrations.http.triggers import HttpSensorTrigger

        self.defer(timeout=timedelta(seconds=self.timeout), method_name="execute_complete",
                   trigger=HttpSensorTrigger(endpoint=self.endpoint, http_conn_id=self.http_conn_id,
                                             data=self.request_params or None, headers=self.headers,
                                             method=self.method, extra_options=self.extra_options,
                                             poke_interval=self.poke_interval))
        return None

    def execute_complete(self, context: dict[str, Any], event: Any = None) -> None:
        self.task_logger(context).info("%s completed successfully.", self.task_id)

    def poke(self, context: dict[str, Any]) -> bool:
        log = self.task_logger(context)
        hook = HttpHook(method=self.method, http_conn_id=self.http_conn_id, tcp_keep_alive=self.tcp_keep_alive)
        log.info("Poking: %s", self.endpoint)
        try:
            response = hook.run(self.endpoint, data=self.request_params or None, headers=self.headers,
                                extra_options=self.extra_options, **self.request_kwargs)
        except HttpResponseError as exc:
            if str(exc.response.status_code) in self.response_error_codes_allowlist:
                log.info("Got HTTP %s (allow-listed): poking again", exc.response.status_code)
                return False
            raise
        if self.response_check is not None:
            return bool(self.response_check(response, **determine_kwargs(self.response_check, [response], context)))
        return True
