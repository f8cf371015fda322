"""``HttpHook``: HTTP requests to the base URL of an ``http`` connection, on httpx.

The connection gives the base URL and defaults (Airflow's rules):

* scheme: the connection's ``schema`` when it is ``http``/``https``, else its type when that is
  ``http``/``https``, else ``http``; a ``host`` that already holds ``scheme://`` is used as is;
  ``port`` is appended when set;
* ``login``/``password``: HTTP basic auth (or ``auth_type(login, password)``, e.g. ``httpx.DigestAuth``);
* ``extra`` (JSON object): request options it names (``timeout``, ``verify``, ``cert``, ``proxies``,
  ``allow_redirects``, ``max_redirects``, ``trust_env``, ``check_response``) apply to every
  request; every other key is a default header.

Responses are :class:`HttpResponse`: httpx's response with the ``requests`` names Airflow code uses
(``ok``, ``reason``, ``status_code``, ``text``, ``json()``, ``content``, ``headers``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from tradewind.definition.exceptions import TradewindException
from tradewind.definition.hooks import BaseHook

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpAsyncHook", "HttpHook", "HttpResponse", "HttpResponseError"]

#: ``extra_options`` (and connection-extra keys) that configure the request rather than set a header.
REQUEST_OPTIONS = frozenset({
    "timeout", "verify", "cert", "proxies", "allow_redirects", "max_redirects", "trust_env", "check_response",
    "stream",
})
_BODYLESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
_BODY_SHOWN = 2000


class HttpResponseError(TradewindException):
    """The server answered with a 4xx/5xx status; ``.response`` is the :class:`HttpResponse`."""

    def __init__(self, message: str, response: "HttpResponse") -> None:
        super().__init__(message)
        self.response = response


class HttpResponse:
    """An httpx response that also answers to the ``requests`` attribute names Airflow code uses."""

    def __init__(self, response: "httpx.Response") -> None:
        self._response = response

    @property
    def ok(self) -> bool:
        """True for status codes below 400 (``requests.Response.ok``)."""
        return self._response.status_code < 400

    @property
    def reason(self) -> str:
        return self._response.reason_phrase

    @property
    def url(self) -> str:
        return str(self._response.url)

    def json(self, **kwargs: Any) -> Any:
        return self._response.json(**kwargs)

    def __getattr__(self, name: str) -> Any:  # status_code, text, content, headers, raise_for_status, ...
        return getattr(self._response, name)

    def __repr__(self) -> str:
        return f"<HttpResponse [{self._response.status_code}]>"


class HttpHook(BaseHook):
    """Requests to the base URL of connection ``http_conn_id`` with ``method`` (Airflow's ``HttpHook``)."""

    conn_name_attr: ClassVar[str] = "http_conn_id"
    default_conn_name: ClassVar[str] = "http_default"
    conn_type: ClassVar[str] = "http"
    hook_name: ClassVar[str] = "HTTP"

    def __init__(
        self,
        method: str = "POST",
        http_conn_id: str | None = default_conn_name,
        auth_type: Callable[[str, str], Any] | None = None,
        tcp_keep_alive: bool = True,
        tcp_keep_alive_idle: int = 120,
        tcp_keep_alive_count: int = 20,
        tcp_keep_alive_interval: int = 30,
    ) -> None:
        super().__init__()
        self.method = method.upper()
        self.http_conn_id = http_conn_id
        self.auth_type = auth_type
        self.base_url = ""
        # httpx keeps connections alive by itself; the TCP keep-alive knobs are accepted for Airflow code.
        self.tcp_keep_alive = tcp_keep_alive
        self._retry_obj: Any = None

    # ----------------------------------------------------------------------- connection
    def connection_settings(self, headers: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(client_kwargs, request_options)`` from the connection, and ``self.base_url`` set."""
        client: dict[str, Any] = {"headers": {}}
        options: dict[str, Any] = {}
        if self.http_conn_id:
            conn = self.get_connection(self.http_conn_id)
            self.base_url = _base_url(conn)
            if conn.login or conn.password:
                login, password = conn.login or "", conn.password or ""
                client["auth"] = self.auth_type(login, password) if self.auth_type else _basic_auth(login, password)
            for key, value in conn.extra_dejson.items():
                if key in REQUEST_OPTIONS:
                    options[key] = value
                else:
                    client["headers"][key] = value if isinstance(value, str) else json.dumps(value)
        client["headers"].update({k: str(v) for k, v in (headers or {}).items()})
        return client, options

    def get_conn(self, headers: Mapping[str, Any] | None = None,
                 extra_options: Mapping[str, Any] | None = None) -> "httpx.Client":
        """An ``httpx.Client`` with the connection's base URL, auth and default headers."""
        import httpx

        client_kwargs, options = self.connection_settings(headers)
        options.update(extra_options or {})
        options.pop("check_response", None)
        options.pop("stream", None)
        return httpx.Client(base_url=self.base_url, **client_kwargs, **_client_options(options, self.http_conn_id))

    def test_connection(self) -> tuple[bool, str]:
        """A GET of the base URL: ok when the server answers below 400."""
        try:
            response = HttpHook(method="GET", http_conn_id=self.http_conn_id, auth_type=self.auth_type).run()
        except Exception as exc:  # noqa: BLE001 - any failure is the answer
            return False, f"{type(exc).__name__}: {exc}"
        return True, f"Connection successfully tested (HTTP {response.status_code})"

    # --------------------------------------------------------------------------- requests
    def url_for(self, endpoint: str | None) -> str:
        """``base_url`` and ``endpoint`` joined with exactly one ``/`` (an absolute endpoint wins)."""
        endpoint = endpoint or ""
        if "://" in endpoint or not self.base_url:
            return endpoint
        if endpoint and not self.base_url.endswith("/") and not endpoint.startswith("/"):
            return f"{self.base_url}/{endpoint}"
        return self.base_url + endpoint

    def run(
        self,
        endpoint: str | None = None,
        data: Mapping[str, Any] | str | bytes | None = None,
        headers: Mapping[str, Any] | None = None,
        extra_options: Mapping[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> HttpResponse:
        """Send one request; ``data`` is the query string of a GET/HEAD/DELETE/OPTIONS, else the body
        (a dict is form-encoded, a string or bytes sent as is; ``json=`` sends JSON).

        A 4xx/5xx answer raises :class:`HttpResponseError` (with the body) unless
        ``extra_options={"check_response": False}``.
        """
        import httpx

        client_kwargs, options = self.connection_settings(headers)
        options.update(extra_options or {})
        check = options.pop("check_response", True)
        stream = bool(options.pop("stream", False))
        url = self.url_for(endpoint)
        if not url:
            raise TradewindException(f"HttpHook: no URL to request: connection {self.http_conn_id!r} has no host "
                                     "and the endpoint is empty")
        request: dict[str, Any] = dict(request_kwargs)
        if data is not None:
            if self.method in _BODYLESS:
                request["params"] = data
            elif isinstance(data, (str, bytes)):
                request["content"] = data
            else:
                request["data"] = data
        self.log.info("Sending '%s' to url: %s", self.method, url)
        with httpx.Client(**client_kwargs, **_client_options(options, self.http_conn_id)) as client:
            try:
                response = client.request(self.method, url, **request)
                if not stream:
                    response.read()
            except httpx.HTTPError as exc:
                raise TradewindException(f"HTTP {self.method} {url} failed: {type(exc).__name__}: {exc}") from exc
        wrapped = HttpResponse(response)
        if check:
            self.check_response(wrapped)
        return wrapped

    def check_response(self, response: HttpResponse) -> None:
        """Raise :class:`HttpResponseError` for a 4xx/5xx status; the message carries the body."""
        if response.ok:
            return
        body = response.text
        if len(body) > _BODY_SHOWN:
            body = body[:_BODY_SHOWN] + f"... ({len(response.text)} characters)"
        self.log.error("HTTP error: %s", response.reason)
        raise HttpResponseError(
            f"{response.status_code}:{response.reason} from {response.request.method} {response.url}; "
            f"response body: {body}", response)

    def run_with_advanced_retry(self, _retry_args: Mapping[str, Any], *args: Any, **kwargs: Any) -> HttpResponse:
        """:meth:`run` under ``tenacity.Retrying(**_retry_args)`` (Airflow's signature; install tenacity).

        Example: ``_retry_args={"stop": tenacity.stop_after_attempt(3), "wait": tenacity.wait_fixed(1),
        "retry": tenacity.retry_if_exception_type(Exception)}``.
        """
        try:
            import tenacity
        except ImportError:
            raise TradewindException("HttpHook.run_with_advanced_retry needs the 'tenacity' package "
                                     "(pip install 'tradewind[http]')") from None
        self._retry_obj = tenacity.Retrying(**{"reraise": True, **dict(_retry_args)})
        return self._retry_obj(self.run, *args, **kwargs)


# ------------------------------------------------------------------------------ helpers
def _base_url(conn: Any) -> str:
    host = conn.host or ""
    if "://" in host:
        base = host
    elif host:
        if (conn.schema or "").lower() in ("http", "https"):
            scheme = conn.schema.lower()
        elif (conn.conn_type or "").lower() in ("http", "https"):
            scheme = conn.conn_type.lower()
        else:
            scheme = "http"
        base = f"{scheme}://{host}"
    else:
        return ""
    if conn.port:
        base = f"{base.rstrip('/')}:{conn.port}"
    return base


def _basic_auth(login: str, password: str) -> Any:
    import httpx

    return httpx.BasicAuth(login, password)


def _client_options(options: Mapping[str, Any], conn_id: str | None) -> dict[str, Any]:
    """httpx client arguments for the ``requests``-style options Airflow code passes."""
    import httpx

    out: dict[str, Any] = {}
    for key, value in options.items():
        if key == "timeout":
            out["timeout"] = value
        elif key in ("verify", "cert", "trust_env", "max_redirects"):
            out[key] = value
        elif key in ("check_response", "stream"):
            continue  # per-request options, handled by HttpHook.run
        elif key == "allow_redirects":
            out["follow_redirects"] = bool(value)
        elif key == "proxies":
            if isinstance(value, str):
                out["proxy"] = value
            elif isinstance(value, Mapping):
                out["mounts"] = {f"{scheme.rstrip(':/')}://": httpx.HTTPTransport(proxy=url)
                                 for scheme, url in value.items()}
            else:
                raise TradewindException(f"HTTP option 'proxies' must be a URL or a dict scheme -> URL, got {value!r}")
        else:
            known = ", ".join(sorted(REQUEST_OPTIONS))
            raise TradewindException(f"unknown HTTP option {key!r} (connection {conn_id!r}); known options: {known}")
    out.setdefault("follow_redirects", True)
    return out


# The provider's module has both hooks; the async one lives in its own module (httpx's AsyncClient).
from tradewind.integrations.http.async_hook import HttpAsyncHook  # noqa: E402
