"""Limits on what a request may bring: its body size, and whose word counts for the client's address.

**Body size.** :class:`BodySizeLimitMiddleware` (plain ASGI, installed by
:func:`install_request_limits`) answers 413 in the API's problem format when a request's body is
larger than ``[api] max_body_size`` bytes:

- a ``Content-Length`` over the limit is refused before a byte of the body is read;
- a body without ``Content-Length`` (chunked) is counted as the app reads it and cut off with 413
  as soon as the count passes the limit, so nothing ever holds more than the limit in memory.

The execution API (``/execution/``) gets at least :data:`EXECUTION_MIN_BODY_SIZE`: workers send
log pieces (up to 512 KiB of text, more once JSON-escaped) and the XComs a try returns there.

**Client address.** :func:`client_address` is the one place that decides which IP a request
comes from (the login rate limit keys on it). ``X-Forwarded-For`` counts only when the direct
peer is one of ``[api] trusted_proxies`` (IPs or CIDR networks); then the right-most address in
the header that is not itself a trusted proxy is the client. From any other peer the header is
ignored: anyone can write it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from tradewind.config import Config, ConfigError

#: Body limit of the execution API whatever ``[api] max_body_size`` says (log pieces, XCom values).
EXECUTION_MIN_BODY_SIZE = 64 * 1024 * 1024
EXECUTION_PREFIX = "/execution/"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# --------------------------------------------------------------------------- trusted proxies
@dataclass(frozen=True)
class TrustedProxies:
    """The networks of ``[api] trusted_proxies``; empty means no peer is believed."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> "TrustedProxies":
        """``"10.0.0.0/8, 127.0.0.1"`` -> networks; ValueError naming the key and the bad entry."""
        networks = []
        for entry in (part.strip() for part in raw.split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ConfigError(f"[api] trusted_proxies: {entry!r} is not an IP address or a CIDR network "
                                  "(e.g. 10.0.0.5 or 10.0.0.0/8)") from None
        return cls(tuple(networks))

    @classmethod
    def from_config(cls, config: Config) -> "TrustedProxies":
        return cls.parse(config.get("api", "trusted_proxies"))

    def trusts(self, address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in self.networks)


def parse_ip(value: str) -> IPAddress | None:
    """An IP from a peer or ``X-Forwarded-For`` entry (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``); None if not one.

    An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``, what a dual-stack socket reports) is its IPv4 address.
    """
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1:text.index("]")]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies) -> str | None:
    """The client's IP: the peer's own, or from ``X-Forwarded-For`` when the peer is a trusted proxy.

    ``forwarded_for`` holds the header's values in order (several headers count as one list). Walking
    from the right, trusted proxies are skipped; the first other address is the client. An entry that
    is not an IP stops the walk (a trusted proxy writes only IPs: what is left of it came from the
    client), and the last trusted hop counts. With only trusted hops, the left-most is the client.
    """
    if peer is None:
        return None
    peer_ip = parse_ip(peer)
    if not trusted.trusts(peer_ip):
        return str(peer_ip) if peer_ip is not None else peer
    hops = [entry for value in forwarded_for for entry in value.split(",") if entry.strip()]
    client: IPAddress = peer_ip  # type: ignore[assignment]  # trusts() implies not None
    for entry in reversed(hops):
        address = parse_ip(entry)
        if address is None:
            break
        client = address
        if not trusted.trusts(address):
            break
    return str(client)


def uvicorn_forwarded_allow_ips(config: Config) -> list[str]:
    """What to pass uvicorn as ``forwarded_allow_ips``: the same trusted proxies.

    uvicorn believes ``X-Forwarded-For``/``-Proto`` from 127.0.0.1 unless told otherwise, which
    would let any local process (or a misconfigured proxy) pick the client address the rate limit
    sees. With this list it believes exactly the peers this module believes (none by default).
    """
    return [str(network) for network in TrustedProxies.from_config(config).networks]


# --------------------------------------------------------------------------- body size
class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; answered 413 by the app's handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_detail(limit))
        self.limit = limit


def too_large_detail(limit: int) -> str:
    return f"the request body is larger than {limit} bytes, the limit set by [api] max_body_size"


def body_limit(config: Config) -> int:
    """``[api] max_body_size`` as a positive int; ConfigError naming the key otherwise."""
    limit = config.getint("api", "max_body_size")
    if limit <= 0:
        raise ConfigError(f"[api] max_body_size must be a positive number of bytes, not {limit}")
    return limit


class BodySizeLimitMiddleware:
    """413 for bodies over the limit, decided from ``Content-Length`` or by counting a streamed body."""

    def __init__(self, app: Any, limit: int, execution_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.execution_limit = max(limit, EXECUTION_MIN_BODY_SIZE) if execution_limit is None else execution_limit

    def limit_for(self, path: str) -> int:
        return self.execution_limit if path.startswith(EXECUTION_PREFIX) else self.limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared == -1:
            await _send_problem(send, 400, "Bad Request", "the Content-Length header must be a number of bytes")
            return
        if declared is not None and declared > limit:
            await _send_problem(send, 413, "Content Too Large", too_large_detail(limit))
            return
        await self._run_counted(scope, receive, send, limit)

    async def _run_counted(self, scope: dict[str, Any], receive: Any, send: Any, limit: int) -> None:
        """Run the app with a ``receive`` that raises :class:`BodyTooLarge` once the body passes ``limit``.

        The app's error handlers turn that into a 413 of their own; it is replaced by this module's
        problem answer so every 413 reads the same. Raised outside the handlers, it is answered here.
        """
        state = {"bytes": 0, "overflow": False, "started": False, "replaced": False}

        async def counting_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                state["bytes"] += len(message.get("body", b""))
                if state["bytes"] > limit:
                    state["overflow"] = True
                    raise BodyTooLarge(limit)
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if state["replaced"]:
                return  # the body of the app's own 413, already answered
            if message["type"] == "http.response.start":
                if state["overflow"] and message.get("status") == 413:
                    state["started"] = state["replaced"] = True
                    await _send_problem(send, 413, "Content Too Large", too_large_detail(limit))
                    return
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge as exc:  # a body read outside the app's own error handling
            if state["started"]:
                raise
            await _send_problem(send, 413, "Content Too Large", exc.detail)


def _content_length(scope: dict[str, Any]) -> int | None:
    """The declared length; None when absent, -1 when it is not a plain number."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


async def _send_problem(send: Any, status: int, title: str, detail: str) -> None:
    """A problem-format answer sent before the app ran; the connection closes (the body stays unread)."""
    import json

    from tradewind.observe.api.errors import problem

    body = json.dumps(problem(status, detail, title=title)).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"), (b"x-content-type-options", b"nosniff"),
    ]})
    await send({"type": "http.response.body", "body": body})


def install_request_limits(app: Any, config: Config) -> None:
    """Add the body-size limit to ``app`` (``create_app`` calls this before the security headers)."""
    app.add_middleware(BodySizeLimitMiddleware, limit=body_limit(config))
