"""``HttpAsyncHook``: the http provider's asynchronous hook, on httpx's ``AsyncClient``.

Triggers (Tradewind's own and the provider's bridged ``HttpTrigger`` / ``HttpSensorTrigger`` /
``HttpEventTrigger``) call ``await hook.run(session=..., endpoint=..., data=..., headers=...,
extra_options=...)``. As the provider's hook: the connection gives the base URL, basic auth and default
headers (the same rules as :class:`~tradewind.integrations.http.hooks.HttpHook`); ``data`` is the query
string of a GET and the body of POST/PUT/PATCH/DELETE; ``json=`` sends JSON; a 4xx/5xx answer raises
:class:`HttpErrorException` ``"<status>:<reason>"`` (unless ``extra_options={"check_response": False}``);
5xx answers and connection errors are retried ``retry_limit`` times in all, ``retry_delay`` seconds apart.

The answer is an :class:`AsyncHttpResponse`, read in full, with the names of aiohttp's ``ClientResponse``
that the provider's code uses (``status``, ``reason``, ``headers``, ``url``, ``history``, ``cookies``,
``await read()`` / ``text()`` / ``json()``, ``get_encoding()``, ``raise_for_status()``). The request
goes through httpx: a ``session`` argument (an ``aiohttp.ClientSession`` the provider's triggers open)
is accepted and not used.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.hooks import BaseHook

if TYPE_CHECKING:
    import httpx

__all__ = ["AsyncHttpResponse", "HttpAsyncHook", "HttpErrorException", "HttpMethodException"]

_METHODS = frozenset({"GET", "POST", "PATCH", "HEAD", "PUT", "DELETE", "OPTIONS"})
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class HttpErrorException(TradewindException):
    """A 4xx/5xx answer: the message is ``"<status>:<reason>"`` (the provider's form)."""


class HttpMethodException(TradewindException):
    """An HTTP method the hook does not send."""


class AsyncHttpResponse:
    """A response read in full, answering to aiohttp's ``ClientResponse`` names (and ``status_code``)."""

    def __init__(self, response: "httpx.Response", history: list["AsyncHttpResponse"] | None = None) -> None:
        self._response = response
        self.history = history if history is not None else [AsyncHttpResponse(r, []) for r in response.history]

    status = property(lambda self: self._response.status_code)
    status_code = status
    reason = property(lambda self: self._response.reason_phrase)
    headers = property(lambda self: self._response.headers)
    url = property(lambda self: str(self._response.url))
    ok = property(lambda self: self._response.status_code < 400)

    @property
    def cookies(self) -> dict[str, str]:
        return dict(self._response.cookies.items())

    @property
    def method(self) -> str:
        return self._response.request.method

    def get_encoding(self) -> str:
        return self._response.encoding or "utf-8"

    async def read(self) -> bytes:
        return self._response.content

    async def text(self, encoding: str | None = None) -> str:
        return self._response.content.decode(encoding or self.get_encoding(), errors="replace")

    async def json(self, **kwargs: Any) -> Any:
        return jsonlib.loads(self._response.content, **{k: v for k, v in kwargs.items() if k == "object_hook"})

    def raise_for_status(self) -> None:
        if self.status >= 400:
            raise HttpErrorException(f"{self.status}:{self.reason}")

    def __repr__(self) -> str:
        return f"<AsyncHttpResponse [{self.status}] {self.url}>"


class HttpAsyncHook(BaseHook):
    """Asynchronous requests to the base URL of connection ``http_conn_id`` (the provider's ``HttpAsyncHook``)."""

    conn_name_attr: ClassVar[str] = "http_conn_id"
    default_conn_name: ClassVar[str] = "http_default"
    conn_type: ClassVar[str] = "http"
    hook_name: ClassVar[str] = "HTTP"

    def __init__(self, method: str = "POST", http_conn_id: str | None = default_conn_name, auth_type: Any = None,
                 retry_limit: int = 3, retry_delay: float = 1.0) -> None:
        super().__init__()
        if retry_limit < 1:
            raise ValueError("Retry limit must be greater or equal to 1")
        self.method = method.upper()
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.retry_limit = retry_limit
        self.retry_delay = retry_delay
        self.base_url = ""

    def _settings(self, headers: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The sync hook's reading of the connection (base URL, auth, headers, options)."""
        from tradewind.integrations.http.hooks import HttpHook

        auth = self.auth_type if callable(self.auth_type) and not _is_aiohttp_auth(self.auth_type) else None
        sync = HttpHook(self.method, http_conn_id=self.http_conn_id, auth_type=auth)
        client, options = sync.connection_settings(headers)
        self.base_url = sync.base_url
        client["_url_for"] = sync.url_for
        return client, options

    async def run(self, session: Any = None, endpoint: str | None = None, data: Any = None, json: Any = None,
                  headers: Mapping[str, Any] | None = None,
                  extra_options: Mapping[str, Any] | None = None) -> AsyncHttpResponse:
        """One request, retried on 5xx answers and connection errors; see the module docstring."""
        import httpx

        from tradewind.integrations.http.hooks import _client_options

        if self.method not in _METHODS:
            raise HttpMethodException(f"Unexpected HTTP Method: {self.method}")
        # The connection lookup may read the metadata database: not on the event loop.
        client_kwargs, options = await asyncio.to_thread(self._settings, headers)
        url = client_kwargs.pop("_url_for")(endpoint)
        options.update(extra_options or {})
        check = options.pop("check_response", True)
        options.pop("stream", None)
        request: dict[str, Any] = {}
        if data is not None:
            if self.method == "GET":
                request["params"] = data
            elif self.method in _WITH_BODY:
                request["content" if isinstance(data, (str, bytes)) else "data"] = data
        if json is not None:
            request["json"] = json
        async with httpx.AsyncClient(**client_kwargs, **_client_options(options, self.http_conn_id)) as client:
            for attempt in range(1, self.retry_limit + 1):
                try:
                    raw = await client.request(self.method, url, **request)
                except httpx.TransportError as exc:
                    if attempt == self.retry_limit:
                        raise TradewindException(f"HTTP {self.method} {url} failed: {type(exc).__name__}: {exc}") from exc
                    self.log.warning("[Try %d of %d] Request to %s failed: %s", attempt, self.retry_limit, url, exc)
                else:
                    response = AsyncHttpResponse(raw)
                    if raw.status_code < 500 or attempt == self.retry_limit:
                        break
                    self.log.warning("[Try %d of %d] Request to %s answered %s", attempt, self.retry_limit, url,
                                     raw.status_code)
                await asyncio.sleep(self.retry_delay)
        if check:
            response.raise_for_status()
        return response


def _is_aiohttp_auth(auth_type: Any) -> bool:
    """The provider's default ``aiohttp.BasicAuth`` (or another aiohttp class): httpx uses its own basic auth."""
    return getattr(auth_type, "__module__", "").startswith("aiohttp")
