"""``HttpOperator`` (alias ``SimpleHttpOperator``): one HTTP request as a task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tradewind.definition.baseoperator import BaseOperator
from tradewind.definition.exceptions import TradewindException
from tradewind.definition.operators.python import determine_kwargs
from tradewind.integrations.http.hooks import HttpHook, HttpResponse

__all__ = ["HttpOperator", "SimpleHttpOperator"]

_NEXT_REQUEST_KEYS = frozenset({"endpoint", "data", "headers", "extra_options"})


class HttpOperator(BaseOperator):
    """Calls ``endpoint`` on the connection ``http_conn_id`` with ``method``.

    ``response_check(response, <context entries it names>)`` returning False fails the task;
    ``response_filter(response, ...)`` makes the XCom (else the response text).
    ``pagination_function(response)`` returns the changes for the next request (``endpoint``,
    ``data``, ``headers``, ``extra_options``) or None to stop; the check and filter then receive
    the list of responses.

    With ``deferrable=True`` each request (each page) is sent by the triggerer (:class:`HttpTrigger`)
    and the task resumes in :meth:`execute_complete`, as the provider's operator.
    """

    template_fields = ("endpoint", "data", "headers")
    template_fields_renderers = {"headers": "json", "data": "py"}
    template_ext = ()
    ui_color = "#f4a460"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        method: str = "POST",
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        pagination_function: Callable[..., Any] | None = None,
        response_check: Callable[..., Any] | None = None,
        response_filter: Callable[..., Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        http_conn_id: str = "http_default",
        log_response: bool = False,
        auth_type: Callable[[str, str], Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
        deferrable: bool = False,
        warn_on_non_idempotent: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = bool(deferrable)
        self.warn_on_non_idempotent = warn_on_non_idempotent
        for name, value in (("response_check", response_check), ("response_filter", response_filter),
                            ("pagination_function", pagination_function)):
            if value is not None and not callable(value):
                raise TradewindException(f"{name} of task {self.task_id!r} must be callable, got {value!r}")
        self.endpoint = endpoint
        self.method = method
        self.data = data
        self.headers = dict(headers or {})
        self.pagination_function = pagination_function
        self.response_check = response_check
        self.response_filter = response_filter
        self.extra_options = dict(extra_options or {})
        self.http_conn_id = http_conn_id
        self.log_response = log_response
        self.auth_type = auth_type
        self.tcp_keep_alive = tcp_keep_alive

    @property
    def hook(self) -> HttpHook:
        return HttpHook(self.method, http_conn_id=self.http_conn_id, auth_type=self.auth_type,
                        tcp_keep_alive=self.tcp_keep_alive)

    def _request(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "data": self.data, "headers": self.headers,
                "extra_options": self.extra_options}

    def execute(self, context: dict[str, Any]) -> Any:
        log = self.task_logger(context)
        hook = self.hook
        if self.deferrable:
            if self.warn_on_non_idempotent and hook.method not in ("GET", "HEAD", "OPTIONS", "PUT", "DELETE"):
                log.warning("HttpOperator with deferrable=True and method=%s may send the request twice if the "
                            "triggerer restarts; set warn_on_non_idempotent=False to silence this", hook.method)
            self._defer_request(self._request(), [])
        log.info("Calling HTTP method %s on %s", hook.method, self.endpoint)
        request = self._request()
        responses = [hook.run(**request)]
        while (request := self._next_request(request, responses[-1])) is not None:
            responses.append(hook.run(**request))
        return self._process(context, responses)

    def _defer_request(self, request: dict[str, Any], previous: list[dict[str, Any]]) -> None:
        from tradewind.integrations.http.triggers import HttpTrigger

        self.defer(trigger=HttpTrigger(http_conn_id=self.http_conn_id, auth_type=self.auth_type,
                                       method=self.hook.method, **request),
                   method_name="execute_complete",
                   kwargs={"paginated_responses": previous, "request": request} if previous else {"request": request})

    def execute_complete(self, context: dict[str, Any], event: Any = None,
                         paginated_responses: list[dict[str, Any]] | None = None,
                         request: dict[str, Any] | None = None) -> Any:
        """Resume after the :class:`HttpTrigger` fired; with a ``pagination_function``, defer again for
        the next page (the serialised responses so far travel in the deferral's kwargs), as the provider."""
        from tradewind.integrations.http.triggers import response_from_event

        if not isinstance(event, dict) or event.get("status") != "success":
            message = event.get("message") if isinstance(event, dict) else event
            raise TradewindException(f"Unexpected error in the operation: {message}")
        serialized = [*(paginated_responses or []), event["response"]]
        responses = [response_from_event(item) for item in serialized]
        following = self._next_request(request or self._request(), responses[-1])
        if following is not None:
            self._defer_request(following, serialized)
        return self._process(context, responses)

    def _next_request(self, request: dict[str, Any], response: HttpResponse) -> dict[str, Any] | None:
        """The next page's request from ``pagination_function``, or None when there is none."""
        if self.pagination_function is None:
            return None
        changes = self.pagination_function(response)
        if not changes:
            return None
        unknown = sorted(set(changes) - _NEXT_REQUEST_KEYS)
        if unknown:
            raise TradewindException(f"pagination_function of task {self.task_id!r} returned unknown key(s) "
                                     f"{unknown}; allowed: {sorted(_NEXT_REQUEST_KEYS)}")
        return _merge_request(request, changes)

    def _process(self, context: dict[str, Any], responses: list[HttpResponse]) -> Any:
        """Apply ``response_check`` / ``response_filter`` to the response (or the list of pages)."""
        log = self.task_logger(context)
        if self.log_response:
            for response in responses:
                log.info(response.text)
        result: HttpResponse | list[HttpResponse] = responses if self.pagination_function else responses[0]
        if self.response_check is not None:
            if not self.response_check(result, **determine_kwargs(self.response_check, [result], context)):
                raise TradewindException("Response check returned False.")
        if self.response_filter is not None:
            return self.response_filter(result, **determine_kwargs(self.response_filter, [result], context))
        return [r.text for r in responses] if self.pagination_function else responses[0].text


#: Airflow 2's name (``airflow.providers.http.operators.http.SimpleHttpOperator``).
SimpleHttpOperator = HttpOperator


def _merge_request(request: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """The next page's request: dict-valued parts are merged, others replaced (Airflow's rule)."""
    merged = dict(request)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
