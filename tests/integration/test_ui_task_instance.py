"""UI: the task-instance page and its data (header/details/tries/rendered, mapped list, XCom,
log download, "why not running"), with the actions a signed-in browser takes, on runs the real
scheduler ran."""

from __future__ import annotations

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file
from ui_support import browser, page_data

DAGS = """
from tradewind import task

def produce(ti, when, api_key):
    print("producing <script>alert(1)</script>")
    ti.xcom_push(key="api_token", value="s3cr3t-value")
    return {"rows": 3, "nested": {"password": "hunter2"}, "note": "<b>bold</b>"}

def boom():
    print("about to fail")
    raise RuntimeError("boom")

@task(map_index_template="{{ task.op_kwargs['x'] }}-label")
def double(x):
    return x * 2

with DAG("ti_page", start_date=datetime(2024, 1, 1), schedule=None):
    a = PythonOperator(task_id="produce", python_callable=produce,
                       op_kwargs={"when": "{{ ds }}", "api_key": "k-123"})
    b = PythonOperator(task_id="boom", python_callable=boom, retries=0)
    c = EmptyOperator(task_id="after")
    a >> b >> c
    double.expand(x=[1, 2, 3])
"""

PAGE = "/dags/ti_page/runs/r1/tasks"
DATA = "/ui/data/dags/ti_page/runs/r1/tasks"


@pytest.fixture
def api(config, db) -> Api:
    store_dag_file(config, db, "ti_page", DAGS)
    client = make_api(config, db)
    response = client.post("dags/ti_page/dagRuns", json={"dag_run_id": "r1", "logical_date": "2024-02-01T00:00:00Z"})
    assert response.status_code == 200, response.text
    assert run_to_end(config, db, "ti_page", "r1") == "failed"
    return client


@pytest.mark.parametrize("role", ["viewer", "user", "op", "admin"])
def test_page_renders_for_every_role_and_actions_only_for_editors(api, role) -> None:
    page = browser(api, role).get(f"{PAGE}/boom")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers and page.headers["X-Frame-Options"] == "DENY"
    data = page_data(page.text)
    assert data == {"dag_id": "ti_page", "run_id": "r1", "task_id": "boom", "map_index": -1,
                    "can_edit": role != "viewer", "can_read_xcom": True, "can_read_log": True}
    assert ('id="act-clear"' in page.text) is (role != "viewer")
    assert ('id="act-failed"' in page.text) is (role != "viewer")
    assert '<script src="/static/task_instance.js"></script>' in page.text


def test_anonymous_is_sent_to_login_and_missing_instance_is_a_404_page(api) -> None:
    anonymous = api.client.get(f"{PAGE}/boom?map_index=-1", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/dags/ti_page/runs/r1/tasks/boom%3Fmap_index%3D-1"
    viewer = browser(api, "viewer")
    missing = viewer.get(f"{PAGE}/nope")
    assert missing.status_code == 404 and "No task instance of task" in missing.text
    assert "task_instance.js" not in missing.text
    assert viewer.get(f"{PAGE}/boom", params={"map_index": 7}).status_code == 404
    assert viewer.get(f"{DATA}/nope").status_code == 404
    assert api.client.get(f"{DATA}/boom").status_code == 401  # data needs a login too


def test_data_of_a_finished_instance(api) -> None:
    body = browser(api, "viewer").get(f"{DATA}/produce").json()
    ti = body["task_instance"]
    assert ti["state"] == "success" and ti["try_number"] == 1 and ti["operator"] == "PythonOperator"
    assert ti["dag_run_id"] == "r1" and ti["logical_date"] == "2024-02-01T00:00:00+00:00"
    assert body["finished"] is True and body["dependencies"] is None and body["mapped"] is None
    assert body["run_state"] == "failed"
    assert body["task"]["task_display_name"] == "produce" and body["task"]["downstream"] == ["boom"]
    assert "op_kwargs" in body["task"]["template_fields"]
    [attempt] = body["tries"]
    assert attempt["try_number"] == 1 and attempt["state"] == "success"
    # Rendered fields of the try, the secret-looking argument masked as the API does.
    assert attempt["rendered_fields"]["op_kwargs"] == {"when": "2024-02-01", "api_key": "***"}
    failed = browser(api, "viewer").get(f"{DATA}/boom").json()
    assert failed["tries"][0]["state"] == "failed" and "boom" in failed["tries"][0]["error"]


def test_why_not_running_lists_the_unmet_dependencies(api) -> None:
    user = browser(api, "user")
    cleared = user.write("POST", "dags/ti_page/clearTaskInstances",
                         json={"dry_run": False, "task_ids": ["boom"], "dag_run_id": "r1", "only_failed": False,
                               "include_downstream": True})
    assert cleared.status_code == 200, cleared.text
    body = user.get(f"{DATA}/after").json()
    assert body["task_instance"]["state"] is None and body["finished"] is False
    reasons = [d["reason"] for d in body["dependencies"]]
    assert any("upstream" in r for r in reasons) and any("queued" in r for r in reasons), reasons


def test_mapped_task_lists_its_instances_with_labels(api) -> None:
    viewer = browser(api, "viewer")
    body = viewer.get(f"{DATA}/double").json()
    assert [(m["map_index"], m["rendered_map_index"], m["state"]) for m in body["mapped"]] == [
        (0, "1-label", "success"), (1, "2-label", "success"), (2, "3-label", "success")]
    assert body["task"]["is_mapped"] is True
    # Expansion replaced the -1 instance: its page is the list of the mapped instances.
    assert body["task_instance"] is None and body["tries"] == [] and body["finished"] is True
    assert viewer.get(f"{PAGE}/double").status_code == 200
    one = viewer.get(f"{DATA}/double", params={"map_index": 1}).json()
    assert one["mapped"] is None and one["task_instance"]["map_index"] == 1
    assert one["task_instance"]["rendered_map_index"] == "2-label"
    page = viewer.get(f"{PAGE}/double", params={"map_index": 1})
    assert page.status_code == 200 and page_data(page.text)["map_index"] == 1
    xcom = viewer.get(f"{DATA}/double/xcom", params={"map_index": 1}).json()
    assert [(x["key"], x["value"]) for x in xcom["xcom_entries"]] == [("return_value", "4")]


def test_xcom_values_are_pretty_text_with_secrets_masked(api) -> None:
    body = browser(api, "viewer").get(f"{DATA}/produce/xcom").json()
    values = {x["key"]: x["value"] for x in body["xcom_entries"]}
    assert values["api_token"] == "***"
    assert values["return_value"] == ('{\n  "rows": 3,\n  "nested": {\n    "password": "***"\n  },\n'
                                      '  "note": "<b>bold</b>"\n}')
    assert "hunter2" not in str(body) and "s3cr3t" not in str(body)
    # The REST API masks the nested secret as well, with or without deserialize.
    raw = api.get("dags/ti_page/dagRuns/r1/taskInstances/produce/xcomEntries/return_value").json()["value"]
    assert "hunter2" not in raw and '"password": "***"' in raw


def test_log_download_is_the_whole_file_of_that_try_only(api) -> None:
    viewer = browser(api, "viewer")
    response = viewer.get(f"{DATA}/produce/logs/1/download")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "attachment" in response.headers["content-disposition"]
    assert "ti_page_produce_attempt1.log" in response.headers["content-disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "producing <script>alert(1)</script>" in response.text
    assert viewer.get(f"{DATA}/produce/logs/2/download").status_code == 404
    assert viewer.get(f"{DATA}/after/logs/1/download").status_code == 404  # never ran
    mapped = viewer.get(f"{DATA}/double/logs/1/download", params={"map_index": 2})
    assert mapped.status_code == 200 and "double_2_attempt1" in mapped.headers["content-disposition"]
    for bad in ("..%2F..%2Fproduce", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5C..%5Cproduce"):
        assert viewer.get(f"/ui/data/dags/ti_page/runs/r1/tasks/{bad}/logs/1/download").status_code == 404


def test_clear_and_mark_from_a_browser_session(api) -> None:
    user = browser(api, "user")
    preview = user.write("POST", "dags/ti_page/clearTaskInstances",
                         json={"dry_run": True, "task_ids": ["boom"], "dag_run_id": "r1", "only_failed": False,
                               "include_downstream": True, "include_upstream": False})
    assert sorted(t["task_id"] for t in preview.json()["task_instances"]) == ["after", "boom"]
    assert user.get(f"{DATA}/boom").json()["task_instance"]["state"] == "failed"  # a preview changes nothing
    # Without the CSRF header the cookie-authenticated write is refused.
    forged = user.client.patch("/api/v1/dags/ti_page/dagRuns/r1/taskInstances/boom",
                               json={"new_state": "success", "dry_run": False})
    assert forged.status_code == 403
    mark = user.write("PATCH", "dags/ti_page/dagRuns/r1/taskInstances/boom",
                      json={"new_state": "success", "dry_run": False, "include_downstream": True})
    assert mark.status_code == 200, mark.text
    after = user.get(f"{DATA}/after").json()["task_instance"]
    assert after["state"] == "success"
    viewer = browser(api, "viewer")
    refused = viewer.write("PATCH", "dags/ti_page/dagRuns/r1/taskInstances/boom",
                           json={"new_state": "failed", "dry_run": False})
    assert refused.status_code == 403
    mapped = user.write("PATCH", "dags/ti_page/dagRuns/r1/taskInstances/double/1",
                        json={"new_state": "failed", "dry_run": True})
    assert [(t["task_id"], t["map_index"]) for t in mapped.json()["task_instances"]] == [("double", 1)]


def test_run_panel_data_has_the_run_note_version_and_each_instance_timing(api) -> None:
    user = browser(api, "user")
    assert user.write("PATCH", "dags/ti_page/dagRuns/r1/setNote", json={"note": "<i>looked at</i>"}).status_code == 200
    body = browser(api, "viewer").get("/ui/data/dags/ti_page/runs/r1/panel").json()
    run = body["run"]
    assert (run["dag_run_id"], run["state"], run["note"]) == ("r1", "failed", "<i>looked at</i>")
    assert run["dag_version_number"] == 1 and run["conf"] == {}
    # [map_index, state, try_number, start, end, duration] per instance, by task.
    [produce] = body["instances"]["produce"]
    ti = api.get("dags/ti_page/dagRuns/r1/taskInstances/produce").json()
    assert produce == [-1, "success", 1, ti["start_date"], ti["end_date"], ti["duration"]]
    assert body["instances"]["after"][0][1] == "upstream_failed"
    assert sorted(m[0] for m in body["instances"]["double"]) == [0, 1, 2]
    assert browser(api, "viewer").get("/ui/data/dags/ti_page/runs/nope/panel").status_code == 404


def test_a_huge_xcom_value_is_cut_and_downloaded_whole(api, monkeypatch) -> None:
    from tradewind.observe.ui import task_instance

    monkeypatch.setattr(task_instance, "XCOM_PREVIEW_CHARS", 20)
    viewer = browser(api, "viewer")
    entries = {x["key"]: x for x in viewer.get(f"{DATA}/produce/xcom").json()["xcom_entries"]}
    cut = entries["return_value"]
    assert cut["truncated"] is True and len(cut["value"]) == 20 and cut["size"] > 20
    assert entries["api_token"]["truncated"] is False and entries["api_token"]["value"] == "***"
    whole = viewer.get(f"{DATA}/produce/xcom/value", params={"key": "return_value"})
    assert whole.status_code == 200 and whole.headers["content-type"].startswith("text/plain")
    assert "attachment" in whole.headers["content-disposition"]
    assert len(whole.text) == cut["size"] and whole.text.startswith(cut["value"])
    assert '"password": "***"' in whole.text and "hunter2" not in whole.text
    assert viewer.get(f"{DATA}/produce/xcom/value", params={"key": "api_token"}).text == "***"
    assert viewer.get(f"{DATA}/produce/xcom/value", params={"key": "nope"}).status_code == 404
