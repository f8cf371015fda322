"""Tradewind's OpenAPI document against Airflow 3's (``v2.yaml`` of the ``apache-airflow-client``
wheel, downloaded at test time into the test cache).

For every operation of Airflow's document: either Tradewind serves the same path and method, and
for each success response Airflow's client knows (its status code, e.g. 201 for a create),
Tradewind answers with that status and a schema holding every field Airflow's schema requires
(nested objects and list items too); or the operation is in :data:`NOT_SERVED`, with the reason,
and Tradewind indeed does not serve it. The list may only shrink: serving one of its operations
fails :func:`test_not_served_list_only_shrinks` until it is removed from the list.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from official_client_support import CLIENT_REQUIREMENT, CLIENT_VERSION
from service_support import in_ci
from venv_support import cache_root

from tradewind.config import Config
from tradewind.observe.api.app import create_app
from tradewind.persist.db import Database

pytestmark = [pytest.mark.xdist_group("api-client"), pytest.mark.timeout(900)]

METHODS = ("get", "put", "post", "patch", "delete")

#: Airflow 3 operations Tradewind does not serve ("METHOD path" -> why).
NOT_SERVED: dict[str, str] = {
    "POST /api/v2/dags/{dag_id}/favorite": "per-user favourite DAGs are a UI feature Tradewind does not keep",
    "POST /api/v2/dags/{dag_id}/unfavorite": "per-user favourite DAGs are a UI feature Tradewind does not keep",
    "POST /api/v2/dags/{dag_id}/clearPartitions": "partitioned runs (Airflow 3.2+) are not supported",
    "POST /api/v2/connections/defaults": "Airflow's default connections are not Tradewind's",
    "POST /api/v2/connections/enqueue-test": "asynchronous connection tests on workers (Airflow 3.3)",
    "GET /api/v2/connections/enqueue-test": "asynchronous connection tests on workers (Airflow 3.3)",
    "GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/externalLogUrl/{try_number}":
        "no external log viewer (Elasticsearch/OpenSearch)",
}


# --------------------------------------------------------------------------- the two documents
def _client_wheel() -> Path:
    """The client wheel, downloaded once into the test cache (a lock for parallel workers)."""
    folder = cache_root().parent / "airflow-client-wheel" / CLIENT_VERSION
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        wheels = sorted(folder.glob("apache_airflow_client-*.whl"))
        if wheels:
            return wheels[0]
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                                 "--disable-pip-version-check", "-d", str(folder), CLIENT_REQUIREMENT],
                                capture_output=True, text=True, timeout=600)
        wheels = sorted(folder.glob("apache_airflow_client-*.whl"))
        if result.returncode != 0 or not wheels:
            message = f"pip download {CLIENT_REQUIREMENT} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
            if in_ci():
                raise AssertionError(message)
            pytest.skip(message)
        return wheels[0]


@cache
def airflow_spec() -> dict[str, Any]:
    with zipfile.ZipFile(_client_wheel()) as wheel:
        return yaml.safe_load(wheel.read("v2.yaml"))


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> dict[str, Any]:
    """Tradewind's OpenAPI document (what ``/openapi.json`` serves), from the app itself."""
    home = tmp_path_factory.mktemp("conformance-home")
    config = Config.load(home=home, environ={}, overrides={"core": {"load_examples": "False"}})
    config.ensure_home()
    db = Database.from_config(config)
    try:
        return create_app(config, db).openapi()
    finally:
        db.engine.dispose()


def airflow_operations() -> list[str]:
    """Every ``"METHOD path"`` of Airflow's document; [] (with the tests skipped) when it cannot be had."""
    try:
        spec = airflow_spec()
    except pytest.skip.Exception:
        return []
    return [f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in METHODS if m in item]


# --------------------------------------------------------------------------- comparing schemas
def _resolve(spec: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """``schema`` with ``$ref`` followed, and a nullable ``anyOf [X, null]`` reduced to X."""
    seen = 0
    while schema and seen < 20:
        seen += 1
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            continue
        branches = [b for b in schema.get("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1 and "properties" not in schema:
            schema = branches[0]
            continue
        break
    return schema or {}


def missing_fields(theirs_spec: dict[str, Any], theirs: dict[str, Any] | None, ours_spec: dict[str, Any],
                   ours_schema: dict[str, Any] | None, where: str = "", depth: int = 0) -> list[str]:
    """Fields Airflow's schema requires that ours lacks, as dotted paths (objects and arrays are
    followed three levels down; unions and free-form objects are not compared)."""
    a = _resolve(theirs_spec, theirs)
    b = _resolve(ours_spec, ours_schema)
    if depth > 3 or not a or not b:
        return []
    if a.get("type") == "array" or "items" in a:
        return missing_fields(theirs_spec, a.get("items"), ours_spec, b.get("items"), f"{where}[]", depth + 1)
    if "properties" not in a or "oneOf" in a or "anyOf" in a:
        return []
    ours_props = b.get("properties", {})
    out = []
    for name in a.get("required", []):
        if name not in ours_props:
            out.append(f"{where}{name}")
            continue
        out += missing_fields(theirs_spec, a["properties"].get(name), ours_spec, ours_props[name],
                              f"{where}{name}.", depth + 1)
    return out


def _success_responses(operation: dict[str, Any]) -> dict[str, Any]:
    return {code: r for code, r in operation.get("responses", {}).items() if str(code).startswith("2")}


def _json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    return (response.get("content") or {}).get("application/json", {}).get("schema")


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("operation", airflow_operations() or ["(Airflow's document unavailable)"])
def test_operation(operation: str, ours) -> None:
    if operation.startswith("("):
        pytest.skip("Airflow's v2.yaml could not be downloaded")
    if operation in NOT_SERVED:
        pytest.skip(f"not served: {NOT_SERVED[operation]}")
    spec = airflow_spec()
    method, path = operation.split(" ", 1)
    served = ours["paths"].get(path, {}).get(method.lower())
    assert served is not None, f"{operation} is not served (serve it, or add it to NOT_SERVED with the reason)"
    theirs = spec["paths"][path][method.lower()]
    our_codes = {str(c) for c in served["responses"]}
    redirects = {str(c) for c in theirs.get("responses", {}) if str(c).startswith("3")} & our_codes
    for code, response in _success_responses(theirs).items():
        wanted = _json_schema(response)
        free_form = not wanted or not _resolve(spec, wanted).get("properties")
        if free_form and redirects:
            continue  # a redirect route (e.g. auth/login): both documents name the same redirect
        assert str(code) in our_codes, f"{operation}: Airflow answers {code}, Tradewind {sorted(our_codes)}"
        if free_form:
            continue
        have = _json_schema(served["responses"][str(code)])
        assert have, f"{operation}: no JSON schema for {code} (declare response_model=)"
        missing = missing_fields(spec, wanted, ours, have)
        assert not missing, f"{operation} ({code}): fields Airflow requires are missing: {missing}"


def test_not_served_list_only_shrinks(ours) -> None:
    operations = set(airflow_operations())
    if not operations:
        pytest.skip("Airflow's v2.yaml could not be downloaded")
    assert set(NOT_SERVED) <= operations, f"not Airflow operations: {set(NOT_SERVED) - operations}"
    now_served = [op for op in NOT_SERVED if op.split(" ", 1)[1] in ours["paths"]
                  and op.split(" ", 1)[0].lower() in ours["paths"][op.split(" ", 1)[1]]]
    assert not now_served, f"served now: remove from NOT_SERVED: {now_served}"


def test_the_comparison_finds_missing_fields() -> None:
    """The comparison itself: a required field (nested in list items) that ours lacks is reported."""
    theirs = {"components": {"schemas": {
        "Item": {"type": "object", "required": ["id", "name"], "properties": {"id": {}, "name": {}}},
        "List": {"type": "object", "required": ["items"],
                 "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}},
    }}}
    ours_spec = {"components": {"schemas": {
        "Item": {"type": "object", "properties": {"id": {}}},
        "List": {"type": "object", "properties": {"items": {"anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}, {"type": "null"}]}}},
    }}}
    ref = {"$ref": "#/components/schemas/List"}
    assert missing_fields(theirs, ref, ours_spec, ref) == ["items.[]name"]
    assert missing_fields(theirs, ref, theirs, ref) == []
