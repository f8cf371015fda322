"""The grid's data endpoint (/ui/data/dags/{dag_id}/grid) and page, against the real app and real runs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from api_support import Api, run_to_end, store_dag_file

from tradewind.observe.ui.grid import STATE_CODES, summary_state


GROUPED = """
from tradewind import TaskGroup, task

with DAG("grouped", start_date=datetime(2024, 1, 1), schedule=None,
         description="<script>alert('desc')</script>") as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("outer", tooltip="<b>outer</b>") as outer:
        first = EmptyOperator(task_id="first")
        with TaskGroup("inner") as inner:
            deep = EmptyOperator(task_id="deep")
        first >> inner

    @task
    def items():
        return [1, 2, 3]

    @task
    def double(x):
        return 2 * x

    end = EmptyOperator(task_id="end", task_display_name="<img src=x onerror=alert(1)>")
    numbers = items()
    start >> outer >> numbers
    double.expand(x=numbers) >> end
"""


def _trigger(api: Api, dag_id: str, logical: datetime, **body) -> str:
    response = api.post(f"dags/{dag_id}/dagRuns", json={"logical_date": logical.isoformat(), **body}, as_="user")
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def test_grid_rows_follow_groups_in_topological_order_and_summarise_mapped_tasks(api, config, db) -> None:
    store_dag_file(config, db, "grouped_file", GROUPED)
    run_id = _trigger(api, "grouped", datetime(2024, 2, 1, tzinfo=timezone.utc))
    assert run_to_end(config, db, "grouped", run_id) == "success"

    grid = api.get("/ui/data/dags/grouped/grid", as_="viewer").json()
    rows = [(r["id"], r["kind"], r["depth"], r["parent"]) for r in grid["rows"]]
    assert rows == [
        ("start", "task", 0, None),
        ("outer", "group", 0, None),
        ("outer.first", "task", 1, "outer"),
        ("outer.inner", "group", 1, "outer"),
        ("outer.inner.deep", "task", 2, "outer.inner"),
        ("items", "task", 0, None),
        ("double", "task", 0, None),
        ("end", "task", 0, None),
    ]
    by_id = {r["id"]: r for r in grid["rows"]}
    assert by_id["outer.inner"]["label"] == "inner" and by_id["outer"]["children"] == 2
    assert by_id["outer"]["tooltip"] == "<b>outer</b>"  # data, never markup: the page shows it as text
    assert by_id["double"]["mapped"] is True and by_id["start"]["mapped"] is False
    assert by_id["end"]["label"] == "<img src=x onerror=alert(1)>"
    assert grid["runs"]["run_id"] == [run_id] and grid["runs"]["state"] == ["success"]
    assert grid["runs"]["run_type"] == ["manual"] and grid["runs"]["logical_date"][0].startswith("2024-02-01T00:00:00")
    assert grid["runs"]["start_date"][0] and grid["runs"]["end_date"][0]
    # One letter per run for every task row; groups carry none (the page summarises their children).
    assert set(grid["states"]) == {"start", "outer.first", "outer.inner.deep", "items", "double", "end"}
    assert all(line == STATE_CODES["success"] for line in grid["states"].values())
    assert grid["codes"][STATE_CODES["success"]] == "success"
    # The mapped task: one cell with its instances counted per state.
    assert grid["mapped"] == {"double": {"0": {"success": 3}}}
    assert grid["active"] is False


MANY = """
with DAG("many", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
"""


def test_grid_newest_runs_right_with_limit_and_filters(api, config, db) -> None:
    store_dag_file(config, db, "many_file", MANY)
    base = datetime(2024, 3, 1, tzinfo=timezone.utc)
    ids = [_trigger(api, "many", base + timedelta(days=i)) for i in range(4)]
    assert run_to_end(config, db, "many", ids[0]) == "success"
    api.patch(f"dags/many/dagRuns/{ids[1]}", json={"state": "failed"}, as_="user")

    grid = api.get("/ui/data/dags/many/grid", params={"limit": 3}).json()
    assert grid["runs"]["run_id"] == ids[1:]  # the newest three, oldest left
    assert grid["active"] is True  # ids[2] and ids[3] are still queued
    full = api.get("/ui/data/dags/many/grid").json()
    assert full["runs"]["run_id"] == ids
    assert full["states"]["a"][0] == "s" and full["states"]["b"][0] == "s"
    assert full["runs"]["state"][:2] == ["success", "failed"]
    only_failed = api.get("/ui/data/dags/many/grid", params={"state": "failed"}).json()
    assert only_failed["runs"]["run_id"] == [ids[1]]
    two_states = api.get("/ui/data/dags/many/grid", params=[("state", "failed"), ("state", "success")]).json()
    assert two_states["runs"]["run_id"] == ids[:2]
    assert api.get("/ui/data/dags/many/grid", params={"run_type": "scheduled"}).json()["runs"]["run_id"] == []
    assert api.get("/ui/data/dags/many/grid", params={"run_type": "manual"}).json()["runs"]["run_id"] == ids
    assert api.get("/ui/data/dags/many/grid", params={"limit": 0}).status_code == 422
    assert api.get("/ui/data/dags/many/grid", params={"limit": 1001}).status_code == 422


def test_grid_etag_answers_304_until_a_state_changes(api, config, db) -> None:
    store_dag_file(config, db, "many_file", MANY)
    run_id = _trigger(api, "many", datetime(2024, 3, 1, tzinfo=timezone.utc))
    first = api.get("/ui/data/dags/many/grid")
    etag = first.headers["etag"]
    assert first.json()["active"] is True
    same = api.get("/ui/data/dags/many/grid", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert run_to_end(config, db, "many", run_id) == "success"
    changed = api.get("/ui/data/dags/many/grid", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["states"] == {"a": "s", "b": "s"} and changed.json()["active"] is False


def test_grid_needs_a_signed_in_user_and_a_known_dag(api, config, db) -> None:
    store_dag_file(config, db, "many_file", MANY)
    assert api.get("/ui/data/dags/many/grid", as_=None).status_code == 401
    for role in ("viewer", "user", "op", "admin"):
        assert api.get("/ui/data/dags/many/grid", as_=role).status_code == 200
    missing = api.get("/ui/data/dags/nope/grid")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    page = api.get("/dags/many/grid", as_=None, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/dags/many/grid"


def test_grid_page_escapes_author_text(api, config, db) -> None:
    store_dag_file(config, db, "grouped_file", GROUPED)
    page = api.get("/dags/grouped/grid", as_="viewer")
    assert page.status_code == 200
    html = page.text
    assert "<script>alert('desc')</script>" not in html
    assert "&lt;script&gt;alert(&#39;desc&#39;)&lt;/script&gt;" in html  # the header's description, as text
    # The page-data island carries it JSON-escaped, so no "</script>" can close the island.
    island = html.split('id="page-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in island and "\\u003cscript\\u003e" in island
    assert '<script src="/static/grid.js"></script>' in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]  # no inline script would run anyway


def test_summary_state_prefers_what_needs_attention() -> None:
    assert summary_state(["success", "failed", "running"]) == "failed"
    assert summary_state(["success", "running"]) == "running"
    assert summary_state(["success", "skipped"]) == "skipped"
    assert summary_state(["success"]) == "success"
