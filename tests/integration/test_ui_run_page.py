"""UI: the run page (/dags/{dag_id}/runs/{run_id}) and the log viewer's line windows, on a run
the real scheduler ran."""

from __future__ import annotations

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file
from ui_support import browser, page_data

DAGS = """
import logging

def chatter():
    log = logging.getLogger("chatter")
    print("::group::Setup <b>phase</b>")
    for i in range(30):
        log.info("line %d", i)
    print("::endgroup::")
    log.warning("careful")

with DAG("run_page", start_date=datetime(2024, 1, 1), schedule=None):
    PythonOperator(task_id="chatter", python_callable=chatter)
"""

LINES = "/ui/data/dags/run_page/runs/r1/tasks/chatter/logs/1/lines"


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "run_page", DAGS)
    client = make_api(config, db)
    response = client.post("dags/run_page/dagRuns", json={"dag_run_id": "r1", "conf": {"x": "<i>1</i>"}})
    assert response.status_code == 200, response.text
    assert run_to_end(config, db, "run_page", "r1") == "success"
    return client


@pytest.mark.parametrize("role", ["viewer", "op"])
def test_run_page_renders_in_the_dag_frame(api, role) -> None:
    page = browser(api, role).get("/dags/run_page/runs/r1")
    assert page.status_code == 200, page.text
    data = page_data(page.text)
    assert data["run_id"] == "r1" and data["view"] == "runs" and data["missing"] is False
    assert data["can_edit_note"] is (role != "viewer")
    assert '<script src="/static/dag_run.js"></script>' in page.text
    assert 'aria-current="page">Runs</a>' in page.text


def test_unknown_run_is_a_404_page_naming_it(api) -> None:
    page = browser(api, "viewer").get("/dags/run_page/runs/nope%3Cscript%3E")
    assert page.status_code == 404
    assert "has no run with id <code>nope&lt;script&gt;</code>" in page.text
    assert "dag_run.js" not in page.text
    assert browser(api, "viewer").get("/dags/missing_dag/runs/r1").status_code == 404


def test_note_saved_through_v2_patch_reads_back(api) -> None:
    user = browser(api, "op")
    saved = user.write("PATCH", "/api/v2/dags/run_page/dagRuns/r1", params={"update_mask": "note"},
                       json={"note": "looked at <b>it</b>"})
    assert saved.status_code == 200, saved.text
    assert user.get("/api/v2/dags/run_page/dagRuns/r1").json()["note"] == "looked at <b>it</b>"


def test_log_lines_tail_and_pages_by_offset(api) -> None:
    user = browser(api, "viewer")
    tail = user.get(LINES, params={"limit": 5}).json()
    assert tail["try_number"] == 1 and tail["still_writing"] is False and tail["state"] == "success"
    assert tail["end"] == tail["size"] and len(tail["lines"]) == 5
    whole = user.get(LINES, params={"after": 0}).json()
    texts = [text for _, text in whole["lines"]]
    assert any(t.endswith("::group::Setup <b>phase</b>") for t in texts)
    assert any(t.endswith("WARNING - careful") for t in texts)
    assert [text for _, text in tail["lines"]] == texts[-5:]
    above = user.get(LINES, params={"before": tail["start"], "limit": 3}).json()
    assert [text for _, text in above["lines"]] == texts[-8:-5]


def test_log_lines_errors_are_readable(api) -> None:
    user = browser(api, "viewer")
    missing_try = user.get("/ui/data/dags/run_page/runs/r1/tasks/chatter/logs/7/lines")
    assert missing_try.status_code == 404 and "no try number 7" in missing_try.json()["detail"]
    assert user.get("/ui/data/dags/run_page/runs/r1/tasks/nope/logs/1/lines").status_code == 404
    both = user.get(LINES, params={"before": 1, "after": 1})
    assert both.status_code == 400
