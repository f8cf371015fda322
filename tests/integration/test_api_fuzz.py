"""Schema-driven fuzzing of the REST API: every operation in ``/api/v1/openapi.json`` and
``/api/v2/openapi.json`` gets generated requests (schemathesis + Hypothesis); it must never
answer with a 5xx, and every answer must match what the document says of it: the body valid
against the response schema of its status code, the content type one the document lists.

The run is bounded and repeatable: at most :data:`MAX_EXAMPLES` requests per operation,
derandomised (the same inputs every run, so a failure reproduces), no example database. The
requests go through the real ASGI app on a real SQLite database that holds a DAG with a finished
run, so paths naming that DAG reach deep code too. All requests carry an admin's bearer token
(``POST /api/v1/auth/token``), so every route is exercised past its permission check.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from api_support import make_api, run_to_end, store_dag_file

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

MAX_EXAMPLES = 25
SEED_DAG = """
with DAG("fuzzed", start_date=datetime(2024, 1, 1), schedule=None, tags=["fuzz"],
         params={"rows": Param(5, type="integer", minimum=1)}) as dag:
    first = EmptyOperator(task_id="first")
    second = PythonOperator(task_id="second", python_callable=lambda: {"rows": 5})
    first >> second
"""
#: Mismatches known and owned elsewhere, per document: (pattern of the reported line, why). Each
#: goes away with its fix; anything else that does not match the document fails the test.
KNOWN_MISMATCHES: dict[str, list[tuple[str, str]]] = {
    "v1": [],
    "v2": [],
}
#: Fewest operations each document must list (a broken document would silently fuzz nothing).
MIN_OPERATIONS = {"v1": 30, "v2": 20}


def _seeded_api(config, db):
    api = make_api(config, db)
    store_dag_file(config, db, "fuzzed", SEED_DAG)
    triggered = api.post("dags/fuzzed/dagRuns", json={"dag_run_id": "seeded"})
    assert triggered.status_code == 200, triggered.text
    assert run_to_end(config, db, "fuzzed", "seeded") == "success"
    return api


def _schema(api, path: str):
    """The document at ``path`` bound to the app (read through the test client: building the
    document takes seconds on a loaded machine, past schemathesis' own 10 s loading timeout)."""
    document = api.get(path)
    assert document.status_code == 200, document.text
    schema = schemathesis.openapi.from_dict(document.json())
    schema.app = api.client.app
    schema.location = path
    return schema


def _response_checks() -> list:
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    return [response_schema_conformance, content_type_conformance]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # ~100 operations x 25 requests each; minutes on a loaded machine
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_every_answer_is_no_server_error_and_matches_the_document(config, db, version):
    from hypothesis import HealthCheck, Phase, given, settings

    api = _seeded_api(config, db)
    auth = {"Authorization": f"Bearer {api.tokens['admin']}"}
    schema = _schema(api, f"/api/{version}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > MIN_OPERATIONS[version], "the schema lost its operations"

    server_errors: list[str] = []
    mismatches: Counter[str] = Counter()
    fuzz_settings = settings(
        max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False,
    )
    for operation in operations:
        body = _send_to(operation, auth, server_errors, mismatches)
        fuzz_settings(given(case=operation.as_strategy())(body))()
    assert not server_errors, f"{len(server_errors)} server errors:\n" + "\n".join(server_errors[:40])
    known = [re.compile(pattern) for pattern, _why in KNOWN_MISMATCHES[version]]
    mismatches = Counter({line: n for line, n in mismatches.items() if not any(k.search(line) for k in known)})
    assert not mismatches, (f"{sum(mismatches.values())} answers do not match the document "
                            f"({len(mismatches)} kinds):\n" + "\n".join(f"{n}x {m}" for m, n in mismatches.most_common(40)))


def _send_to(operation, auth: dict[str, str], server_errors: list[str], mismatches: Counter[str]):
    """The Hypothesis test body for one operation: send the case, note any 5xx answer and any
    answer the document does not describe (one line per operation, status and problem)."""
    checks = _response_checks()

    def exercise(case) -> None:
        try:
            response = case.call(headers=auth)
        except Exception as exc:  # noqa: BLE001 - the in-process client re-raises what the app did not handle
            server_errors.append(f"{operation.label}: unhandled {exc!r} for path {case.path_parameters} "
                                 f"query {case.query} body {case.body!r}")
            return
        if response.status_code >= 500:
            server_errors.append(
                f"{operation.label}: {response.status_code} for path {case.path_parameters} "
                f"query {case.query} body {case.body!r}: {response.text[:300]}"
            )
            return
        try:
            case.validate_response(response, checks=checks, headers=auth)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' failures, grouped
            mismatches[f"{operation.label} -> {response.status_code}: {_first_line(exc)}"] += 1

    return exercise


def _first_line(exc: Exception) -> str:
    """The failure's title, short enough to count alike failures as one."""
    failures = getattr(exc, "exceptions", None) or [exc]
    titles = []
    for failure in failures:
        title = getattr(failure, "title", None) or type(failure).__name__
        message = str(getattr(failure, "message", "") or failure).strip().splitlines()
        titles.append(f"{title}: {message[0][:160] if message else ''}")
    return "; ".join(sorted(set(titles)))


def test_the_checks_report_an_answer_the_document_does_not_describe():
    """The response checks are live: a body breaking its declared model is reported, once per kind."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from hypothesis import given, settings
    from pydantic import BaseModel

    class Count(BaseModel):
        n: int

    app = FastAPI()

    @app.get("/count", response_model=Count)
    def count() -> JSONResponse:
        return JSONResponse({"n": "not a number"})  # bypasses the model, as a hand-built answer would

    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    operation = next(result.ok() for result in schema.get_all_operations())
    server_errors: list[str] = []
    mismatches: Counter[str] = Counter()
    body = _send_to(operation, {}, server_errors, mismatches)
    settings(max_examples=3, derandomize=True, database=None, deadline=None)(given(case=operation.as_strategy())(body))()
    assert not server_errors
    assert list(mismatches) == ['GET /count -> 200: Response violates schema: "not a number" is not of type "integer"']


@pytest.mark.parametrize("path", [
    "importErrors/99999999999999999999999",
    "eventLogs/99999999999999999999999",
    "dags/fuzzed/dagRuns/seeded/taskInstances/first/logs/1?map_index=99999999999999999999999",
])
def test_a_number_too_large_for_the_database_is_a_422_naming_the_problem(config, db, path):
    api = make_api(config, db)
    response = api.get(path)
    assert response.status_code == 422, response.text
    assert "out of range" in response.json()["detail"]
