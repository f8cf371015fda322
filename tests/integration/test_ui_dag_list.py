"""UI: the DAG list page (/dags), its data endpoints and the trigger form's server side."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from api_support import Api, assert_problem, run_to_end, store_dag_file
from ui_support import browser, nav_paths, page_data

STATIC = Path(__file__).resolve().parents[2] / "src" / "tradewind" / "observe" / "ui" / "static"

DAGS = """
with DAG("alpha", start_date=datetime(2024, 1, 1), schedule="@daily", tags=["team_a", "<script>t</script>"],
         description="<script>alert('d')</script>", dag_display_name="Alpha Reports",
         default_args={"owner": "ana"},
         params={"rows": Param(5, type="integer", minimum=1, description="<script>alert('p')</script>"),
                 "mode": Param("fast", enum=["fast", "slow"]),
                 "needed": Param(type="string")}):
    EmptyOperator(task_id="first")

with DAG("beta", start_date=datetime(2024, 1, 1), schedule=None, tags=["team_b"]):
    EmptyOperator(task_id="only")

with DAG("gamma", start_date=datetime(2024, 1, 1), schedule=None, is_paused_upon_creation=True, tags=["team_a"]):
    EmptyOperator(task_id="only")
"""


def _store(config, db) -> None:
    from tradewind.persist.models import DagModel

    store_dag_file(config, db, "ui_dags", DAGS)
    with db.session_scope() as session:  # as the scheduler records it
        alpha = session.get(DagModel, "alpha")
        alpha.next_dagrun = datetime(2024, 5, 1, tzinfo=timezone.utc)
        alpha.next_dagrun_create_after = datetime(2024, 5, 2, tzinfo=timezone.utc)  # sorted by when it starts
        gamma = session.get(DagModel, "gamma")
        gamma.next_dagrun = datetime(2024, 4, 1, tzinfo=timezone.utc)  # earlier logical date, starts later
        gamma.next_dagrun_create_after = datetime(2024, 6, 1, tzinfo=timezone.utc)


def _data(api: Api, **params) -> dict:
    response = api.get("/ui/data/dags", params=params, as_="viewer")
    assert response.status_code == 200, response.text
    return response.json()


def _ids(body: dict) -> list[str]:
    return [d["dag_id"] for d in body["dags"]]


def test_page_renders_for_every_role_with_what_each_may_do(api, config, db) -> None:
    _store(config, db)
    anonymous = api.client.get("/dags", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=/dags")
    assert api.get("/ui/data/dags", as_=None).status_code == 401
    expected = {"viewer": (False, False), "user": (True, True), "op": (True, True), "admin": (True, True)}
    for role, (can_pause, can_trigger) in expected.items():
        page = browser(api, role).get("/dags")
        assert page.status_code == 200 and "<h1>DAGs</h1>" in page.text
        assert "Content-Security-Policy" in page.headers
        data = page_data(page.text)
        assert (data["can_pause"], data["can_trigger"]) == (can_pause, can_trigger), role
        assert '<script src="/static/dags.js">' in page.text and '<script src="/static/trigger.js">' in page.text


def test_nav_shows_only_what_the_role_may_open(api) -> None:
    viewer = nav_paths(browser(api, "viewer").get("/dags").text)
    assert "/dags" in viewer and "/runs" in viewer and "/pools" in viewer and "/import-errors" in viewer
    assert "/variables" not in viewer and "/users" not in viewer
    op = nav_paths(browser(api, "op").get("/dags").text)
    assert "/variables" in op and "/users" not in op
    assert "/users" in nav_paths(browser(api, "admin").get("/dags").text)


def test_list_data_filters_counts_and_pages(api, config, db) -> None:
    _store(config, db)
    body = _data(api)
    assert _ids(body) == ["alpha", "beta", "gamma"] and body["total_entries"] == 3
    assert body["counts"] == {"all": 3, "active": 2, "paused": 1} and body["import_errors"] == 0
    alpha = body["dags"][0]
    assert alpha["dag_display_name"] == "Alpha Reports" and alpha["owners"] == ["ana"]
    assert alpha["timetable_summary"] and alpha["next_dagrun"] and alpha["recent_runs"] == []
    assert {t["name"] for t in alpha["tags"]} == {"team_a", "<script>t</script>"}
    # Search matches the id or the display name, in any case.
    assert _ids(_data(api, search="REPORTS")) == ["alpha"]
    assert _ids(_data(api, search="amm")) == ["gamma"]
    assert _ids(_data(api, search="100%")) == []
    # Tag filter (any of), tab counts follow the search and tags but not the tab itself.
    tagged = _data(api, tags="team_a")
    assert _ids(tagged) == ["alpha", "gamma"] and tagged["counts"] == {"all": 2, "active": 1, "paused": 1}
    assert _ids(_data(api, tags=["team_b", "<script>t</script>"])) == ["alpha", "beta"]
    assert _ids(_data(api, status="active")) == ["alpha", "beta"]
    paused = _data(api, status="paused")
    assert _ids(paused) == ["gamma"] and paused["counts"]["all"] == 3
    # Sorting and pages.
    assert _ids(_data(api, order_by="-dag_id")) == ["gamma", "beta", "alpha"]
    # "Next run" sorts by when the run starts, not by its logical date; DAGs without one go last.
    assert _ids(_data(api, order_by="next_dagrun")) == ["alpha", "gamma", "beta"]
    page = _data(api, limit=1, offset=1)
    assert _ids(page) == ["beta"] and page["total_entries"] == 3
    assert _data(api, offset=10)["dags"] == []
    assert_problem(api.get("/ui/data/dags", params={"order_by": "nope"}), 400, field="order_by", contains="last_run")
    assert_problem(api.get("/ui/data/dags", params={"status": "sleepy"}), 400, field="status")
    assert_problem(api.get("/ui/data/dags", params={"limit": 1000}), 422, field="limit")
    tags = api.get("/ui/data/dag-tags", as_="viewer").json()["tags"]
    assert tags == sorted(["team_a", "team_b", "<script>t</script>"])


def test_recent_runs_come_with_the_page_newest_first(api, config, db) -> None:
    _store(config, db)
    for day in (1, 2, 3):
        response = api.post("dags/beta/dagRuns", json={"dag_run_id": f"r{day}",
                                                     "logical_date": f"2024-02-0{day}T00:00:00Z"}, as_="user")
        assert response.status_code == 200, response.text
    assert run_to_end(config, db, "beta", "r2") == "success"
    body = _data(api, runs=2)
    beta = body["dags"][1]
    assert [r["dag_run_id"] for r in beta["recent_runs"]] == ["r3", "r2"]
    assert beta["recent_runs"][1]["state"] == "success" and beta["recent_runs"][0]["state"] == "queued"
    assert beta["recent_runs"][0]["logical_date"].startswith("2024-02-03")
    assert [r["dag_run_id"] for r in _data(api)["dags"][1]["recent_runs"]] == ["r3", "r2", "r1"]
    assert _data(api, runs=0)["dags"][1]["recent_runs"] == []
    assert _ids(_data(api, order_by="-last_run")) == ["beta", "alpha", "gamma"]


def test_import_error_banner_count(api, config, db) -> None:
    from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
    from tradewind.persist.queries.dags import store_file_results

    bad = str(Path(config.dags_folder) / "broken.py")
    with db.session_scope() as session:
        store_file_results(session, [FileParseResult(bad, errors=[ImportErrorInfo(bad, 3, "SyntaxError", "tb")])],
                           datetime.now(timezone.utc))
    assert _data(api)["import_errors"] == 1


def test_pause_and_trigger_through_the_session_like_the_page(api, config, db) -> None:
    _store(config, db)
    viewer, user = browser(api, "viewer"), browser(api, "user")
    assert viewer.write("PATCH", "dags/gamma", params={"update_mask": "is_paused"},
                        json={"is_paused": False}).status_code == 403
    assert user.client.patch("/api/v1/dags/gamma", json={"is_paused": False}).status_code == 403  # no CSRF header
    response = user.write("PATCH", "dags/gamma", params={"update_mask": "is_paused"}, json={"is_paused": False})
    assert response.status_code == 200 and response.json()["is_paused"] is False
    assert _data(api)["counts"]["paused"] == 0

    # The trigger form: params from the details, bad conf answered with 422 naming the param.
    params = user.get("/api/v1/dags/alpha/details").json()["params"]
    assert params["rows"]["schema"]["type"] == "integer" and params["mode"]["schema"]["enum"] == ["fast", "slow"]
    assert params["needed"]["value"] is None
    bad = user.write("POST", "dags/alpha/dagRuns", json={"conf": {"rows": 0, "needed": "x"}})
    body = assert_problem(bad, 422, field="conf.rows")
    assert [e["field"] for e in body["errors"]] == ["conf.rows"] and body["errors"][0]["msg"]
    missing = assert_problem(user.write("POST", "dags/alpha/dagRuns", json={"conf": {}}), 422)
    assert "conf.needed" in [e["field"] for e in missing["errors"]]
    ok = user.write("POST", "dags/alpha/dagRuns", json={"conf": {"rows": 3, "needed": "y"}, "dag_run_id": "mine",
                                                        "logical_date": "2024-03-01T10:00:00Z"})
    assert ok.status_code == 200, ok.text
    assert [r["dag_run_id"] for r in _data(api)["dags"][0]["recent_runs"]] == ["mine"]
    assert_problem(user.write("POST", "dags/alpha/dagRuns", json={"conf": {"needed": "y"}, "dag_run_id": "mine"}), 409)
    assert viewer.write("POST", "dags/alpha/dagRuns", json={"conf": {"needed": "y"}}).status_code == 403


def test_author_text_never_reaches_html_and_scripts_only_set_text(api, config, db) -> None:
    _store(config, db)
    page = browser(api, "admin").get("/dags")
    assert "<script>alert" not in page.text and "<script>t</script>" not in page.text
    data = api.get("/ui/data/dags", as_="viewer")
    assert data.headers["content-type"].startswith("application/json")
    assert data.json()["dags"][0]["description"] == "<script>alert('d')</script>"  # data, shown with textContent
    for name in ("dags.js", "trigger.js", "listing.js", "browse.js", "admin.js"):
        source = (STATIC / name).read_text()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", source), name
