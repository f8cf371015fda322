"""Helpers for the UI tests: browsers (TestClients with a session cookie) of each role on one app."""

from __future__ import annotations

import json
import re
from typing import Any

from api_support import PASSWORD, Api
from fastapi.testclient import TestClient

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


class Browser:
    """A signed-in browser: ``get``/``post`` with the session cookie, ``api_*`` calls add the CSRF header."""

    def __init__(self, client: TestClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def write(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        url = path if path.startswith("/") else f"/api/v1/{path}"
        return self.client.request(method, url, headers=headers, **kwargs)


def browser(api: Api, role: str) -> Browser:
    """Log ``<role>_user`` in through the login form of the app behind ``api``."""
    client = TestClient(api.client.app)
    page = client.get("/login")
    csrf = _CSRF.search(page.text).group(1)
    response = client.post("/login", data={"username": f"{role}_user", "password": PASSWORD, "csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    home = client.get("/dags")
    assert home.status_code == 200, home.text
    return Browser(client, _CSRF.search(home.text).group(1))


def page_data(html: str) -> Any:
    """The JSON island a page hands to its script."""
    return json.loads(_PAGE_DATA.search(html).group(1))


def nav_paths(html: str) -> list[str]:
    """The header navigation's links."""
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    return re.findall(r'href="([^"]+)"', nav)
