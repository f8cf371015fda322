"""Triggers of the deferrable ``HttpOperator`` / ``HttpSensor`` (the provider's ``HttpTrigger`` and
``HttpSensorTrigger``), on :class:`~tradewind.integrations.http.async_hook.HttpAsyncHook`.

``HttpTrigger`` sends one request; its event is ``{"status": "success", "response": {...}}`` (status
code, headers, base64 body, url, reason, encoding, cookies: the provider's serialised form, which
:func:`response_from_event` turns back into an :class:`HttpResponse`) or ``{"status": "error",
"message": ...}``. ``HttpSensorTrigger`` requests every ``poke_interval`` seconds while the answer is a
4xx/5xx (the provider's trigger treats every error answer as "not yet"; the sensor's timeout ends the
wait) and fires ``True`` on the first success.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

from tradewind.definition.triggers.base import BaseTrigger, TriggerEvent, classpath_of
from tradewind.integrations.http.async_hook import AsyncHttpResponse, HttpAsyncHook, HttpErrorException

__all__ = ["HttpSensorTrigger", "HttpTrigger", "response_from_event", "serialize_response"]


def serialize_response(response: AsyncHttpResponse) -> dict[str, Any]:
    raw = response._response
    return {"status_code": response.status, "headers": dict(response.headers),
            "content": base64.standard_b64encode(raw.content).decode("ascii"), "url": response.url,
            "reason": response.reason, "encoding": raw.encoding, "cookies": response.cookies,
            "method": response.method}


def response_from_event(data: dict[str, Any]) -> Any:
    """The :class:`~tradewind.integrations.http.hooks.HttpResponse` a serialised response stands for."""
    import httpx

    from tradewind.integrations.http.hooks import HttpResponse

    if not isinstance(data, dict) or "status_code" not in data:
        raise TypeError(f"a serialised HTTP response must be a dict with status_code, got {data!r}")
    request = httpx.Request(data.get("method") or "GET", data["url"])
    raw = httpx.Response(data["status_code"], headers=data.get("headers") or {},
                         content=base64.standard_b64decode(data.get("content") or ""), request=request)
    if data.get("encoding"):
        raw.encoding = data["encoding"]
    return HttpResponse(raw)


class HttpTrigger(BaseTrigger):
    """One request through :class:`HttpAsyncHook`; fires with the response (or the error)."""

    def __init__(self, http_conn_id: str = "http_default", auth_type: Any = None, method: str = "POST",
                 endpoint: str | None = None, headers: dict[str, str] | None = None, data: Any = None,
                 extra_options: dict[str, Any] | None = None) -> None:
        super().__init__()
        if auth_type is not None and not isinstance(auth_type, str):
            auth_type = f"{auth_type.__module__}.{auth_type.__qualname__}"  # stored as a dotted path
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.method = method
        self.endpoint = endpoint
        self.headers = headers
        self.data = data
        self.extra_options = extra_options

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(HttpTrigger), {
            "http_conn_id": self.http_conn_id, "auth_type": self.auth_type, "method": self.method,
            "endpoint": self.endpoint, "headers": self.headers, "data": self.data,
            "extra_options": self.extra_options}

    def _auth(self) -> Any:
        if not self.auth_type:
            return None
        import importlib

        module, _, name = self.auth_type.rpartition(".")
        return getattr(importlib.import_module(module), name)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            hook = HttpAsyncHook(method=self.method, http_conn_id=self.http_conn_id, auth_type=self._auth())
            response = await hook.run(endpoint=self.endpoint, data=self.data, headers=self.headers,
                                      extra_options=self.extra_options)
            yield TriggerEvent({"status": "success", "response": serialize_response(response)})
        except Exception as exc:  # noqa: BLE001 - the error is the event, as the provider's trigger
            yield TriggerEvent({"status": "error", "message": str(exc)})


class HttpSensorTrigger(BaseTrigger):
    """Requests every ``poke_interval`` seconds until the server answers below 400; fires ``True``."""

    def __init__(self, endpoint: str | None = None, http_conn_id: str = "http_default", method: str = "GET",
                 data: Any = None, headers: dict[str, str] | None = None,
                 extra_options: dict[str, Any] | None = None, poke_interval: float = 5.0) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.http_conn_id = http_conn_id
        self.method = method
        self.data = data
        self.headers = headers
        self.extra_options = extra_options or {}
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return classpath_of(HttpSensorTrigger), {
            "endpoint": self.endpoint, "http_conn_id": self.http_conn_id, "method": self.method,
            "data": self.data, "headers": self.headers, "extra_options": self.extra_options,
            "poke_interval": self.poke_interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = HttpAsyncHook(method=self.method, http_conn_id=self.http_conn_id)
        while True:
            try:
                await hook.run(endpoint=self.endpoint, data=self.data, headers=self.headers,
                               extra_options=self.extra_options)
            except HttpErrorException as exc:
                # As the provider's trigger: any error answer means "not yet" (the sensor's timeout
                # ends the wait); logged, and asked again after poke_interval rather than at once.
                self.log.info("%s answered %s: asking again in %ss", self.endpoint, exc, self.poke_interval)
                await asyncio.sleep(self.poke_interval)
                continue
            yield TriggerEvent(True)
            return
