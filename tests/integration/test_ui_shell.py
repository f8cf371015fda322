"""UI: the frame every page shares — header navigation and menus, the search palette's data, the favicon."""

from __future__ import annotations

import re

from api_support import store_dag_file
from ui_support import browser, nav_paths

DAGS = """
with DAG("sales_daily", start_date=datetime(2024, 1, 1), schedule=None, dag_display_name="Sales <b>report</b>"):
    EmptyOperator(task_id="extract_orders") >> EmptyOperator(task_id="load", task_display_name="Load into warehouse")

with DAG("inventory", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="count_stock")

with DAG("abc1def", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="only")
"""


def _search(api, q: str, as_: str | None = "viewer", **params):
    return api.get("/ui/data/search", params={"q": q, **params}, as_=as_)


def _groups(body: dict) -> dict[str, list[dict]]:
    return {g["kind"]: g["items"] for g in body["groups"]}


def test_search_finds_dags_tasks_and_runs_with_the_urls_the_palette_opens(api, config, db) -> None:
    store_dag_file(config, db, "shell_dags", DAGS)
    for dag_id, run_id in (("sales_daily", "manual_sales_1"), ("inventory", "nightly_stock"),
                           ("sales_daily", "sales_2024-01-02T00:00:00+00:00")):
        assert api.post(f"dags/{dag_id}/dagRuns", json={"dag_run_id": run_id}).status_code == 200

    # A DAG by its id, and by its display name (any case).
    found = _groups(_search(api, "SALES").json())
    assert [d["dag_id"] for d in found["dags"]] == ["sales_daily"]
    dag = found["dags"][0]
    assert dag["title"] == "Sales <b>report</b>" and dag["detail"] == "sales_daily"
    assert dag["url"] == "/dags/sales_daily/grid"
    assert [d["dag_id"] for d in _groups(_search(api, "report").json())["dags"]] == ["sales_daily"]
    # Runs whose id matches, newest first, each leading to its run page.
    assert [(r["dag_id"], r["run_id"]) for r in found["runs"]] == [
        ("sales_daily", "sales_2024-01-02T00:00:00+00:00"), ("sales_daily", "manual_sales_1")]
    assert found["runs"][0]["url"] == "/dags/sales_daily/runs/sales_2024-01-02T00%3A00%3A00%2B00%3A00"
    assert found["runs"][0]["state"] == "queued"

    # Tasks by id or display name, from the latest snapshot: they need no run.
    tasks = _groups(_search(api, "stock").json())["tasks"]
    assert [(t["dag_id"], t["task_id"]) for t in tasks] == [("inventory", "count_stock")]
    assert tasks[0]["url"] == "/dags/inventory/grid?task_id=count_stock"
    tasks = _groups(_search(api, "warehouse").json())["tasks"]
    assert [(t["dag_id"], t["task_id"], t["title"]) for t in tasks] == [("sales_daily", "load", "Load into warehouse")]
    assert _groups(_search(api, "nightly").json())["runs"][0]["url"] == "/dags/inventory/runs/nightly_stock"

    # LIKE wildcards are matched literally ("c_d" is not "c1d", "%" is not everything).
    assert [d["dag_id"] for d in _groups(_search(api, "c1d").json())["dags"]] == ["abc1def"]
    assert all(not items for items in _groups(_search(api, "c_d").json()).values())
    assert all(not items for items in _groups(_search(api, "%").json()).values())
    assert all(not items for items in _groups(_search(api, "no_such_thing").json()).values())

    # limit caps every group; an empty query asks for nothing.
    assert len(_groups(_search(api, "_", limit=1).json())["dags"]) == 1
    assert _search(api, "  ").json()["groups"] == []
    assert _search(api, "x", limit=0).status_code in (400, 422)


def test_search_needs_a_signed_in_reader(api, config, db) -> None:
    store_dag_file(config, db, "shell_dags", DAGS)
    assert _search(api, "sales", as_=None).status_code == 401
    # The palette calls it with the session cookie, as any role that may read DAGs.
    for role in ("viewer", "user", "op", "admin"):
        answer = browser(api, role).get("/ui/data/search", params={"q": "sales"})
        assert answer.status_code == 200, role
        assert [d["dag_id"] for d in _groups(answer.json())["dags"]] == ["sales_daily"]


def test_favicon_answers(api) -> None:
    signed_in = browser(api, "viewer").get("/favicon.ico")
    assert signed_in.status_code == 200
    assert signed_in.headers["content-type"].startswith("image/svg+xml") and b"<svg" in signed_in.content
    # Public, as the login page shows it too.
    anonymous = api.client.get("/favicon.ico", follow_redirects=False)
    assert anonymous.status_code == 200 and b"<svg" in anonymous.content


def test_header_groups_the_pages_in_menus_and_marks_the_current_one(api) -> None:
    admin = browser(api, "admin")
    html = admin.get("/runs").text
    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S).group(0)
    # Home, DAGs, Assets at the top; the rest under Browse and Admin menus with aria-expanded buttons.
    top = re.findall(r'^\s*<a href="([^"]+)"', nav, re.M)
    assert top == ["/", "/dags", "/assets"]
    assert re.search(r'<button type="button" class="navmenu-button" aria-expanded="false"[^>]*>Browse</button>', nav)
    assert re.search(r'<button type="button" class="navmenu-button" aria-expanded="false"[^>]*>Admin</button>', nav)
    assert nav_paths(html) == ["/", "/dags", "/assets", "/runs", "/task-instances", "/audit-log", "/import-errors",
                               "/dag-dependencies", "/variables", "/pools", "/connections", "/users"]
    # The current page is marked inside its menu, and the menu itself is highlighted.
    assert '<a href="/runs" class="active" aria-current="page">Runs</a>' in nav
    assert '<div class="navmenu active">' in nav and nav.count('aria-current="page"') == 1
    # A viewer sees no Variables/Connections/Users, but still the Admin menu for Pools.
    viewer = nav_paths(browser(api, "viewer").get("/dags").text)
    assert "/pools" in viewer and "/variables" not in viewer and "/users" not in viewer
    # The frame's scripts: the theme before first paint (in <head>), the palette and shortcuts after core.js.
    head = html.split("</head>")[0]
    assert '<script src="/static/theme.js"></script>' in head
    assert html.index("/static/core.js") < html.index("/static/shortcuts.js") < html.index("/static/palette.js")
    for path in ("/static/theme.js", "/static/palette.js", "/static/shortcuts.js"):
        assert admin.get(path).status_code == 200, path
