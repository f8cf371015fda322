"""UI: the per-DAG chart views (graph, Gantt, task duration/tries, calendar) and their data endpoints,
on runs the real scheduler ran (a retried task, a task group, a mapped task, setup/teardown, a label)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from api_support import ROLES, Api, assert_problem, make_api, run_to_end, store_dag_file
from ui_support import browser, page_data

DAGS = """
from tradewind import Label, TaskGroup, task

def flaky(ti):
    if ti.try_number == 1:
        raise RuntimeError("the first try fails")

@task
def double(x):
    return 2 * x

with DAG("charts", start_date=datetime(2024, 1, 1), schedule="@daily", catchup=False,
         is_paused_upon_creation=True):
    start = EmptyOperator(task_id="start", task_display_name="<script>alert('n')</script>")
    create = EmptyOperator(task_id="create").as_setup()
    with TaskGroup("grp", tooltip="<img src=x onerror=alert(1)>") as grp:
        retried = PythonOperator(task_id="flaky", python_callable=flaky, retries=1, retry_delay=timedelta(0))
        inside = EmptyOperator(task_id="inside")
        retried >> inside
    doubled = double.expand(x=[1, 2, 3])
    delete = EmptyOperator(task_id="delete").as_teardown(setups=create)
    end = EmptyOperator(task_id="end")
    start >> Label("<script>alert('l')</script>") >> grp >> end
    start >> doubled >> end
    create >> grp
    grp >> delete
"""

DATA = "/ui/data/dags/charts"


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "charts", DAGS)
    client = make_api(config, db)
    for n, day in enumerate(("2024-03-01", "2024-03-02")):
        response = client.post("dags/charts/dagRuns", json={"dag_run_id": f"r{n + 1}", "logical_date": f"{day}T06:00:00Z"})
        assert response.status_code == 200, response.text
        assert run_to_end(config, db, "charts", f"r{n + 1}") == "success"
    return client


def _get(api: Api, path: str, **params) -> dict:
    response = api.get(path, params=params, as_="viewer")
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_render_in_the_dag_frame_for_every_role(api) -> None:
    for view in ("graph", "gantt", "duration", "tries", "calendar"):
        anonymous = api.client.get(f"/dags/charts/{view}", follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(f"/login?next=/dags/charts/{view}")
        for role in ROLES:
            page = browser(api, role).get(f"/dags/charts/{view}?run_id=r1")
            assert page.status_code == 200, page.text
            assert 'aria-current="page"' in page.text and "/static/dag_charts.js" in page.text
            data = page_data(page.text)
            assert data["dag"]["dag_id"] == "charts" and data["view"] == view
    viewer = browser(api, "viewer")
    assert page_data(viewer.get("/dags/charts/graph?run_id=r2").text)["run_id"] == "r2"
    assert page_data(viewer.get("/dags/charts/tries?runs=10").text) | {"dag": None} == {
        "dag": None, "view": "tries", "runs": 10, "choices": [10, 25, 50, 100, 365], "metric": "tries"}
    assert viewer.get("/dags/nope/graph").status_code == 404
    assert viewer.get("/dags/charts/duration?runs=0").status_code == 422


def test_data_endpoints_need_credentials_and_know_the_dag_and_run(api) -> None:
    for part in ("graph", "graph/states?run_id=r1", "gantt", "durations", "calendar"):
        assert api.get(f"{DATA}/{part}", as_=None).status_code == 401
        assert_problem(api.get(f"/ui/data/dags/nope/{part}", as_="viewer"), 404)
    for part in ("graph", "graph/states", "gantt"):
        assert_problem(api.get(f"{DATA}/{part}", params={"run_id": "nope"}, as_="viewer"), 404, contains="nope")


def test_graph_structure_groups_states_and_marks(api) -> None:
    body = _get(api, f"{DATA}/graph")
    assert body["run"]["run_id"] == "r2" and body["live"] is False  # the latest run by default
    assert [r["run_id"] for r in body["runs"]] == ["r2", "r1"]
    # the whole structure: every task (the browser collapses groups and lays it out), no coordinates
    nodes = {n["id"]: n for n in body["nodes"]}
    assert set(nodes) == {"start", "create", "grp.flaky", "grp.inside", "double", "delete", "end"}
    assert "x" not in nodes["start"] and "width" not in body
    assert body["groups"] == [{"id": "grp", "label": "grp", "parent": None, "tooltip": "<img src=x onerror=alert(1)>",
                               "task_count": 2}]
    assert nodes["grp.flaky"]["label"] == "flaky" and nodes["grp.flaky"]["group"] == "grp"
    assert nodes["start"]["label"] == "<script>alert('n')</script>"  # text; the browser sets it with textContent
    assert nodes["create"]["is_setup"] and nodes["delete"]["is_teardown"] and nodes["double"]["is_mapped"]
    edges = {(e["source"], e["target"]): e for e in body["edges"]}
    assert edges[("start", "grp.flaky")]["label"] == "<script>alert('l')</script>"
    assert edges[("create", "delete")]["setup_teardown"] is True and edges[("start", "double")]["label"] is None
    assert body["assets"] == [] and body["dags"] == [] and body["links"] == []
    states = body["states"]
    assert states["grp.flaky"] == {"state": "success", "try_number": 2, "map_count": None, "counts": None}
    assert states["grp"]["state"] == "success" and states["grp"]["counts"] == {"success": 2}
    assert states["double"]["map_count"] == 3 and states["double"]["counts"] == {"success": 3}
    assert _get(api, f"{DATA}/graph", run_id="r1")["run"]["run_id"] == "r1"


def test_graph_shows_assets_and_linked_dags(config, db) -> None:
    store_dag_file(config, db, "linked", """
from tradewind import Asset
from tradewind.definition.sensors.external_task import ExternalTaskMarker

source, made = Asset("s3://bucket/in.csv"), Asset(name="made", uri="s3://bucket/out")
with DAG("linked", start_date=datetime(2024, 1, 1), schedule=[source]):
    first = EmptyOperator(task_id="first", outlets=[made])
    first >> ExternalTaskMarker(task_id="mark", external_dag_id="downstream_dag", external_task_id="t")
""")
    body = _get(make_api(config, db), "/ui/data/dags/linked/graph")
    assets = {a["label"]: a for a in body["assets"]}
    assert set(assets) == {"s3://bucket/in.csv", "made"} and assets["made"]["uri"] == "s3://bucket/out"
    assert body["dags"] == [{"id": "dag:downstream_dag", "kind": "dag", "label": "downstream_dag",
                             "dag_id": "downstream_dag", "group": None}]
    links = {(l["source"], l["target"], l["kind"]) for l in body["links"]}
    assert links == {(assets["s3://bucket/in.csv"]["id"], "first", "schedule"), ("first", assets["made"]["id"], "outlet"),
                     ("mark", "dag:downstream_dag", "marker")}


def test_graph_states_for_polling(api) -> None:
    body = _get(api, f"{DATA}/graph/states", run_id="r1")
    assert set(body) == {"run", "live", "states"}
    assert body["run"] == {"run_id": "r1", "state": "success", "run_type": "manual",
                           "logical_date": "2024-03-01T06:00:00+00:00", "start_date": body["run"]["start_date"],
                           "end_date": body["run"]["end_date"]}
    assert body["states"]["end"]["state"] == "success" and body["live"] is False


def test_gantt_has_one_bar_per_try_in_graph_order(api) -> None:
    body = _get(api, f"{DATA}/gantt", run_id="r1")
    assert body["run"]["run_id"] == "r1" and body["tasks"][0]["task_id"] in ("start", "create")
    labels = {t["task_id"]: t["label"] for t in body["tasks"]}
    assert labels["start"] == "<script>alert('n')</script>"
    flaky = [b for b in body["tries"] if b["task_id"] == "grp.flaky"]
    assert [(b["try_number"], b["state"]) for b in flaky] == [(1, "failed"), (2, "success")]
    assert all(b["start_date"] and b["end_date"] and b["duration"] is not None for b in flaky)
    assert flaky[1]["queued_at"] is not None and flaky[0]["queued_at"] is None
    assert sorted(b["map_index"] for b in body["tries"] if b["task_id"] == "double") == [0, 1, 2]
    order = [t["task_id"] for t in body["tasks"]]
    positions = [order.index(b["task_id"]) for b in body["tries"]]
    assert positions == sorted(positions)


def test_durations_and_tries_over_recent_runs(api) -> None:
    body = _get(api, f"{DATA}/durations", runs=25)
    assert [r["run_id"] for r in body["runs"]] == ["r1", "r2"]  # oldest first, the chart's x order
    assert {t["task_id"] for t in body["tasks"]} >= {"start", "grp.flaky", "double", "end"}
    assert body["tries"]["grp.flaky"] == [2, 2] and body["tries"]["end"] == [1, 1]
    assert all(isinstance(v, float) and v >= 0 for v in body["durations"]["grp.flaky"])
    assert all(v is not None for v in body["durations"]["double"])  # mapped: first start to last end
    one = _get(api, f"{DATA}/durations", runs=1)
    assert [r["run_id"] for r in one["runs"]] == ["r2"] and len(one["durations"]["end"]) == 1
    assert api.get(f"{DATA}/durations", params={"runs": 5000}, as_="viewer").status_code == 422


def test_calendar_counts_runs_per_day_and_plans_future_runs(api, db) -> None:
    body = _get(api, f"{DATA}/calendar", year=2024)
    assert body["year"] == 2024 and body["days"] == {"2024-03-01": {"success": 1}, "2024-03-02": {"success": 1}}
    assert 2024 in body["years"] and body["planned"] == {}  # the DAG is paused: nothing is planned
    this_year = datetime.now(timezone.utc).year
    assert _get(api, f"{DATA}/calendar")["year"] == this_year

    assert api.patch("dags/charts", json={"is_paused": False}, as_="user").status_code == 200
    ahead = _get(api, f"{DATA}/calendar", year=this_year + 1)
    planned = ahead["planned"]
    assert ahead["days"] == {} and len(planned) >= 365 and set(planned.values()) == {1}
    assert all(day.startswith(str(this_year + 1)) for day in planned)
    assert _get(api, f"{DATA}/calendar", year=2023)["planned"] == {}  # the past plans nothing
    assert api.get(f"{DATA}/calendar", params={"year": 99999}, as_="viewer").status_code == 422


def test_a_dag_without_runs_still_has_a_graph(config, db) -> None:
    store_dag_file(config, db, "lonely", """
with DAG("lonely", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="a") >> EmptyOperator(task_id="b")
""")
    api = make_api(config, db)
    body = _get(api, "/ui/data/dags/lonely/graph")
    assert body["run"] is None and body["runs"] == [] and body["states"]["a"]["state"] == "none"
    assert [(e["source"], e["target"]) for e in body["edges"]] == [("a", "b")]
    assert _get(api, "/ui/data/dags/lonely/gantt")["tries"] == []
    durations = _get(api, "/ui/data/dags/lonely/durations")
    assert durations["runs"] == [] and durations["durations"] == {"a": [], "b": []}


def test_chart_scripts_never_use_inner_html() -> None:
    from tradewind.observe.ui.pages import STATIC_DIR

    for name in ("dag_charts.js", "dag_graph.js", "graph_view.js", "asset_graph.js", "dag_dependencies.js", "dag_gantt.js", "dag_chart.js", "dag_calendar.js"):
        text = (STATIC_DIR / name).read_text()
        assert ".innerHTML" not in text and "insertAdjacentHTML" not in text and "eval(" not in text, name



def test_calendar_days_are_grouped_by_the_database_on_each_backend(any_db) -> None:
    from tradewind.persist.models import DagModel, DagRun
    from tradewind.persist.queries import ui_dag

    late = datetime(2024, 3, 1, 23, 30, tzinfo=timezone.utc)
    with any_db.session_scope() as session:
        session.add(DagModel(dag_id="d", fileloc="/d.py"))
        session.flush()
        for n, (when, state) in enumerate([(late, "success"), (late.replace(hour=1), "failed"),
                                           (late.replace(day=2), "success"), (late.replace(year=2023), "success")]):
            session.add(DagRun(dag_id="d", run_id=f"r{n}", run_type="manual", state=state, logical_date=when,
                               run_after=when))
    with any_db.read_scope() as session:
        year = (datetime(2024, 1, 1, tzinfo=timezone.utc), datetime(2025, 1, 1, tzinfo=timezone.utc))
        assert sorted(ui_dag.run_day_counts(session, "d", *year)) == [
            ("2024-03-01", "failed", 1), ("2024-03-01", "success", 1), ("2024-03-02", "success", 1)]
        first, last = ui_dag.run_year_bounds(session, "d")
        assert (first.year, last, last.tzinfo) == (2023, late.replace(day=2), timezone.utc)
