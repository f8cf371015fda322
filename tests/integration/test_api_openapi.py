"""The API's documents and documentation pages: Swagger UI (``/docs``) and ReDoc (``/redoc``)
served from the vendored assets only, the OpenAPI documents (whole and per version) complete —
every ``/api/v1`` and ``/api/v2`` operation says what its success answer holds — and the v1
response models keeping every field the routes build (FastAPI drops the fields a model lacks).

All on the real app and a real SQLite database (see ``api_support``)."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest

from api_support import make_api, run_to_end, store_dag_file

from tradewind.observe.api import docs

PAGES = ("/docs", "/redoc")
DOCUMENTS = ("/openapi.json", "/api/v1/openapi.json", "/api/v2/openapi.json")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One app for the read-only tests of this module (building it and its users takes seconds)."""
    from tradewind.config import Config
    from tradewind.persist.db import Database
    from tradewind.persist.migrate import upgrade

    home = tmp_path_factory.mktemp("openapi") / "tw_home"
    (home / "dags").mkdir(parents=True)
    config = Config.load(home=home, environ={}, overrides={"core": {"load_examples": "False"}})
    config.ensure_home()
    database = Database.from_config(config)
    upgrade(database, default_pool_slots=config.getint("core", "default_pool_slots"))
    yield make_api(config, database)
    database.engine.dispose()


# ----------------------------------------------------------------------------- pages and assets
def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_loads_nothing_from_another_host(api, path):
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.findall(r"https?://", html), "the page names another host"
    urls = _asset_urls(html)
    assert urls and all(u.startswith("/static/") for u in urls), urls
    assert "/openapi.json" in html


@pytest.mark.parametrize("path", PAGES)
def test_every_asset_a_docs_page_names_is_served(api, path):
    for url in _asset_urls(api.get(path).text):
        asset = api.get(url, as_=None)  # static files need no login
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000 or url.endswith(".svg"), url
        kind = asset.headers["content-type"]
        assert ("javascript" in kind if url.endswith(".js") else "css" in kind if url.endswith(".css") else True), \
            (url, kind)


@pytest.mark.parametrize("path", PAGES)
def test_a_docs_page_policy_runs_its_own_inline_script_and_nothing_foreign(api, path):
    response = api.get(path)
    policy = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in policy and "'unsafe-inline'" not in directives["script-src"]
    for script in re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in directives["script-src"]
    for sources in directives.values():
        assert not any(s.startswith(("http:", "https:")) or "://" in s for s in sources), policy


def test_swagger_ui_never_sends_the_schema_to_an_online_validator(api):
    assert '"validatorUrl": null' in api.get("/docs").text


def test_the_vendored_assets_and_their_licenses_are_recorded():
    """Every file under static/vendor is listed in VENDORED.md with its checksum (so a changed or
    added file cannot slip in unrecorded), every listed file exists, and each library has a license."""
    from tradewind.observe.ui.pages import STATIC_DIR

    vendor = STATIC_DIR / "vendor"
    record = (vendor / "VENDORED.md").read_text()
    listed = dict(line.split("  ", 1)[::-1] for line in record.splitlines()
                  if len(line) > 66 and line[64:66] == "  " and all(c in "0123456789abcdef" for c in line[:64]))
    present = {str(p.relative_to(vendor)) for p in vendor.rglob("*") if p.is_file() and p.name != "VENDORED.md"}
    assert present == set(listed), f"unrecorded: {present - set(listed)}, missing: {set(listed) - present}"
    for name, digest in listed.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, f"{name} changed without VENDORED.md"
    for folder in {name.split("/", 1)[0] for name in present}:
        assert any(n.startswith(f"{folder}/LICENSE") for n in present), f"{folder} has no license file"


def test_an_anonymous_browser_is_sent_to_the_login_page_and_a_script_gets_401(api):
    for path in PAGES:
        page = api.get(path, as_=None, follow_redirects=False)
        assert page.status_code in (302, 303, 307), page.text
        assert page.headers["location"] == f"/login?next={path}"
    for path in DOCUMENTS:
        assert api.get(path, as_=None).status_code == 401, path


def test_a_viewer_reads_the_pages_and_documents(api):
    for path in PAGES + DOCUMENTS:
        assert api.get(path, as_="viewer").status_code == 200, path


# ----------------------------------------------------------------------------- documents
def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in HTTP_METHODS]


def test_each_version_document_holds_that_version_only_and_resolves_every_reference(api):
    whole = api.get("/openapi.json").json()
    for prefix in ("/api/v1", "/api/v2"):
        part = api.get(f"{prefix}/openapi.json").json()
        assert part["paths"], prefix
        assert all(p.startswith(prefix + "/") for p in part["paths"]), prefix
        assert part["paths"] == {p: v for p, v in whole["paths"].items() if p.startswith(prefix + "/")}
        names = set(part.get("components", {}).get("schemas", {}))
        missing = {ref for ref in docs._refs(part)} - names
        assert not missing, f"{prefix} document refers to schemas it lacks: {sorted(missing)}"
    assert "/api/v1/auth/token" in api.get("/api/v1/openapi.json").json()["paths"]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _documented(document: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    """A schema that says something: a model with fields, a typed array or scalar, an explicit
    ``null`` (Airflow 3's bodiless answers), or a union of those; not FastAPI's empty schema nor the
    free-form object a ``dict[str, Any]`` return gives."""
    if not schema:
        return False
    schema = _resolve(document, schema)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return all(_documented(document, s) for s in schema[union] if s.get("type") != "null")
    kind = schema.get("type")
    if kind == "array":
        return _documented(document, schema.get("items"))
    if kind == "object" or "properties" in schema:
        return bool(schema.get("properties"))
    return kind in ("string", "integer", "number", "boolean", "null")


def _undocumented_successes(document: dict[str, Any]) -> list[str]:
    bad = []
    for method, path, op in _operations(document):
        successes = {code: r for code, r in op.get("responses", {}).items() if str(code).startswith("2")}
        redirects = [code for code in op.get("responses", {}) if str(code).startswith("3")]
        if not successes and not redirects:  # a redirect (login/logout) answers no body
            bad.append(f"{method} {path}: no 2xx response")
        for code, response in successes.items():
            content = response.get("content") or {}
            if str(code) == "204" and not content:
                continue
            if not content:
                bad.append(f"{method} {path}: {code} has no content")
            for media_type, body in content.items():
                if not _documented(document, body.get("schema")):
                    bad.append(f"{method} {path}: {code} {media_type} has no schema")
    return bad


def test_the_completeness_check_names_an_operation_without_a_response_schema():
    document = {"paths": {"/api/v1/x": {"get": {"responses": {"200": {"content": {"application/json": {
        "schema": {"type": "object", "additionalProperties": True}}}}}}}}, "components": {"schemas": {}}}
    assert _undocumented_successes(document) == ["GET /api/v1/x: 200 application/json has no schema"]


def test_every_api_operation_documents_its_success_answer(api):
    document = api.get("/openapi.json").json()
    operations = [(m, p) for m, p, _ in _operations(document) if p.startswith(("/api/v1/", "/api/v2/"))]
    assert len(operations) > 60
    api_only = {"paths": {p: v for p, v in document["paths"].items() if p.startswith(("/api/v1/", "/api/v2/"))},
                "components": document.get("components", {})}
    bad = _undocumented_successes(api_only)
    assert not bad, f"{len(bad)} operations do not say what they answer:\n" + "\n".join(bad)


def test_every_v1_error_answer_is_documented_as_a_problem(api):
    document = api.get("/api/v1/openapi.json").json()
    for method, path, op in _operations(document):
        for code in ("4XX", "422"):
            content = op["responses"][code]["content"]
            assert list(content) == ["application/problem+json"], (method, path, code)
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"detail", "status", "title", "type"}


def test_text_or_json_routes_document_both_media_types(api):
    document = api.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/dagSources/{dag_id}",
                 "/api/v1/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}"):
        content = document["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["text/plain"]["schema"] == {"type": "string"}
        assert content["application/json"]["schema"]["$ref"].startswith("#/components/schemas/")


# ----------------------------------------------------------------------------- answers unchanged
DAG_FILE = """
from tradewind import Asset
with DAG("shapes", start_date=datetime(2024, 1, 1), schedule=None) as dag:
    first = EmptyOperator(task_id="first", outlets=[Asset(name="thing", uri="s3://bucket/key")])
    second = PythonOperator(task_id="second", python_callable=lambda: {"rows": 5, "password": "x"})
    first >> second
with DAG("consumer", start_date=datetime(2024, 1, 1), schedule=[Asset(name="thing", uri="s3://bucket/key")]):
    EmptyOperator(task_id="x")
"""


def test_v1_answers_keep_every_field_their_builders_give(config, db):
    """Each answer equals what the route's dict builder makes of the same rows: the response
    models drop nothing and change no value (timestamps keep their ``+00:00`` form)."""
    from datetime import datetime, timezone

    from tradewind.observe.api import schemas
    from tradewind.observe.api.routes import assets, connections, pools, users
    from tradewind.persist.models import AssetModel, AuditLog, ImportError_, Pool, User
    from tradewind.persist.queries import connections as conn_queries

    api = make_api(config, db)
    store_dag_file(config, db, "shapes", DAG_FILE)
    assert api.post("dags/shapes/dagRuns", json={"dag_run_id": "r1"}).status_code == 200
    assert run_to_end(config, db, "shapes", "r1") == "success"
    assert api.post("connections", json={"connection_id": "c1", "conn_type": "http", "host": "h", "port": 8080,
                                         "schema": "s", "password": "p", "extra": '{"token": "t"}'}).status_code == 200
    assert api.post("pools", json={"name": "p1", "slots": 3, "description": "d"}).status_code == 200
    assert api.post("users", json={"username": "u1", "password": "pw", "roles": [{"name": "op"}]}).status_code == 200
    with db.session_scope() as session:
        session.add(ImportError_(filename="/x.py", lineno=2, message="m", stacktrace="t",
                                 timestamp=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    with db.read_scope() as session:
        expected = {
            "connections/c1": connections.connection_dict(
                conn_queries.get_connection(session, "c1", _fernet(config))),
            "pools/p1": pools.pool_dicts(session, [session.get(Pool, "p1")])[0],
            "users/u1": users.user_dict(session.query(User).filter_by(username="u1").one()),
            "importErrors/1": schemas.import_error_dict(session.get(ImportError_, 1)),
            "eventLogs/1": schemas.event_log_dict(session.get(AuditLog, 1)),
            "assets/1": assets.asset_dicts(session, [session.get(AssetModel, 1)])[0],
        }
    for path, built in expected.items():
        answer = api.get(path)
        assert answer.status_code == 200, answer.text
        assert answer.json() == built, path
    assert set(expected["connections/c1"]) == {"connection_id", "conn_type", "description", "host", "login",
                                              "schema", "port", "extra"}
    assert "+00:00" in api.get("importErrors/1").json()["timestamp"]
    xcom = api.get("dags/shapes/dagRuns/r1/taskInstances/second/xcomEntries/return_value",
                   params={"deserialize": "true", "stringify": "false"}).json()
    assert xcom["value"] == {"rows": 5, "password": "***"}
    assert set(xcom) == {"key", "timestamp", "logical_date", "execution_date", "map_index", "task_id", "dag_id",
                         "dag_run_id", "value"}


def _fernet(config):
    from tradewind.persist.fernet import fernet_from_config

    return fernet_from_config(config)
