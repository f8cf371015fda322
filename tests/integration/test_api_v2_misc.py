"""/api/v2's smaller resources on the real app and a real SQLite file: task and asset state
stores, import errors, event logs, jobs, config, providers, plugins, health and version."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from api_support import Api, make_api, run_to_end, store_dag_file

from tradewind.config import Config
from tradewind.observe.api.app import create_app
from tradewind.parse.dagbag import FileParseResult, ImportErrorInfo
from tradewind.persist.models import AssetModel
from tradewind.persist.queries import dags as dag_queries
from tradewind.persist.queries import jobs as job_queries

V2 = "/api/v2"
TI = f"{V2}/dags/stores/dagRuns/r1/taskInstances/produce/state-store"

DAGS = """
from tradewind import Asset

with DAG("stores", start_date=datetime(2024, 1, 1), schedule=None):
    EmptyOperator(task_id="produce", outlets=[Asset(name="out", uri="s3://bucket/out")])
"""


@pytest.fixture
def api(config, db) -> Api:
    """The app with the ``stores`` DAG stored and run ``r1`` triggered (not run)."""
    store_dag_file(config, db, "stores_dags", DAGS)
    api = make_api(config, db)
    made = api.post("dags/stores/dagRuns", json={"dag_run_id": "r1", "logical_date": "2024-01-01T00:00:00Z"})
    assert made.status_code == 200, made.text
    return api


@pytest.fixture
def ran(api, config, db) -> Api:
    """As ``api``, with run ``r1`` finished (its task instances exist)."""
    assert run_to_end(config, db, "stores", "r1") == "success"
    return api


def _asset_id(db) -> int:
    with db.read_scope() as session:
        return session.query(AssetModel.id).filter(AssetModel.name == "out").scalar()


def test_task_state_store_set_get_patch_list_delete_clear(ran) -> None:
    api = ran
    assert api.get(TI).json() == {"task_state_store": [], "total_entries": 0}
    assert api.put(f"{TI}/cursor", json={"value": {"page": 3}}).status_code == 204
    assert api.put(f"{TI}/forever", json={"value": [1, 2], "expires_at": None}).status_code == 204
    got = api.get(f"{TI}/cursor").json()
    assert got["key"] == "cursor" and got["value"] == {"page": 3}
    expires = datetime.fromisoformat(got["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(timezone.utc) <= timedelta(days=30)  # default retention
    assert api.get(f"{TI}/forever").json()["expires_at"] is None
    patched = api.patch(f"{TI}/cursor", json={"value": {"page": 4}})
    assert patched.status_code == 200 and patched.json()["value"] == {"page": 4}
    assert patched.json()["expires_at"] == got["expires_at"]  # PATCH keeps the expiry
    listed = api.get(TI).json()
    assert [e["key"] for e in listed["task_state_store"]] == ["cursor", "forever"] and listed["total_entries"] == 2
    assert api.delete(f"{TI}/cursor").status_code == 204
    assert api.get(f"{TI}/cursor").status_code == 404
    assert api.delete(TI).status_code == 204
    assert api.get(TI).json()["total_entries"] == 0
    events = api.get(f"{V2}/eventLogs", params={"event_prefix_pattern": "task_state_store"}).json()
    assert {e["event"] for e in events["event_logs"]} == {"task_state_store.set", "task_state_store.edit",
                                                         "task_state_store.delete", "task_state_store.clear"}


def test_task_state_store_refuses_bad_input_and_unknown_instances(ran) -> None:
    api = ran
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert api.put(f"{TI}/old", json={"value": 1, "expires_at": past}).status_code == 204
    assert api.get(f"{TI}/old").status_code == 404  # expired reads as absent
    naive = api.put(f"{TI}/k", json={"value": 1, "expires_at": "2030-01-01T00:00:00"})
    assert naive.status_code == 422 and "expires_at" in naive.text
    assert api.put(f"{TI}/k", json={"value": 1, "bogus": 2}).status_code == 422
    assert api.put(f"{TI}/k", json={}).status_code == 422
    missing = api.get(f"{V2}/dags/stores/dagRuns/nope/taskInstances/produce/state-store")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert api.patch(f"{TI}/absent", json={"value": 1}).status_code == 404
    assert api.put(f"{TI}/k", json={"value": 1}, as_="viewer").status_code == 403
    assert api.get(f"{TI}", as_="viewer").status_code == 200


def test_asset_state_store(api, db) -> None:
    base = f"{V2}/assets/{_asset_id(db)}/state-store"
    assert api.put(f"{base}/watermark", json={"value": "2024-01-01"}).status_code == 204
    got = api.get(f"{base}/watermark").json()
    assert got["key"] == "watermark" and got["value"] == "2024-01-01" and got["updated_at"]
    assert api.get(base).json()["total_entries"] == 1
    assert api.delete(f"{base}/watermark").status_code == 204
    assert api.get(f"{base}/watermark").status_code == 404
    api.put(f"{base}/a", json={"value": 1})
    assert api.delete(base).status_code == 204
    assert api.get(base).json() == {"asset_state_store": [], "total_entries": 0}
    assert api.get(f"{V2}/assets/99999/state-store").status_code == 404


def test_import_errors(api, config, db) -> None:
    broken = str(config.dags_folder / "broken.py")
    result = FileParseResult(broken, errors=[ImportErrorInfo(broken, 3, "SyntaxError: bad", "Traceback ... bad")])
    with db.session_scope() as session:
        dag_queries.store_file_results(session, [result], datetime.now(timezone.utc))
    listed = api.get(f"{V2}/importErrors").json()
    assert listed["total_entries"] == 1
    [entry] = listed["import_errors"]
    assert entry["filename"] == broken and entry["stack_trace"] == "Traceback ... bad"
    assert api.get(f"{V2}/importErrors/{entry['import_error_id']}").json() == entry
    assert api.get(f"{V2}/importErrors", params={"filename_pattern": "BROKEN"}).json()["total_entries"] == 1
    assert api.get(f"{V2}/importErrors", params={"filename_pattern": "other"}).json()["total_entries"] == 0
    assert api.get(f"{V2}/importErrors/424242").status_code == 404
    bad_order = api.get(f"{V2}/importErrors", params={"order_by": "nope"})
    assert bad_order.status_code == 400 and "nope" in bad_order.json()["detail"]


def test_event_logs_filters(api) -> None:
    all_logs = api.get(f"{V2}/eventLogs").json()
    assert all_logs["total_entries"] >= 1
    trigger = api.get(f"{V2}/eventLogs", params={"event": "trigger", "dag_id": "stores"}).json()["event_logs"]
    assert trigger and all(e["run_id"] == "r1" and e["owner"] == "admin_user" for e in trigger)
    excluded = api.get(f"{V2}/eventLogs", params=[("excluded_events", "trigger")]).json()["event_logs"]
    assert all(e["event"] != "trigger" for e in excluded)
    included = api.get(f"{V2}/eventLogs", params=[("included_events", "trigger")]).json()["event_logs"]
    assert included and all(e["event"] == "trigger" for e in included)
    assert api.get(f"{V2}/eventLogs", params={"before": "2000-01-01T00:00:00Z"}).json()["total_entries"] == 0
    newest = api.get(f"{V2}/eventLogs", params={"order_by": "-id", "limit": 1}).json()["event_logs"]
    assert newest[0]["event_log_id"] == max(e["event_log_id"] for e in all_logs["event_logs"])
    one = api.get(f"{V2}/eventLogs/{newest[0]['event_log_id']}").json()
    assert one["event_log_id"] == newest[0]["event_log_id"]
    assert api.get(f"{V2}/eventLogs/999999").status_code == 404


def test_jobs_with_airflow_type_names_and_liveness(api, db) -> None:
    now = datetime.now(timezone.utc)
    with db.session_scope() as session:
        alive = job_queries.start_job(session, job_queries.SCHEDULER, "host-a", 1, now).id
        dead = job_queries.start_job(session, job_queries.TRIGGERER, "host-b", 2, now - timedelta(hours=2)).id
    jobs = {j["id"]: j for j in api.get(f"{V2}/jobs").json()["jobs"]}
    assert jobs[alive]["job_type"] == "SchedulerJob" and jobs[alive]["executor_class"]
    assert jobs[dead]["job_type"] == "TriggererJob" and jobs[dead]["executor_class"] is None
    alive_ids = [j["id"] for j in api.get(f"{V2}/jobs", params={"is_alive": "true"}).json()["jobs"]]
    assert alive_ids == [alive]
    assert [j["id"] for j in api.get(f"{V2}/jobs", params={"is_alive": "false"}).json()["jobs"]] == [dead]
    by_type = api.get(f"{V2}/jobs", params={"job_type": "TriggererJob"}).json()
    assert [j["id"] for j in by_type["jobs"]] == [dead]
    assert api.get(f"{V2}/jobs", params={"job_type": "scheduler"}).json()["total_entries"] == 1
    assert api.get(f"{V2}/jobs", params={"hostname": "host-b"}).json()["total_entries"] == 1
    assert api.get(f"{V2}/jobs", params={"start_date_lt": (now - timedelta(hours=1)).isoformat()}).json()[
        "total_entries"] == 1


def _config_api(tw_home, db, expose: str | None) -> Api:
    """The app under a configuration whose ``[api] expose_config`` is ``expose`` (None: left default)."""
    overrides = {"core": {"load_examples": "False"}}
    if expose is not None:
        overrides["api"] = {"expose_config": expose}
    return make_api(Config.load(home=tw_home, environ={}, overrides=overrides), db)


def test_config_masks_secrets_and_speaks_json_or_text(tw_home, db) -> None:
    api = _config_api(tw_home, db, "True")
    body = api.get(f"{V2}/config").json()
    options = {(s["name"], o["key"]): o["value"] for s in body["sections"] for o in s["options"]}
    assert options[("database", "url")] == "< hidden >"
    assert options[("core", "parallelism")] == "32"
    one = api.get(f"{V2}/config/section/core/option/parallelism").json()
    assert one == {"sections": [{"name": "core", "options": [{"key": "parallelism", "value": "32"}]}]}
    text = api.get(f"{V2}/config", params={"section": "core"}, headers={"Accept": "text/plain"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith("[core]\n") and "parallelism = 32" in text.text and "[database]" not in text.text
    assert api.get(f"{V2}/config", headers={"Accept": "image/png"}).status_code == 406
    assert api.get(f"{V2}/config", params={"section": "nope"}).status_code == 404
    assert api.get(f"{V2}/config/section/core/option/nope").status_code == 404
    assert api.get(f"{V2}/config", as_="user").status_code == 403


@pytest.mark.parametrize("expose", [None, "False"])
def test_config_is_withheld_unless_exposed(tw_home, db, expose) -> None:
    """Airflow 3's default: no configuration over the API; the 403 names the key that allows it."""
    api = _config_api(tw_home, db, expose)
    for path in (f"{V2}/config", f"{V2}/config/section/core/option/parallelism"):
        refused = api.get(path)
        assert refused.status_code == 403, refused.text
        assert "[api] expose_config" in refused.json()["detail"] and "TRADEWIND__API__EXPOSE_CONFIG" in \
            refused.json()["detail"]


def test_config_non_sensitive_only_exposes_with_secrets_hidden(tw_home, db) -> None:
    body = _config_api(tw_home, db, "non-sensitive-only").get(f"{V2}/config", params={"section": "database"}).json()
    assert {o["key"]: o["value"] for o in body["sections"][0]["options"]}["url"] == "< hidden >"


def test_providers_plugins_health_version(api) -> None:
    providers = api.get(f"{V2}/providers").json()
    assert providers["total_entries"] == len(providers["providers"]) > 0
    names = {p["package_name"] for p in providers["providers"]}
    assert "apache-airflow-providers-standard" in names
    assert all(p["description"] and p["version"] for p in providers["providers"])
    assert api.get(f"{V2}/providers", params={"limit": 1}).json()["total_entries"] == providers["total_entries"]
    assert api.get(f"{V2}/plugins").json() == {"plugins": [], "total_entries": 0}
    assert api.get(f"{V2}/plugins/importErrors").json() == {"import_errors": [], "total_entries": 0}
    health = api.get(f"{V2}/monitor/health", as_=None).json()  # public, as Airflow's (probes)
    assert health["metadatabase"] == {"status": "healthy"}
    assert health["scheduler"]["status"] == "unhealthy"  # no scheduler runs in this test
    assert health["triggerer"]["status"] is None and health["dag_processor"]["status"] is None
    assert health == api.get("/api/v1/health").json()  # one health check, two versions
    version = api.get(f"{V2}/version", as_=None).json()
    from tradewind.observe.api.app import _version

    assert version == {"version": _version(), "git_version": None}


def test_app_builds_with_every_v2_route_guarded(config, db) -> None:
    paths = create_app(config, db).openapi()["paths"]
    for path in ("/api/v2/jobs", "/api/v2/config", "/api/v2/monitor/health", "/api/v2/version",
                 "/api/v2/assets/{asset_id}/state-store/{key}"):
        assert path in paths
