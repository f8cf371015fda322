"""Security headers on every response the server sends, whoever built it.

Pages rendered by the UI and the login page set their own headers
(:data:`tradewind.observe.api.login.PAGE_HEADERS`); this ASGI middleware adds the same
protections to everything else — JSON from the REST API and ``/ui/data``, static assets, log
downloads, error answers — so no response can be framed by another site, sniffed into a
different content type, or run inline script:

- ``X-Content-Type-Options: nosniff`` (a log or XCom value served as text is never read as HTML),
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (no clickjacking),
- ``Referrer-Policy: same-origin``,
- a Content-Security-Policy when the response has none: the page policy for HTML, and
  ``default-src 'none'`` for anything else (a JSON or text body opened directly loads nothing).

A header a route already set is left as it is. Written as plain ASGI (no BaseHTTPMiddleware) so
it costs one header merge per response and never buffers a streamed body.
"""

from __future__ import annotations

from typing import Any

from tradewind.observe.api.login import PAGE_HEADERS

#: Policy for responses that are not HTML pages (JSON, text, files).
NON_HTML_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

_ALWAYS = {
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
}
_HTML_CSP = PAGE_HEADERS["Content-Security-Policy"].encode()


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response of the wrapped app."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in _ALWAYS.items():
                    if name not in present:
                        headers.append((name, value))
                if b"content-security-policy" not in present:
                    content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                    csp = _HTML_CSP if content_type.startswith(b"text/html") else NON_HTML_CSP.encode()
                    headers.append((b"content-security-policy", csp))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
